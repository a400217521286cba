-- Hash-partitions nodesync.tree and nodesync.change by doc_id (docs/scaling.md,
-- "Partitioning on one machine"). Run it as a superuser, in a maintenance window (it locks the
-- tables and copies every row), in each database that has pg_nodesync 0.6.0:
--   psql -v ON_ERROR_STOP=1 -v partitions=8 -d mydb -f scripts/partition_tables.sql
-- (partitions defaults to 8). tests/tests/partitioned.rs runs it and checks that every function
-- answers as on unpartitioned tables.
--
-- Each table is swapped for a partitioned one with the same name, columns, defaults,
-- constraints, indexes (same names), comments, privileges and row level security policy, and
-- stays a member and a config table of the extension: DROP EXTENSION drops it, and pg_dump
-- dumps its rows (those of each partition). The view live_nodes is made again on the new tree.
-- To restore a dump of a partitioned database: CREATE EXTENSION pg_nodesync; run this script;
-- then restore the data only (pg_restore --data-only, or psql of pg_dump --data-only).
\if :{?partitions}
\else
\set partitions 8
\endif
SELECT set_config('nodesync_admin.partitions', :'partitions', false);

BEGIN;
DO $script$
DECLARE
    n int := current_setting('nodesync_admin.partitions')::int;
    t text;
    i int;
    keep_pk text;
    ext oid := (SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'pg_nodesync');
