-- pg_nodesync storage: the "node-table types". Stable, documented names (see docs/storage.md).
-- Written only through the nodesync functions; readable with plain SQL.

-- One row per document: its commit counter (gen), history horizon and live node count.
-- The row is also the per-document commit lock: a patch locks it (FOR UPDATE) first, so
-- commits on one document take gens one at a time, and documents never wait for each other.
-- No CHECK constraint (0.6.0): Postgres evaluates every CHECK of a table on every UPDATE of a
-- row, whatever columns changed, and the row is updated by every commit.
CREATE TABLE nodesync.documents (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    doc        text NOT NULL UNIQUE,   -- 1..200 bytes, checked by create_doc (22023)
    gen        bigint NOT NULL DEFAULT 1,
    horizon    bigint NOT NULL DEFAULT 0,
    live_nodes bigint NOT NULL DEFAULT 1,
    created_by name NOT NULL DEFAULT current_user,   -- the role that called create_doc
    created_at timestamptz NOT NULL DEFAULT now(),
    meta       jsonb NOT NULL DEFAULT '{}'            -- free-form; writable by roles with write access
);
COMMENT ON TABLE nodesync.documents IS 'pg_nodesync documents: gen = commit counter, horizon = oldest gen with history';

-- One row per node key ever used in a document: the live node, or the tombstone of a deleted
-- one (deleted = true; keys are never reused, and diff_since lists deletions from here).
CREATE TABLE nodesync.tree (
    doc_id  bigint NOT NULL,
    key     text NOT NULL,
    parent  text,                 -- null for the root and for tombstones
    pos     text COLLATE "C",     -- fractional position among siblings; null for root/tombstones
    kind    text NOT NULL,
    props   jsonb,                -- null for tombstones
    version bigint NOT NULL,      -- record lock: 1 at creation, +1 per committed patch touching it
    gen     bigint NOT NULL,      -- gen of the node's last change (its deletion, for tombstones)
    deleted boolean NOT NULL DEFAULT false,
    PRIMARY KEY (doc_id, key)
) WITH (fillfactor = 90);   -- room on each page for HOT updates (0.3.0)
COMMENT ON TABLE nodesync.tree IS 'pg_nodesync nodes: live rows and tombstones (deleted = true)';
-- children in order: sibling lookups for positions, snapshots
CREATE INDEX tree_children ON nodesync.tree (doc_id, parent, pos COLLATE "C") WHERE NOT deleted;
-- No index on gen (0.3.0): an edit that changes neither the place nor the key of a node is a
-- HOT update, writing no index entry. diff_since finds what changed after gen n through the
-- change log (the keys of change.versions after n), then by primary key.

-- The change log: one row per committed patch, with its history (0.4.0): `undo` holds, for
-- every node the patch changed or deleted, what takes it back to its state before the commit
-- (nodesync_core::history; NULL when the patch only created nodes). snapshot(at_gen) rewinds
-- the current tree through the commits after at_gen; node_history walks one node's entries.
-- Since 0.5.0 the three JSON columns are `json`, the text as written (compact): a keystroke's
-- log row is about half the size it was as `jsonb`, and it is written once and read whole
-- (changes_since returns the patch as jsonb).
CREATE TABLE nodesync.change (
    doc_id       bigint NOT NULL,
    gen          bigint NOT NULL,
    client       text,
    seq          bigint,
    patch        json NOT NULL,    -- the patch as sent (0.5.0: json)
    versions     json NOT NULL,    -- the result's versions, returned again for duplicates
    committed_at timestamptz NOT NULL,
    undo         json,             -- {key: undo entry} for the nodes changed or deleted (0.4.0)
    PRIMARY KEY (doc_id, gen)
);
COMMENT ON TABLE nodesync.change IS 'pg_nodesync change log and history: one row per committed patch, with undo entries for snapshot(at_gen) and node_history';
CREATE INDEX change_client_seq ON nodesync.change (doc_id, client, seq) WHERE client IS NOT NULL;

-- The last committed seq of clients whose log rows were compacted away.
CREATE TABLE nodesync.client_seq (
    doc_id bigint NOT NULL,
    client text NOT NULL,
    seq    bigint NOT NULL,
    PRIMARY KEY (doc_id, client)
);
COMMENT ON TABLE nodesync.client_seq IS 'pg_nodesync: last seq per client, kept when compaction drops its log rows';

-- A node as nodes() returns it.
CREATE TYPE nodesync.node AS (
    key     text,
    parent  text,
    pos     text COLLATE "C",   -- so ORDER BY pos sorts siblings in any database locale
    kind    text,
    props   jsonb,
    version bigint,
    gen     bigint
);

-- Every live node of every document, for plain SQL (with the caller's rights: RLS applies).
CREATE VIEW nodesync.live_nodes WITH (security_invoker = true) AS
SELECT d.doc, t.key, t.parent, t.pos, t.kind, t.props, t.version, t.gen
  FROM nodesync.tree t JOIN nodesync.documents d ON d.id = t.doc_id
 WHERE NOT t.deleted;
COMMENT ON VIEW nodesync.live_nodes IS 'pg_nodesync: every live node of every document';

-- The data is the user's: pg_dump must dump it (not just CREATE EXTENSION).
SELECT pg_catalog.pg_extension_config_dump('nodesync.documents', '');
SELECT pg_catalog.pg_extension_config_dump('nodesync.documents_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('nodesync.tree', '');
SELECT pg_catalog.pg_extension_config_dump('nodesync.change', '');
SELECT pg_catalog.pg_extension_config_dump('nodesync.client_seq', '');

-- Privileges (docs/security.md). Writes go through the functions only: nobody but the
-- extension's owner may write these tables; the write functions check the caller's access with
-- `SELECT ... FOR UPDATE` on nodesync.documents *as the caller* (so RLS policies on documents
-- decide who may write which document), then write as the owner. Reads run as the caller:
-- SELECT is granted, and the policies below hide rows of documents the caller cannot see.
REVOKE ALL ON nodesync.documents, nodesync.tree, nodesync.change, nodesync.client_seq FROM PUBLIC;
GRANT USAGE ON SCHEMA nodesync TO PUBLIC;
GRANT SELECT ON nodesync.documents, nodesync.tree, nodesync.change, nodesync.live_nodes TO PUBLIC;
-- the privilege that write access needs (FOR UPDATE wants UPDATE on a column); meta is harmless
GRANT UPDATE (meta) ON nodesync.documents TO PUBLIC;
-- create_doc inserts the document row as the caller, so the admin's INSERT policies decide who
-- may create which id (0.2.0). The trigger documents_insert_guard (sql/functions.sql) lets only
-- create_doc, the owner and superusers use it: a row without its root would break every reader.
GRANT INSERT (doc) ON nodesync.documents TO PUBLIC;

ALTER TABLE nodesync.tree ENABLE ROW LEVEL SECURITY;
ALTER TABLE nodesync.change ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible_documents ON nodesync.tree FOR SELECT
    USING (EXISTS (SELECT 1 FROM nodesync.documents d WHERE d.id = tree.doc_id));
CREATE POLICY visible_documents ON nodesync.change FOR SELECT
    USING (EXISTS (SELECT 1 FROM nodesync.documents d WHERE d.id = change.doc_id));
