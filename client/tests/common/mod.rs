//! Shared helpers for the server tests: a fresh database per test binary (with
//! `CREATE EXTENSION pg_nodesync`), connections from PGHOST/PGPORT/PGUSER, unique doc ids
//! (the server settings and database setup come from `nodesync_testkit`).
#![allow(dead_code)]

use std::sync::OnceLock;

use nodesync_testkit::{server, unique_doc};
use pg_nodesync_client::ensure_doc;
use postgres::Client;

const APP: &str = "nodesync_client_tests";

static DB: OnceLock<String> = OnceLock::new();

/// Connects to this binary's test database, `nodesync_client_<binary>`, creating it (fresh)
/// on first use.
pub fn connect(binary: &str) -> Client {
    let db = DB.get_or_init(|| {
        let db = format!("nodesync_client_{binary}");
        server().fresh_database(&mut server().connect("postgres", APP), &db, APP);
        db
    });
    // the programs some tests start (nodesync-journal-probe) connect with `connect_env`,
    // which reads PGDATABASE
    std::env::set_var("PGDATABASE", db);
    server().connect(db, APP)
}

/// A new document with a unique id.
pub fn new_doc(c: &mut Client, prefix: &str) -> String {
    let doc = unique_doc(prefix);
    assert!(ensure_doc(c, &doc, "doc").unwrap());
    doc
}
