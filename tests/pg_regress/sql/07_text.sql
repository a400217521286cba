--
-- 07 text: text inside a property (docs/api/apply_patch.md, the text ops). The text op edits a string property in
-- place with splices; split cuts a block in two (Enter), join merges a block into the one
-- before it (Backspace at its start). Offsets and counts are Unicode code points.
--
\set SHOW_CONTEXT never
SELECT nodesync.create_doc('diary');
SELECT nodesync.apply_patch('diary', '{"ops": [
  {"op": "create", "key": "h1", "kind": "heading", "props": {"text": "A day", "level": 1}, "parent": "root"},
  {"op": "create", "key": "p1", "kind": "paragraph", "props": {"text": "It rained all day."}, "parent": "root"}
]}');

-- text: "edits" is a list of [at, delete, insert]: remove "delete" code points starting at
-- offset "at", then insert "insert" there. "version" is the record lock, as for update: the
-- node gains a version, the patch takes a gen. Other props are untouched.
SELECT nodesync.apply_patch('diary', '{"ops": [
  {"op": "text", "key": "h1", "version": 1, "prop": "text", "edits": [[2, 3, "rainy day"]]}
]}');
SELECT key, props, version, gen FROM nodesync.nodes('diary') WHERE key = 'h1';

-- Edits apply in order, each to the result of the one before, so an editor can send a burst
-- of keystrokes as one op. Here: append at the end (offset 18 = the length), then replace
-- "all day" (offset 10, 7 code points), then insert at the start. One op, one version.
SELECT nodesync.apply_patch('diary', '{"ops": [
  {"op": "text", "key": "p1", "version": 1, "prop": "text",
   "edits": [[18, 0, " Then the sun came out."], [10, 7, "until six"], [0, 0, "Monday. "]]}
]}');
SELECT props->>'text' AS text, version FROM nodesync.nodes('diary') WHERE key = 'p1';

-- Offsets count code points: what Postgres's length() and substr() count, str::chars() in
-- Rust, Array.from(s) in JavaScript. Never bytes, never UTF-16 units: "é" is 2 bytes,
-- "☕" 3 bytes, "😀" 4 bytes and 2 UTF-16 units, and each of them is one code point.
SELECT nodesync.apply_patch('diary', '{"ops": [
  {"op": "create", "key": "p2", "kind": "paragraph", "props": {"text": "Café ☕ 😀!"}, "parent": "root"}
]}');
SELECT props->>'text' AS text, length(props->>'text') AS code_points, octet_length(props->>'text') AS bytes
  FROM nodesync.nodes('diary') WHERE key = 'p2';
-- delete the "😀" (offset 7, 1 code point) and insert "🌧️" in its place: 2 code points
-- (U+1F327 and the variation selector U+FE0F)
SELECT nodesync.apply_patch('diary', '{"ops": [
  {"op": "text", "key": "p2", "version": 1, "prop": "text", "edits": [[7, 1, "🌧️"]]}
]}');
SELECT props->>'text' AS text, length(props->>'text') AS code_points FROM nodesync.nodes('diary') WHERE key = 'p2';
-- A combining mark is a code point of its own: "é" written as "e" + U+0301 is 2 code points.
SELECT nodesync.apply_patch('diary', '{"ops": [
  {"op": "create", "key": "p3", "kind": "paragraph", "props": {"text": "Cafe\u0301"}, "parent": "root"}
]}');
SELECT nodesync.apply_patch('diary', '{"ops": [
  {"op": "text", "key": "p3", "version": 1, "prop": "text", "edits": [[4, 1, "\u0300"]]}
]}');
SELECT props->>'text' AS text, length(props->>'text') AS code_points FROM nodesync.nodes('diary') WHERE key = 'p3';

-- An absent property is the empty string. Emptied, a property stays present as "".
SELECT nodesync.apply_patch('diary', '{"ops": [
  {"op": "text", "key": "p3", "version": 2, "prop": "note", "edits": [[0, 0, "draft"]]}
]}');
SELECT nodesync.apply_patch('diary', '{"ops": [
  {"op": "text", "key": "p3", "version": 3, "prop": "note", "edits": [[0, 5, ""]]}
]}');
SELECT key, props FROM nodesync.nodes('diary') WHERE key = 'p3';

