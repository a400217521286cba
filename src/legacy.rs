//! The storage of 0.1.0–0.3.0, for databases whose schema is not yet updated
//! (`ALTER EXTENSION pg_nodesync UPDATE`): history kept as `piece` rows, one full superseded
//! state per node version. The library a server loads is always the newest, and the install
//! scripts of released versions bind its symbols, so until the update the library writes and
//! reads that layout: commits save pieces, time travel reads them, compaction and drop_doc
//! delete them. The 0.3.0 → 0.4.0 update turns the pieces into undo entries and drops the
//! table; from then on [`pieces`] is false and nothing here runs.

use pgrx::pg_sys::BuiltinOid::*;

use crate::sql::Stmt;

/// Whether this database still keeps history as pieces (a schema before 0.4.0): the table
/// `nodesync.piece` exists. Two catalog-cache lookups, no query.
pub fn pieces() -> bool {
    crate::sql::relation(c"piece").is_some()
}

/// 0.3.0's commit statement (src/commit.rs has the current one, with the same parameters):
/// the `saved` CTE copies the previous state of every node named in $4 (a JSON array of keys)
/// into pieces, on the statement's snapshot, before `changed` and `deleted` write.
pub const COMMIT: Stmt = Stmt {
    sql: "WITH saved AS (
            INSERT INTO nodesync.piece (doc_id, key, version, gen, parent, pos, kind, props)
            SELECT doc_id, key, version, gen, parent, pos, kind, props FROM nodesync.tree
             WHERE doc_id = $1 AND key IN (SELECT jsonb_array_elements_text($4::jsonb))),
          changed AS (
            UPDATE nodesync.tree t SET
              parent = CASE WHEN u.moved THEN u.parent ELSE t.parent END,
              pos = CASE WHEN u.moved THEN u.pos ELSE t.pos END,
              kind = coalesce(u.kind, t.kind),
              props = CASE WHEN u.delta IS NULL THEN t.props
                           ELSE (t.props || u.delta::jsonb)
                                - ARRAY(SELECT e.key FROM jsonb_each(u.delta::jsonb) e WHERE e.value = 'null'::jsonb) END,
              version = t.version + 1,
              gen = $2
            FROM unnest($5::text[], $6::bool[], $7::text[], $8::text[], $9::text[], $10::text[])
                 AS u(key, moved, parent, pos, kind, delta)
            WHERE t.doc_id = $1 AND t.key = u.key
            RETURNING t.key, CASE WHEN u.delta IS NULL THEN 0 ELSE octet_length(t.props::text) END AS bytes),
          deleted AS (
            UPDATE nodesync.tree SET deleted = true, parent = NULL, pos = NULL, props = NULL,
                   version = version + 1, gen = $2
             WHERE doc_id = $1 AND key = ANY($11::text[])),
          created AS (
            INSERT INTO nodesync.tree (doc_id, key, parent, pos, kind, props, version, gen, deleted)
            SELECT $1, u.key, u.parent, u.pos, u.kind, u.props::jsonb, 1, $2, u.props IS NULL
              FROM unnest($12::text[], $13::text[], $14::text[], $15::text[], $16::text[]) AS u(key, parent, pos, kind, props)
            RETURNING key, coalesce(octet_length(props::text), 0) AS bytes),
          logged AS (
            INSERT INTO nodesync.change (doc_id, gen, client, seq, patch, versions, committed_at)
            VALUES ($1, $2, $17, $18, $19::jsonb, $20::jsonb, clock_timestamp())),
          bumped AS (
            UPDATE nodesync.documents SET gen = $2, live_nodes = live_nodes + $3 WHERE id = $1
            RETURNING CASE WHEN $21::text IS NOT NULL THEN pg_notify($22, $21) END,
                      CASE WHEN $23::text IS NOT NULL THEN pg_logical_emit_message(true, $22, $23) END)
          SELECT key, bytes FROM changed UNION ALL SELECT key, bytes FROM created",
    args: crate::commit::COMMIT_ARGS,
};

/// Compaction: a piece is needed while it is the node's state at the horizon; drop it once the
/// node's next version was also committed at or below the horizon.
pub const COMPACT_PIECES: Stmt = Stmt {
    sql: "DELETE FROM nodesync.piece p
           WHERE p.doc_id = $1 AND p.gen <= $2
             AND (EXISTS (SELECT 1 FROM nodesync.piece q
                           WHERE q.doc_id = $1 AND q.key = p.key AND q.version = p.version + 1 AND q.gen <= $2)
                  OR EXISTS (SELECT 1 FROM nodesync.tree t
                              WHERE t.doc_id = $1 AND t.key = p.key AND t.version = p.version + 1 AND t.gen <= $2))",
    args: &[INT8OID, INT8OID],
};

pub const DROP_PIECES: Stmt = Stmt { sql: "DELETE FROM nodesync.piece WHERE doc_id = $1", args: &[INT8OID] };

/// The nodes at gen $2: the tree row if unchanged since, else the newest piece at or below $2.
/// Columns as `read::rows` takes them.
pub const AT: Stmt = Stmt {
    sql: "SELECT key, parent, pos::text, kind, props::text, version, gen, 0::bigint
            FROM nodesync.tree WHERE doc_id = $1 AND NOT deleted AND gen <= $2
          UNION ALL
          SELECT p.key, p.parent, p.pos::text, p.kind, p.props::text, p.version, p.gen, 0::bigint
            FROM nodesync.tree t
            CROSS JOIN LATERAL (SELECT * FROM nodesync.piece p
                                 WHERE p.doc_id = t.doc_id AND p.key = t.key AND p.gen <= $2
                                 ORDER BY p.version DESC LIMIT 1) p
           WHERE t.doc_id = $1 AND t.gen > $2",
    args: &[INT8OID, INT8OID],
};
