//! Prepared statements, planned once per backend and kept (`SPI_keepplan`), run inside
//! [`connect`].
//! Every statement runs as a *mutating* SPI call (read_only = false), so each one takes a fresh
//! snapshot under READ COMMITTED: after a patch waits for the document lock, it reads what the
//! previous holder committed.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use pgrx::datum::DatumWithOid;
use pgrx::pg_sys::{self, BuiltinOid, PgOid};
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

/// The oid of the relation `nodesync.<name>`, or `None` if there is none: two catalog-cache
/// lookups by name, no query.
pub fn relation(name: &std::ffi::CStr) -> Option<pg_sys::Oid> {
    // SAFETY: plain catalog lookups by name; `missing_ok` makes an absent schema InvalidOid
    let rel = unsafe {
        let nsp = pg_sys::get_namespace_oid(c"nodesync".as_ptr(), true);
        if nsp == pg_sys::InvalidOid { pg_sys::InvalidOid } else { pg_sys::get_relname_relid(name.as_ptr(), nsp) }
    };
    (rel != pg_sys::InvalidOid).then_some(rel)
}

/// Runs `f` inside one SPI connection, with JIT compilation off ([`NoJit`]).
pub fn connect<T>(f: impl FnOnce(&SpiClient<'_>) -> Result<T>) -> Result<T> {
    let _jit = NoJit::enter();
    pgrx::Spi::connect_mut(|c| f(c))
}

/// While alive, `jit` is off (as `SET LOCAL` in a function's own GUC nest level, like a
/// function's `SET` clause). The statements here are OLTP lookups and writes of one document
/// whose generic plans can carry huge estimates for big documents (a recursive subtree walk in
/// a 300,000-node document: a total cost in the billions), and Postgres JIT-compiles every
/// execution of a plan above `jit_above_cost`: tens of milliseconds of LLVM for a statement
/// that reads a few rows. Plans made with JIT off have no JIT flags, so they are kept that way.
struct NoJit(Option<i32>);

impl NoJit {
    fn enter() -> NoJit {
        // SAFETY: jit_enabled is the backend's GUC variable; NewGUCNestLevel/set_config_option
        // are what a function's SET clause runs (fmgr_security_definer)
        unsafe {
            if !pg_sys::jit_enabled {
                return NoJit(None);
            }
            let level = pg_sys::NewGUCNestLevel();
            pg_sys::set_config_option(
                c"jit".as_ptr(),
                c"off".as_ptr(),
                pg_sys::GucContext::PGC_USERSET,
                pg_sys::GucSource::PGC_S_SESSION,
                pg_sys::GucAction::GUC_ACTION_SAVE,
                true,
                0,
                false,
            );
            NoJit(Some(level))
        }
    }
}

impl Drop for NoJit {
    fn drop(&mut self) {
        // while an error unwinds, the (sub)transaction's abort restores it (AtEOXact_GUC)
        if let (Some(level), false) = (self.0, std::thread::panicking()) {
            // SAFETY: pops the nest level enter() pushed, as fmgr_security_definer does
            unsafe { pg_sys::AtEOXact_GUC(true, level) }
        }
    }
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
