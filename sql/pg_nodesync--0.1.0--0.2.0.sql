-- pg_nodesync 0.1.0 -> 0.2.0 (ALTER EXTENSION pg_nodesync UPDATE TO '0.2.0').
-- Run by Postgres with search_path = nodesync. No table changes and no data rewrite: the
-- stored rows mean the same in both versions. What 0.2.0 adds:
--   * the text, split and join ops (docs/api/apply_patch.md, the text ops): only the new library, no schema change;
--   * nodesync.wait_gen(doc, gen, timeout_ms) for readers on a hot standby (docs/replicas.md);
--   * create_doc honours the INSERT policies on nodesync.documents: the document row is
--     inserted as the caller (INSERT (doc) granted to PUBLIC), guarded by a trigger so that
--     only create_doc, the owner and superusers can insert;
--   * nodesync.notify_channel (a setting: nothing to do here).
-- Each statement below gives the object exactly the definition a fresh 0.2.0 install has
-- (tests/tests/upgrade.rs compares pg_dump --schema-only of both).
\echo Use "ALTER EXTENSION pg_nodesync UPDATE TO '0.2.0'" to load this file. \quit

-- create_doc: the document row as the caller (the 0.1.0 C symbol _create_doc_wrapper stays in
-- the library for databases not yet updated). CREATE OR REPLACE resets the function's SET
-- options, so plan_cache_mode is set again, as sql/functions.sql does.
CREATE OR REPLACE FUNCTION nodesync."_create_doc"(
	"doc" TEXT,
	"root_kind" TEXT,
	"root_props" TEXT
) RETURNS bigint
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', '_create_doc_as_caller_wrapper';
ALTER FUNCTION nodesync._create_doc(text, text, text) SET plan_cache_mode = force_generic_plan;

GRANT INSERT (doc) ON nodesync.documents TO PUBLIC;

CREATE FUNCTION nodesync."_documents_insert_guard"()
	RETURNS TRIGGER
	LANGUAGE c
	AS 'MODULE_PATHNAME', '_documents_insert_guard_wrapper';

CREATE TRIGGER documents_insert_guard BEFORE INSERT ON nodesync.documents
    FOR EACH STATEMENT EXECUTE FUNCTION nodesync._documents_insert_guard();

-- wait_gen (docs/replicas.md)
CREATE FUNCTION nodesync."wait_gen"(
	"doc" TEXT,
	"gen" bigint,
	"timeout_ms" INT DEFAULT 10000
) RETURNS bigint
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'wait_gen_wrapper';
COMMENT ON FUNCTION nodesync.wait_gen(text, bigint, integer) IS 'waits until this server sees the document at gen or later (or timeout_ms passed); returns its gen';

-- With row level security on nodesync.documents, 0.1.0's create_doc ignored it; 0.2.0 checks
-- the INSERT policies, and without any (FOR INSERT or FOR ALL) Postgres refuses every insert.
-- Say so, rather than let creates start failing with 42501 unexplained.
DO $$
BEGIN
    IF (SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'nodesync.documents'::pg_catalog.regclass)
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy
                        WHERE polrelid = 'nodesync.documents'::pg_catalog.regclass AND polcmd IN ('a', '*')
                          AND polpermissive) THEN
        RAISE WARNING 'pg_nodesync 0.2.0: row level security is enabled on nodesync.documents but no policy allows INSERT, so create_doc now fails with 42501 for every role that is subject to it'
            USING HINT = 'add a policy FOR INSERT ... WITH CHECK (...) that says who may create which document id (docs/security.md)';
    END IF;
END $$;
