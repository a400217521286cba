-- pg_nodesync 0.2.0 -> 0.3.0 (ALTER EXTENSION pg_nodesync UPDATE TO '0.3.0').
-- Run by Postgres with search_path = nodesync. No data rewrite; the stored rows mean the same.
-- What 0.3.0 changes: diff_since finds the nodes written after a gen through the change log
-- (the keys of change.versions, then by primary key) instead of an index on tree.gen, so an
-- edit that keeps a node's place is a HOT update: no index entry is written for it (less WAL,
-- no dead index entries to step over on the next lookup of that key). The new library's
-- diff_since works on 0.2.0 tables too; dropping the index is what makes edits HOT.
-- Each statement gives the object exactly the definition a fresh 0.3.0 install has
-- (tests/tests/upgrade.rs compares pg_dump --schema-only of both).
\echo Use "ALTER EXTENSION pg_nodesync UPDATE TO '0.3.0'" to load this file. \quit

DROP INDEX nodesync.tree_gen;
-- room on each page for HOT updates; applies to pages written from now on (VACUUM FULL or
-- pg_repack rewrites the existing ones, if wanted). A tree hash-partitioned by
-- scripts/partition_tables.sql (docs/scaling.md) takes the setting on each partition, as a
-- partitioned table has no storage of its own.
DO $$
BEGIN
    IF (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = 'nodesync.tree'::regclass) = 'p' THEN
        EXECUTE (SELECT pg_catalog.string_agg(pg_catalog.format('ALTER TABLE %s SET (fillfactor = 90)', i.inhrelid::regclass), '; ')
                   FROM pg_catalog.pg_inherits i WHERE i.inhparent = 'nodesync.tree'::regclass);
    ELSE
        ALTER TABLE nodesync.tree SET (fillfactor = 90);
    END IF;
END
$$;
