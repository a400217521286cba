//! apply_patch runs in the caller's transaction: a rollback undoes everything, and a refused
//! patch caught by a savepoint leaves the transaction usable.

use pg_nodesync_tests::*;
use serde_json::json;

/// Rows the document has in each storage table (log, history, tree incl. tombstones).
fn trace(c: &mut postgres::Client, doc: &str) -> (i64, i64, i64, i64) {
    let r = c
        .query_one(
            "SELECT d.gen,
                    (SELECT count(*) FROM nodesync.tree t WHERE t.doc_id = d.id),
                    (SELECT count(*) FROM nodesync.change x WHERE x.doc_id = d.id AND x.undo IS NOT NULL),
                    (SELECT count(*) FROM nodesync.change x WHERE x.doc_id = d.id)
               FROM nodesync.documents d WHERE d.doc = $1",
            &[&doc],
        )
        .unwrap();
    (r.get(0), r.get(1), r.get(2), r.get(3))
}

#[test]
fn rollback_leaves_no_gen_node_or_log_row() {
    let mut c = connect();
    let doc = new_doc(&mut c, "rollback");
    apply_ok(&mut c, &doc, &json!({"ops": [{"op": "create", "key": "a", "kind": "p", "parent": "root"}]}));
    let before = trace(&mut c, &doc);
    assert_eq!(before, (2, 2, 0, 1));
    let snap = snapshot(&mut c, &doc, None).unwrap();

    c.batch_execute("BEGIN").unwrap();
    let r = apply_ok(&mut c, &doc, &json!({"ops": [
        {"op": "create", "key": "b", "kind": "p", "parent": "root"},
        {"op": "update", "key": "a", "version": 1, "props": {"x": 1}}]}));
    assert_eq!(r["gen"], json!(3));
    let r = apply_ok(&mut c, &doc, &json!({"ops": [{"op": "delete", "key": "a", "version": 2}]}));
    assert_eq!(r["gen"], json!(4));
    assert_eq!(gen(&mut c, &doc), 4, "the transaction sees its own commits");
    c.batch_execute("ROLLBACK").unwrap();

    assert_eq!(trace(&mut c, &doc), before, "no gen, node, history or log row survives the rollback");
    assert_eq!(snapshot(&mut c, &doc, None).unwrap(), snap);
    let hist: i64 = c.query_one("SELECT count(*) FROM nodesync.node_history($1, 'b')", &[&doc]).unwrap().get(0);
    assert_eq!(hist, 0);
    // the rolled-back key was never taken: it can be created now, at the next gen
    let r = apply_ok(&mut c, &doc, &json!({"ops": [{"op": "create", "key": "b", "kind": "p", "parent": "root"}]}));
    assert_eq!(r["gen"], json!(3));

    // create_doc rolls back too
    let doc2 = unique_doc("rollback-create");
    c.batch_execute("BEGIN").unwrap();
    c.query_one("SELECT nodesync.create_doc($1)", &[&doc2]).unwrap();
    c.batch_execute("ROLLBACK").unwrap();
    let e = snapshot(&mut c, &doc2, None).unwrap_err();
    assert_eq!(e.code, "42704", "{e:?}");
}

#[test]
fn refused_patch_in_a_savepoint_leaves_the_transaction_usable() {
    let mut c = connect();
    let doc = new_doc(&mut c, "savepoint");
    apply_ok(&mut c, &doc, &json!({"ops": [{"op": "create", "key": "a", "kind": "p", "parent": "root"}]}));

    c.batch_execute("BEGIN").unwrap();
    apply_ok(&mut c, &doc, &json!({"ops": [{"op": "update", "key": "a", "version": 1, "props": {"step": 1}}]}));
    c.batch_execute("SAVEPOINT s").unwrap();
    // second op conflicts: the whole patch is refused, its first op leaves no trace
    let e = apply(&mut c, &doc, &json!({"ops": [
        {"op": "create", "key": "ghost", "kind": "p", "parent": "root"},
        {"op": "update", "key": "a", "version": 1, "props": {"step": 2}}]}))
    .unwrap_err();
    assert_eq!(e.code, "40001");
    assert_eq!(e.detail_json(), json!({"gen": 3, "conflicts": [{"op": 1, "key": "a", "reason": "version", "expected": 1, "actual": 2}]}));
    c.batch_execute("ROLLBACK TO SAVEPOINT s").unwrap();
    // invalid input (22023) in a savepoint: same
    c.batch_execute("SAVEPOINT s2").unwrap();
    let e = apply(&mut c, &doc, &json!({"ops": [{"op": "explode"}]})).unwrap_err();
    assert_eq!(e.code, "22023");
    c.batch_execute("ROLLBACK TO SAVEPOINT s2").unwrap();
    // try_apply_patch does not raise on a conflict: no savepoint needed
    let r = try_apply(&mut c, &doc, &json!({"ops": [{"op": "delete", "key": "a", "version": 1}]})).unwrap();
    assert_eq!(r, json!({"ok": false, "gen": 3, "conflicts": [{"op": 0, "key": "a", "reason": "version", "expected": 1, "actual": 2}]}));
    let r = apply_ok(&mut c, &doc, &json!({"ops": [{"op": "update", "key": "a", "version": 2, "props": {"step": 3}}]}));
    assert_eq!(r["gen"], json!(4), "refused patches used no gen");
    c.batch_execute("COMMIT").unwrap();

    let n = nodes(&mut c, &doc);
    assert!(!n.contains_key("ghost"));
    assert_eq!((n["a"].version, &n["a"].props), (3, &json!({"step": 3})));
    let gens: Vec<i64> = c.query("SELECT gen FROM nodesync.changes_since($1, 0)", &[&doc]).unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(gens, vec![2, 3, 4]);
}
