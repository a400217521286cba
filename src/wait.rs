//! `wait_gen(doc, gen, timeout_ms)` (docs/replicas.md): returns as soon as this server sees the
//! document at `gen` or later, or at the timeout (then the current, smaller gen).
//!
//! `LISTEN` is refused on a hot standby, so this is how a reader there follows a document. It
//! sleeps on the backend's latch in ticks of at most [`TICK_MS`] and reads the document's gen
//! again only when something may have changed: when a transaction with an xid has completed on
//! this server (`ShmemVariableCache->xactCompletionCount`, which moves on the primary when a
//! transaction leaves the proc array and on a standby when replay expires one), or when replay
//! has advanced, or every [`RECHECK_MS`] regardless. Each read is its own SPI statement, so
//! under READ COMMITTED it takes a fresh snapshot and sees commits made meanwhile. Ctrl-C,
//! `statement_timeout` and a recovery conflict interrupt the sleep (CHECK_FOR_INTERRUPTS).
//!
//! It takes no row locks (a plain SELECT of `nodesync.documents`, as the caller: RLS applies).
//! Under REPEATABLE READ or SERIALIZABLE its snapshot cannot move, so it refuses with 25001.

use std::time::{Duration, Instant};

use pgrx::pg_sys::BuiltinOid::*;
use pgrx::prelude::*;
use pgrx::{pg_sys, PgSqlErrorCode};

use nodesync_core::{Error, Result};

use crate::documents::doc_arg;
use crate::errors::OrRaise;
use crate::sql::{exec, req, Stmt};

/// Longest sleep between two looks at the completion counter, in ms.
pub const TICK_MS: i64 = 1;
/// Read the gen at least this often even if no completion was seen, in ms.
pub const RECHECK_MS: u64 = 250;

const GEN: Stmt = Stmt { sql: "SELECT gen FROM nodesync.documents WHERE doc = $1", args: &[TEXTOID] };

/// What moves when another transaction's commit may have become visible here.
#[derive(PartialEq, Eq, Clone, Copy)]
struct Progress {
    completions: u64,
    replayed: u64,
}

fn progress() -> Progress {
    // SAFETY: ShmemVariableCache points into shared memory for the life of the backend; the
    // counter is a u64 that is only ever incremented (a torn or stale read just means one more
    // or one less look at the gen). GetXLogReplayRecPtr takes its own spinlock.
    unsafe {
        let completions = std::ptr::read_volatile(std::ptr::addr_of!((*pg_sys::ShmemVariableCache).xactCompletionCount));
        let replayed = if pg_sys::RecoveryInProgress() { pg_sys::GetXLogReplayRecPtr(std::ptr::null_mut()) } else { 0 };
        Progress { completions, replayed }
    }
}

/// The document's gen, read with a fresh snapshot (42704 if this server does not know it, or
/// the caller may not see it).
fn current_gen(doc: &str) -> Result<i64> {
    crate::sql::connect(|c| {
        let t = exec(c, &GEN, &[doc.into()])?;
        match t.into_iter().next() {
            Some(r) => req(&r, 1),
            None => Err(Error::UnknownDoc(doc.to_string())),
        }
    })
}

/// Sleeps up to `ms` on the latch, then handles interrupts (cancel, timeouts, termination).
fn nap(ms: i64) {
    // SAFETY: MyLatch is the backend's own latch; WL_EXIT_ON_PM_DEATH exits if the postmaster dies
    unsafe {
        pg_sys::WaitLatch(
            pg_sys::MyLatch,
            (pg_sys::WL_LATCH_SET | pg_sys::WL_TIMEOUT | pg_sys::WL_EXIT_ON_PM_DEATH) as i32,
            ms as _,
            pg_sys::PG_WAIT_EXTENSION,
        );
        pg_sys::ResetLatch(pg_sys::MyLatch);
    }
    pgrx::check_for_interrupts!();
}

fn wait(doc: &str, want: i64, timeout: Duration) -> Result<i64> {
    let deadline = Instant::now() + timeout;
    loop {
        let seen = progress();
        let read_at = Instant::now();
        let gen = current_gen(doc)?;
        if gen >= want {
            return Ok(gen);
        }
        loop {
            let now = Instant::now();
            if now >= deadline {
                return if progress() == seen { Ok(gen) } else { current_gen(doc) };
            }
            let left = (deadline - now).as_millis().max(1) as i64;
            nap(left.min(TICK_MS));
            if progress() != seen || read_at.elapsed() >= Duration::from_millis(RECHECK_MS) {
                break;
            }
        }
    }
}

/// Waits until this server sees document `doc` at generation `gen` or later, or until
/// `timeout_ms` have passed; returns the document's gen as this server then sees it.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn wait_gen(doc: Option<&str>, gen: Option<i64>, timeout_ms: default!(Option<i32>, 10000)) -> i64 {
    let r: Result<i64> = (|| {
        let doc = doc_arg(doc)?;
        let named = |msg: String| Error::InvalidArgument(msg).in_doc(doc);
        let want = gen.ok_or_else(|| named("gen must not be NULL".into()))?;
        if want < 0 {
            return Err(named(format!("gen must be >= 0, got {want}")));
        }
        let ms = timeout_ms.ok_or_else(|| named("timeout_ms must not be NULL".into()))?;
        if ms < 0 {
            return Err(named(format!("timeout_ms must be >= 0, got {ms}")));
        }
        // SAFETY: a read of backend-local state
        if unsafe { pg_sys::XactIsoLevel } >= pg_sys::XACT_REPEATABLE_READ as i32 {
            crate::refusals::raise(
                PgSqlErrorCode::ERRCODE_ACTIVE_SQL_TRANSACTION,
                format!("wait_gen on document \"{doc}\" cannot see new commits in a REPEATABLE READ or SERIALIZABLE transaction"),
                Some("the transaction's snapshot is fixed, so the document's gen cannot move within it".into()),
                Some("call wait_gen outside the transaction block, or in a READ COMMITTED transaction".into()),
            );
        }
        wait(doc, want, Duration::from_millis(ms as u64))
    })();
    r.or_raise()
}
