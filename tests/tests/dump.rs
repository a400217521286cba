//! pg_dump keeps the documents: a dump of a database with documents, restored into a new
//! database, has the same snapshots, history and change log, and writes go on from there.

use std::process::Command;

use pg_nodesync_tests::*;
use postgres::Client;
use serde_json::{json, Value};

fn state(c: &mut Client, doc: &str) -> Value {
    let row = c
        .query_one(
            "SELECT jsonb_build_object(
                'snap', nodesync.snapshot($1),
                'at2', nodesync.snapshot($1, 2),
                'log', (SELECT jsonb_agg(jsonb_build_array(gen, client, seq, patch) ORDER BY gen) FROM nodesync.changes_since($1, 0)),
                'hist', (SELECT jsonb_agg(jsonb_build_array(version, gen, client, state) ORDER BY version) FROM nodesync.node_history($1, 'a')))",
            &[&doc],
        )
        .expect("read state");
    row.get(0)
}

#[test]
fn pg_dump_and_restore_keep_documents_and_history() {
    let mut c = connect();
    let doc = new_doc(&mut c, "dumped");
    apply_ok(&mut c, &doc, &json!({"ops": [
        {"op": "create", "key": "a", "kind": "p", "parent": "root", "props": {"n": 123456789012345678901234567890_u128.to_string()}},
        {"op": "create", "key": "b", "kind": "p", "parent": "root"}]}));
    apply_as(&mut c, &doc, &json!({"ops": [{"op": "update", "key": "a", "version": 1, "props": {"t": "x"}}]}), Some("alice"), Some(7)).expect("patch");
    apply_ok(&mut c, &doc, &json!({"ops": [{"op": "delete", "key": "b", "version": 1}]}));
    let before = state(&mut c, &doc);

    let src = test_db();
    let dst = format!("{src}_restored");
    let dir = std::env::temp_dir().join(format!("nodesync-dump-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("dump.sql");
    let (host, port) = (server().host.clone(), server().port.clone());
    let out = Command::new(pg_bin("pg_dump"))
        .args(["-h", &host, "-p", &port, "-U", "postgres", "-d", &src, "-f"])
        .arg(&file)
        .output()
        .expect("run pg_dump");
    assert!(out.status.success(), "pg_dump: {}", String::from_utf8_lossy(&out.stderr));
    let postgres = server().as_user("postgres");
    let mut admin = postgres.connect("postgres", "nodesync_tests");
    nodesync_testkit::recreate_database(&mut admin, &dst);
    let out = Command::new(pg_bin("psql"))
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", &host, "-p", &port, "-U", "postgres", "-d", &dst, "-f"])
        .arg(&file)
        .output()
        .expect("run psql");
    assert!(out.status.success(), "restore: {}", String::from_utf8_lossy(&out.stderr));

    let mut r = postgres.connect(&dst, "nodesync_tests");
    assert_eq!(state(&mut r, &doc), before, "restored document, time travel, log and history");
    // the restored copy goes on: next gen, seqs remembered, new documents get fresh ids
    let dup: Value = r
        .query_one("SELECT nodesync.apply_patch($1, '{\"ops\": [{\"op\": \"update\", \"key\": \"a\", \"version\": 1}]}', 'alice', 7)", &[&doc])
        .expect("resend")
        .get(0);
    assert_eq!(dup["duplicate"], true);
    let next: Value = r
        .query_one("SELECT nodesync.apply_patch($1, '{\"ops\": [{\"op\": \"update\", \"key\": \"a\", \"version\": 2}]}')", &[&doc])
        .expect("write after restore")
        .get(0);
    assert_eq!(next["gen"], 5);
    let g: i64 = r.query_one("SELECT nodesync.create_doc('after-restore')", &[]).expect("create_doc after restore").get(0);
    assert_eq!(g, 1);
    drop(r);
    admin.batch_execute(&format!("DROP DATABASE \"{dst}\" WITH (FORCE)")).expect("drop target");
    let _ = std::fs::remove_dir_all(&dir);
}
