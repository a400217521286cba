-- pg_nodesync: the SQL-facing read functions. They run with the caller's rights (RLS applies)
-- and a fixed search_path. Thin wrappers: argument checks and errors come
-- from the Rust helpers (nodesync._doc_id, nodesync._check_history), JSON building from Rust
-- (nodesync._snapshot_text, nodesync._diff_text); the text is cast to jsonb once.

-- create_doc takes jsonb and hands it to Rust as text, parsed there with exact numbers.
CREATE FUNCTION nodesync.create_doc(doc text, root_kind text DEFAULT 'doc', root_props jsonb DEFAULT '{}')
RETURNS bigint LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$ SELECT nodesync._create_doc(doc, root_kind, root_props::text) $$;
COMMENT ON FUNCTION nodesync.create_doc(text, text, jsonb) IS 'creates a document with its root node; returns gen 1';

-- apply_patch and try_apply_patch are C functions (src/api.rs, 0.4.0): no wrapper here.
COMMENT ON FUNCTION nodesync.apply_patch(text, jsonb, text, bigint) IS 'applies a patch atomically; 40001 with the conflicts as JSON DETAIL';
COMMENT ON FUNCTION nodesync.try_apply_patch(text, jsonb, text, bigint) IS 'like apply_patch, but returns conflicts as {"ok": false, ...}';

-- snapshot and diff_since are one expression each, with every name qualified and no SET
-- clause (0.5.0), so Postgres inlines them into the calling query: no SQL function is planned
-- and run per call (about 116k instructions of a small diff_since's 726k). The C helpers they
-- call run with the fixed search_path; the cast is looked up by type, not by name.
CREATE FUNCTION nodesync.snapshot(doc text, at_gen bigint DEFAULT NULL) RETURNS jsonb
LANGUAGE sql STABLE AS $$ SELECT nodesync._snapshot_text(doc, at_gen)::pg_catalog.jsonb $$;
COMMENT ON FUNCTION nodesync.snapshot(text, bigint) IS 'the document as nested JSON, now or right after commit at_gen';

CREATE FUNCTION nodesync.diff_since(doc text, since bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$ SELECT nodesync._diff_text(doc, since)::pg_catalog.jsonb $$;
COMMENT ON FUNCTION nodesync.diff_since(text, bigint) IS 'what changed after generation since: changed live nodes and deleted keys';

CREATE FUNCTION nodesync.nodes(doc text) RETURNS SETOF nodesync.node
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    d bigint := nodesync._doc_id(doc);
BEGIN
    RETURN QUERY
    SELECT t.key, t.parent, t.pos::text, t.kind, t.props, t.version, t.gen
      FROM nodesync.tree t
     WHERE t.doc_id = d AND NOT t.deleted;
END $$;
COMMENT ON FUNCTION nodesync.nodes(text) IS 'the live nodes of a document as rows';

CREATE FUNCTION nodesync.changes_since(doc text, since bigint)
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
COMMENT ON FUNCTION nodesync.changes_since(text, bigint) IS 'the change log after generation since, oldest first';

CREATE FUNCTION nodesync.node_history(doc text, key text)
RETURNS TABLE(version bigint, gen bigint, client text, state jsonb)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$ SELECT h.version, h.gen, h.client, h.state::jsonb FROM nodesync._node_history(doc, key) h $$;
COMMENT ON FUNCTION nodesync.node_history(text, text) IS 'the versions of one node above the horizon, oldest first; a deletion has a null state';

-- Every statement is planned once per backend and kept. Their shapes do not depend on
-- estimates (primary-key lookups, index range scans on (doc_id, gen), one document's rows),
-- but array parameters (`key = ANY($2)`, `unnest(...)`) make the planner's generic estimate
-- look costlier than a custom plan, so by default every call would plan them again although
-- the plan never changes. Generic plans halve an edit's CPU and more than halve a small
-- diff_since's (docs/performance.md). Since 0.3.0 the reads need no custom estimate either:
-- diff_since goes through the change log's primary key, not an index on tree.gen (0.4.0).
ALTER FUNCTION nodesync.apply_patch(text, jsonb, text, bigint) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION nodesync.try_apply_patch(text, jsonb, text, bigint) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION nodesync._create_doc(text, text, text) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION nodesync.compact(text, bigint) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION nodesync.drop_doc(text, bigint) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION nodesync._snapshot_text(text, bigint) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION nodesync._diff_text(text, bigint) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION nodesync._node_history(text, text) SET plan_cache_mode = force_generic_plan;

-- Only create_doc inserts into nodesync.documents (0.2.0; see the INSERT grant in sql/schema.sql).
CREATE TRIGGER documents_insert_guard BEFORE INSERT ON nodesync.documents
    FOR EACH STATEMENT EXECUTE FUNCTION nodesync._documents_insert_guard();

COMMENT ON FUNCTION nodesync.wait_gen(text, bigint, integer) IS 'waits until this server sees the document at gen or later (or timeout_ms passed); returns its gen';
