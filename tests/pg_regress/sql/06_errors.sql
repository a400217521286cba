--
-- 06 errors: every error has a SQLSTATE and a message naming what is wrong. Invalid input is
-- refused before anything is written. regress.error(stmt) shows code, message and DETAIL.
--
\set SHOW_CONTEXT never
SELECT nodesync.create_doc('e');
SELECT nodesync.apply_patch('e', '{"ops": [{"op": "create", "key": "a", "kind": "p", "parent": "root"}]}');

-- 22023 invalid_parameter_value: invalid patches (docs/api/apply_patch.md).
SELECT p AS patch, (regress.error(format('SELECT nodesync.apply_patch(%L, %L)', 'e', p))).*
  FROM (VALUES
    ('[]'),
    ('"ops"'),
    ('{}'),
    ('{"ops": {}}'),
    ('{"ops": [1]}'),
    ('{"ops": [{"op": "explode", "key": "a"}]}'),
    ('{"ops": [{"key": "a"}]}'),
    ('{"ops": [{"op": "create", "kind": "p", "parent": "root"}]}'),
    ('{"ops": [{"op": "create", "key": "x", "parent": "root"}]}'),
    ('{"ops": [{"op": "create", "key": "x", "kind": "p"}]}'),
    ('{"ops": [{"op": "create", "key": "", "kind": "p", "parent": "root"}]}'),
    ('{"ops": [{"op": "create", "key": 7, "kind": "p", "parent": "root"}]}'),
    ('{"ops": [{"op": "create", "key": "x", "kind": "", "parent": "root"}]}'),
    ('{"ops": [{"op": "create", "key": "x", "kind": "p", "parent": "root", "props": [1]}]}'),
    ('{"ops": [{"op": "create", "key": "x", "kind": "p", "parent": "root", "after": 3}]}'),
    ('{"ops": [{"op": "update", "key": "a", "props": {}}]}'),
    ('{"ops": [{"op": "update", "key": "a", "version": "1", "props": {}}]}'),
    ('{"ops": [{"op": "update", "key": "a", "version": 1, "props": "x"}]}'),
    ('{"ops": [{"op": "move", "key": "a", "version": 1}]}'),
    ('{"ops": [{"op": "delete", "key": "root", "version": 1}]}'),
    ('{"ops": [{"op": "move", "key": "root", "version": 1, "parent": "a"}]}'),
    ('{"base": "x", "ops": []}'),
    ('{"base": 99, "ops": [{"op": "update", "key": "a", "version": 1, "props": {}}]}')
  ) AS t(p);
-- Keys and kinds are at most 200 bytes.
SELECT (regress.error(format('SELECT nodesync.apply_patch(''e'', %L)',
          jsonb_build_object('ops', jsonb_build_array(jsonb_build_object('op', 'create', 'key', repeat('k', 201), 'kind', 'p', 'parent', 'root')))))).*;
SELECT (regress.error(format('SELECT nodesync.apply_patch(''e'', %L)',
          jsonb_build_object('ops', jsonb_build_array(jsonb_build_object('op', 'create', 'key', 'k', 'kind', repeat('p', 201), 'parent', 'root')))))).*;
-- More ops than nodesync.max_ops_per_patch (a setting, 10000 by default).
SET nodesync.max_ops_per_patch = 2;
SELECT nodesync.apply_patch('e', '{"ops": [{"op": "update", "key": "a", "version": 1, "props": {"n": 1}}, {"op": "update", "key": "a", "version": 1, "props": {"n": 2}}, {"op": "update", "key": "a", "version": 1, "props": {"n": 3}}]}');
\echo SQLSTATE :SQLSTATE
RESET nodesync.max_ops_per_patch;
-- props larger than nodesync.max_props_bytes.
SET nodesync.max_props_bytes = 20;
SELECT nodesync.apply_patch('e', '{"ops": [{"op": "update", "key": "a", "version": 1, "props": {"text": "much more than twenty bytes"}}]}');
\echo SQLSTATE :SQLSTATE
RESET nodesync.max_props_bytes;
-- None of that wrote anything.
SELECT nodesync.snapshot('e')->'gen' AS gen, (SELECT count(*) FROM nodesync.nodes('e')) AS nodes;

