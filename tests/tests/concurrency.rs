//! Real sessions writing the same document at the same time: patches on one document queue
//! behind each other (and conflict if they touch the same node), other documents never wait.

use std::thread;
use std::time::Duration;

use pg_nodesync_tests::*;
use serde_json::json;

#[test]
fn same_node_blocks_then_conflicts_on_version() {
    let mut a = connect();
    let mut monitor = connect();
    let doc = new_doc(&mut a, "same-node");
    apply_ok(&mut a, &doc, &json!({"ops": [{"op": "create", "key": "n", "kind": "p", "parent": "root"}]}));
    assert_eq!(gen(&mut a, &doc), 2);

    a.batch_execute("BEGIN").unwrap();
    let r = apply_ok(&mut a, &doc, &json!({"ops": [{"op": "update", "key": "n", "version": 1, "props": {"by": "A"}}]}));
    assert_eq!(r["gen"], json!(3));
    assert_eq!(r["versions"], json!({"n": 2}));

    let (pid, rx, h) = spawn_apply(&doc, json!({"ops": [{"op": "update", "key": "n", "version": 1, "props": {"by": "B"}}]}), "");
    assert!(
        wait_until_lock_waiting(&mut monitor, pid, Duration::from_secs(10)),
        "session B (pid {pid}) should wait for a lock while A's patch on the same node is uncommitted"
    );
    thread::sleep(Duration::from_millis(200));
    assert!(rx.try_recv().is_err(), "session B returned before A committed");
    assert!(is_lock_waiting(&mut monitor, pid), "session B stopped waiting before A committed");

    a.batch_execute("COMMIT").unwrap();
    let got = rx.recv_timeout(Duration::from_secs(10)).expect("session B did not finish after A committed");
    h.join().unwrap();
    let e = got.expect_err("B's patch named version 1 after A committed version 2: must conflict");
    assert_eq!(e.code, "40001", "{e:?}");
    assert_eq!(
        e.detail_json(),
        json!({"gen": 3, "conflicts": [{"op": 0, "key": "n", "reason": "version", "expected": 1, "actual": 2}]}),
        "{e:?}"
    );
    assert!(e.message.contains(&doc), "message names the document: {}", e.message);
    // A's write is the one that stands
    let n = nodes(&mut a, &doc).remove("n").unwrap();
    assert_eq!((n.version, n.gen, n.props), (2, 3, json!({"by": "A"})));
    assert_eq!(gen(&mut a, &doc), 3);
}

#[test]
fn other_document_never_waits() {
    let mut a = connect();
    let doc1 = new_doc(&mut a, "doc1");
    let doc2 = new_doc(&mut a, "doc2");
    a.batch_execute("BEGIN").unwrap();
    apply_ok(&mut a, &doc1, &json!({"ops": [{"op": "update", "key": "root", "version": 1, "props": {"x": 1}}, {"op": "create", "key": "k", "kind": "p", "parent": "root"}]}));

    // same node keys, same ops, other document: must go straight through
    let (_pid, rx, h) = spawn_apply(
        &doc2,
        json!({"ops": [{"op": "update", "key": "root", "version": 1, "props": {"x": 2}}, {"op": "create", "key": "k", "kind": "p", "parent": "root"}]}),
        "SET lock_timeout = '2s'",
    );
    let got = rx.recv_timeout(Duration::from_secs(10)).expect("session B hung on another document");
    h.join().unwrap();
    let r = got.unwrap_or_else(|e| panic!("patch on {doc2} must not wait for {doc1}: {e:?}"));
    assert_eq!(r["gen"], json!(2));
    assert_eq!(r["versions"], json!({"root": 2, "k": 1}));
    a.batch_execute("COMMIT").unwrap();
    assert_eq!(gen(&mut a, &doc1), 2);
    assert_eq!(gen(&mut a, &doc2), 2);
}

#[test]
fn other_node_same_document_waits_then_commits_with_the_next_gen() {
    let mut a = connect();
    let mut monitor = connect();
    let doc = new_doc(&mut a, "other-node");
    apply_ok(&mut a, &doc, &json!({"ops": [
        {"op": "create", "key": "x", "kind": "p", "parent": "root"},
        {"op": "create", "key": "y", "kind": "p", "parent": "root"}]}));

    a.batch_execute("BEGIN").unwrap();
    let ra = apply_ok(&mut a, &doc, &json!({"ops": [{"op": "update", "key": "x", "version": 1, "props": {"by": "A"}}]}));
    assert_eq!(ra["gen"], json!(3));

    let (pid, rx, h) = spawn_apply(&doc, json!({"ops": [{"op": "update", "key": "y", "version": 1, "props": {"by": "B"}}]}), "");
    assert!(wait_until_lock_waiting(&mut monitor, pid, Duration::from_secs(10)), "B should queue behind A's uncommitted commit on the same document");
    assert!(rx.try_recv().is_err(), "B returned before A committed");
    a.batch_execute("COMMIT").unwrap();
    let rb = rx.recv_timeout(Duration::from_secs(10)).expect("B did not finish").unwrap_or_else(|e| panic!("B must commit: {e:?}"));
    h.join().unwrap();
    assert_eq!(rb["gen"], json!(4), "B takes the next gen: no gap, no reuse");
    assert_eq!(rb["versions"], json!({"y": 2}));

    let gens: Vec<i64> = a
        .query("SELECT gen FROM nodesync.changes_since($1, 0) ORDER BY gen", &[&doc])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(gens, vec![2, 3, 4], "the log has consecutive gens");
    let n = nodes(&mut a, &doc);
    assert_eq!((n["x"].version, n["x"].gen, &n["x"].props), (2, 3, &json!({"by": "A"})));
    assert_eq!((n["y"].version, n["y"].gen, &n["y"].props), (2, 4, &json!({"by": "B"})));
}

