//! `nodesync.direct_commit` (src/direct.rs): a commit that changes one node, written without
//! the executor, writes exactly the rows the SQL statement writes. The same patches go to two
//! documents, one with the setting on and one off, and every row of every table is compared
//! (tree, log, document; only ids and timestamps differ); updates that cannot be HOT (a page
//! filled by one transaction's versions of a row) add their index entries (amcheck's
//! `bt_index_check(..., heapallindexed => true)` finds every row in every index); and a table
//! with a trigger, which the direct path does not serve, takes the SQL statement (the trigger
//! fires).

use std::sync::{Arc, Mutex};

use pg_nodesync_tests::*;
use postgres::Client;
use serde_json::{json, Value};

/// Every row the document has, without ids and times: its `documents` row, its tree rows, its
/// log rows.
fn rows(c: &mut Client, doc: &str) -> Value {
    let q = |c: &mut Client, sql: &str| -> Value {
        c.query_one(&format!("SELECT coalesce(jsonb_agg(x), '[]') FROM ({sql}) x"), &[&doc]).unwrap_or_else(|e| panic!("{sql}: {e}")).get(0)
    };
    json!({
        "documents": q(c, "SELECT gen, horizon, live_nodes, created_by::text, meta FROM nodesync.documents WHERE doc = $1"),
        "tree": q(c, "SELECT t.key, t.parent, t.pos, t.kind, t.props, t.version, t.gen, t.deleted FROM nodesync.tree t JOIN nodesync.documents d ON d.id = t.doc_id WHERE d.doc = $1 ORDER BY t.key"),
        "change": q(c, "SELECT l.gen, l.client, l.seq, l.patch::text, l.versions::text, l.undo::text FROM nodesync.change l JOIN nodesync.documents d ON d.id = l.doc_id WHERE d.doc = $1 ORDER BY l.gen"),
    })
}

/// The patches: one-node updates of every kind (props set and removed, kinds, text ops with
/// multi-byte text, a move, a large value kept out of line), some with (client, seq).
fn patches() -> Vec<(Value, Option<&'static str>, Option<i64>)> {
    let big = "x".repeat(5000);
    vec![
        (json!({"ops": [{"op": "update", "key": "a", "version": 1, "props": {"n": 1, "s": "é"}}]}), Some("c1"), Some(1)),
        (json!({"ops": [{"op": "text", "key": "a", "version": 2, "prop": "text", "edits": [[0, 0, "héllo 🎉 "], [3, 1, ""]]}]}), None, None),
        (json!({"ops": [{"op": "update", "key": "a", "version": 3, "kind": "heading", "props": {"n": null, "t": [1, {"u": true}]}}]}), Some("c1"), Some(2)),
        (json!({"ops": [{"op": "move", "key": "b", "version": 1, "parent": "root", "after": null}]}), None, None),
        (json!({"ops": [{"op": "update", "key": "b", "version": 2, "props": {"text": big}}]}), None, None),
        (json!({"ops": [{"op": "text", "key": "b", "version": 3, "prop": "text", "edits": [[2500, 0, "middle"]]}]}), Some("c2"), Some(7)),
        (json!({"ops": [{"op": "update", "key": "root", "version": 1, "props": {"title": "t"}}]}), None, None),
        (json!({"ops": [{"op": "text", "key": "c", "version": 1, "prop": "text", "edits": [[0, 0, "new text"]]}]}), None, None),
    ]
}

fn setup(c: &mut Client, doc: &str) {
    apply_ok(c, doc, &json!({"ops": [
        {"op": "create", "key": "a", "kind": "para", "parent": "root", "props": {"text": "one"}},
        {"op": "create", "key": "b", "kind": "para", "parent": "root", "props": {"text": "two"}},
        {"op": "create", "key": "c", "kind": "para", "parent": "a"},
    ]}));
}

/// A session whose DEBUG1 messages are collected.
fn listening() -> (Client, Arc<Mutex<Vec<String>>>) {
    drop(connect()); // the test database exists
    let heard = Arc::new(Mutex::new(vec![]));
    let h = heard.clone();
    let mut cfg: postgres::Config = nodesync_testkit::server().conninfo(&test_db(), "direct_commit").parse().unwrap();
    cfg.notice_callback(move |n| h.lock().unwrap().push(n.message().to_string()));
    let mut c = cfg.connect(postgres::NoTls).unwrap();
    c.batch_execute("SET client_min_messages = debug1").unwrap();
    (c, heard)
}

