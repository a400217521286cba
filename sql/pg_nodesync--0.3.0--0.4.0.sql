-- pg_nodesync 0.3.0 -> 0.4.0 (ALTER EXTENSION pg_nodesync UPDATE TO '0.4.0').
-- Run by Postgres with search_path = nodesync.
-- What 0.4.0 changes: history is kept as what changed. Each log row holds, in the new column
-- change.undo, one undo entry per node its patch changed or deleted (nodesync_core::history,
-- docs/storage.md); the table nodesync.piece, which held every superseded state in full, goes.
-- snapshot(at_gen) rewinds the current tree through the commits after at_gen; node_history
-- walks one node's entries (Rust: nodesync._node_history). And apply_patch / try_apply_patch are
-- C functions now (below).
-- Until this update runs, the new library keeps writing and reading pieces (src/legacy.rs).
-- Each statement gives the object exactly the definition a fresh 0.4.0 install has
-- (tests/tests/upgrade.rs compares pg_dump --schema-only of both).
\echo Use "ALTER EXTENSION pg_nodesync UPDATE TO '0.4.0'" to load this file. \quit

ALTER TABLE nodesync.change ADD COLUMN undo jsonb;
COMMENT ON TABLE nodesync.change IS 'pg_nodesync change log and history: one row per committed patch, with undo entries for snapshot(at_gen) and node_history';

-- Every piece becomes the undo entry of the commit that superseded it (the one that wrote the
-- node's next version, found in the next piece or the tree row), in the entry's full form:
-- place, kind and props before. Pieces whose superseding commit was compacted away are below
-- the horizon, where no read goes.
UPDATE nodesync.change c SET undo = u.undo
  FROM (SELECT p.doc_id, n.gen,
               pg_catalog.jsonb_object_agg(p.key, pg_catalog.jsonb_build_object(
                   'v', p.version, 'g', p.gen, 'pa', p.parent, 'po', p.pos, 'k', p.kind, 'f', p.props)) AS undo
          FROM nodesync.piece p
          CROSS JOIN LATERAL (
                SELECT q.gen FROM nodesync.piece q
                 WHERE q.doc_id = p.doc_id AND q.key = p.key AND q.version = p.version + 1
                UNION ALL
                SELECT t.gen FROM nodesync.tree t
                 WHERE t.doc_id = p.doc_id AND t.key = p.key AND t.version = p.version + 1) n
         GROUP BY p.doc_id, n.gen) u
 WHERE c.doc_id = u.doc_id AND c.gen = u.gen;

-- The piece table leaves the extension (and its list of config tables, which only ALTER
-- EXTENSION ... DROP edits), with its partitions if scripts/partition_tables.sql made them.
DO $$
DECLARE
    r regclass;
BEGIN
    FOR r IN SELECT i.inhrelid::regclass FROM pg_catalog.pg_inherits i WHERE i.inhparent = 'nodesync.piece'::regclass
             UNION ALL SELECT 'nodesync.piece'::regclass
    LOOP
        EXECUTE pg_catalog.format('ALTER EXTENSION pg_nodesync DROP TABLE %s', r);
    END LOOP;
END
$$;
DROP TABLE nodesync.piece;

CREATE  FUNCTION "_node_history"(
	"doc" TEXT, /* Option < & str > */
	"key" TEXT /* Option < & str > */
) RETURNS TABLE (
	"version" bigint,  /* i64 */
	"gen" bigint,  /* i64 */
	"client" TEXT,  /* Option < String > */
	"state" TEXT  /* Option < String > */
)
STABLE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', '_node_history_wrapper';

ALTER FUNCTION nodesync._node_history(text, text) SET plan_cache_mode = force_generic_plan;

CREATE OR REPLACE FUNCTION nodesync.node_history(doc text, key text)
RETURNS TABLE(version bigint, gen bigint, client text, state jsonb)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$ SELECT h.version, h.gen, h.client, h.state::jsonb FROM nodesync._node_history(doc, key) h $$;

-- apply_patch and try_apply_patch are the C functions themselves: no SQL wrapper planned and
-- run per call, and the patch read from the jsonb datum once (src/jsonb.rs). Replaced in
-- place, so grants and comments stay; the helpers they wrapped go.
CREATE OR REPLACE FUNCTION nodesync.apply_patch(doc text, patch jsonb, client text DEFAULT NULL, seq bigint DEFAULT NULL)
RETURNS jsonb SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'apply_patch_wrapper';
CREATE OR REPLACE FUNCTION nodesync.try_apply_patch(doc text, patch jsonb, client text DEFAULT NULL, seq bigint DEFAULT NULL)
RETURNS jsonb SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'try_apply_patch_wrapper';
ALTER FUNCTION nodesync.apply_patch(text, jsonb, text, bigint) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION nodesync.try_apply_patch(text, jsonb, text, bigint) SET plan_cache_mode = force_generic_plan;
DROP FUNCTION nodesync._apply_patch(text, text, text, bigint);
DROP FUNCTION nodesync._try_apply_patch(text, text, text, bigint);

-- The reads' statements keep their generic plans too (their shapes do not depend on
-- estimates): a small diff_since costs half as much.
ALTER FUNCTION nodesync._snapshot_text(text, bigint) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION nodesync._diff_text(text, bigint) SET plan_cache_mode = force_generic_plan;
