--
-- 02 patches: apply_patch and its ops (create, update, move, delete), versions and gens.
--
\set SHOW_CONTEXT never
SELECT nodesync.create_doc('article', 'article', '{"title": "Draft"}');

-- A patch is a JSON object with a list of ops, applied in order, all or nothing. The result
-- names the new gen and the new version of every node the patch created or changed.
-- create: "after" names the sibling to follow; no "after" means last child.
SELECT nodesync.apply_patch('article', '{"ops": [
  {"op": "create", "key": "h1", "kind": "heading", "props": {"text": "Hello"}, "parent": "root"},
  {"op": "create", "key": "p1", "kind": "paragraph", "props": {"text": "First"}, "parent": "root"},
  {"op": "create", "key": "p3", "kind": "paragraph", "props": {"text": "Third"}, "parent": "root"},
  {"op": "create", "key": "p2", "kind": "paragraph", "props": {"text": "Second"}, "parent": "root", "after": "p1"}
]}');
-- "after": null means first child; props default to {}.
SELECT nodesync.apply_patch('article', '{"ops": [{"op": "create", "key": "banner", "kind": "image", "parent": "root", "after": null}]}');
SELECT * FROM regress.outline('article');

-- Children are ordered by pos, an opaque text sorted in byte order (COLLATE "C").
SELECT key FROM nodesync.nodes('article') WHERE parent = 'root' ORDER BY pos COLLATE "C";
-- Inserting a sibling never renumbers the others: only the new node gets a pos.
CREATE TEMP TABLE pos_before AS SELECT key, pos FROM nodesync.nodes('article');
SELECT nodesync.apply_patch('article', '{"ops": [{"op": "create", "key": "p1b", "kind": "paragraph", "parent": "root", "after": "p1"}]}');
SELECT count(*) AS siblings_whose_pos_changed
  FROM pos_before b JOIN nodesync.nodes('article') n USING (key) WHERE n.pos IS DISTINCT FROM b.pos;
SELECT key FROM nodesync.nodes('article') WHERE parent = 'root' ORDER BY pos COLLATE "C";

-- update: "version" is the version the client saw (the record lock). props is a delta: a value
-- sets the property, null removes it. kind may change too. The node's version goes up by 1.
SELECT nodesync.apply_patch('article', '{"ops": [
  {"op": "update", "key": "p1", "version": 1, "props": {"text": "First!", "bold": true}},
  {"op": "update", "key": "h1", "version": 1, "kind": "title"}
]}');
SELECT nodesync.apply_patch('article', '{"ops": [{"op": "update", "key": "p1", "version": 2, "props": {"bold": null, "italic": true}}]}');
SELECT key, kind, props, version, gen FROM nodesync.nodes('article') WHERE key IN ('h1', 'p1') ORDER BY key;
-- The root can be updated like any node.
SELECT nodesync.apply_patch('article', '{"ops": [{"op": "update", "key": "root", "version": 1, "props": {"title": "Hello world"}}]}');

-- move: a new parent and place; the node keeps its subtree. Moving, adding or removing
-- children does not change the parent's version.
SELECT nodesync.apply_patch('article', '{"ops": [
  {"op": "create", "key": "sec", "kind": "section", "parent": "root"},
  {"op": "create", "key": "s1", "kind": "paragraph", "parent": "sec"},
  {"op": "create", "key": "s2", "kind": "paragraph", "parent": "sec", "after": "s1"}
]}');
SELECT nodesync.apply_patch('article', '{"ops": [
  {"op": "move", "key": "p2", "version": 1, "parent": "sec", "after": null},
  {"op": "move", "key": "sec", "version": 1, "parent": "root", "after": "banner"}
]}');
SELECT * FROM regress.outline('article');

-- A node touched by several ops of one patch gains exactly 1 version.
SELECT nodesync.apply_patch('article', '{"ops": [
  {"op": "update", "key": "p3", "version": 1, "props": {"text": "Third, edited"}},
  {"op": "move", "key": "p3", "version": 1, "parent": "sec", "after": "p2"},
  {"op": "update", "key": "p3", "version": 1, "kind": "quote"}
]}');
SELECT key, parent, kind, props, version, gen FROM nodesync.nodes('article') WHERE key = 'p3';

-- A node created in the patch can be the parent or anchor of later ops (which skip its
-- version check: it has none yet).
SELECT nodesync.apply_patch('article', '{"ops": [
  {"op": "create", "key": "list", "kind": "list", "parent": "root"},
  {"op": "create", "key": "li2", "kind": "item", "parent": "list"},
  {"op": "create", "key": "li1", "kind": "item", "parent": "list", "after": null},
  {"op": "update", "key": "li2", "version": 1, "props": {"checked": true}},
  {"op": "move", "key": "p1b", "version": 1, "parent": "list", "after": "li1"}
]}');
SELECT * FROM regress.outline('article');

-- delete: removes the node and its whole subtree; versions lists null for each removed node.
SELECT nodesync.apply_patch('article', '{"ops": [{"op": "delete", "key": "sec", "version": 2}]}');
SELECT * FROM regress.outline('article');

-- "base" (optional) is the gen the client's view was at.
SELECT nodesync.apply_patch('article', '{"base": 12, "ops": [{"op": "update", "key": "banner", "version": 1, "props": {"src": "a.png"}}]}');

-- An empty ops list is valid and commits nothing: it returns the current gen.
SELECT nodesync.apply_patch('article', '{"ops": []}');
SELECT nodesync.snapshot('article')->'gen' AS gen;

-- try_apply_patch: the same, with "ok": true on success.
SELECT nodesync.try_apply_patch('article', '{"ops": [{"op": "update", "key": "li1", "version": 1, "props": {"checked": false}}]}');

-- Unicode keys, kinds and props are kept as given.
SELECT nodesync.apply_patch('article', '{"ops": [{"op": "create", "key": "ключ 🔑", "kind": "émoji", "props": {"t": "naïve ☃"}, "parent": "root", "after": "banner"}]}');

-- The whole document, and the same as rows.
SELECT * FROM regress.outline('article');
SELECT key, parent, kind, props, version, gen FROM nodesync.nodes('article') ORDER BY gen, key;
-- One node of the snapshot (pos left out: its value is the server's business).
SELECT jsonb_pretty(((n - 'pos') #- '{children,0,pos}') #- '{children,1,pos}' #- '{children,2,pos}') AS list_node
  FROM jsonb_path_query(nodesync.snapshot('article'), '$.root.children[*] ? (@.key == "list")') AS n;
