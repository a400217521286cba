//! Document rows: lookup, the per-document commit lock, creation (as the caller, guarded by
//! the `documents_insert_guard` trigger) and dropping.

use std::cell::Cell;
use std::panic::AssertUnwindSafe;

use pgrx::pg_sys::panic::CaughtError;
use pgrx::pg_sys::BuiltinOid::*;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::{pg_sys, PgSqlErrorCode};

use nodesync_core::patch::{check_name, ROOT};
use nodesync_core::{Error, Limits, Result};

use crate::sql::{exec, req, Stmt};

/// A document's row.
#[derive(Debug, Clone, Copy)]
pub struct DocRow {
    pub id: i64,
    pub gen: i64,
    pub horizon: i64,
    /// Live nodes, the root included.
    pub live_nodes: i64,
}

/// A document id argument: not NULL, 1..=200 bytes.
pub fn doc_arg(doc: Option<&str>) -> Result<&str> {
    let doc = doc.ok_or_else(|| Error::InvalidArgument("document id must not be NULL".into()))?;
    check_name("document id", doc).map_err(Error::InvalidArgument)?;
    Ok(doc)
}

const GET: Stmt = Stmt { sql: "SELECT id, gen, horizon, live_nodes FROM nodesync.documents WHERE doc = $1", args: &[TEXTOID] };
const LOCK: Stmt = Stmt {
    sql: "SELECT id, gen, horizon, live_nodes FROM nodesync.documents WHERE doc = $1 FOR UPDATE",
    args: &[TEXTOID],
};

fn fetch(client: &SpiClient<'_>, s: &Stmt, doc: &str) -> Result<DocRow> {
    let t = exec(client, s, &[doc.into()])?;
    match t.into_iter().next() {
        Some(r) => Ok(DocRow { id: req(&r, 1)?, gen: req(&r, 2)?, horizon: req(&r, 3)?, live_nodes: req(&r, 4)? }),
        None => Err(Error::UnknownDoc(doc.to_string())),
    }
}

/// The document row, without locking.
pub fn get(client: &SpiClient<'_>, doc: &str) -> Result<DocRow> {
    fetch(client, &GET, doc)
}

/// The document row, locked until the end of the transaction: the per-document commit lock.
/// Patches on one document queue here; other documents are not affected. Run as the caller,
/// it is also the write-access check: RLS policies for UPDATE on nodesync.documents apply, and
/// a row the caller may not write is "unknown" (42704).
pub fn lock(client: &SpiClient<'_>, doc: &str) -> Result<DocRow> {
    fetch(client, &LOCK, doc)
}

// The commit lock taken by the commit's own write (as the owner): the row's gen is the new
// gen from here on, and the commit leaves it there. One heap update and no separate lock
// record in the WAL (FOR UPDATE writes one, 54 bytes per commit), no second visit of the row.
const CLAIM: Stmt = Stmt {
    sql: "UPDATE nodesync.documents SET gen = gen + 1 WHERE doc = $1 RETURNING id, gen - 1, horizon, live_nodes",
    args: &[TEXTOID],
};

/// The document row, locked until the end of the transaction with its gen already advanced to
/// `gen + 1` (the returned row holds the gen before): the commit lock of a patch that either
/// commits or raises (which rolls the advance back). To be run as the owner, and only where
/// [`crate::access::writes_by_privilege`]: it checks no policy.
pub fn claim(client: &SpiClient<'_>, doc: &str) -> Result<DocRow> {
    match crate::direct::claim(doc)? {
        Some(Some([id, gen, horizon, live_nodes])) => Ok(DocRow { id, gen, horizon, live_nodes }),
        Some(None) => Err(Error::UnknownDoc(doc.to_string())),
        None => fetch(client, &CLAIM, doc),
    }
}

