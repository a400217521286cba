//! The commit lock taken by advancing the document's gen (`documents::claim`, src/direct.rs
//! `claim`): where no row-level security applies to `nodesync.documents`, a patch locks the
//! row as the owner with the update the commit makes anyway, instead of `SELECT ... FOR UPDATE`
//! and an update — apply_patch without (client, seq), the patches that either commit or raise
//! (the raise rolls the advance back). What a user relies on stays: a patch that does not
//! commit leaves the document's row as it was, not even a new row version (in its transaction
//! and after), writers queue and take consecutive gens, a writer that
//! waited on a drop gets 42704, REPEATABLE READ still fails on a concurrent commit, and who may
//! write is decided as before. And the point of it: no lock record in the WAL (pg_walinspect).

use std::time::Duration;

use pg_nodesync_tests::*;
use postgres::Client;
use serde_json::{json, Value};

/// The document's row: gen, horizon, live nodes, and the row version (xmin) — a refusal leaves
/// no trace, not even a new version of the row.
fn doc_row(c: &mut Client, doc: &str) -> (i64, i64, i64, String) {
    let r = c.query_one("SELECT gen, horizon, live_nodes, xmin::text FROM nodesync.documents WHERE doc = $1", &[&doc]).unwrap();
    (r.get(0), r.get(1), r.get(2), r.get(3))
}

fn with_node(c: &mut Client, name: &str) -> String {
    let doc = new_doc(c, name);
    apply_ok(c, &doc, &json!({"ops": [{"op": "create", "key": "n", "kind": "p", "parent": "root", "props": {"text": "abc"}}]}));
    doc
}

fn edit(version: i64) -> Value {
    json!({"ops": [{"op": "text", "key": "n", "version": version, "prop": "text", "edits": [[0, 0, "x"]]}]})
}

#[test]
fn a_patch_that_does_not_commit_leaves_the_gen() {
    let mut c = connect();
    let doc = with_node(&mut c, "claim-refused");
    let before = doc_row(&mut c, &doc);
    let snap = snapshot(&mut c, &doc, None).unwrap();
    // refused by try_apply_patch (a stale version), outside and inside a transaction
    let r = try_apply(&mut c, &doc, &edit(7)).unwrap();
    assert_eq!(r["ok"], json!(false), "{r}");
    assert_eq!(doc_row(&mut c, &doc), before);
    c.batch_execute("BEGIN").unwrap();
    assert_eq!(try_apply(&mut c, &doc, &edit(7)).unwrap()["ok"], json!(false));
    assert_eq!(doc_row(&mut c, &doc), before, "inside the transaction too");
    let r = apply_ok(&mut c, &doc, &edit(1));
    assert_eq!(r["gen"], json!(before.0 + 1), "the next commit takes the next gen: {r}");
    c.batch_execute("COMMIT").unwrap();
    let after = doc_row(&mut c, &doc);
    assert_eq!((after.0, after.1, after.2), (before.0 + 1, before.1, before.2));
    // refused by apply_patch (40001): the transaction is rolled back as ever
    let e = apply(&mut c, &doc, &edit(1)).unwrap_err();
    assert_eq!(e.code, "40001");
    assert_eq!(doc_row(&mut c, &doc).0, before.0 + 1);
    // a duplicate (client, seq) answers the first result and commits nothing
    let p = edit(2);
    let first = apply_as(&mut c, &doc, &p, Some("dev"), Some(1)).unwrap();
    let row = doc_row(&mut c, &doc);
    let g = row.0;
    let again = apply_as(&mut c, &doc, &p, Some("dev"), Some(1)).unwrap();
    assert_eq!(again["gen"], first["gen"]);
    assert_eq!(again["duplicate"], json!(true));
    assert_eq!(doc_row(&mut c, &doc), row, "a duplicate leaves the row");
    // every commit is there, and the text holds both keystrokes
    let log: i64 = c.query_one("SELECT count(*) FROM nodesync.change l JOIN nodesync.documents d ON d.id = l.doc_id WHERE d.doc = $1", &[&doc]).unwrap().get(0);
    assert_eq!(log, g - 1, "one log row per gen after create_doc's");
    let now = snapshot(&mut c, &doc, None).unwrap();
    assert_ne!(now, snap);
    assert_eq!(now.to_string().matches("xxabc").count(), 1, "{now}");
}

