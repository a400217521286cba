-- pg_nodesync 0.4.0 -> 0.5.0 (ALTER EXTENSION pg_nodesync UPDATE TO '0.5.0').
-- Run by Postgres with search_path = nodesync.
-- What 0.5.0 changes: the change log's JSON columns (patch, versions, undo) are `json`, the
-- text as written, instead of `jsonb`. A log row is written once and read whole (by
-- changes_since, diff_since, duplicates, snapshot(at_gen), node_history), never queried inside,
-- so the binary form bought nothing and cost its size: a keystroke's row was 345 bytes, about
-- 200 now (docs/storage.md). The values stay the same JSON (jsonb's text form here; new rows are
-- compact text); changes_since still returns the patch as jsonb.
-- And snapshot / diff_since lose their SET clause (every name in them is qualified), so that
-- Postgres inlines them into the calling query instead of running a SQL function per call.
-- The ALTER rewrites nodesync.change and its indexes under an ACCESS EXCLUSIVE lock: writes
-- and history reads of every document wait for it (seconds per million log rows; docs/storage.md).
-- Until this update runs, the new library writes json text into the jsonb columns (an assignment
-- cast) and reads them as before.
-- Each statement gives the object exactly the definition a fresh 0.5.0 install has
-- (tests/tests/upgrade.rs compares pg_dump --schema-only of both).
\echo Use "ALTER EXTENSION pg_nodesync UPDATE TO '0.5.0'" to load this file. \quit

ALTER TABLE nodesync.change
    ALTER COLUMN patch TYPE json USING patch::json,
    ALTER COLUMN versions TYPE json USING versions::json,
    ALTER COLUMN undo TYPE json USING undo::json;

CREATE OR REPLACE FUNCTION nodesync.changes_since(doc text, since bigint)
RETURNS TABLE(gen bigint, client text, seq bigint, patch jsonb, committed_at timestamptz)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    d bigint := nodesync._check_history(doc, since, 'changes_since');
BEGIN
    RETURN QUERY
    SELECT c.gen, c.client, c.seq, c.patch::jsonb, c.committed_at
      FROM nodesync.change c
     WHERE c.doc_id = d AND c.gen > changes_since.since
     ORDER BY c.gen;
END $$;

CREATE OR REPLACE FUNCTION nodesync.snapshot(doc text, at_gen bigint DEFAULT NULL) RETURNS jsonb
LANGUAGE sql STABLE AS $$ SELECT nodesync._snapshot_text(doc, at_gen)::pg_catalog.jsonb $$;
CREATE OR REPLACE FUNCTION nodesync.diff_since(doc text, since bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$ SELECT nodesync._diff_text(doc, since)::pg_catalog.jsonb $$;