const INSERT_DOC: Stmt = Stmt {
    sql: "INSERT INTO nodesync.documents (doc, created_by) VALUES ($1, $2) ON CONFLICT (doc) DO NOTHING RETURNING id",
    args: &[TEXTOID, TEXTOID],
};
// Run as the caller: the admin's INSERT policies on nodesync.documents (WITH CHECK, or the
// USING of a FOR ALL policy) check the new row, and `created_by` takes its default,
// current_user, the caller. No RETURNING: that would also check the SELECT policies.
const INSERT_DOC_AS_CALLER: Stmt = Stmt {
    sql: "INSERT INTO nodesync.documents (doc) VALUES ($1) ON CONFLICT (doc) DO NOTHING",
    args: &[TEXTOID],
};
const DOC_ID: Stmt = Stmt { sql: "SELECT id FROM nodesync.documents WHERE doc = $1", args: &[TEXTOID] };
const INSERT_ROOT: Stmt = Stmt {
    sql: "INSERT INTO nodesync.tree (doc_id, key, parent, pos, kind, props, version, gen) VALUES ($1, $2, NULL, NULL, $3, $4::jsonb, 1, 1)
          RETURNING octet_length(props::text)",
    args: &[INT8OID, TEXTOID, TEXTOID, TEXTOID],
};

/// `root_kind` and `root_props` checked, and the props as they are stored (nulls dropped).
fn root_props_text(root_kind: &str, root_props: &serde_json::Value) -> Result<String> {
    check_name("root kind", root_kind).map_err(Error::InvalidArgument)?;
    if let Some(n) = nodesync_core::patch::out_of_range_number(root_props) {
        return Err(Error::InvalidArgument(format!(
            "root_props hold the number {}, outside the range of a double (about ±1.8e308)",
            nodesync_core::patch::shorten(&n)
        )));
    }
    match root_props {
        serde_json::Value::Object(m) => {
            let mut m = m.clone();
            m.retain(|_, v| !v.is_null());
            Ok(serde_json::Value::Object(m).to_string())
        }
        other => Err(Error::InvalidArgument(format!("root_props must be a JSON object, got {other}"))),
    }
}

/// Writes the root of the new document `id` (as the owner) and checks its props' size.
fn insert_root(client: &SpiClient<'_>, doc: &str, id: i64, root_kind: &str, props: String, limits: &Limits) -> Result<i64> {
    let t = exec(client, &INSERT_ROOT, &[id.into(), ROOT.into(), root_kind.into(), props.into()])?;
    let bytes: i32 = match t.into_iter().next() {
        Some(r) => req(&r, 1)?,
        None => 0,
    };
    if bytes as usize > limits.max_props_bytes {
        return Err(Error::props_limit(format!("root_props of \"{doc}\" (as jsonb text) are"), bytes as usize, limits.max_props_bytes));
    }
    Ok(1)
}

/// Creates a document with its root; returns gen 1. The document row is inserted *as the
/// caller*, so the admin's INSERT policies on nodesync.documents decide who may create which
/// id (a refusal is 42501 naming the document, checked before the id's existence, so it tells
/// nothing about other tenants' documents); the root is written as the owner.
pub fn create(client: &SpiClient<'_>, doc: &str, root_kind: &str, root_props: &serde_json::Value, limits: &Limits) -> Result<i64> {
    let props = root_props_text(root_kind, root_props)?;
    let role = crate::access::current_user(client)?;
    let inserted = {
        let _creating = Creating::enter();
        PgTryBuilder::new(AssertUnwindSafe(|| exec(client, &INSERT_DOC_AS_CALLER, &[doc.into()]).map(|t| t.len())))
            .catch_when(PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE, |e| refused_create(doc, &role, e))
            .execute()?
    };
    if inserted == 0 {
        return Err(Error::DocExists(doc.to_string()));
    }
    let _owner = crate::access::AsOwner::enter()?;
    let id: i64 = match exec(client, &DOC_ID, &[doc.into()])?.next() {
        Some(r) => req(&r, 1)?,
        None => return Err(Error::Internal(format!("document \"{doc}\" vanished right after its creation"))),
    };
    insert_root(client, doc, id, root_kind, props, limits)
}

/// 0.1.0's creation, kept for databases whose schema is still at 0.1.0 (their
/// `nodesync._create_doc` calls the C symbol `_create_doc_wrapper`): everything as the owner,
/// so INSERT policies are not consulted. `ALTER EXTENSION pg_nodesync UPDATE` switches to
/// [`create`].
pub fn create_0_1_0(client: &SpiClient<'_>, doc: &str, root_kind: &str, root_props: &serde_json::Value, limits: &Limits) -> Result<i64> {
    let props = root_props_text(root_kind, root_props)?;
    let created_by = crate::access::current_user(client)?;
    let _owner = crate::access::AsOwner::enter()?;
    let t = exec(client, &INSERT_DOC, &[doc.into(), created_by.into()])?;
    let id: i64 = match t.into_iter().next() {
        Some(r) => req(&r, 1)?,
        None => return Err(Error::DocExists(doc.to_string())),
    };
    insert_root(client, doc, id, root_kind, props, limits)
}

