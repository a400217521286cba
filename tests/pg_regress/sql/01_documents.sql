--
-- 01 documents: installing pg_nodesync, creating, reading and dropping documents.
--
-- Every object of pg_nodesync lives in schema nodesync.
CREATE EXTENSION pg_nodesync;
-- errors in these files show their message, DETAIL and HINT; "\echo :SQLSTATE" shows the code
\set SHOW_CONTEXT never

-- The SQL API (docs/api/README.md). Helpers starting with "_" are internal.
SELECT p.proname AS function, pg_get_function_arguments(p.oid) AS arguments, pg_get_function_result(p.oid) AS returns
  FROM pg_proc p
 WHERE p.pronamespace = 'nodesync'::regnamespace AND p.proname NOT LIKE '\_%'
 ORDER BY 1;

-- Helpers for the regression files (not part of pg_nodesync).
CREATE SCHEMA regress;
-- A document as an outline, one line per node, children in their order:
--   key (kind) v<version> g<gen of last change> props
CREATE FUNCTION regress.outline(doc text, at_gen bigint DEFAULT NULL) RETURNS SETOF text
LANGUAGE sql AS $$
  WITH RECURSIVE walk(node, depth, path) AS (
    SELECT s->'root', 0, ARRAY[]::bigint[] FROM (SELECT nodesync.snapshot(doc, at_gen) AS s) x
    UNION ALL
    SELECT c, w.depth + 1, w.path || o FROM walk w, jsonb_array_elements(w.node->'children') WITH ORDINALITY AS e(c, o))
  SELECT repeat('    ', depth) || (node->>'key') || ' (' || (node->>'kind') || ') v' || (node->>'version')
         || ' g' || (node->>'gen') || CASE WHEN node->'props' <> '{}' THEN ' ' || (node->'props')::text ELSE '' END
    FROM walk ORDER BY path $$;
-- The SQLSTATE, message and DETAIL of a statement's error (NULL row fields if it succeeds).
CREATE FUNCTION regress.error(stmt text, OUT code text, OUT message text, OUT detail text)
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE stmt;
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
END $$;

-- A new document is a root node named "root", at generation 1.
SELECT nodesync.create_doc('welcome');
SELECT jsonb_pretty(nodesync.snapshot('welcome'));

-- The root's kind and props can be chosen.
SELECT nodesync.create_doc('notes', 'notebook', '{"title": "My notes", "lang": "en"}');
SELECT * FROM regress.outline('notes');

-- Named arguments work too.
SELECT nodesync.create_doc(doc => 'board', root_kind => 'kanban');

-- nodes(): the live nodes as rows (type nodesync.node), for plain SQL.
SELECT key, parent, pos IS NULL AS pos_is_null, kind, props, version, gen FROM nodesync.nodes('notes');
SELECT pg_typeof(n) FROM nodesync.nodes('notes') n;

-- Documents are rows of nodesync.documents: gen counts commits, horizon (0 for a new
-- document) is the oldest generation with history.
SELECT doc, gen, horizon FROM nodesync.documents ORDER BY doc;

-- Creating a document that exists: 23505 unique_violation.
SELECT nodesync.create_doc('welcome');
\echo SQLSTATE :SQLSTATE

-- An unknown document: 42704 undefined_object, from every function.
SELECT nodesync.snapshot('nope');
\echo SQLSTATE :SQLSTATE
SELECT * FROM nodesync.nodes('nope');
\echo SQLSTATE :SQLSTATE

-- Document ids are text of 1..200 bytes, anything goes inside.
SELECT nodesync.create_doc('team/2024 "Q3" plans ✓');
SELECT nodesync.snapshot('team/2024 "Q3" plans ✓')->>'doc' AS doc;
SELECT nodesync.create_doc(repeat('x', 200)) AS two_hundred_bytes;

-- drop_doc(doc, expected_gen) drops a document and all its history, if it is still at
-- expected_gen; otherwise 40001 with the current gen in DETAIL.
SELECT nodesync.apply_patch('board', '{"ops": [{"op": "create", "key": "todo", "kind": "column", "parent": "root"}]}');
SELECT nodesync.drop_doc('board', 1);
\echo SQLSTATE :SQLSTATE
SELECT nodesync.drop_doc('board', 2);
SELECT nodesync.snapshot('board');
\echo SQLSTATE :SQLSTATE
-- NULL skips the check.
SELECT nodesync.drop_doc(repeat('x', 200), NULL);
-- Dropping an unknown document: 42704.
SELECT nodesync.drop_doc('board', NULL);
\echo SQLSTATE :SQLSTATE
-- A dropped document's id can be used again: it starts over at gen 1.
SELECT nodesync.create_doc('board');
SELECT * FROM regress.outline('board');

SELECT doc, gen, horizon FROM nodesync.documents ORDER BY doc;
