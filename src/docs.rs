//! Document rows: lookup, the per-document commit lock, creation and dropping.

use pgrx::pg_sys::BuiltinOid::*;
use pgrx::spi::SpiClient;

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

const INSERT_DOC: Stmt = Stmt {
    sql: "INSERT INTO nodesync.documents (doc, created_by) VALUES ($1, $2) ON CONFLICT (doc) DO NOTHING RETURNING id",
    args: &[TEXTOID, TEXTOID],
};
const INSERT_ROOT: Stmt = Stmt {
    sql: "INSERT INTO nodesync.tree (doc_id, key, parent, pos, kind, props, version, gen) VALUES ($1, $2, NULL, NULL, $3, $4::jsonb, 1, 1)
          RETURNING octet_length(props::text)",
    args: &[INT8OID, TEXTOID, TEXTOID, TEXTOID],
};

/// Creates a document with its root; returns gen 1.
pub fn create(client: &SpiClient<'_>, doc: &str, root_kind: &str, root_props: &serde_json::Value, limits: &Limits) -> Result<i64> {
    check_name("root kind", root_kind).map_err(Error::InvalidArgument)?;
    if let Some(n) = nodesync_core::patch::out_of_range_number(root_props) {
        return Err(Error::InvalidArgument(format!(
            "root_props hold the number {}, outside the range of a double (about ±1.8e308)",
            nodesync_core::patch::shorten(&n)
        )));
    }
    let props = match root_props {
        serde_json::Value::Object(m) => {
            let mut m = m.clone();
            m.retain(|_, v| !v.is_null());
            serde_json::Value::Object(m).to_string()
        }
        other => return Err(Error::InvalidArgument(format!("root_props must be a JSON object, got {other}"))),
    };
    let created_by = crate::access::current_user(client)?;
    let _owner = crate::access::AsOwner::enter(client)?;
    let t = exec(client, &INSERT_DOC, &[doc.into(), created_by.into()])?;
    let id: i64 = match t.into_iter().next() {
        Some(r) => req(&r, 1)?,
        None => return Err(Error::DocExists(doc.to_string())),
    };
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

const DROP: [Stmt; 5] = [
    Stmt { sql: "DELETE FROM nodesync.tree WHERE doc_id = $1", args: &[INT8OID] },
    Stmt { sql: "DELETE FROM nodesync.piece WHERE doc_id = $1", args: &[INT8OID] },
    Stmt { sql: "DELETE FROM nodesync.change WHERE doc_id = $1", args: &[INT8OID] },
    Stmt { sql: "DELETE FROM nodesync.client_seq WHERE doc_id = $1", args: &[INT8OID] },
    Stmt { sql: "DELETE FROM nodesync.documents WHERE id = $1", args: &[INT8OID] },
];

/// Drops a document and all its history, if its gen is `expected` (or `expected` is None).
pub fn drop(client: &SpiClient<'_>, doc: &str, expected: Option<i64>) -> Result<()> {
    let d = lock(client, doc)?;
    let _owner = crate::access::AsOwner::enter(client)?;
    if let Some(e) = expected {
        if e != d.gen {
            return Err(Error::GenMismatch { doc: doc.to_string(), expected: e, actual: d.gen });
        }
    }
    for s in &DROP {
        exec(client, s, &[d.id.into()])?;
    }
    Ok(())
}