#[test]
fn the_direct_path_writes_the_rows_the_statement_writes() {
    let (mut on, heard) = listening();
    let mut off = connect();
    off.batch_execute("SET nodesync.direct_commit = off").unwrap();
    let d_on = new_doc(&mut on, "direct-on");
    let d_off = new_doc(&mut off, "direct-off");
    setup(&mut on, &d_on);
    setup(&mut off, &d_off);
    for (i, (p, client, seq)) in patches().into_iter().enumerate() {
        heard.lock().unwrap().clear();
        let a = apply_as(&mut on, &d_on, &p, client, seq).unwrap_or_else(|e| panic!("patch {i} (direct): {e:?}"));
        let direct = heard.lock().unwrap().iter().filter(|m| m.contains("written without the executor")).count();
        assert_eq!(direct, 1, "patch {i} was written by the direct path: {:?}", heard.lock().unwrap());
        let b = apply_as(&mut off, &d_off, &p, client, seq).unwrap_or_else(|e| panic!("patch {i} (SQL): {e:?}"));
        assert_eq!(a, b, "patch {i}: the results differ");
        assert_eq!(rows(&mut on, &d_on), rows(&mut off, &d_off), "patch {i}: the rows differ");
    }
    // a duplicate (client, seq) answers the same on both
    let (p, client, seq) = patches().remove(0);
    assert_eq!(apply_as(&mut on, &d_on, &p, client, seq).unwrap(), apply_as(&mut off, &d_off, &p, client, seq).unwrap());
    // the past reads the same: the snapshot and the diff from every gen
    let g = gen(&mut on, &d_on);
    assert_eq!(g, gen(&mut off, &d_off));
    for at in 1..=g {
        let mut a = snapshot(&mut on, &d_on, Some(at)).unwrap();
        let mut b = snapshot(&mut off, &d_off, Some(at)).unwrap();
        (a["doc"], b["doc"]) = (json!(null), json!(null));
        assert!(a == b, "snapshot at gen {at} differs");
        let (mut a, mut b) = (diff_since(&mut on, &d_on, at).unwrap(), diff_since(&mut off, &d_off, at).unwrap());
        (a["doc"], b["doc"]) = (json!(null), json!(null));
        assert!(a == b, "diff_since {at} differs");
    }
    // a props limit exceeded by the direct path refuses the patch and changes nothing
    let before = rows(&mut on, &d_on);
    on.batch_execute("SET nodesync.max_props_bytes = 100").unwrap();
    let v = gen(&mut on, &d_on);
    let e = apply(&mut on, &d_on, &json!({"ops": [{"op": "text", "key": "c", "version": 2, "prop": "text", "edits": [[0, 0, "y".repeat(200)]]}]})).expect_err("over the limit");
    assert_eq!(e.code, "22023", "{e:?}");
    on.batch_execute("RESET nodesync.max_props_bytes").unwrap();
    assert_eq!(rows(&mut on, &d_on), before);
    assert_eq!(gen(&mut on, &d_on), v);
}

#[test]
fn updates_that_are_not_hot_add_their_index_entries() {
    let mut c = connect();
    c.batch_execute("CREATE EXTENSION IF NOT EXISTS amcheck").unwrap();
    let doc = new_doc(&mut c, "direct-nonhot");
    setup(&mut c, &doc);
    // one transaction: its own dead versions cannot be pruned, so the page fills and later
    // updates move the row to other pages (non-HOT: new index entries)
    let mut tx = c.transaction().unwrap();
    let text = "z".repeat(1500);
    let mut v = 1;
    for i in 0..40 {
        let p = json!({"ops": [{"op": "update", "key": "a", "version": v, "props": {"text": format!("{i} {text}")}}]});
        let r: Value = tx.query_one("SELECT nodesync.apply_patch($1, $2)", &[&doc, &p]).unwrap().get(0);
        v = r["versions"]["a"].as_i64().unwrap();
    }
    let (upd, hot): (i64, i64) = {
        let row = tx.query_one("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relid = 'nodesync.tree'::regclass", &[]).unwrap();
        (row.get(0), row.get(1))
    };
    assert!(upd >= 40 && hot < upd, "some updates were not HOT ({hot} of {upd})");
    tx.commit().unwrap();
    for idx in ["nodesync.tree_pkey", "nodesync.tree_children", "nodesync.change_pkey", "nodesync.documents_pkey"] {
        c.execute("SELECT bt_index_check($1::text::regclass, true)", &[&idx]).unwrap_or_else(|e| panic!("{idx}: {e}"));
    }
    c.batch_execute("SET enable_seqscan = off").unwrap();
    let n: i64 = c.query_one("SELECT count(*) FROM nodesync.tree t JOIN nodesync.documents d ON d.id = t.doc_id WHERE d.doc = $1 AND t.key = 'a' AND t.props->>'text' LIKE '39 %'", &[&doc]).unwrap().get(0);
    assert_eq!(n, 1);
    assert_eq!(nodes(&mut c, &doc)["a"].version, 41);
    c.batch_execute("RESET enable_seqscan").unwrap();
}

#[test]
fn a_table_with_a_trigger_takes_the_statement() {
    let (mut c, heard) = listening();
    let doc = new_doc(&mut c, "direct-trigger");
    setup(&mut c, &doc);
    let mut tx = c.transaction().unwrap();
    tx.batch_execute(
        "CREATE TABLE public.direct_audit (key text);
         CREATE FUNCTION public.direct_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO public.direct_audit VALUES (NEW.key); RETURN NEW; END $$;
         CREATE TRIGGER direct_audit AFTER UPDATE ON nodesync.tree FOR EACH ROW EXECUTE FUNCTION public.direct_audit();",
    )
    .unwrap();
    let p = json!({"ops": [{"op": "text", "key": "a", "version": 1, "prop": "text", "edits": [[3, 0, "!"]]}]});
    heard.lock().unwrap().clear();
    let _: Value = tx.query_one("SELECT nodesync.apply_patch($1, $2)", &[&doc, &p]).unwrap().get(0);
    assert!(!heard.lock().unwrap().iter().any(|m| m.contains("without the executor")), "the direct path wrote a table with a trigger");
    let audited: Vec<String> = tx.query("SELECT key FROM public.direct_audit", &[]).unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(audited, vec!["a".to_string()], "the trigger fired: the SQL statement wrote the row");
    // rolled back: the trigger, its function and table go
    tx.rollback().unwrap();
}
