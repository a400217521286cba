//! `nodesync.push` (issue 13, "Scaling across documents"): a commit can announce itself as a
//! transactional logical message (`pg_logical_emit_message(true, <nodesync.notify_channel>,
//! '{"doc": ..., "gen": ...}')`) instead of, or besides, a NOTIFY. Read here the way a relay
//! would, from a temporary logical replication slot (plugin test_decoding): one message per
//! commit with the NOTIFY's payload and the channel as prefix, none for a rolled-back patch or a
//! refused one, one for `drop_doc`; `both` sends both, `off` and `nodesync.notify = off` neither.
//!
//! Needs `wal_level = logical` (scripts/test.sh starts its cluster so).

use std::time::Duration;

use pg_nodesync_tests::*;
use postgres::fallible_iterator::FallibleIterator;
use postgres::Client;
use serde_json::{json, Value};

/// A session with a temporary logical slot (gone with the session).
struct Slot {
    c: Client,
    name: String,
}

impl Slot {
    fn new() -> Slot {
        let mut c = connect();
        let level: String = c.query_one("SHOW wal_level", &[]).unwrap().get(0);
        assert_eq!(level, "logical", "this test reads a logical replication slot: start the cluster with wal_level = logical (NODESYNC_WAL_LEVEL=logical scripts/cluster.sh start; scripts/test.sh does)");
        let name = format!("nodesync_push_{}", backend_pid(&mut c));
        c.execute("SELECT pg_create_logical_replication_slot($1, 'test_decoding', true)", &[&name]).expect("create a temporary logical slot");
        Slot { c, name }
    }

    /// The (prefix, payload) of every logical message committed since the last call, in commit
    /// order, for documents whose id starts with `doc_prefix` (other tests' commits are
    /// ignored).
    fn messages(&mut self, doc_prefix: &str) -> Vec<(String, Value)> {
        let rows = self
            .c
            .query("SELECT data FROM pg_logical_slot_get_changes($1, NULL, NULL, 'include-xids', '0', 'skip-empty-xacts', '1')", &[&self.name])
            .expect("read the slot");
        let mut out = vec![];
        for r in rows {
            let data: String = r.get(0);
            // test_decoding: "message: transactional: 1 prefix: <prefix>, sz: <n> content:<payload>"
            let Some(rest) = data.strip_prefix("message: ") else { continue };
            assert!(rest.starts_with("transactional: 1 "), "a message that is not transactional: {data}");
            let (head, content) = rest.split_once(" content:").unwrap_or_else(|| panic!("no content in {data}"));
            let prefix = head.split_once("prefix: ").and_then(|(_, p)| p.split_once(", sz:")).map(|(p, _)| p.to_string()).unwrap_or_else(|| panic!("no prefix in {data}"));
            let v: Value = serde_json::from_str(content).unwrap_or_else(|e| panic!("payload is not JSON ({e}): {data}"));
            if v["doc"].as_str().is_some_and(|d| d.starts_with(doc_prefix)) {
                out.push((prefix, v));
            }
        }
        out
    }
}

/// The payloads of the notifications on channel `nodesync` that arrive within `wait`.
fn heard(listener: &mut Client, wait: Duration, doc_prefix: &str) -> Vec<Value> {
    let mut out = vec![];
    let mut n = listener.notifications();
    let mut it = n.timeout_iter(wait);
    while let Some(note) = it.next().expect("notification stream") {
        let v: Value = serde_json::from_str(note.payload()).unwrap();
        if note.channel() == "nodesync" && v["doc"].as_str().is_some_and(|d| d.starts_with(doc_prefix)) {
            out.push(v);
        }
    }
    out
}

fn create(key: &str) -> Value {
    json!({"ops": [{"op": "create", "key": key, "kind": "p", "parent": "root", "props": {"text": ""}}]})
}