#[test]
fn a_waiting_writer_sees_what_the_holder_did() {
    let mut a = connect();
    let mut monitor = connect();
    // the holder rolls back: the waiter commits the next gen
    let doc = with_node(&mut a, "claim-rollback");
    let g = gen(&mut a, &doc);
    a.batch_execute("BEGIN").unwrap();
    apply_ok(&mut a, &doc, &edit(1));
    let (pid, rx, h) = spawn_apply(&doc, edit(1), "");
    assert!(wait_until_lock_waiting(&mut monitor, pid, Duration::from_secs(10)), "B waits for A");
    a.batch_execute("ROLLBACK").unwrap();
    let r = rx.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
    h.join().unwrap();
    assert_eq!(r["gen"], json!(g + 1), "{r}");
    assert_eq!(doc_row(&mut a, &doc).0, g + 1);

    // the holder commits: the waiter's stale version is a conflict, a fresh one commits after
    a.batch_execute("BEGIN").unwrap();
    apply_ok(&mut a, &doc, &edit(2));
    let (pid, rx, h) = spawn_apply(&doc, json!({"ops": [{"op": "update", "key": "root", "version": 1, "props": {"t": 1}}]}), "");
    assert!(wait_until_lock_waiting(&mut monitor, pid, Duration::from_secs(10)));
    a.batch_execute("COMMIT").unwrap();
    let r = rx.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
    h.join().unwrap();
    assert_eq!(r["gen"], json!(g + 3), "the waiter took the gen after the holder's: {r}");

    // the holder drops the document: the waiter finds it gone
    a.batch_execute("BEGIN").unwrap();
    a.execute("SELECT nodesync.drop_doc($1, NULL)", &[&doc]).unwrap();
    let (pid, rx, h) = spawn_apply(&doc, edit(3), "");
    assert!(wait_until_lock_waiting(&mut monitor, pid, Duration::from_secs(10)));
    a.batch_execute("COMMIT").unwrap();
    let e = rx.recv_timeout(Duration::from_secs(10)).unwrap().unwrap_err();
    h.join().unwrap();
    assert_eq!(e.code, "42704", "{e:?}");
}

#[test]
fn repeatable_read_fails_on_a_concurrent_commit() {
    let mut a = connect();
    let mut b = connect();
    let doc = with_node(&mut a, "claim-rr");
    a.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ").unwrap();
    let _ = gen(&mut a, &doc); // the transaction's snapshot
    apply_ok(&mut b, &doc, &edit(1));
    let e = apply(&mut a, &doc, &json!({"ops": [{"op": "update", "key": "root", "version": 1, "props": {"t": 1}}]})).unwrap_err();
    assert_eq!(e.code, "40001", "{e:?}");
    a.batch_execute("ROLLBACK").unwrap();
    // without a concurrent commit, a REPEATABLE READ transaction commits two patches in a row
    a.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ").unwrap();
    let g = gen(&mut a, &doc);
    apply_ok(&mut a, &doc, &edit(2));
    assert_eq!(apply_ok(&mut a, &doc, &edit(3))["gen"], json!(g + 2));
    a.batch_execute("COMMIT").unwrap();
}

