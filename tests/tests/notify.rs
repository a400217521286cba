//! Push: every commit sends `NOTIFY nodesync, '{"doc": ..., "gen": ...}'`, delivered at commit,
//! never for a rolled-back or refused patch, and without document content.

use std::time::Duration;

use pg_nodesync_tests::*;
use postgres::fallible_iterator::FallibleIterator;
use postgres::Client;
use serde_json::{json, Value};

/// The nodesync payloads for `doc` that arrive within `wait` (no new one for that long).
fn payloads_for(listener: &mut Client, doc: &str, wait: Duration) -> Vec<Value> {
    payloads_until(listener, doc, wait, usize::MAX)
}

/// Like `payloads_for`, but once `want` payloads arrived, waits only a short while for extras.
fn payloads_until(listener: &mut Client, doc: &str, wait: Duration, want: usize) -> Vec<Value> {
    let mut out = vec![];
    {
        let mut n = listener.notifications();
        let mut it = n.timeout_iter(wait);
        while let Some(note) = it.next().expect("notification stream") {
            assert_eq!(note.channel(), "nodesync");
            let v: Value = serde_json::from_str(note.payload()).unwrap_or_else(|e| panic!("payload is not JSON ({e}): {}", note.payload()));
            if v["doc"] == json!(doc) {
                out.push(v);
                if out.len() >= want {
                    break;
                }
            }
        }
    }
    if out.len() >= want && want != usize::MAX {
        out.extend(payloads_for(listener, doc, Duration::from_millis(300)));
    }
    out
}

#[test]
fn notify_on_commit_only_with_doc_and_gen() {
    let mut listener = connect();
    listener.batch_execute("LISTEN nodesync").unwrap();
    let mut w = connect();
    let doc = new_doc(&mut w, "notify");
    // create_doc is not a patch: drain whatever it may have sent
    let _ = payloads_for(&mut listener, &doc, Duration::from_millis(200));

    // committed patch: notified at commit, not before
    w.batch_execute("BEGIN").unwrap();
    apply_ok(
        &mut w,
        &doc,
        &json!({"ops": [{"op": "create", "key": "secret", "kind": "p", "parent": "root", "props": {"text": "do not leak"}}]}),
    );
    assert_eq!(
        payloads_for(&mut listener, &doc, Duration::from_millis(500)),
        Vec::<Value>::new(),
        "notified before commit"
    );
    w.batch_execute("COMMIT").unwrap();
    let got = payloads_until(&mut listener, &doc, Duration::from_secs(5), 1);
    assert_eq!(got, vec![json!({"doc": doc, "gen": 2})], "one notification for the commit");
    let keys: Vec<&String> = got[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["doc", "gen"], "payload has exactly doc and gen");

    // rolled back: nothing
    w.batch_execute("BEGIN").unwrap();
    apply_ok(
        &mut w,
        &doc,
        &json!({"ops": [{"op": "update", "key": "secret", "version": 1, "props": {"text": "x"}}]}),
    );
    w.batch_execute("ROLLBACK").unwrap();
    assert_eq!(
        payloads_for(&mut listener, &doc, Duration::from_millis(700)),
        Vec::<Value>::new(),
        "a rolled-back patch notifies nothing"
    );

    // refused and empty patches commit nothing and notify nothing
    let r = try_apply(
        &mut w,
        &doc,
        &json!({"ops": [{"op": "update", "key": "secret", "version": 9, "props": {}}]}),
    )
    .unwrap();
    assert_eq!(r["ok"], json!(false));
    let r = apply_ok(&mut w, &doc, &json!({"ops": []}));
    assert_eq!(r["gen"], json!(2));
    assert_eq!(
        payloads_for(&mut listener, &doc, Duration::from_millis(500)),
        Vec::<Value>::new(),
        "refused/empty patches notify nothing"
    );

    // the next commit takes gen 3 (the rolled-back one left no gap) and is notified
    let r = apply_ok(
        &mut w,
        &doc,
        &json!({"ops": [{"op": "update", "key": "secret", "version": 1, "props": {"text": "y"}}]}),
    );
    assert_eq!(r["gen"], json!(3));
    assert_eq!(
        payloads_until(&mut listener, &doc, Duration::from_secs(5), 1),
        vec![json!({"doc": doc, "gen": 3})]
    );
}

#[test]
fn notify_once_per_commit_in_gen_order() {
    let mut listener = connect();
    listener.batch_execute("LISTEN nodesync").unwrap();
    let mut w = connect();
    let doc = new_doc(&mut w, "notify-order");
    let _ = payloads_for(&mut listener, &doc, Duration::from_millis(200));
    for i in 0..5 {
        apply_ok(
            &mut w,
            &doc,
            &json!({"ops": [{"op": "update", "key": "root", "version": i + 1, "props": {"i": i}}]}),
        );
    }
    // two patches in one transaction: two notifications, both at commit
    w.batch_execute("BEGIN").unwrap();
    apply_ok(
        &mut w,
        &doc,
        &json!({"ops": [{"op": "update", "key": "root", "version": 6, "props": {"i": 5}}]}),
    );
    apply_ok(
        &mut w,
        &doc,
        &json!({"ops": [{"op": "update", "key": "root", "version": 7, "props": {"i": 6}}]}),
    );
    w.batch_execute("COMMIT").unwrap();
    let gens: Vec<i64> = payloads_until(&mut listener, &doc, Duration::from_secs(5), 7)
        .iter()
        .map(|v| v["gen"].as_i64().unwrap())
        .collect();
    assert_eq!(gens, vec![2, 3, 4, 5, 6, 7, 8]);
}
