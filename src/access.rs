//! Who may do what (docs/security.md).
//!
//! Every function runs with the caller's rights and a fixed `search_path`. Reads stay that way:
//! SELECT on the tables is granted and row level security hides documents the caller cannot
//! see. Writes first lock the document row *as the caller* (`documents::lock`: `SELECT ... FOR
//! UPDATE`, so the RLS policies for UPDATE on `nodesync.documents` decide write access), then
//! switch to the extension's owner with [`AsOwner`] to write the tables, which nobody else may
//! write. Where no policy can apply ([`writes_by_privilege`]), a patch checks the same
//! privileges and locks the row as the owner, by updating its gen (`documents::claim`).
//! Postgres restores the user on error (transaction or subtransaction abort), and [`AsOwner`]
//! restores it when dropped.

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

/// A field of `nodesync.documents`'s catalog row, from the catalog caches (no query; always
/// current), or `None` if the table does not exist.
fn documents_class<T>(field: impl FnOnce(&pg_sys::FormData_pg_class) -> T) -> Option<T> {
    let rel = crate::sql::relation(c"documents")?;
    // SAFETY: a catalog-cache lookup by oid; the tuple is released before returning
    unsafe {
        let tuple = pg_sys::SearchSysCache1(pg_sys::SysCacheIdentifier::RELOID as i32, pg_sys::Datum::from(rel));
        if tuple.is_null() {
            return None;
        }
        let v = field(&*pg_sys::heap_tuple_get_struct::<pg_sys::FormData_pg_class>(tuple));
        pg_sys::ReleaseSysCache(tuple);
        Some(v)
    }
}

/// The owner of `nodesync.documents`.
fn owner() -> Result<pg_sys::Oid> {
    documents_class(|c| c.relowner).ok_or_else(|| Error::Internal("nodesync.documents does not exist".into()))
}

/// Whether the caller's write access to documents is decided by privileges alone, with no
/// row-level security on `nodesync.documents` to consult: true for superusers (they bypass
/// RLS), and for a role with SELECT on the table and UPDATE on one of its columns (what
/// `SELECT ... FOR UPDATE` needs) when RLS is not enabled on it. Then the commit lock can be
/// taken as the owner by the gen's own update ([`crate::documents::claim`]); otherwise it is
/// taken as the caller, so that the policies apply (and refusals read the same).
pub fn writes_by_privilege() -> bool {
    // SAFETY: a plain getter
    if unsafe { pg_sys::superuser() } {
        return true;
    }
    let Some((rel, false)) = documents_class(|c| (c.oid, c.relrowsecurity)) else { return false };
    // SAFETY: ACL checks of an existing relation by oid
    unsafe {
        let role = pg_sys::GetUserId();
        pg_sys::pg_class_aclcheck(rel, role, pg_sys::ACL_SELECT as pg_sys::AclMode) == pg_sys::AclResult::ACLCHECK_OK
            && pg_sys::pg_attribute_aclcheck_all(rel, role, pg_sys::ACL_UPDATE as pg_sys::AclMode, pg_sys::AclMaskHow::ACLMASK_ANY)
                == pg_sys::AclResult::ACLCHECK_OK
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
