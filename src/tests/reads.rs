//! `#[pg_test]`s of the reads (snapshot, diff_since, nodes, changes_since, node_history) and compact.
use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::tests::*;
    use serde_json::{json, Value};

    #[pg_test]
    fn snapshot_nests_in_order_and_time_travels() {
        fixture("d");
        let before = q("SELECT nodesync.snapshot('d')");
        patch("d", json!([{"op": "move", "key": "a", "version": 1, "parent": "s", "after": "s1"}, {"op": "update", "key": "b", "version": 1, "props": {"x": 1}}]));
        let now = q("SELECT nodesync.snapshot('d')");
        let s = &now["root"]["children"];
        assert_eq!(s.as_array().unwrap().iter().map(|c| c["key"].clone()).collect::<Vec<_>>(), [json!("b"), json!("s")]);
        assert_eq!(s[1]["children"].as_array().unwrap().iter().map(|c| c["key"].clone()).collect::<Vec<_>>(), [json!("s1"), json!("a"), json!("s2")]);
        assert_eq!(q("SELECT nodesync.snapshot('d', 2)"), before);
        assert_eq!(q("SELECT nodesync.snapshot('d', 3)"), now);
        assert_eq!(state("SELECT nodesync.snapshot('d', 4)"), "22023");
        assert_eq!(state("SELECT nodesync.snapshot('d', -1)"), "22023");
        assert_eq!(state("SELECT nodesync.snapshot('nope')"), "42704");
    }

    #[pg_test]
    fn nodes_are_rows() {
        fixture("d");
        assert_eq!(int("SELECT count(*) FROM nodesync.nodes('d')"), 6);
        assert_eq!(int("SELECT count(*) FROM nodesync.nodes('d') WHERE parent IS NULL AND pos IS NULL AND key = 'root'"), 1);
        assert_eq!(int("SELECT count(*) FROM nodesync.live_nodes WHERE doc = 'd'"), 6);
        assert_eq!(state("SELECT * FROM nodesync.nodes('nope')"), "42704");
    }

    #[pg_test]
    fn diff_since_lists_changes_and_deletions() {
        fixture("d");
        patch("d", json!([{"op": "update", "key": "a", "version": 1, "props": {"t": "A"}}]));
        patch("d", json!([{"op": "delete", "key": "s", "version": 1}]));
        let d = q("SELECT nodesync.diff_since('d', 2)");
        assert_eq!((d["from"].clone(), d["to"].clone(), d["reset"].clone()), (json!(2), json!(4), json!(false)));
        assert_eq!(d["nodes"].as_array().unwrap().len(), 1);
        assert_eq!(d["nodes"][0]["key"], "a");
        assert_eq!(d["nodes"][0]["props"], json!({"t": "A"}));
        let mut del: Vec<String> = d["deleted"].as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_string()).collect();
        del.sort();
        assert_eq!(del, ["s", "s1", "s2"]);
        assert_eq!(q("SELECT nodesync.diff_since('d', 4)")["nodes"], json!([]));
        assert_eq!(state("SELECT nodesync.diff_since('d', 5)"), "22023");
        assert_eq!(state("SELECT nodesync.diff_since('d', NULL)"), "22023");
        assert_eq!(state("SELECT nodesync.diff_since('nope', 0)"), "42704");
        Spi::run("SELECT nodesync.compact('d', 3)").unwrap();
        let r = q("SELECT nodesync.diff_since('d', 2)");
        assert_eq!(r["reset"], true);
        assert_eq!(r["nodes"].as_array().unwrap().len(), 3);
        assert_eq!(q("SELECT nodesync.diff_since('d', 3)")["reset"], false);
    }

    #[pg_test]
    fn changes_since_and_node_history() {
        fixture("d");
        Spi::run(r#"SELECT nodesync.apply_patch('d', '{"ops": [{"op": "update", "key": "s1", "version": 1, "props": {"v": 1}}]}', 'alice', 1)"#).unwrap();
        Spi::run(r#"SELECT nodesync.apply_patch('d', '{"ops": [{"op": "delete", "key": "s", "version": 1}]}', 'bob', 1)"#).unwrap();
        assert_eq!(q("SELECT jsonb_agg(jsonb_build_array(gen, client, seq) ORDER BY gen) FROM nodesync.changes_since('d', 1)"),
            json!([[2, null, null], [3, "alice", 1], [4, "bob", 1]]));
        assert_eq!(q("SELECT jsonb_agg(jsonb_build_array(version, gen, client, state IS NULL) ORDER BY version) FROM nodesync.node_history('d', 's1')"),
            json!([[1, 2, null, false], [2, 3, "alice", false], [3, 4, "bob", true]]));
        assert_eq!(q("SELECT state->'props' FROM nodesync.node_history('d', 's1') WHERE version = 2"), json!({"v": 1}));
        assert_eq!(int("SELECT count(*) FROM nodesync.node_history('d', 'never')"), 0);
        assert_eq!(state("SELECT * FROM nodesync.changes_since('d', 9)"), "22023");
        assert_eq!(state("SELECT * FROM nodesync.changes_since('nope', 0)"), "42704");
        assert_eq!(state("SELECT * FROM nodesync.node_history('nope', 'a')"), "42704");
    }

    #[pg_test]
    fn compact_keeps_time_travel_at_the_horizon() {
        fixture("d");
        patch("d", json!([{"op": "update", "key": "a", "version": 1, "props": {"v": 1}}]));
        let at3 = q("SELECT nodesync.snapshot('d', 3)");
        patch("d", json!([{"op": "update", "key": "a", "version": 2, "props": {"v": 2}}]));
        patch("d", json!([{"op": "delete", "key": "b", "version": 1}]));
        assert_eq!(int("SELECT nodesync.compact('d', 3)"), 3);
        assert_eq!(q("SELECT nodesync.snapshot('d', 3)"), at3);
        let e = catch("SELECT nodesync.snapshot('d', 2)");
        assert_eq!(e["state"], "55000");
        assert!(e["message"].as_str().unwrap().contains("horizon"), "{e}");
        assert_eq!(state("SELECT * FROM nodesync.changes_since('d', 2)"), "55000");
        assert_eq!(int("SELECT count(*) FROM nodesync.changes_since('d', 3)"), 2);
        // history and log at or below the horizon are gone
        assert_eq!(int("SELECT count(*) FROM nodesync.change c JOIN nodesync.documents d ON d.id = c.doc_id WHERE d.doc = 'd' AND c.gen <= 3"), 0);
        assert_eq!(int("SELECT nodesync.compact('d', 1)"), 3, "the horizon never goes back");
        assert_eq!(state("SELECT nodesync.compact('d', 9)"), "22023");
        assert_eq!(state("SELECT nodesync.compact('d', NULL)"), "22023");
        assert_eq!(int("SELECT nodesync.compact('d', 5)"), 5);
        assert_eq!(q("SELECT nodesync.snapshot('d', 5)"), q("SELECT nodesync.snapshot('d')"));
        let e = catch(r#"SELECT nodesync.apply_patch('d', '{"ops": [{"op": "create", "key": "b", "kind": "p", "parent": "root"}]}')"#);
        assert_eq!(serde_json::from_str::<Value>(e["detail"].as_str().unwrap()).unwrap()["conflicts"][0]["reason"], "exists");
    }

    #[pg_test]
    fn idempotent_retries() {
        fixture("d");
        let p = r#"'{"ops": [{"op": "update", "key": "a", "version": 1, "props": {"n": 1}}]}'"#;
        let first = q(&format!("SELECT nodesync.apply_patch('d', {p}, 'c1', 1)"));
        assert_eq!(first, json!({"gen": 3, "versions": {"a": 2}, "duplicate": false}));
        let again = q(&format!("SELECT nodesync.apply_patch('d', {p}, 'c1', 1)"));
        assert_eq!(again, json!({"gen": 3, "versions": {"a": 2}, "duplicate": true}));
        assert_eq!(int("SELECT (nodesync.snapshot('d')->>'gen')::bigint"), 3);
        assert_eq!(state(&format!("SELECT nodesync.apply_patch('d', {p}, NULL, 3)")), "22023");
        // compacted away: the current gen and empty versions
        Spi::run("SELECT nodesync.compact('d', 3)").unwrap();
        assert_eq!(q(&format!("SELECT nodesync.apply_patch('d', {p}, 'c1', 1)")), json!({"gen": 3, "versions": {}, "duplicate": true}));
        // a refused patch does not use up its seq
        assert_eq!(state(&format!("SELECT nodesync.apply_patch('d', {p}, 'c1', 2)")), "40001");
        let ok = q(r#"SELECT nodesync.apply_patch('d', '{"ops": [{"op": "update", "key": "a", "version": 2}]}', 'c1', 2)"#);
        assert_eq!(ok["duplicate"], false);
    }
}
