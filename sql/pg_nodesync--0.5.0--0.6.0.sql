-- pg_nodesync 0.5.0 -> 0.6.0 (ALTER EXTENSION pg_nodesync UPDATE TO '0.6.0').
-- Run by Postgres with search_path = nodesync.
-- What 0.6.0 changes: nodesync.documents loses its CHECK (octet_length(doc) BETWEEN 1 AND 200).
-- Every commit updates its document's row (gen), and Postgres evaluates every CHECK constraint
-- of a table on every UPDATE, whatever columns changed: reading the constraint's expression
-- back from the catalog and compiling it once per statement cost about 38,000 instructions of
-- a keystroke's 490,000 (callgrind, docs/performance.md). create_doc checks the id (1..200
-- bytes, 22023) before any row is written, as every function does with its arguments; the
-- table is written only through the functions (docs/storage.md).
-- Takes an ACCESS EXCLUSIVE lock on nodesync.documents for a moment (no rewrite, no scan).
-- The object gets exactly the definition a fresh 0.6.0 install has (tests/tests/upgrade.rs
-- compares pg_dump --schema-only of both).
\echo Use "ALTER EXTENSION pg_nodesync UPDATE TO '0.6.0'" to load this file. \quit

ALTER TABLE nodesync.documents DROP CONSTRAINT documents_doc_check;
