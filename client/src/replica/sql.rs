//! The statements a replica sends, and connecting.

use postgres::error::SqlState;
use std::collections::HashMap;

use postgres::{Client, Statement};
use serde_json::Value;

use super::Error;
use crate::tree::Tree;

pub(super) enum Sent {
    Ok(Value),
    Conflict(Value),
}

/// The statements a replica runs on one connection, prepared there once (named statements: the
/// server parses and plans each once per connection, not per call).
#[derive(Default)]
pub(super) struct Prepared(HashMap<&'static str, Statement>);

impl Prepared {
    pub(super) fn get(&mut self, conn: &mut Client, sql: &'static str) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.0.get(sql) {
            return Ok(s.clone());
        }
        let s = conn.prepare(sql)?;
        self.0.insert(sql, s.clone());
        Ok(s)
    }
}

pub(super) fn send(conn: &mut Client, prepared: &mut Prepared, doc: &str, client: &str, patch: &Value, seq: i64) -> Result<Sent, Error> {
    let stmt = prepared.get(conn, "SELECT nodesync.apply_patch($1, $2, $3, $4)")?;
    match conn.query_one(&stmt, &[&doc, patch, &client, &seq]) {
        Ok(row) => Ok(Sent::Ok(row.get(0))),
        Err(e) => match e.as_db_error() {
            Some(db) if *db.code() == SqlState::T_R_SERIALIZATION_FAILURE => {
                let detail = db.detail().and_then(|d| serde_json::from_str(d).ok()).unwrap_or(Value::Null);
                Ok(Sent::Conflict(detail))
            }
            _ => Err(Error::Db(e)),
        },
    }
}

/// Creates the document if it does not exist yet. Returns true if it created it.
pub fn ensure_doc(conn: &mut Client, doc: &str, root_kind: &str) -> Result<bool, Error> {
    match conn.execute("SELECT nodesync.create_doc($1, $2)", &[&doc, &root_kind]) {
        Ok(_) => Ok(true),
        Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// `nodesync.snapshot(doc)` as a [`Tree`].
pub fn fetch_snapshot(conn: &mut Client, doc: &str) -> Result<Tree, Error> {
    let v: Value = conn.query_one("SELECT nodesync.snapshot($1)", &[&doc])?.get(0);
    Tree::from_snapshot(&v).map_err(Error::Protocol)
}

/// A connection from the libpq environment variables PGHOST, PGPORT, PGUSER, PGDATABASE and
/// PGPASSWORD (a PGHOST starting with `/` is a socket directory).
pub fn connect_env(application_name: &str) -> Result<Client, postgres::Error> {
    let mut c = postgres::Config::new();
    c.host(&std::env::var("PGHOST").unwrap_or_else(|_| "localhost".into()));
    if let Ok(p) = std::env::var("PGPORT") {
        if let Ok(p) = p.parse() {
            c.port(p);
        }
    }
    c.user(&std::env::var("PGUSER").unwrap_or_else(|_| "postgres".into()));
    c.dbname(&std::env::var("PGDATABASE").unwrap_or_else(|_| "postgres".into()));
    if let Ok(pw) = std::env::var("PGPASSWORD") {
        c.password(pw);
    }
    c.application_name(application_name);
    c.connect(postgres::NoTls)
}
