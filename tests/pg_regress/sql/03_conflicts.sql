--
-- 03 conflicts: every write names the versions it was based on. If any moved, the whole patch
-- is refused (SQLSTATE 40001, DETAIL = JSON list of conflicts) and nothing changes.
--
\set SHOW_CONTEXT never
SELECT nodesync.create_doc('plan');
SELECT nodesync.apply_patch('plan', '{"ops": [
  {"op": "create", "key": "a", "kind": "p", "parent": "root"},
  {"op": "create", "key": "b", "kind": "p", "parent": "root"},
  {"op": "create", "key": "s", "kind": "section", "parent": "root"},
  {"op": "create", "key": "s1", "kind": "p", "parent": "s"},
  {"op": "create", "key": "s2", "kind": "section", "parent": "s"},
  {"op": "create", "key": "s2a", "kind": "p", "parent": "s2"}
]}');
-- Alice edits a: a is now at version 2.
SELECT nodesync.apply_patch('plan', '{"ops": [{"op": "update", "key": "a", "version": 1, "props": {"by": "alice"}}]}');
SELECT * FROM regress.outline('plan');

-- reason "version": Bob still has version 1 of a. DETAIL names the op index, the key, the
-- version the op expected and the actual one, and the document's current gen.
SELECT nodesync.apply_patch('plan', '{"ops": [{"op": "update", "key": "a", "version": 1, "props": {"by": "bob"}}]}');
\echo SQLSTATE :SQLSTATE
-- The same for move and delete.
SELECT nodesync.apply_patch('plan', '{"ops": [{"op": "move", "key": "a", "version": 1, "parent": "s"}]}');
SELECT nodesync.apply_patch('plan', '{"ops": [{"op": "delete", "key": "a", "version": 3}]}');

-- All or nothing: the first op is fine, the second conflicts: nothing of the patch happens.
SELECT nodesync.apply_patch('plan', '{"ops": [
  {"op": "update", "key": "b", "version": 1, "props": {"by": "bob"}},
  {"op": "update", "key": "a", "version": 1, "props": {"by": "bob"}}
]}');
SELECT key, props, version FROM nodesync.nodes('plan') WHERE key = 'b';

-- Every conflicting op is listed, in op order, starting with the first one.
SELECT nodesync.apply_patch('plan', '{"ops": [
  {"op": "update", "key": "b", "version": 1, "props": {}},
  {"op": "update", "key": "a", "version": 1, "props": {}},
  {"op": "create", "key": "b", "kind": "p", "parent": "root"},
  {"op": "delete", "key": "zz", "version": 1}
]}');

-- reason "exists": create of a key that exists...
SELECT nodesync.apply_patch('plan', '{"ops": [{"op": "create", "key": "b", "kind": "p", "parent": "root"}]}');
-- ... or twice in one patch.
SELECT nodesync.apply_patch('plan', '{"ops": [
  {"op": "create", "key": "new", "kind": "p", "parent": "root"},
  {"op": "create", "key": "new", "kind": "p", "parent": "root"}
]}');

-- reason "missing": the node, the parent or the anchor does not exist.
SELECT nodesync.apply_patch('plan', '{"ops": [{"op": "update", "key": "ghost", "version": 1, "props": {}}]}');
SELECT nodesync.apply_patch('plan', '{"ops": [{"op": "create", "key": "n1", "kind": "p", "parent": "ghost"}]}');
SELECT nodesync.apply_patch('plan', '{"ops": [{"op": "create", "key": "n1", "kind": "p", "parent": "root", "after": "ghost"}]}');
SELECT nodesync.apply_patch('plan', '{"ops": [{"op": "move", "key": "b", "version": 1, "parent": "ghost"}]}');

-- reason "anchor": "after" names a node that is not a child of that parent.
SELECT nodesync.apply_patch('plan', '{"ops": [{"op": "create", "key": "n1", "kind": "p", "parent": "root", "after": "s1"}]}');
SELECT nodesync.apply_patch('plan', '{"ops": [{"op": "move", "key": "b", "version": 1, "parent": "s", "after": "a"}]}');

-- reason "cycle": a move would put a node under itself or its own descendant.
SELECT nodesync.apply_patch('plan', '{"ops": [{"op": "move", "key": "s", "version": 1, "parent": "s2a"}]}');
SELECT nodesync.apply_patch('plan', '{"ops": [{"op": "move", "key": "s", "version": 1, "parent": "s"}]}');

-- Nothing of all that changed the document: still gen 3.
SELECT nodesync.snapshot('plan')->'gen' AS gen;

-- reason "subtree": a delete that gives "base" is refused if a node inside the subtree changed
-- after base (here s1 at gen 4): the client would delete work it has not seen.
SELECT nodesync.apply_patch('plan', '{"ops": [{"op": "update", "key": "s1", "version": 1, "props": {"edited": true}}]}');
SELECT nodesync.apply_patch('plan', '{"base": 3, "ops": [{"op": "delete", "key": "s", "version": 1}]}');
-- With a base that has seen the change, the delete goes through. Without a base there is no
-- subtree check (only s's own version is checked).
SELECT nodesync.apply_patch('plan', '{"base": 4, "ops": [{"op": "delete", "key": "s", "version": 1}]}');

-- Keys are never reused: a deleted key "exists" for create and is "missing" for the others.
SELECT nodesync.apply_patch('plan', '{"ops": [{"op": "create", "key": "s1", "kind": "p", "parent": "root"}]}');
SELECT nodesync.apply_patch('plan', '{"ops": [{"op": "update", "key": "s1", "version": 2, "props": {}}]}');

-- Edits of different nodes do not conflict, whatever the gen the client saw: b is still at
-- version 1 although the document moved on.
SELECT nodesync.apply_patch('plan', '{"base": 2, "ops": [{"op": "update", "key": "b", "version": 1, "props": {"by": "bob"}}]}');

-- try_apply_patch returns conflicts instead of raising them.
SELECT jsonb_pretty(nodesync.try_apply_patch('plan', '{"ops": [
  {"op": "update", "key": "b", "version": 1, "props": {}},
  {"op": "create", "key": "c", "kind": "p", "parent": "root", "after": "zz"}
]}'));
-- It still raises for invalid input (22023).
SELECT nodesync.try_apply_patch('plan', '{"ops": [{"op": "explode"}]}');
\echo SQLSTATE :SQLSTATE

SELECT * FROM regress.outline('plan');
