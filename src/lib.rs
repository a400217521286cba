//! pg_nodesync: Postgres as the collaboration authority for tree-shaped documents.
//!
//! The pgrx layer is thin: it converts arguments, runs SPI and maps errors. What a patch
//! *means* lives in the pure crate `nodesync_core` (core/).
//!
//! - [`api`]: the `#[pg_extern]` functions of docs/api/README.md
//! - [`access`]: who may read and write (caller's rights, RLS, writes as the owner)
//! - [`spi_store`]: the engine's [`nodesync_core::store::Store`] over indexed SPI lookups
//! - [`commit`]: where commits are written (tree rows, the change log with each commit's undo
//!   entries, gen, NOTIFY) and where compaction drops history
//! - [`read`]: snapshots (now and at a gen), diffs, node histories
//! - [`documents`]: the per-document lock and document rows
//! - [`legacy`]: the storage of schemas before 0.4.0 (history as pieces), until they are updated
//! - [`errors`]: `nodesync_core::Error` -> SQLSTATE + message + DETAIL, in one place
//! - [`guc`]: the `nodesync.*` settings
//! - [`sql`]: cached prepared statements
//! - [`jsonb`]: `jsonb` arguments as text, for the write functions
//! - [`wait`]: `wait_gen`, how readers on a hot standby follow a document (docs/replicas.md)
//! - [`refusals`]: errors about the server, the transaction or the caller's rights (25006,
//!   25001, 42501), raised directly

use pgrx::prelude::*;

pgrx::pg_module_magic!(name, version);

pub mod access;
pub mod api;
pub mod documents;
pub mod errors;
pub mod guc;
pub mod jsonb;
pub mod commit;
pub mod direct;
pub mod legacy;
pub mod read;
pub mod refusals;
pub mod spi_store;
pub mod sql;
pub mod wait;

pgrx::extension_sql_file!("../sql/schema.sql", name = "schema", bootstrap);
pgrx::extension_sql_file!("../sql/functions.sql", name = "functions", finalize);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    guc::init();
}

#[cfg(any(test, feature = "pg_test"))]
mod tests;

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
