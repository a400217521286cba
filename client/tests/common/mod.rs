//! Shared helpers for the server tests: a fresh database per test binary (with
//! `CREATE EXTENSION pg_nodesync`), connections from PGHOST/PGPORT/PGUSER, unique doc ids.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use pg_nodesync_client::{connect_env, ensure_doc};
use postgres::Client;

static DB: OnceLock<String> = OnceLock::new();

/// Connects to this binary's test database, creating it (fresh) on first use.
pub fn connect(binary: &str) -> Client {
    let db = DB.get_or_init(|| {
        for v in ["PGHOST", "PGPORT", "PGUSER"] {
            if std::env::var(v).is_err() {
                panic!("{v} is not set: start a cluster with the extension installed and run `eval \"$(scripts/cluster.sh env)\"` (scripts/test.sh does this)");
            }
        }
        let db = format!("nodesync_client_{binary}");
        std::env::set_var("PGDATABASE", "postgres");
        let mut admin = connect_env("nodesync_client_tests").expect("connect to the server (PGHOST/PGPORT/PGUSER)");
        admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)")).unwrap();
        admin.batch_execute(&format!("CREATE DATABASE \"{db}\"")).unwrap();
        std::env::set_var("PGDATABASE", &db);
        let mut c = connect_env("nodesync_client_tests").unwrap();
        c.batch_execute("CREATE EXTENSION pg_nodesync").expect("CREATE EXTENSION pg_nodesync (is it installed?)");
        db
    });
    std::env::set_var("PGDATABASE", db);
    connect_env("nodesync_client_tests").unwrap()
}

static N: AtomicU32 = AtomicU32::new(0);

/// A new document with a unique id.
pub fn new_doc(c: &mut Client, prefix: &str) -> String {
    let doc = format!("{prefix}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
    assert!(ensure_doc(c, &doc, "doc").unwrap());
    doc
}
