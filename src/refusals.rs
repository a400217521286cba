//! Refusals that are about the server, the caller's transaction or the caller's rights rather
//! than about a document's data, so they are not variants of `nodesync_core::Error` (which the
//! pure core and its model share): a write on a hot standby or in a read-only transaction
//! (25006), `wait_gen` in a transaction whose snapshot cannot move (25001), a `create_doc` that
//! the admin's INSERT policies refuse and a direct INSERT into `nodesync.documents` (42501).
//! Each is raised here, at once, with a message that names the document.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{pg_sys, PgLogLevel, PgSqlErrorCode};

/// Raises an ERROR with this SQLSTATE, message, DETAIL and HINT.
pub fn raise(code: PgSqlErrorCode, msg: String, detail: Option<String>, hint: Option<String>) -> ! {
    let mut r = ErrorReport::new(code, msg, "pg_nodesync");
    if let Some(d) = detail {
        r = r.set_detail(d);
    }
    if let Some(h) = hint {
        r = r.set_hint(h);
    }
    r.report(PgLogLevel::ERROR);
    unreachable!("ERROR does not return")
}

/// 25006 read_only_sql_transaction before a write (`what`: "create", "drop", "apply a patch
/// to", "compact") on a hot standby or in a read-only transaction. docs/replicas.md: writes on a standby
/// fail with Postgres's own read-only SQLSTATE; the message says why and where to go instead.
pub fn check_writable(doc: &str, what: &str) {
    // SAFETY: plain reads of backend-local state (a hot standby forces XactReadOnly on)
    let (read_only, recovery) = unsafe { (pg_sys::XactReadOnly, pg_sys::RecoveryInProgress()) };
    if !read_only {
        return;
    }
    let code = PgSqlErrorCode::ERRCODE_READ_ONLY_SQL_TRANSACTION;
    if recovery {
        raise(
            code,
            format!("cannot {what} document \"{doc}\": this server is a hot standby, where every transaction is read-only"),
            None,
            Some("send writes to the primary; on a standby, follow a document with nodesync.wait_gen(doc, gen)".into()),
        )
    }
    raise(
        code,
        format!("cannot {what} document \"{doc}\" in a read-only transaction"),
        None,
        Some("run it in a read-write transaction (SET TRANSACTION READ WRITE, or default_transaction_read_only = off)".into()),
    )
}
