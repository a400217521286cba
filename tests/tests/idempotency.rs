//! Idempotent retries over real commits: a (client, seq) is applied at most once per document.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use pg_nodesync_tests::*;
use serde_json::json;

fn log_len(c: &mut postgres::Client, doc: &str) -> i64 {
    c.query_one("SELECT count(*) FROM nodesync.changes_since($1, 0)", &[&doc]).unwrap().get(0)
}

#[test]
fn resend_of_a_committed_seq_is_a_duplicate_and_commits_nothing() {
    let mut c = connect();
    let doc = new_doc(&mut c, "resend");
    let patch = json!({"ops": [
        {"op": "create", "key": "a", "kind": "p", "parent": "root"},
        {"op": "update", "key": "root", "version": 1, "props": {"t": 1}}]});
    let first = apply_as(&mut c, &doc, &patch, Some("phone"), Some(1)).unwrap();
    assert_eq!(first, json!({"gen": 2, "versions": {"a": 1, "root": 2}, "duplicate": false}));
    apply_ok(&mut c, &doc, &json!({"ops": [{"op": "update", "key": "a", "version": 1, "props": {"x": 1}}]}));
    let snap = snapshot(&mut c, &doc, None).unwrap();

    // the reply was lost; the client resends the very same patch
    let again = apply_as(&mut c, &doc, &patch, Some("phone"), Some(1)).unwrap();
    assert_eq!(again, json!({"gen": 2, "versions": {"a": 1, "root": 2}, "duplicate": true}), "original gen and versions");
    assert_eq!(snapshot(&mut c, &doc, None).unwrap(), snap, "a duplicate changes nothing");
    assert_eq!(log_len(&mut c, &doc), 2, "a duplicate is not logged");

    // try_apply_patch answers the same
    let r = c
        .query_one("SELECT nodesync.try_apply_patch($1, $2, 'phone', 1)", &[&doc, &patch])
        .unwrap()
        .get::<_, serde_json::Value>(0);
    assert_eq!((r["duplicate"].clone(), r["gen"].clone(), r["ok"].clone()), (json!(true), json!(2), json!(true)));

    // another session resending is still a duplicate (state is in the database, not the session)
    let mut other = connect();
    let r = apply_as(&mut other, &doc, &patch, Some("phone"), Some(1)).unwrap();
    assert_eq!(r["duplicate"], json!(true));
    assert_eq!(gen(&mut c, &doc), 3);
}

#[test]
fn racing_the_same_seq_from_two_sessions_commits_once() {
    let mut a = connect();
    let mut monitor = connect();
    let doc = new_doc(&mut a, "race");
    let patch = json!({"ops": [{"op": "create", "key": "once", "kind": "p", "parent": "root"}]});

    // deterministic: A holds its commit open while B sends the same (client, seq)
    a.batch_execute("BEGIN").unwrap();
    let ra = apply_as(&mut a, &doc, &patch, Some("laptop"), Some(7)).unwrap();
    assert_eq!(ra["duplicate"], json!(false));
    let mut b = connect();
    let pid = backend_pid(&mut b);
    let (d2, p2) = (doc.clone(), patch.clone());
    let h = thread::spawn(move || apply_as(&mut b, &d2, &p2, Some("laptop"), Some(7)));
    assert!(wait_until_lock_waiting(&mut monitor, pid, Duration::from_secs(10)), "B should wait for A");
    a.batch_execute("COMMIT").unwrap();
    let rb = h.join().unwrap().unwrap_or_else(|e| panic!("B must get a duplicate, not an error: {e:?}"));
    assert_eq!(rb, json!({"gen": 2, "versions": {"once": 1}, "duplicate": true}));
    assert_eq!(gen(&mut a, &doc), 2);

    // if the first sender rolls back, the seq is not used up: the second one commits
    a.batch_execute("BEGIN").unwrap();
    apply_as(&mut a, &doc, &json!({"ops": [{"op": "update", "key": "once", "version": 1, "props": {"r": 1}}]}), Some("laptop"), Some(8)).unwrap();
    let mut b = connect();
    let pid = backend_pid(&mut b);
    let d2 = doc.clone();
    let h = thread::spawn(move || {
        apply_as(&mut b, &d2, &json!({"ops": [{"op": "update", "key": "once", "version": 1, "props": {"r": 1}}]}), Some("laptop"), Some(8))
    });
    assert!(wait_until_lock_waiting(&mut monitor, pid, Duration::from_secs(10)), "B should wait for A");
    a.batch_execute("ROLLBACK").unwrap();
    let rb = h.join().unwrap().unwrap_or_else(|e| panic!("B must commit after A rolled back: {e:?}"));
    assert_eq!(rb, json!({"gen": 3, "versions": {"once": 2}, "duplicate": false}));

    // free-running races: both sessions released at once, many rounds
    for round in 0..10i64 {
        let barrier = Arc::new(Barrier::new(2));
        let key = format!("r{round}");
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let (doc, key, barrier) = (doc.clone(), key.clone(), barrier.clone());
                thread::spawn(move || {
                    let mut c = connect();
                    barrier.wait();
                    apply_as(&mut c, &doc, &json!({"ops": [{"op": "create", "key": key, "kind": "p", "parent": "root"}]}), Some("tablet"), Some(100 + round))
                })
            })
            .collect();
        let rs: Vec<_> = hs.into_iter().map(|h| h.join().unwrap().unwrap_or_else(|e| panic!("round {round}: {e:?}"))).collect();
        let committed: Vec<_> = rs.iter().filter(|r| r["duplicate"] == json!(false)).collect();
        assert_eq!(committed.len(), 1, "round {round}: exactly one commits: {rs:?}");
        assert_eq!(rs[0]["gen"], rs[1]["gen"], "round {round}: the duplicate reports the original gen: {rs:?}");
        assert_eq!(rs[0]["versions"], rs[1]["versions"], "round {round}: {rs:?}");
        assert_eq!(rs[0]["gen"], json!(4 + round), "round {round}: one gen per round");
    }
    assert_eq!(gen(&mut a, &doc), 13);
    assert_eq!(log_len(&mut a, &doc), 12);
}
