//! A commit reads the rows it changes, not its document: the cost of an edit must not grow with
//! the document (issue 13: "1M-node edit ≤ 1.2× a 10-node edit"). Counted, not timed: the
//! tree rows a patch's statements fetch (`pg_stat_xact_user_tables`, this transaction's own
//! counters) for edits of one and of three nodes, a create and a move between two siblings, a
//! split and deletes, in a 2,000-node document, on a fresh database whose statistics make the
//! planner think a document is a few rows — where the generic plan of
//! 0.4.0's commit read every row of the document and filtered on the join with `unnest`.

use pg_nodesync_tests::*;
use postgres::Client;
use serde_json::{json, Value};

const NODES: usize = 2_000;

/// Tree rows fetched (by index or sequential scans) while `patch` is applied, and its result.
fn rows_fetched(c: &mut Client, doc: &str, patch: &Value) -> (i64, Value) {
    c.batch_execute("BEGIN").unwrap();
    let before = fetched(c);
    let r = apply_ok(c, doc, patch);
    let after = fetched(c);
    c.batch_execute("COMMIT").unwrap();
    (after - before, r)
}

fn fetched(c: &mut Client) -> i64 {
    c.query_one(
        "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) FROM pg_stat_xact_user_tables
          WHERE relid = 'nodesync.tree'::regclass",
        &[],
    )
    .unwrap()
    .get(0)
}

#[test]
fn an_edit_reads_the_rows_it_changes_not_the_document() {
    let db = fresh_database("rows_read");
    let mut c = connect_to(&db);
    c.batch_execute("CREATE EXTENSION pg_nodesync").unwrap();
    // many small documents and one big one: per-document estimates of a few rows
    for i in 0..50 {
        let d = format!("small{i}");
        c.execute("SELECT nodesync.create_doc($1)", &[&d]).unwrap();
        apply_ok(&mut c, &d, &json!({"ops": [{"op": "create", "key": "a", "kind": "p", "parent": "root", "props": {"text": "x"}}]}));
    }
    c.execute("SELECT nodesync.create_doc('big')", &[]).unwrap();
    let ops: Vec<Value> = (0..NODES)
        .map(|i| json!({"op": "create", "key": format!("p{i}"), "kind": "p", "parent": "root", "props": {"text": format!("paragraph {i}")}}))
        .collect();
    apply_ok(&mut c, "big", &json!({ "ops": ops }));
    c.batch_execute("ANALYZE nodesync.tree; ANALYZE nodesync.documents").unwrap();

    let version = |k: &str, c: &mut Client| -> i64 {
        c.query_one("SELECT version FROM nodesync.nodes('big') WHERE key = $1", &[&k]).unwrap().get(0)
    };
    // more than five runs of each shape: the kept plans are generic (and forced to be)
    for round in 0..8 {
        let k = format!("p{}", 100 + round);
        let v = version(&k, &mut c);
        let (n, r) = rows_fetched(&mut c, "big", &json!({"ops": [{"op": "update", "key": k, "version": v, "props": {"text": format!("edit {round}")}}]}));
        assert_eq!(r["versions"][&k], json!(v + 1));
        assert!(n <= 4, "a one-node update fetched {n} tree rows of a {NODES}-node document (round {round})");

        let v = version(&k, &mut c);
        let (n, r) = rows_fetched(&mut c, "big", &json!({"ops": [{"op": "text", "key": k, "version": v, "prop": "text", "edits": [[0, 0, "typed "]]}]}));
        assert_eq!(r["versions"][&k], json!(v + 1));
        assert!(n <= 4, "a one-node text op fetched {n} tree rows (round {round})");

        let keys: Vec<String> = (0..3).map(|j| format!("p{}", 500 + 3 * round + j)).collect();
        let ops: Vec<Value> = keys
            .iter()
            .map(|k| json!({"op": "update", "key": k, "version": 1, "props": {"n": round}}))
            .collect();
        let (n, r) = rows_fetched(&mut c, "big", &json!({ "ops": ops }));
        for k in &keys {
            assert_eq!(r["versions"][k], json!(2));
        }
        assert!(n <= 12, "a three-node update fetched {n} tree rows (round {round})");

        let new_key = format!("n{round}");
        let (n, r) = rows_fetched(&mut c, "big", &json!({"ops": [
            {"op": "create", "key": new_key, "kind": "p", "parent": "root", "after": format!("p{}", 50 + round), "props": {"text": "new"}}]}));
        assert_eq!(r["versions"][&new_key], json!(1));
        assert!(n <= 8, "a create between two of 2,000 siblings fetched {n} tree rows (round {round})");

        let moved = format!("p{}", 700 + round);
        let (n, r) = rows_fetched(&mut c, "big", &json!({"ops": [
            {"op": "move", "key": moved, "version": 1, "parent": "root", "after": format!("p{}", 20 + round)}]}));
        assert_eq!(r["versions"][&moved], json!(2));
        assert!(n <= 10, "a move between two of 2,000 siblings fetched {n} tree rows (round {round})");

        let split = format!("p{}", 800 + round);
        let (n, r) = rows_fetched(&mut c, "big", &json!({"ops": [
            {"op": "split", "key": split, "version": 1, "prop": "text", "at": 4, "new": format!("s{round}")}]}));
        assert_eq!(r["versions"][&split], json!(2));
        assert!(n <= 10, "a split of one of 2,000 siblings fetched {n} tree rows (round {round})");

        let gone: Vec<String> = (0..2).map(|j| format!("p{}", 1000 + 2 * round + j)).collect();
        let ops: Vec<Value> = gone.iter().map(|k| json!({"op": "delete", "key": k, "version": 1})).collect();
        let (n, r) = rows_fetched(&mut c, "big", &json!({ "ops": ops }));
        for k in &gone {
            assert_eq!(r["versions"][k], Value::Null);
        }
        assert!(n <= 10, "a two-node delete fetched {n} tree rows (round {round})");
    }
    let live: i64 = c.query_one("SELECT count(*) FROM nodesync.nodes('big')", &[]).unwrap().get(0);
    assert_eq!(live as usize, NODES + 1 + 16 - 16, "the root, the nodes created (8 creates, 8 splits) and the nodes not deleted");
    // the edits are there
    let text: String = c.query_one("SELECT props->>'text' FROM nodesync.nodes('big') WHERE key = 'p107'", &[]).unwrap().get(0);
    assert_eq!(text, "typed edit 7");
    drop(c);
    drop_database(&db);
}