#[test]
fn message_push_is_one_transactional_message_per_commit() {
    let mut slot = Slot::new();
    let mut w = connect();
    w.batch_execute("SET nodesync.push = 'message'").unwrap();
    let mut listener = connect();
    listener.batch_execute("LISTEN nodesync").unwrap();
    let doc = new_doc(&mut w, "push-message");
    slot.messages(&doc);
    // the three commit statements: a create (COMMIT), one changed node (ONE_CHANGE), two
    // changed nodes (COMMIT without its create/delete parts)
    apply_ok(&mut w, &doc, &json!({"ops": [
        {"op": "create", "key": "a", "kind": "p", "parent": "root", "props": {"text": ""}},
        {"op": "create", "key": "b", "kind": "p", "parent": "root", "props": {"text": ""}},
    ]}));
    apply_ok(&mut w, &doc, &json!({"ops": [{"op": "text", "key": "a", "version": 1, "prop": "text", "edits": [[0, 0, "hi"]]}]}));
    apply_ok(&mut w, &doc, &json!({"ops": [
        {"op": "update", "key": "a", "version": 2, "props": {"n": 1}},
        {"op": "update", "key": "b", "version": 1, "props": {"n": 2}},
    ]}));
    // rolled back: nothing
    w.batch_execute("BEGIN").unwrap();
    apply_ok(&mut w, &doc, &create("c"));
    w.batch_execute("ROLLBACK").unwrap();
    // refused (a stale version): nothing
    let refused = apply(&mut w, &doc, &json!({"ops": [{"op": "update", "key": "a", "version": 1, "props": {"n": 9}}]}));
    assert_eq!(refused.expect_err("stale").code, "40001");
    // through try_apply_patch too
    let r = try_apply(&mut w, &doc, &json!({"ops": [{"op": "update", "key": "b", "version": 2, "props": {"n": 3}}]})).unwrap();
    assert_eq!(r["ok"], json!(true));
    w.query_one("SELECT nodesync.drop_doc($1, NULL)", &[&doc]).expect("drop");
    let p = |v: Value| ("nodesync".to_string(), v);
    assert_eq!(
        slot.messages(&doc),
        vec![
            p(json!({"doc": doc, "gen": 2})),
            p(json!({"doc": doc, "gen": 3})),
            p(json!({"doc": doc, "gen": 4})),
            p(json!({"doc": doc, "gen": 5})),
            p(json!({"doc": doc, "dropped": true})),
        ]
    );
    assert_eq!(heard(&mut listener, Duration::from_millis(300), &doc), Vec::<Value>::new(), "push = message also sent NOTIFY");
}

#[test]
fn both_off_and_the_channel() {
    let mut slot = Slot::new();
    let mut w = connect();
    let mut listener = connect();
    listener.batch_execute("LISTEN nodesync").unwrap();
    let doc = new_doc(&mut w, "push-modes");
    slot.messages(&doc);
    let _ = heard(&mut listener, Duration::from_millis(200), &doc);

    w.batch_execute("SET nodesync.push = 'both'").unwrap();
    apply_ok(&mut w, &doc, &create("a")); // gen 2
    w.batch_execute("SET nodesync.push = 'off'").unwrap();
    apply_ok(&mut w, &doc, &create("b")); // gen 3: nothing
    w.batch_execute("SET nodesync.push = 'message'; SET nodesync.notify = off").unwrap();
    apply_ok(&mut w, &doc, &create("c")); // gen 4: nodesync.notify = off wins
    w.batch_execute("RESET nodesync.notify; SET nodesync.notify_channel = 'nodesync_acme'").unwrap();
    apply_ok(&mut w, &doc, &create("d")); // gen 5: prefix nodesync_acme
    w.batch_execute("RESET nodesync.notify_channel; RESET nodesync.push").unwrap();
    apply_ok(&mut w, &doc, &create("e")); // gen 6: the default, NOTIFY only

    assert_eq!(
        slot.messages(&doc),
        vec![("nodesync".to_string(), json!({"doc": doc, "gen": 2})), ("nodesync_acme".to_string(), json!({"doc": doc, "gen": 5}))]
    );
    assert_eq!(heard(&mut listener, Duration::from_millis(500), &doc), vec![json!({"doc": doc, "gen": 2}), json!({"doc": doc, "gen": 6})]);

    // a bad value is refused by Postgres (22023), naming the choices
    let e = w.batch_execute("SET nodesync.push = 'slot'").expect_err("an unknown value");
    let db = e.as_db_error().expect("a server error");
    assert_eq!(db.code().code(), "22023");
    assert!(db.hint().is_some_and(|h| h.contains("notify") && h.contains("message")), "{:?}", db.hint());
}