/// Many sessions hammering one document with single-node patches: every commit takes the next
/// gen, none is lost, versions add up.
#[test]
fn many_writers_consecutive_gens() {
    let mut a = connect();
    let doc = new_doc(&mut a, "many");
    let writers = 4;
    let per = 25;
    let ops: Vec<_> = (0..writers).map(|w| json!({"op": "create", "key": format!("w{w}"), "kind": "p", "parent": "root"})).collect();
    apply_ok(&mut a, &doc, &json!({"ops": ops}));
    let hs: Vec<_> = (0..writers)
        .map(|w| {
            let doc = doc.clone();
            thread::spawn(move || {
                let mut c = connect();
                let mut gens = vec![];
                for i in 0..per {
                    let r = apply_ok(&mut c, &doc, &json!({"ops": [{"op": "update", "key": format!("w{w}"), "version": i + 1, "props": {"i": i}}]}));
                    gens.push(r["gen"].as_i64().unwrap());
                }
                gens
            })
        })
        .collect();
    let mut all: Vec<i64> = hs.into_iter().flat_map(|h| h.join().unwrap()).collect();
    all.sort();
    let want: Vec<i64> = (3..3 + (writers * per) as i64).collect();
    assert_eq!(all, want, "each commit got its own gen, consecutive");
    assert_eq!(gen(&mut a, &doc), 2 + (writers * per) as i64);
    let n = nodes(&mut a, &doc);
    for w in 0..writers {
        assert_eq!(n[&format!("w{w}")].version, 1 + per as i64);
    }
}

/// Readers never wait for writers: while a patch is uncommitted, every read function answers
/// at once with the last committed state.
#[test]
fn reads_do_not_wait_for_an_uncommitted_patch() {
    let mut a = connect();
    let doc = new_doc(&mut a, "reads");
    apply_ok(&mut a, &doc, &json!({"ops": [{"op": "create", "key": "x", "kind": "p", "parent": "root"}]}));
    let committed = snapshot(&mut a, &doc, None).unwrap();
    a.batch_execute("BEGIN").unwrap();
    apply_ok(&mut a, &doc, &json!({"ops": [{"op": "update", "key": "x", "version": 1, "props": {"draft": true}}, {"op": "create", "key": "y", "kind": "p", "parent": "root"}]}));
    apply_ok(&mut a, &doc, &json!({"ops": []}));

    let mut r = connect();
    r.batch_execute("SET lock_timeout = '1s'").unwrap();
    assert_eq!(snapshot(&mut r, &doc, None).unwrap(), committed, "snapshot shows the committed state");
    assert_eq!(snapshot(&mut r, &doc, Some(2)).unwrap(), committed);
    let d = diff_since(&mut r, &doc, 1).unwrap();
    assert_eq!((d["to"].clone(), d["nodes"].as_array().unwrap().len()), (json!(2), 1));
    assert_eq!(nodes(&mut r, &doc).len(), 2);
    let n: i64 = r.query_one("SELECT count(*) FROM nodesync.changes_since($1, 0)", &[&doc]).unwrap().get(0);
    assert_eq!(n, 1);
    let n: i64 = r.query_one("SELECT count(*) FROM nodesync.node_history($1, 'x')", &[&doc]).unwrap().get(0);
    assert_eq!(n, 1);
    // an empty patch reads the gen without taking the commit lock
    let e = apply(&mut r, &doc, &json!({"ops": []})).unwrap();
    assert_eq!(e["gen"], json!(2));
    a.batch_execute("COMMIT").unwrap();
    assert_eq!(gen(&mut r, &doc), 3);
}

/// Two sessions creating the same document: one gets gen 1, the other 23505 once the first
/// commits; if the first rolls back, the second one creates it.
#[test]
fn racing_create_doc() {
    let mut a = connect();
    let mut monitor = connect();
    let doc = unique_doc("race-create");
    for rollback in [false, true] {
        let doc = format!("{doc}-{rollback}");
        a.batch_execute("BEGIN").unwrap();
        a.query_one("SELECT nodesync.create_doc($1)", &[&doc]).unwrap();
        let mut b = connect();
        let pid = backend_pid(&mut b);
        let d2 = doc.clone();
        let h = thread::spawn(move || b.query_one("SELECT nodesync.create_doc($1)", &[&d2]).map(|r| r.get::<_, i64>(0)).map_err(db_err));
        assert!(wait_until_lock_waiting(&mut monitor, pid, Duration::from_secs(10)), "the second create_doc waits for the first");
        a.batch_execute(if rollback { "ROLLBACK" } else { "COMMIT" }).unwrap();
        let got = h.join().unwrap();
        if rollback {
            assert_eq!(got.unwrap(), 1, "the first one rolled back: the second creates the document");
        } else {
            assert_eq!(got.unwrap_err().code, "23505");
        }
        assert_eq!(gen(&mut a, &doc), 1);
    }
}