-- 22023: NULL where a value is required, bad ids, generations out of range.
SELECT stmt, (regress.error(stmt)).*
  FROM (VALUES
    ($$SELECT nodesync.create_doc(NULL)$$),
    ($$SELECT nodesync.create_doc('')$$),
    ($$SELECT nodesync.create_doc(repeat('d', 201))$$),
    ($$SELECT nodesync.create_doc('f', NULL)$$),
    ($$SELECT nodesync.create_doc('f', 'doc', '[]')$$),
    ($$SELECT nodesync.apply_patch(NULL, '{"ops": []}')$$),
    ($$SELECT nodesync.apply_patch('e', NULL)$$),
    ($$SELECT nodesync.try_apply_patch('e', NULL)$$),
    ($$SELECT nodesync.apply_patch('e', '{"ops": []}', NULL, 1)$$),
    ($$SELECT nodesync.apply_patch('e', '{"ops": []}', '', 1)$$),
    ($$SELECT nodesync.snapshot(NULL)$$),
    ($$SELECT nodesync.snapshot('e', -1)$$),
    ($$SELECT nodesync.snapshot('e', 0)$$),
    ($$SELECT nodesync.snapshot('e', 3)$$),
    ($$SELECT nodesync.diff_since('e', NULL)$$),
    ($$SELECT nodesync.diff_since('e', -1)$$),
    ($$SELECT nodesync.diff_since('e', 3)$$),
    ($$SELECT * FROM nodesync.changes_since('e', NULL)$$),
    ($$SELECT * FROM nodesync.changes_since('e', -1)$$),
    ($$SELECT * FROM nodesync.changes_since('e', 3)$$),
    ($$SELECT * FROM nodesync.nodes(NULL)$$),
    ($$SELECT * FROM nodesync.node_history('e', NULL)$$),
    ($$SELECT nodesync.compact('e', NULL)$$),
    ($$SELECT nodesync.compact('e', -1)$$),
    ($$SELECT nodesync.compact('e', 3)$$),
    ($$SELECT nodesync.drop_doc(NULL, NULL)$$)
  ) AS t(stmt);

-- 42704 undefined_object: an unknown document, for every function.
SELECT stmt, (regress.error(stmt)).code
  FROM (VALUES
    ($$SELECT nodesync.apply_patch('nope', '{"ops": [{"op": "update", "key": "root", "version": 1, "props": {}}]}')$$),
    ($$SELECT nodesync.apply_patch('nope', '{"ops": []}')$$),
    ($$SELECT nodesync.try_apply_patch('nope', '{"ops": []}')$$),
    ($$SELECT nodesync.snapshot('nope')$$),
    ($$SELECT nodesync.snapshot('nope', 1)$$),
    ($$SELECT * FROM nodesync.nodes('nope')$$),
    ($$SELECT nodesync.diff_since('nope', 0)$$),
    ($$SELECT * FROM nodesync.changes_since('nope', 0)$$),
    ($$SELECT * FROM nodesync.node_history('nope', 'root')$$),
    ($$SELECT nodesync.compact('nope', 0)$$),
    ($$SELECT nodesync.drop_doc('nope', NULL)$$)
  ) AS t(stmt);

-- 23505 unique_violation: create_doc of an existing document.
SELECT (regress.error($$SELECT nodesync.create_doc('e')$$)).*;

-- 40001 serialization_failure: a patch conflict (DETAIL is JSON), or drop_doc at another gen.
SELECT (regress.error($$SELECT nodesync.apply_patch('e', '{"ops": [{"op": "delete", "key": "a", "version": 2}]}')$$)).*;
SELECT (regress.error($$SELECT nodesync.drop_doc('e', 1)$$)).*;

-- 55000 object_not_in_prerequisite_state: history below the horizon.
SELECT nodesync.apply_patch('e', '{"ops": [{"op": "update", "key": "a", "version": 1, "props": {"n": 1}}]}');
SELECT nodesync.compact('e', 3);
SELECT (regress.error($$SELECT * FROM nodesync.changes_since('e', 2)$$)).*;
SELECT (regress.error($$SELECT nodesync.snapshot('e', 2)$$)).*;

-- A failed call leaves the document as it was, and the session usable.
SELECT * FROM regress.outline('e');
SELECT gen, horizon FROM nodesync.documents WHERE doc = 'e';