BEGIN
    IF ext IS NULL THEN
        RAISE EXCEPTION 'pg_nodesync is not installed in this database';
    END IF;
    IF (SELECT extversion FROM pg_catalog.pg_extension WHERE oid = ext) <> '0.6.0' THEN
        RAISE EXCEPTION 'this script is for pg_nodesync 0.6.0 (ALTER EXTENSION pg_nodesync UPDATE first)';
    END IF;
    IF n < 1 THEN
        RAISE EXCEPTION 'partitions must be at least 1, got %', n;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE oid = 'nodesync.tree'::regclass AND relkind = 'p') THEN
        RAISE EXCEPTION 'nodesync.tree is partitioned already';
    END IF;
    LOCK TABLE nodesync.documents, nodesync.tree, nodesync.change IN ACCESS EXCLUSIVE MODE;

    -- the view reads nodesync.tree: drop it now, make it again on the new table below
    ALTER EXTENSION pg_nodesync DROP VIEW nodesync.live_nodes;
    DROP VIEW nodesync.live_nodes;

    FOREACH t IN ARRAY ARRAY['tree', 'change'] LOOP
        -- the old table and its indexes step aside (names of indexes are the documented ones)
        EXECUTE format('ALTER TABLE nodesync.%I RENAME TO %I', t, t || '_unpartitioned');
        EXECUTE format('ALTER INDEX nodesync.%I RENAME TO %I', t || '_pkey', t || '_unpartitioned_pkey');
        -- same columns, defaults, NOT NULLs, CHECKs, storage and comments; partitioned by doc_id
        EXECUTE format('CREATE TABLE nodesync.%I (LIKE nodesync.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS
                          INCLUDING STORAGE INCLUDING COMPRESSION INCLUDING COMMENTS) PARTITION BY HASH (doc_id)',
                       t, t || '_unpartitioned');
        SELECT pg_catalog.pg_get_constraintdef(c.oid) INTO keep_pk
          FROM pg_catalog.pg_constraint c WHERE c.conrelid = ('nodesync.' || t || '_unpartitioned')::regclass AND c.contype = 'p';
        EXECUTE format('ALTER TABLE nodesync.%I ADD CONSTRAINT %I %s', t, t || '_pkey', keep_pk);
        FOR i IN 0 .. n - 1 LOOP
            -- the tree's partitions keep room for HOT updates, as nodesync.tree does
            EXECUTE format('CREATE TABLE nodesync.%I PARTITION OF nodesync.%I FOR VALUES WITH (MODULUS %s, REMAINDER %s)%s',
                           t || '_p' || i, t, n, i, CASE WHEN t = 'tree' THEN ' WITH (fillfactor = 90)' ELSE '' END);
        END LOOP;
        EXECUTE format('COMMENT ON TABLE nodesync.%I IS %L', t,
                       obj_description(('nodesync.' || t || '_unpartitioned')::regclass, 'pg_class') || ' (hash-partitioned by doc_id)');
    END LOOP;
    -- the other indexes, as sql/schema.sql has them (old ones first renamed out of the way)
    ALTER INDEX nodesync.tree_children RENAME TO tree_unpartitioned_children;
    ALTER INDEX nodesync.change_client_seq RENAME TO change_unpartitioned_client_seq;
    CREATE INDEX tree_children ON nodesync.tree (doc_id, parent, pos COLLATE "C") WHERE NOT deleted;
    CREATE INDEX change_client_seq ON nodesync.change (doc_id, client, seq) WHERE client IS NOT NULL;

    INSERT INTO nodesync.tree SELECT * FROM nodesync.tree_unpartitioned;
    INSERT INTO nodesync.change SELECT * FROM nodesync.change_unpartitioned;

    FOREACH t IN ARRAY ARRAY['tree', 'change'] LOOP
        -- privileges and row level security, as sql/schema.sql sets them. Queries through the
        -- parent are checked against the parent's; the partitions are readable by the owner only.
        EXECUTE format('REVOKE ALL ON nodesync.%I FROM PUBLIC', t);
        EXECUTE format('GRANT SELECT ON nodesync.%I TO PUBLIC', t);
        EXECUTE format('ALTER TABLE nodesync.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY visible_documents ON nodesync.%I FOR SELECT
                          USING (EXISTS (SELECT 1 FROM nodesync.documents d WHERE d.id = %I.doc_id))', t, t);
        -- membership: the new table and its partitions belong to the extension, the old one goes;
        -- pg_dump dumps the rows of each partition (what pg_extension_config_dump would record,
        -- done by hand: that function only works inside an extension script)
        EXECUTE format('ALTER EXTENSION pg_nodesync ADD TABLE nodesync.%I', t);
        FOR i IN 0 .. n - 1 LOOP
            EXECUTE format('REVOKE ALL ON nodesync.%I FROM PUBLIC', t || '_p' || i);
            EXECUTE format('ALTER EXTENSION pg_nodesync ADD TABLE nodesync.%I', t || '_p' || i);
        END LOOP;
        UPDATE pg_catalog.pg_extension e
           SET extconfig = (SELECT array_agg(y.c ORDER BY y.o) FROM (
                              SELECT x.c, x.o FROM unnest(e.extconfig) WITH ORDINALITY AS x(c, o)
                               WHERE x.c <> ('nodesync.' || t || '_unpartitioned')::regclass
                              UNION ALL
                              SELECT ('nodesync.' || t || '_p' || g.k)::regclass::oid, 1000 + g.k FROM generate_series(0, n - 1) AS g(k)) y),
               extcondition = (SELECT array_agg(''::text) FROM generate_series(1, cardinality(e.extconfig) - 1 + n))
         WHERE e.oid = ext;
        EXECUTE format('ALTER EXTENSION pg_nodesync DROP TABLE nodesync.%I', t || '_unpartitioned');
        EXECUTE format('DROP TABLE nodesync.%I', t || '_unpartitioned');
    END LOOP;

    -- the view, as sql/schema.sql has it
    CREATE VIEW nodesync.live_nodes WITH (security_invoker = true) AS
    SELECT d.doc, t.key, t.parent, t.pos, t.kind, t.props, t.version, t.gen
      FROM nodesync.tree t JOIN nodesync.documents d ON d.id = t.doc_id
     WHERE NOT t.deleted;
    COMMENT ON VIEW nodesync.live_nodes IS 'pg_nodesync: every live node of every document';
    GRANT SELECT ON nodesync.live_nodes TO PUBLIC;
    ALTER EXTENSION pg_nodesync ADD VIEW nodesync.live_nodes;
END
$script$;
COMMIT;
ANALYZE nodesync.tree, nodesync.change;
