//! The helpers pg_nodesync's test crates share, once: the external-client session tests
//! (`tests/`), the Rust client's server tests (`client/tests/`), the reliability checks
//! (`reliability/`) and the benchmark (`bench/`).
//!
//! - [`Server`]: where to connect, from the libpq variables PGHOST, PGPORT, PGUSER and
//!   PGPASSWORD (`scripts/cluster.sh env` prints them; a clear error says so when one is
//!   missing); sessions, with retry while a server restarts.
//! - [`Server::fresh_database`]: a new database with `CREATE EXTENSION pg_nodesync` (each
//!   caller names its own), [`drop_leftover_databases`] of test processes that are gone.
//! - [`snapshot_rows`], [`model_doc`], [`flatten_snapshot`]: a nested snapshot as flat rows.
//! - [`unique_doc`], [`pg_bin`]. (Messages are cut with `nodesync_core::patch::shorten_to`.)

use std::sync::atomic::{AtomicU32, Ordering};

mod rows;
mod server;

pub use rows::{flatten_snapshot, json_row, model_doc, snapshot_rows, Flat, FlatNode, NodeRow};
pub use server::{
    connect, create_extension, drop_database, drop_leftover_databases, env_var, fresh_replicated_database, recreate_database, server,
    wait_for_extension, Server,
};

/// docs/security.md, "Keyed on the role": the access table (`app.doc_access`, readable by every
/// role, in a schema every role may use) and RLS on `nodesync.documents` with the SELECT and
/// UPDATE policies of the recipe; [`ROLE_KEYED_INSERT_POLICY`] is its INSERT policy. For a
/// database with the extension, run by a superuser (`tests/tests/rls_create.rs`, the
/// benchmark's ordinary role).
pub const ROLE_KEYED_POLICIES: &str = "
    CREATE SCHEMA app;
    CREATE TABLE app.doc_access (doc text, role name, can_write boolean, PRIMARY KEY (doc, role));
    GRANT USAGE ON SCHEMA app TO PUBLIC;
    GRANT SELECT ON app.doc_access TO PUBLIC;
    ALTER TABLE nodesync.documents ENABLE ROW LEVEL SECURITY;
    CREATE POLICY tenant_read ON nodesync.documents FOR SELECT
      USING (created_by = current_user
             OR EXISTS (SELECT 1 FROM app.doc_access a WHERE a.doc = documents.doc AND a.role = current_user));
    CREATE POLICY tenant_write ON nodesync.documents FOR UPDATE
      USING (created_by = current_user
             OR EXISTS (SELECT 1 FROM app.doc_access a
                         WHERE a.doc = documents.doc AND a.role = current_user AND a.can_write));";

/// The recipe's INSERT policy: each role creates documents under its own name (`alice/...`).
pub const ROLE_KEYED_INSERT_POLICY: &str =
    "CREATE POLICY tenant_create ON nodesync.documents FOR INSERT WITH CHECK (starts_with(doc, current_user || '/'))";

/// A document id no other test of this process (or earlier run) uses: `<name>-<pid>-<n>`.
pub fn unique_doc(name: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!("{name}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst))
}

/// A PostgreSQL 15 program (`psql`, `pg_dump`): the Debian path if it is there, else from PATH.
pub fn pg_bin(name: &str) -> String {
    let p = format!("/usr/lib/postgresql/15/bin/{name}");
    if std::path::Path::new(&p).exists() {
        p
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_docs_differ() {
        assert_ne!(unique_doc("a"), unique_doc("a"));
        assert!(unique_doc("a").starts_with(&format!("a-{}-", std::process::id())));
    }
}