/// The caller's INSERT into nodesync.documents was refused (RLS WITH CHECK, or a missing
/// privilege): 42501 naming the document and the role, Postgres's own message as DETAIL.
fn refused_create(doc: &str, role: &str, e: CaughtError) -> ! {
    let original = match &e {
        CaughtError::PostgresError(r) | CaughtError::ErrorReport(r) | CaughtError::RustPanic { ereport: r, .. } => r.message().to_string(),
    };
    let why = if original.contains("row-level security") {
        "the row-level security policies for INSERT on nodesync.documents do not allow it"
    } else {
        "the role lacks the INSERT privilege on nodesync.documents (doc)"
    };
    crate::refusals::raise(
        PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        format!("role \"{role}\" may not create document \"{doc}\": {why}"),
        Some(original),
        Some("creating a document needs an INSERT policy on nodesync.documents whose WITH CHECK accepts the id (docs/security.md)".into()),
    )
}

thread_local! {
    /// True while [`create`] inserts a document row: the one INSERT the guard trigger lets
    /// through for roles other than the owner.
    static CREATING: Cell<bool> = const { Cell::new(false) };
}

struct Creating;

impl Creating {
    fn enter() -> Creating {
        CREATING.with(|c| c.set(true));
        Creating
    }
}

impl Drop for Creating {
    fn drop(&mut self) {
        CREATING.with(|c| c.set(false));
    }
}

/// `BEFORE INSERT ... FOR EACH STATEMENT` on nodesync.documents: callers have the INSERT
/// privilege on `doc` so that their RLS policies for INSERT can be checked, but a document row
/// without its root breaks every reader, so only `create_doc` may use it. The owner (and
/// superusers: pg_restore, maintenance) may insert directly.
#[pg_trigger]
fn _documents_insert_guard<'a>(trigger: &'a PgTrigger<'a>) -> std::result::Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, PgHeapTupleError> {
    if CREATING.with(|c| c.get()) {
        return Ok(None);
    }
    let owner = match trigger.relid() {
        // SAFETY: a catalog lookup of the trigger's own relation
        Ok(rel) => unsafe { pg_sys::pg_class_ownercheck(rel, pg_sys::GetUserId()) },
        Err(_) => false,
    };
    if owner {
        return Ok(None);
    }
    crate::refusals::raise(
        PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        "rows of nodesync.documents are created by nodesync.create_doc() only".into(),
        None,
        Some("call nodesync.create_doc(doc, root_kind, root_props), which also writes the root node".into()),
    )
}

const DROP: [Stmt; 4] = [
    Stmt { sql: "DELETE FROM nodesync.tree WHERE doc_id = $1", args: &[INT8OID] },
    Stmt { sql: "DELETE FROM nodesync.change WHERE doc_id = $1", args: &[INT8OID] },
    Stmt { sql: "DELETE FROM nodesync.client_seq WHERE doc_id = $1", args: &[INT8OID] },
    Stmt { sql: "DELETE FROM nodesync.documents WHERE id = $1", args: &[INT8OID] },
];

/// Drops a document and all its history, if its gen is `expected` (or `expected` is None).
pub fn drop(client: &SpiClient<'_>, doc: &str, expected: Option<i64>) -> Result<()> {
    let d = lock(client, doc)?;
    let _owner = crate::access::AsOwner::enter()?;
    if let Some(e) = expected {
        if e != d.gen {
            return Err(Error::GenMismatch { doc: doc.to_string(), expected: e, actual: d.gen });
        }
    }
    if crate::legacy::pieces() {
        exec(client, &crate::legacy::DROP_PIECES, &[d.id.into()])?;
    }
    for s in &DROP {
        exec(client, s, &[d.id.into()])?;
    }
    // listeners learn that the document is gone (delivered at commit, like a commit's NOTIFY)
    crate::commit::notify(client, &crate::commit::notify_payload(doc, None))
}
