//! `nodesync.notify_channel` (issue 9, part 3): commits and drops are notified on the channel the
//! writing session has set (default `nodesync`), so tenants can get one channel each and a
//! listener on another tenant's channel (or on the default one) hears nothing of them.

use std::time::Duration;

use pg_nodesync_tests::*;
use postgres::fallible_iterator::FallibleIterator;
use postgres::Client;
use serde_json::{json, Value};

/// Every (channel, payload) that arrives within `wait`.
fn heard(listener: &mut Client, wait: Duration) -> Vec<(String, Value)> {
    let mut out = vec![];
    let mut n = listener.notifications();
    let mut it = n.timeout_iter(wait);
    while let Some(note) = it.next().expect("notification stream") {
        let v: Value = serde_json::from_str(note.payload()).unwrap_or_else(|e| panic!("payload is not JSON ({e}): {}", note.payload()));
        out.push((note.channel().to_string(), v));
    }
    out
}

#[test]
fn each_tenant_hears_its_own_channel_only() {
    let mut default_listener = connect();
    default_listener.batch_execute("LISTEN nodesync").unwrap();
    let mut acme_listener = connect();
    acme_listener.batch_execute("LISTEN nodesync_acme").unwrap();
    let mut globex_listener = connect();
    globex_listener.batch_execute("LISTEN nodesync_globex").unwrap();

    let mut acme = connect();
    acme.batch_execute("SET nodesync.notify_channel = 'nodesync_acme'").unwrap();
    let mut globex = connect();
    let acme_doc = new_doc(&mut acme, "acme");
    let globex_doc = new_doc(&mut globex, "globex");
    // globex sets its channel per transaction, as an app serving tenants from one pool would
    globex.batch_execute("BEGIN; SET LOCAL nodesync.notify_channel = 'nodesync_globex'").unwrap();
    apply_ok(&mut globex, &globex_doc, &json!({"ops": [{"op": "create", "key": "g", "kind": "p", "parent": "root"}]}));
    globex.batch_execute("COMMIT").unwrap();
    apply_ok(&mut acme, &acme_doc, &json!({"ops": [{"op": "create", "key": "a", "kind": "p", "parent": "root"}]}));
    acme.query_one("SELECT nodesync.drop_doc($1, NULL)", &[&acme_doc]).expect("drop");

    let wait = Duration::from_millis(700);
    assert_eq!(
        heard(&mut acme_listener, wait),
        vec![
            ("nodesync_acme".to_string(), json!({"doc": acme_doc, "gen": 2})),
            ("nodesync_acme".to_string(), json!({"doc": acme_doc, "dropped": true})),
        ]
    );
    assert_eq!(heard(&mut globex_listener, wait), vec![("nodesync_globex".to_string(), json!({"doc": globex_doc, "gen": 2}))]);
    let on_default: Vec<_> = heard(&mut default_listener, wait)
        .into_iter()
        .filter(|(_, v)| v["doc"] == json!(acme_doc) || v["doc"] == json!(globex_doc))
        .collect();
    assert_eq!(on_default, vec![], "the default channel heard a tenant's commits");

    // after RESET the session is back on the default channel
    acme.batch_execute("RESET nodesync.notify_channel").unwrap();
    let doc = new_doc(&mut acme, "acme-reset");
    apply_ok(&mut acme, &doc, &json!({"ops": [{"op": "create", "key": "a", "kind": "p", "parent": "root"}]}));
    let got: Vec<_> = heard(&mut default_listener, wait).into_iter().filter(|(_, v)| v["doc"] == json!(doc)).collect();
    assert_eq!(got, vec![("nodesync".to_string(), json!({"doc": doc, "gen": 2}))]);
}

#[test]
fn an_unusable_channel_name_refuses_the_write_and_changes_nothing() {
    let mut c = connect();
    let doc = new_doc(&mut c, "channel");
    for bad in ["", &"x".repeat(64)] {
        c.execute("SELECT set_config('nodesync.notify_channel', $1, false)", &[&bad]).unwrap();
        let e = apply(&mut c, &doc, &json!({"ops": [{"op": "create", "key": "a", "kind": "p", "parent": "root"}]})).expect_err("bad channel");
        assert_eq!(e.code, "22023", "{e:?}");
        assert!(e.message.contains("nodesync.notify_channel") && e.message.contains(&format!("document \"{doc}\"")), "{}", e.message);
        let e = c.query_one("SELECT nodesync.drop_doc($1, NULL)", &[&doc]).map_err(db_err).expect_err("drop with a bad channel");
        assert_eq!(e.code, "22023", "{e:?}");
        assert_eq!(gen(&mut c, &doc), 1, "nothing was committed");
    }
    // with notify off, the channel is not consulted
    c.batch_execute("SET nodesync.notify = off").unwrap();
    apply_ok(&mut c, &doc, &json!({"ops": [{"op": "create", "key": "a", "kind": "p", "parent": "root"}]}));
    c.batch_execute("RESET nodesync.notify; SET nodesync.notify_channel = 'a_63_byte_channel_name_is_the_longest_that_pg_notify_accepts_x1'").unwrap();
    apply_ok(&mut c, &doc, &json!({"ops": [{"op": "update", "key": "a", "version": 1}]}));
}
