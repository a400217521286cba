//! The storage of 0.1.0–0.3.0, for databases whose schema is not yet updated
//! (`ALTER EXTENSION pg_nodesync UPDATE`): history kept as `piece` rows, one full superseded
//! state per node version. The library a server loads is always the newest, and the install
//! scripts of released versions bind its symbols, so until the update the library writes and
//! reads that layout: commits save pieces, time travel reads them, compaction and drop_doc
//! delete them. The 0.3.0 → 0.4.0 update turns the pieces into undo entries and drops the
//! table; from then on [`pieces`] is false and nothing here runs.

use pgrx::pg_sys;
use pgrx::pg_sys::BuiltinOid::*;

use crate::sql::Stmt;

/// Whether this database still keeps history as pieces (a schema before 0.4.0): the table
/// `nodesync.piece` exists. Two catalog-cache lookups, no query.
pub fn pieces() -> bool {
    // SAFETY: plain catalog lookups by name; `missing_ok` makes an absent schema InvalidOid.
    unsafe {
        let nsp = pg_sys::get_namespace_oid(c"nodesync".as_ptr(), true);
        nsp != pg_sys::InvalidOid && pg_sys::get_relname_relid(c"piece".as_ptr(), nsp) != pg_sys::InvalidOid
    }
}

/// Before a commit's writes: the previous state of every node it changes or deletes, as pieces.
pub const SAVE_PIECES: Stmt = Stmt {
    sql: "INSERT INTO nodesync.piece (doc_id, key, version, gen, parent, pos, kind, props)
          SELECT doc_id, key, version, gen, parent, pos, kind, props FROM nodesync.tree
           WHERE doc_id = $1 AND key = ANY($2::text[])",
    args: &[INT8OID, TEXTARRAYOID],
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