#[test]
fn who_may_write_is_decided_as_before() {
    let db = fresh_database("claim_privileges");
    let roles = Roles::create("ns_claim", &["writer"]);
    let mut admin = connect_to(&db);
    admin.batch_execute("CREATE EXTENSION pg_nodesync; SELECT nodesync.create_doc('d')").unwrap();
    admin.execute("SELECT nodesync.apply_patch('d', '{\"ops\": [{\"op\": \"create\", \"key\": \"n\", \"kind\": \"p\", \"parent\": \"root\", \"props\": {\"text\": \"abc\"}}]}')", &[]).unwrap();
    let mut w = roles.connect(0, &db);
    // no RLS on documents: an ordinary role writes (the lock taken by the gen's update)
    assert_eq!(apply_ok(&mut w, "d", &edit(1))["gen"], json!(3));
    // without the UPDATE privilege that FOR UPDATE needs: 42501, nothing written
    admin.batch_execute("REVOKE UPDATE (meta) ON nodesync.documents FROM PUBLIC").unwrap();
    let e = apply(&mut w, "d", &edit(2)).unwrap_err();
    assert_eq!(e.code, "42501", "{e:?}");
    assert_eq!(gen(&mut admin, "d"), 3);
    // without SELECT: the same
    admin.batch_execute("GRANT UPDATE (meta) ON nodesync.documents TO PUBLIC; REVOKE SELECT ON nodesync.documents FROM PUBLIC").unwrap();
    let e = apply(&mut w, "d", &edit(2)).unwrap_err();
    assert_eq!(e.code, "42501", "{e:?}");
    admin.batch_execute("GRANT SELECT ON nodesync.documents TO PUBLIC").unwrap();
    // RLS enabled without a policy for the role: the row is unknown to it, as before
    admin.batch_execute("ALTER TABLE nodesync.documents ENABLE ROW LEVEL SECURITY").unwrap();
    let e = apply(&mut w, "d", &edit(2)).unwrap_err();
    assert_eq!(e.code, "42704", "{e:?}");
    assert_eq!(gen(&mut admin, "d"), 3);
    drop((w, admin));
    drop(roles);
    drop_database(&db);
}

/// The WAL records of one `apply_patch` on `doc` (pg_walinspect), as "record type on relation"
/// for the records naming `nodesync.documents`.
fn documents_records(c: &mut Client, call: impl FnOnce(&mut Client)) -> Vec<String> {
    let node: i64 = c.query_one("SELECT pg_relation_filenode('nodesync.documents')::bigint", &[]).unwrap().get(0);
    let start: String = c.query_one("SELECT pg_current_wal_insert_lsn()::text", &[]).unwrap().get(0);
    call(c);
    let end: String = c.query_one("SELECT pg_current_wal_insert_lsn()::text", &[]).unwrap().get(0);
    c.query(
        "SELECT resource_manager || '/' || record_type FROM pg_get_wal_records_info($1::text::pg_lsn, $2::text::pg_lsn)
          WHERE block_ref ~ ('rel [0-9]+/[0-9]+/' || $3::text || '( |$)') ORDER BY start_lsn",
        &[&start, &end, &node.to_string()],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

#[test]
fn a_commit_writes_one_record_for_the_document_row() {
    let mut c = connect();
    c.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect").unwrap();
    let doc = with_node(&mut c, "claim-wal");
    c.batch_execute("CHECKPOINT").ok(); // not needed for the count; keeps full-page images out of the way
    let claimed = documents_records(&mut c, |c| drop(apply_ok(c, &doc, &edit(1))));
    assert_eq!(claimed.len(), 1, "one record for the document's row: {claimed:?}");
    assert!(claimed[0].ends_with("UPDATE"), "{claimed:?}");
    // the FOR UPDATE lock writes a lock record and the update: under direct_commit = off, and
    // for patches that may end without committing and without an error (try_apply_patch, a
    // (client, seq) that may be a duplicate)
    let locked = |c: &mut Client, call: &dyn Fn(&mut Client)| {
        let r = documents_records(c, |c| call(c));
        assert_eq!(r.iter().filter(|r| r.ends_with("/LOCK")).count(), 1, "{r:?}");
        assert_eq!(r.len(), 2, "{r:?}");
    };
    locked(&mut c, &|c| assert_eq!(try_apply(c, &doc, &edit(2)).unwrap()["ok"], json!(true)));
    locked(&mut c, &|c| drop(apply_as(c, &doc, &edit(3), Some("dev"), Some(1)).unwrap()));
    c.batch_execute("SET nodesync.direct_commit = off").unwrap();
    locked(&mut c, &|c| drop(apply_ok(c, &doc, &edit(4))));
    // a refusal by try_apply_patch writes only its lock
    let r = documents_records(&mut c, |c| assert_eq!(try_apply(c, &doc, &edit(1)).unwrap()["ok"], json!(false)));
    assert!(r.iter().all(|r| r.ends_with("/LOCK")), "{r:?}");
}
