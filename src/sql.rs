//! Prepared statements, planned once per backend and kept (`SPI_keepplan`).
//! Every statement runs as a *mutating* SPI call (read_only = false), so each one takes a fresh
//! snapshot under READ COMMITTED: after a patch waits for the document lock, it reads what the
//! previous holder committed.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use pgrx::datum::DatumWithOid;
use pgrx::pg_sys::{BuiltinOid, PgOid};
use pgrx::spi::{OwnedPreparedStatement, SpiClient, SpiTupleTable};

use nodesync_core::Result;

use crate::errors::spi;

/// A statement and its parameter types.
pub struct Stmt {
    pub sql: &'static str,
    pub args: &'static [BuiltinOid],
}

thread_local! {
    static PLANS: RefCell<HashMap<&'static str, Rc<OwnedPreparedStatement>>> = RefCell::new(HashMap::new());
}

fn plan(client: &SpiClient<'_>, s: &Stmt) -> Result<Rc<OwnedPreparedStatement>> {
    if let Some(p) = PLANS.with(|m| m.borrow().get(s.sql).cloned()) {
        return Ok(p);
    }
    let types: Vec<PgOid> = s.args.iter().map(|o| PgOid::BuiltIn(*o)).collect();
    let p = Rc::new(client.prepare_mut(s.sql, &types).map_err(spi)?.keep());
    PLANS.with(|m| m.borrow_mut().insert(s.sql, p.clone()));
    Ok(p)
}

/// Runs a kept statement.
pub fn exec<'c>(client: &SpiClient<'c>, s: &Stmt, args: &[DatumWithOid<'_>]) -> Result<SpiTupleTable<'c>> {
    let p = plan(client, s)?;
    client.select(&*p, None, args).map_err(spi)
}

/// Column `i` (1-based) of a row, `None` for SQL NULL.
pub fn col<T: pgrx::FromDatum + pgrx::IntoDatum>(row: &pgrx::spi::SpiHeapTupleData<'_>, i: usize) -> Result<Option<T>> {
    row.get::<T>(i).map_err(spi)
}

/// Column `i` (1-based) that must not be NULL.
pub fn req<T: pgrx::FromDatum + pgrx::IntoDatum>(row: &pgrx::spi::SpiHeapTupleData<'_>, i: usize) -> Result<T> {
    col::<T>(row, i)?.ok_or_else(|| nodesync_core::Error::Internal(format!("unexpected NULL in column {i}")))
}

/// A JSON object stored by pg_nodesync (props, a log row's versions or undo entries), read
/// back as text; anything else is an internal error naming `what`.
pub fn stored_object(what: &str, text: &str) -> Result<serde_json::Map<String, serde_json::Value>> {
    match serde_json::from_str(text) {
        Ok(serde_json::Value::Object(m)) => Ok(m),
        Ok(_) => Err(nodesync_core::Error::Internal(format!("{what} is not an object"))),
        Err(e) => Err(nodesync_core::Error::Internal(format!("{what} does not parse: {e}"))),
    }
}
