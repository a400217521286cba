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
