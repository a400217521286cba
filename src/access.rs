//! Who may do what (docs/security.md).
//!
//! Every function runs with the caller's rights and a fixed `search_path`. Reads stay that way:
//! SELECT on the tables is granted and row level security hides documents the caller cannot
//! see. Writes first lock the document row *as the caller* (`documents::lock`: `SELECT ... FOR
//! UPDATE`, so the RLS policies for UPDATE on `nodesync.documents` decide write access), then
//! switch to the extension's owner with [`AsOwner`] to write the tables, which nobody else may
//! write. Postgres restores the user on error (transaction or subtransaction abort), and
//! [`AsOwner`] restores it when dropped.

use pgrx::pg_sys;
use pgrx::spi::SpiClient;

use nodesync_core::{Error, Result};

use crate::sql::{exec, req, Stmt};

const CURRENT_USER: Stmt = Stmt { sql: "SELECT current_user::text", args: &[] };

/// The caller's role name.
pub fn current_user(client: &SpiClient<'_>) -> Result<String> {
    let t = exec(client, &CURRENT_USER, &[])?;
    match t.into_iter().next() {
        Some(r) => req(&r, 1),
        None => Err(Error::Internal("current_user returned no row".into())),
    }
}

/// The owner of `nodesync.documents`, from the catalog caches (no query; always current).
fn owner() -> Result<pg_sys::Oid> {
    let rel = crate::sql::relation(c"documents").ok_or_else(|| Error::Internal("nodesync.documents does not exist".into()))?;
    // SAFETY: a catalog-cache lookup by oid; the tuple is released before returning
    unsafe {
        let tuple = pg_sys::SearchSysCache1(pg_sys::SysCacheIdentifier::RELOID as i32, pg_sys::Datum::from(rel));
        if tuple.is_null() {
            return Err(Error::Internal("nodesync.documents has no catalog entry".into()));
        }
        let owner = (*pg_sys::heap_tuple_get_struct::<pg_sys::FormData_pg_class>(tuple)).relowner;
        pg_sys::ReleaseSysCache(tuple);
        Ok(owner)
    }
}

/// While alive, the backend acts as the extension's owner.
pub struct AsOwner {
    prev: Option<(pg_sys::Oid, i32)>,
}

impl AsOwner {
    /// Switches to the owner of the extension's tables (nothing to do for superusers).
    pub fn enter() -> Result<AsOwner> {
        if unsafe { pg_sys::superuser() } {
            return Ok(AsOwner { prev: None });
        }
        let owner = owner()?;
        let mut uid = pg_sys::Oid::INVALID;
        let mut ctx: i32 = 0;
        unsafe {
            // SAFETY: plain getters/setters of backend-local state, as Postgres's own
            // security-restricted operations use them
            pg_sys::GetUserIdAndSecContext(&mut uid, &mut ctx);
            pg_sys::SetUserIdAndSecContext(owner, ctx | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32);
        }
        Ok(AsOwner { prev: Some((uid, ctx)) })
    }
}

impl Drop for AsOwner {
    fn drop(&mut self) {
        if let Some((uid, ctx)) = self.prev.take() {
            unsafe {
                // SAFETY: restores what enter() saved
                pg_sys::SetUserIdAndSecContext(uid, ctx);
            }
        }
    }
}