-- update and text ops mix on one node, in op order; the node still gains exactly 1 version.
SELECT nodesync.apply_patch('diary', '{"ops": [
  {"op": "update", "key": "p3", "version": 4, "props": {"text": "Tea", "note": null}},
  {"op": "text", "key": "p3", "version": 4, "prop": "text", "edits": [[3, 0, " time"]]}
]}');
SELECT key, props, version FROM nodesync.nodes('diary') WHERE key = 'p3';

-- A node created earlier in the same patch can be edited (no version check: it has none yet).
SELECT nodesync.apply_patch('diary', '{"ops": [
  {"op": "create", "key": "p4", "kind": "paragraph", "props": {"text": "Bought nails."}, "parent": "root"},
  {"op": "text", "key": "p4", "version": 1, "prop": "text", "edits": [[12, 0, " and glue"]]}
]}');
SELECT * FROM regress.outline('diary');

-- Conflicts (40001) as for update: a stale version, a missing node. Nothing changes.
SELECT nodesync.apply_patch('diary', '{"ops": [
  {"op": "text", "key": "p1", "version": 1, "prop": "text", "edits": [[0, 0, "Rainy "]]}
]}');
SELECT nodesync.apply_patch('diary', '{"ops": [
  {"op": "text", "key": "gone", "version": 1, "prop": "text", "edits": [[0, 0, "x"]]}
]}');

-- Invalid (22023): under the record lock the writer saw the exact current value, so an edit
-- that does not fit it is a client bug. The message names the op and the edit.
-- p4's text is 22 code points long:
SELECT nodesync.apply_patch('diary', '{"ops": [
  {"op": "text", "key": "p4", "version": 1, "prop": "text", "edits": [[23, 0, "."]]}
]}');
\echo SQLSTATE :SQLSTATE
SELECT nodesync.apply_patch('diary', '{"ops": [
  {"op": "text", "key": "p4", "version": 1, "prop": "text", "edits": [[20, 5, ""]]}
]}');
-- each edit applies to the result of the one before: after deleting 13 code points, 9 are left
SELECT nodesync.apply_patch('diary', '{"ops": [
  {"op": "text", "key": "p4", "version": 1, "prop": "text", "edits": [[0, 13, ""], [10, 0, "!"]]}
]}');
SELECT nodesync.apply_patch('diary', '{"ops": [
  {"op": "text", "key": "p4", "version": 1, "prop": "text", "edits": [[-1, 0, "x"]]}
]}');
SELECT nodesync.apply_patch('diary', '{"ops": [
  {"op": "text", "key": "p4", "version": 1, "prop": "text", "edits": [[1.5, 0, "x"]]}
]}');
SELECT nodesync.apply_patch('diary', '{"ops": [
  {"op": "text", "key": "p4", "version": 1, "prop": "text", "edits": [[0, 0, 42]]}
]}');
SELECT nodesync.apply_patch('diary', '{"ops": [
  {"op": "text", "key": "p4", "version": 1, "prop": "text", "edits": []}
]}');
SELECT nodesync.apply_patch('diary', '{"ops": [
  {"op": "text", "key": "p4", "version": 1, "prop": "", "edits": [[0, 0, "x"]]}
]}');
-- the property must hold a string (h1's "level" is a number)
SELECT nodesync.apply_patch('diary', '{"ops": [
  {"op": "text", "key": "h1", "version": 2, "prop": "level", "edits": [[0, 0, "1"]]}
]}');
-- The edit's fit depends on the node's state. After a conflicting op the patch will be rebased
-- anyway, so the conflict is what is reported (here the edit would not fit either):
SELECT nodesync.apply_patch('diary', '{"ops": [
  {"op": "update", "key": "h1", "version": 1, "props": {"level": 2}},
  {"op": "text", "key": "p4", "version": 1, "prop": "text", "edits": [[23, 0, "."]]}
]}');
-- None of the refused patches took a gen.
SELECT gen FROM nodesync.documents WHERE doc = 'diary';

-- The result counts against nodesync.max_props_bytes like an update. p4's props are
-- {"text": "Bought nails and glue."}: 34 bytes as jsonb text. Up to the limit is fine:
SET nodesync.max_props_bytes = 36;
SELECT nodesync.apply_patch('diary', '{"ops": [
  {"op": "text", "key": "p4", "version": 1, "prop": "text", "edits": [[21, 1, "!!!"]]}
]}');
SELECT octet_length(props::text) AS bytes FROM nodesync.nodes('diary') WHERE key = 'p4';
SELECT nodesync.apply_patch('diary', '{"ops": [
  {"op": "text", "key": "p4", "version": 2, "prop": "text", "edits": [[24, 0, "!"]]}
]}');
RESET nodesync.max_props_bytes;

