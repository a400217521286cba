//! `#[pg_test]`s: each SQL function, each conflict reason, each SQLSTATE. Each test runs in a
//! transaction that is rolled back; commit-time behaviour (NOTIFY, blocking) is tested with real
//! sessions in tests/. pgrx runs every test as `tests.<name>()`, so each file's tests live in a
//! `#[pg_schema] mod tests`; the helpers they share are here.
//!
//! | file | what it tests |
//! |---|---|
//! | documents.rs | create_doc, drop_doc |
//! | patches.rs | apply_patch: ops, conflicts, limits, errors |
//! | permissions.rs | who may read and write (docs/security.md) |
//! | reads.rs | snapshot, diff_since, nodes, changes_since, node_history, compact |
//! | text.rs | the text op |
//! | split_join.rs | split and join |

mod documents;
mod patches;
mod permissions;
mod reads;
mod split_join;
mod text;

use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::{json, Value};


pub fn q(sql: &str) -> Value {
    Spi::get_one::<JsonB>(sql).expect("query failed").map(|j| j.0).unwrap_or(Value::Null)
}

pub fn int(sql: &str) -> i64 {
    Spi::get_one::<i64>(sql).expect("query failed").expect("NULL")
}

/// Runs `stmt`; returns {"state", "message", "detail"} of its error, or null if none.
pub fn catch(stmt: &str) -> Value {
    Spi::run(
        r#"CREATE OR REPLACE FUNCTION pg_temp.catch(stmt text) RETURNS jsonb LANGUAGE plpgsql AS $f$
           DECLARE d text; s text; m text; h text;
           BEGIN
             EXECUTE stmt;
             RETURN NULL;
           EXCEPTION WHEN OTHERS THEN
             GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL, s = RETURNED_SQLSTATE, m = MESSAGE_TEXT, h = PG_EXCEPTION_HINT;
             RETURN jsonb_build_object('state', s, 'message', m, 'detail', d, 'hint', h);
           END $f$"#,
    )
    .expect("helper");
    Spi::get_one_with_args::<JsonB>("SELECT pg_temp.catch($1)", &[stmt.into()])
        .expect("catch failed")
        .map(|j| j.0)
        .unwrap_or(Value::Null)
}

pub fn state(stmt: &str) -> String {
    catch(stmt)["state"].as_str().unwrap_or("none").to_string()
}

pub fn conflict(stmt: &str) -> Value {
    let e = catch(stmt);
    assert_eq!(e["state"], "40001", "{e}");
    serde_json::from_str(e["detail"].as_str().expect("conflict DETAIL")).expect("DETAIL is JSON")
}

pub fn patch(doc: &str, ops: Value) -> Value {
    let sql = format!("SELECT nodesync.apply_patch('{doc}', $1)");
    Spi::get_one_with_args::<JsonB>(&sql, &[JsonB(json!({ "ops": ops })).into()])
        .expect("apply_patch failed")
        .expect("NULL")
        .0
}

pub fn kids(doc: &str, parent: &str) -> Vec<String> {
    let v = q(&format!(
        "SELECT coalesce(jsonb_agg(key ORDER BY pos COLLATE \"C\"), '[]') FROM nodesync.nodes('{doc}') WHERE parent = '{parent}'"
    ));
    v.as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_string()).collect()
}

/// root -> a, b, s -> (s1, s2)
/// `op` with the fields of `changes` set, or removed where the value is `"<absent>"`.
pub fn with_fields(mut op: Value, changes: Value) -> Value {
    for (k, v) in changes.as_object().unwrap() {
        if v == &json!("<absent>") {
            op.as_object_mut().unwrap().remove(k);
        } else {
            op[k] = v.clone();
        }
    }
    op
}

pub fn fixture(doc: &str) {
    Spi::run(&format!("SELECT nodesync.create_doc('{doc}')")).unwrap();
    patch(doc, json!([
        {"op": "create", "key": "a", "kind": "p", "parent": "root", "props": {"t": "a"}},
        {"op": "create", "key": "b", "kind": "p", "parent": "root"},
        {"op": "create", "key": "s", "kind": "sec", "parent": "root"},
        {"op": "create", "key": "s1", "kind": "p", "parent": "s"},
        {"op": "create", "key": "s2", "kind": "sec", "parent": "s"}
    ]));
}


/// `SELECT nodesync.apply_patch('doc', '{"ops": ops}')`, for `catch`, `state` and `conflict`.
pub fn patch_sql(doc: &str, ops: Value) -> String {
    let p = json!({ "ops": ops }).to_string().replace('\'', "''");
    format!("SELECT nodesync.apply_patch('{doc}', '{p}')")
}

/// The same with try_apply_patch.
pub fn try_patch(doc: &str, ops: Value) -> Value {
    let sql = format!("SELECT nodesync.try_apply_patch('{doc}', $1)");
    Spi::get_one_with_args::<JsonB>(&sql, &[JsonB(json!({ "ops": ops })).into()])
        .expect("try_apply_patch failed")
        .expect("NULL")
        .0
}

/// A live node's row as JSON without its pos; null if there is no such live node.
pub fn node(doc: &str, key: &str) -> Value {
    q(&format!("SELECT (SELECT to_jsonb(n) - 'pos' FROM nodesync.nodes('{doc}') n WHERE key = '{key}')"))
}

pub fn text_of(doc: &str, key: &str) -> Value {
    node(doc, key)["props"]["text"].clone()
}

pub fn gen(doc: &str) -> i64 {
    int(&format!("SELECT gen FROM nodesync.documents WHERE doc = '{doc}'"))
}

/// Asserts that the patch is 22023 with a message naming op `op`; returns the message.
pub fn invalid(doc: &str, ops: Value, op: usize) -> String {
    let e = catch(&patch_sql(doc, ops.clone()));
    assert_eq!(e["state"], "22023", "{ops}: {e}");
    let m = e["message"].as_str().expect("message").to_string();
    assert!(m.contains(&format!("op {op}:")), "the message names op {op}: {m}");
    m
}

pub fn text_op(key: &str, version: i64, prop: &str, edits: Value) -> Value {
    json!({"op": "text", "key": key, "version": version, "prop": prop, "edits": edits})
}