-- Reads show the resulting value. The log (changes_since) keeps the op as sent: what changed,
-- not the whole value. node_history keeps the full value of every version.
SELECT gen, patch FROM nodesync.changes_since('diary', 2) WHERE gen IN (3, 4) ORDER BY gen;
SELECT version, gen, state->'props'->>'text' AS text FROM nodesync.node_history('diary', 'p1') ORDER BY version;
SELECT n->>'key' AS key, n->'props'->>'text' AS text, n->'version' AS version, n->'gen' AS gen
  FROM jsonb_array_elements(nodesync.diff_since('diary', 3)->'nodes') n ORDER BY 1;

--
-- split: "key" keeps the first "at" code points of its string property "prop"; a new node
-- "new" is created right after it, with its kind, a copy of its other props, and the rest of
-- the text. key's children stay with it. key gains a version, new starts at 1.
--
SELECT nodesync.create_doc('shopping', 'list');
SELECT nodesync.apply_patch('shopping', '{"ops": [
  {"op": "create", "key": "i1", "kind": "item", "props": {"text": "milk and eggs", "done": false}, "parent": "root"},
  {"op": "create", "key": "i2", "kind": "item", "props": {"text": "bread"}, "parent": "root"},
  {"op": "create", "key": "n1", "kind": "note", "props": {"text": "fresh"}, "parent": "i1"}
]}');
-- Enter after "milk" (offset 4):
SELECT nodesync.apply_patch('shopping', '{"ops": [
  {"op": "split", "key": "i1", "version": 1, "prop": "text", "at": 4, "new": "i1b"}
]}');
SELECT * FROM regress.outline('shopping');
-- At the end (the length) the new node is empty; at 0 key is emptied. Each new node lands
-- right after key, so i2a comes before i2b.
SELECT nodesync.apply_patch('shopping', '{"ops": [
  {"op": "split", "key": "i2", "version": 1, "prop": "text", "at": 5, "new": "i2b"},
  {"op": "split", "key": "i2", "version": 1, "prop": "text", "at": 0, "new": "i2a"}
]}');
SELECT * FROM regress.outline('shopping');
-- The kind is copied as it is at that point of the patch; later ops may use the new node.
SELECT nodesync.apply_patch('shopping', '{"ops": [
  {"op": "update", "key": "i2b", "version": 1, "kind": "heading"},
  {"op": "split", "key": "i2b", "version": 1, "prop": "text", "at": 0, "new": "h2"},
  {"op": "update", "key": "i2b", "version": 1, "kind": "item"},
  {"op": "text", "key": "h2", "version": 1, "prop": "text", "edits": [[0, 0, "Later"]]}
]}');
SELECT * FROM regress.outline('shopping');

-- Conflicts: "new" must not exist and never have existed (exists, naming new); a stale
-- version (version). The version is checked first, then the offset, then that new is fresh.
SELECT nodesync.apply_patch('shopping', '{"ops": [
  {"op": "split", "key": "i2a", "version": 1, "prop": "text", "at": 1, "new": "i1"}
]}');
SELECT nodesync.apply_patch('shopping', '{"ops": [
  {"op": "split", "key": "i2", "version": 1, "prop": "text", "at": 0, "new": "x"}
]}');
-- Invalid (22023): at past the end (i2a is "bread"), the property holding a non-string, the
-- root, new equal to key, new longer than nodesync.max_key_bytes.
SELECT nodesync.apply_patch('shopping', '{"ops": [
  {"op": "split", "key": "i2a", "version": 1, "prop": "text", "at": 6, "new": "x"}
]}');
SELECT nodesync.apply_patch('shopping', '{"ops": [
  {"op": "split", "key": "i1", "version": 2, "prop": "done", "at": 0, "new": "x"}
]}');
SELECT nodesync.apply_patch('shopping', '{"ops": [
  {"op": "split", "key": "root", "version": 1, "prop": "text", "at": 0, "new": "x"}
]}');
SELECT nodesync.apply_patch('shopping', '{"ops": [
  {"op": "split", "key": "i2a", "version": 1, "prop": "text", "at": 0, "new": "i2a"}
]}');
SET nodesync.max_key_bytes = 4;
SELECT nodesync.apply_patch('shopping', '{"ops": [
  {"op": "split", "key": "i2a", "version": 1, "prop": "text", "at": 0, "new": "bread2"}
]}');
RESET nodesync.max_key_bytes;

--
-- join: "next" must be key's next sibling. key's "prop" becomes its value followed by next's
-- (absent is ""); next's children move under key, after key's own, each gaining a version;
-- then next is deleted (its other props are dropped; in versions it is null).
--
SELECT nodesync.apply_patch('shopping', '{"ops": [
  {"op": "create", "key": "n2", "kind": "note", "props": {"text": "free range"}, "parent": "i1b"}
]}');
SELECT * FROM regress.outline('shopping');
-- Backspace at the start of i1b: it joins i1.
SELECT nodesync.apply_patch('shopping', '{"ops": [
  {"op": "join", "key": "i1", "version": 2, "next": "i1b", "next_version": 1, "prop": "text"}
]}');
SELECT * FROM regress.outline('shopping');
-- next's key is used up: keys are never reused.
SELECT nodesync.apply_patch('shopping', '{"ops": [
  {"op": "create", "key": "i1b", "kind": "item", "parent": "root"}
]}');

-- Conflicts: next not the next sibling (anchor, naming next; also for the previous sibling),
-- next gone (missing), a stale next_version (version, naming next). key's version is checked
-- first, then next's, then that they are adjacent.
SELECT nodesync.apply_patch('shopping', '{"ops": [
  {"op": "join", "key": "i1", "version": 3, "next": "i2a", "next_version": 1, "prop": "text"}
]}');
SELECT nodesync.apply_patch('shopping', '{"ops": [
  {"op": "join", "key": "i2", "version": 2, "next": "i1", "next_version": 3, "prop": "text"}
]}');
SELECT nodesync.apply_patch('shopping', '{"ops": [
  {"op": "join", "key": "i1", "version": 3, "next": "i1b", "next_version": 1, "prop": "text"}
]}');
SELECT nodesync.apply_patch('shopping', '{"ops": [
  {"op": "join", "key": "i1", "version": 3, "next": "i2", "next_version": 1, "prop": "text"}
]}');
-- Invalid (22023): next equal to key, the root, a non-string value (on key or on next).
SELECT nodesync.apply_patch('shopping', '{"ops": [
  {"op": "join", "key": "i1", "version": 3, "next": "i1", "next_version": 3, "prop": "text"}
]}');
SELECT nodesync.apply_patch('shopping', '{"ops": [
  {"op": "join", "key": "root", "version": 1, "next": "i1", "next_version": 3, "prop": "text"}
]}');
SELECT nodesync.apply_patch('shopping', '{"ops": [
  {"op": "join", "key": "i1", "version": 3, "next": "i2", "next_version": 2, "prop": "done"}
]}');

-- Nodes created earlier in the patch can be joined, and a split can be undone in the same
-- patch (the split-off key is used up all the same).
SELECT nodesync.apply_patch('shopping', '{"ops": [
  {"op": "create", "key": "i3", "kind": "item", "props": {"text": "app"}, "parent": "root"},
  {"op": "create", "key": "i4", "kind": "item", "props": {"text": "les"}, "parent": "root", "after": "i3"},
  {"op": "join", "key": "i3", "version": 1, "next": "i4", "next_version": 1, "prop": "text"},
  {"op": "split", "key": "i2a", "version": 1, "prop": "text", "at": 3, "new": "tmp"},
  {"op": "join", "key": "i2a", "version": 1, "next": "tmp", "next_version": 1, "prop": "text"}
]}');
SELECT * FROM regress.outline('shopping');
SELECT nodesync.apply_patch('shopping', '{"ops": [
  {"op": "create", "key": "tmp", "kind": "item", "parent": "root"}
]}');

-- The log keeps split and join as sent: the intent, so a client that typed into either block
-- meanwhile can move its typing to where it belongs when it rebases.
SELECT gen, jsonb_path_query_array(patch, '$.ops[*].op') AS ops FROM nodesync.changes_since('shopping', 1) ORDER BY gen;
SELECT patch FROM nodesync.changes_since('shopping', 6) WHERE gen = 7;
-- Time travel sees the list before the first split.
SELECT * FROM regress.outline('shopping', 2);
