//! `#[pg_test]`s of apply_patch: ops, conflicts, limits, errors.
use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::tests::*;
    use serde_json::json;

    #[pg_test]
    fn apply_patch_result_and_effects() {
        Spi::run("SELECT nodesync.create_doc('d')").unwrap();
        let r = patch("d", json!([{"op": "create", "key": "p1", "kind": "paragraph", "props": {"text": "one"}, "parent": "root"}]));
        assert_eq!(r, json!({"gen": 2, "versions": {"p1": 1}, "duplicate": false}));
        patch("d", json!([{"op": "create", "key": "p3", "kind": "p", "parent": "root"}]));
        patch("d", json!([{"op": "create", "key": "p2", "kind": "p", "parent": "root", "after": "p1"}]));
        patch("d", json!([{"op": "create", "key": "p0", "kind": "p", "parent": "root", "after": null}]));
        assert_eq!(kids("d", "root"), ["p0", "p1", "p2", "p3"]);
        let r = patch("d", json!([
            {"op": "update", "key": "p1", "version": 1, "props": {"text": "uno", "bold": true}},
            {"op": "update", "key": "p1", "version": 1, "kind": "heading", "props": {"bold": null}},
            {"op": "move", "key": "p3", "version": 1, "parent": "root", "after": null},
            {"op": "delete", "key": "p2", "version": 1}
        ]));
        assert_eq!(r["versions"], json!({"p1": 2, "p3": 2, "p2": null}));
        assert_eq!(q("SELECT to_jsonb(n) - 'pos' FROM nodesync.nodes('d') n WHERE key = 'p1'"),
            json!({"key": "p1", "parent": "root", "kind": "heading", "props": {"text": "uno"}, "version": 2, "gen": 6}));
        assert_eq!(kids("d", "root"), ["p3", "p0", "p1"]);
        assert_eq!(int("SELECT version FROM nodesync.nodes('d') WHERE key = 'root'"), 1);
    }

    #[pg_test]
    fn empty_patch_commits_nothing() {
        fixture("d");
        assert_eq!(patch("d", json!([])), json!({"gen": 2, "versions": {}, "duplicate": false}));
        assert_eq!(int("SELECT (nodesync.snapshot('d')->>'gen')::bigint"), 2);
        assert_eq!(int("SELECT count(*) FROM nodesync.changes_since('d', 0)"), 1);
    }

    #[pg_test]
    fn conflict_version() {
        fixture("d");
        patch("d", json!([{"op": "update", "key": "a", "version": 1, "props": {"x": 1}}]));
        let d = conflict(r#"SELECT nodesync.apply_patch('d', '{"ops": [{"op": "update", "key": "b", "version": 1}, {"op": "update", "key": "a", "version": 1, "props": {"x": 2}}]}')"#);
        assert_eq!(d, json!({"gen": 3, "conflicts": [{"op": 1, "key": "a", "reason": "version", "expected": 1, "actual": 2}]}));
        assert_eq!(int("SELECT version FROM nodesync.nodes('d') WHERE key = 'b'"), 1, "refused patch left no trace");
        let e = catch(r#"SELECT nodesync.apply_patch('d', '{"ops": [{"op": "delete", "key": "a", "version": 1}]}')"#);
        let msg = e["message"].as_str().unwrap();
        assert!(msg.contains("\"d\"") && msg.contains("op 0") && msg.contains("\"a\""), "message names doc, op and key: {msg}");
        assert!(e["hint"].as_str().unwrap().contains("diff_since"), "{e}");
    }

    #[pg_test]
    fn conflict_exists() {
        fixture("d");
        let d = conflict(r#"SELECT nodesync.apply_patch('d', '{"ops": [{"op": "create", "key": "a", "kind": "p", "parent": "root"}]}')"#);
        assert_eq!(d["conflicts"][0]["reason"], "exists");
        patch("d", json!([{"op": "delete", "key": "b", "version": 1}]));
        let d = conflict(r#"SELECT nodesync.apply_patch('d', '{"ops": [{"op": "create", "key": "b", "kind": "p", "parent": "root"}]}')"#);
        assert_eq!(d["conflicts"][0]["reason"], "exists", "deleted keys are never reused");
    }

    #[pg_test]
    fn conflict_missing() {
        fixture("d");
        for ops in [
            r#"[{"op": "update", "key": "zz", "version": 1}]"#,
            r#"[{"op": "create", "key": "n", "kind": "p", "parent": "zz"}]"#,
            r#"[{"op": "create", "key": "n", "kind": "p", "parent": "root", "after": "zz"}]"#,
            r#"[{"op": "move", "key": "a", "version": 1, "parent": "zz"}]"#,
            r#"[{"op": "delete", "key": "s1", "version": 1}, {"op": "update", "key": "s1", "version": 1}]"#,
        ] {
            let d = conflict(&format!("SELECT nodesync.apply_patch('d', '{{\"ops\": {ops}}}')"));
            assert_eq!(d["conflicts"].as_array().unwrap().last().unwrap()["reason"], "missing", "{ops}");
        }
    }

    #[pg_test]
    fn conflict_anchor() {
        fixture("d");
        let d = conflict(r#"SELECT nodesync.apply_patch('d', '{"ops": [{"op": "create", "key": "n", "kind": "p", "parent": "root", "after": "s1"}]}')"#);
        assert_eq!(d["conflicts"][0], json!({"op": 0, "key": "s1", "reason": "anchor"}));
    }

    #[pg_test]
    fn conflict_cycle() {
        fixture("d");
        let d = conflict(r#"SELECT nodesync.apply_patch('d', '{"ops": [{"op": "move", "key": "s", "version": 1, "parent": "s2"}]}')"#);
        assert_eq!(d["conflicts"][0]["reason"], "cycle");
        let d = conflict(r#"SELECT nodesync.apply_patch('d', '{"ops": [{"op": "move", "key": "s", "version": 1, "parent": "s"}]}')"#);
        assert_eq!(d["conflicts"][0]["reason"], "cycle");
    }

    #[pg_test]
    fn conflict_subtree() {
        fixture("d");
        patch("d", json!([{"op": "update", "key": "s1", "version": 1, "props": {"e": 1}}]));
        let d = conflict(r#"SELECT nodesync.apply_patch('d', '{"base": 2, "ops": [{"op": "delete", "key": "s", "version": 1}]}')"#);
        assert_eq!(d["conflicts"][0]["reason"], "subtree");
        assert_eq!(d["conflicts"][0]["key"], "s");
        let r = q(r#"SELECT nodesync.apply_patch('d', '{"base": 3, "ops": [{"op": "delete", "key": "s", "version": 1}]}')"#);
        assert_eq!(r["versions"], json!({"s": null, "s1": null, "s2": null}));
    }

    #[pg_test]
    fn try_apply_patch_returns_conflicts() {
        fixture("d");
        let r = q(r#"SELECT nodesync.try_apply_patch('d', '{"ops": [{"op": "update", "key": "a", "version": 9}]}')"#);
        assert_eq!(r, json!({"ok": false, "gen": 2, "conflicts": [{"op": 0, "key": "a", "reason": "version", "expected": 9, "actual": 1}]}));
        let r = q(r#"SELECT nodesync.try_apply_patch('d', '{"ops": [{"op": "update", "key": "a", "version": 1}]}')"#);
        assert_eq!(r, json!({"ok": true, "gen": 3, "versions": {"a": 2}, "duplicate": false}));
        assert_eq!(state(r#"SELECT nodesync.try_apply_patch('d', '{"ops": [{"op": "explode"}]}')"#), "22023");
    }

    #[pg_test]
    fn invalid_patches_are_22023_and_change_nothing() {
        fixture("d");
        for p in [
            "NULL", "'[]'", "'{}'", r#"'{"ops": {}}'"#, r#"'{"ops": [1]}'"#,
            r#"'{"ops": [{"op": "explode", "key": "a"}]}'"#,
            r#"'{"ops": [{"op": "update", "version": 1}]}'"#,
            r#"'{"ops": [{"op": "update", "key": "a", "version": "one"}]}'"#,
            r#"'{"ops": [{"op": "update", "key": "a", "version": 1, "props": [1]}]}'"#,
            r#"'{"ops": [{"op": "delete", "key": "root", "version": 1}]}'"#,
            r#"'{"ops": [{"op": "move", "key": "root", "version": 1, "parent": "a"}]}'"#,
            r#"'{"base": "x", "ops": []}'"#,
            r#"'{"base": 99, "ops": [{"op": "update", "key": "a", "version": 1}]}'"#,
            r#"'{"ops": [{"op": "update", "key": "a", "version": 1, "props": {"z": 1}}, {"op": "nope"}]}'"#,
        ] {
            assert_eq!(state(&format!("SELECT nodesync.apply_patch('d', {p})")), "22023", "{p}");
        }
        assert_eq!(state("SELECT nodesync.apply_patch(NULL, '{\"ops\": []}')"), "22023");
        assert_eq!(state("SELECT nodesync.apply_patch('nope', '{\"ops\": []}')"), "42704");
        assert_eq!(int("SELECT (nodesync.snapshot('d')->>'gen')::bigint"), 2);
        assert_eq!(q("SELECT props FROM nodesync.nodes('d') WHERE key = 'a'"), json!({"t": "a"}));
    }

    #[pg_test]
    fn limits_are_gucs() {
        fixture("d");
        Spi::run("SET LOCAL nodesync.max_ops_per_patch = 2").unwrap();
        let e = catch(r#"SELECT nodesync.apply_patch('d', '{"ops": [{"op": "update", "key": "a", "version": 1}, {"op": "update", "key": "b", "version": 1}, {"op": "update", "key": "s", "version": 1}]}')"#);
        assert_eq!(e["state"], "22023");
        assert!(e["message"].as_str().unwrap().contains("nodesync.max_ops_per_patch"), "{e}");
        // exactly at the limit is fine
        patch("d", json!([{"op": "update", "key": "a", "version": 1}, {"op": "update", "key": "b", "version": 1}]));
        // each edit of a text op counts as an op
        let e = catch(r#"SELECT nodesync.apply_patch('d', '{"ops": [{"op": "text", "key": "a", "version": 2, "prop": "t", "edits": [[0, 0, "x"], [0, 0, "y"], [0, 0, "z"]]}]}')"#);
        assert_eq!(e["state"], "22023", "{e}");
        assert!(e["message"].as_str().unwrap().contains("nodesync.max_ops_per_patch"), "{e}");
        patch("d", json!([{"op": "text", "key": "a", "version": 2, "prop": "t", "edits": [[0, 0, "x"], [0, 0, "y"]]}]));
        Spi::run("SET LOCAL nodesync.max_props_bytes = 20").unwrap();
        let e = catch(r#"SELECT nodesync.apply_patch('d', '{"ops": [{"op": "update", "key": "s", "version": 1, "props": {"text": "0123456789abcdef"}}]}')"#);
        assert_eq!(e["state"], "22023");
        assert!(e["message"].as_str().unwrap().contains("nodesync.max_props_bytes"), "{e}");
        // each delta is small, but the node's props would grow past the limit
        patch("d", json!([{"op": "update", "key": "s", "version": 1, "props": {"x": "0123456789"}}]));
        let e = catch(r#"SELECT nodesync.apply_patch('d', '{"ops": [{"op": "update", "key": "s", "version": 2, "props": {"y": "0123456789"}}]}')"#);
        assert_eq!(e["state"], "22023", "{e}");
        assert!(e["message"].as_str().unwrap().contains("nodesync.max_props_bytes"), "{e}");
    }

    #[pg_test]
    fn key_depth_and_node_limits() {
        Spi::run("SELECT nodesync.create_doc('d')").unwrap();
        Spi::run("SET LOCAL nodesync.max_key_bytes = 3").unwrap();
        patch("d", json!([{"op": "create", "key": "abc", "kind": "p", "parent": "root"}]));
        let e = catch(r#"SELECT nodesync.apply_patch('d', '{"ops": [{"op": "create", "key": "abcd", "kind": "p", "parent": "root"}]}')"#);
        assert_eq!(e["state"], "22023");
        assert!(e["message"].as_str().unwrap().contains("nodesync.max_key_bytes"), "{e}");
        Spi::run("SET LOCAL nodesync.max_depth = 2").unwrap();
        patch("d", json!([{"op": "create", "key": "b", "kind": "p", "parent": "abc"}]));
        let e = catch(r#"SELECT nodesync.apply_patch('d', '{"ops": [{"op": "create", "key": "c", "kind": "p", "parent": "b"}]}')"#);
        assert_eq!(e["state"], "22023");
        assert!(e["message"].as_str().unwrap().contains("nodesync.max_depth"), "{e}");
        // 3 live nodes now (root, abc, b): at the limit, then one past it
        Spi::run("SET LOCAL nodesync.max_nodes = 4").unwrap();
        patch("d", json!([{"op": "create", "key": "x", "kind": "p", "parent": "root"}]));
        let e = catch(r#"SELECT nodesync.apply_patch('d', '{"ops": [{"op": "create", "key": "y", "kind": "p", "parent": "root"}]}')"#);
        assert_eq!(e["state"], "22023");
        assert!(e["message"].as_str().unwrap().contains("nodesync.max_nodes"), "{e}");
        // deleting makes room again
        patch("d", json!([{"op": "delete", "key": "x", "version": 1}, {"op": "create", "key": "y", "kind": "p", "parent": "root"}]));
        assert_eq!(int("SELECT live_nodes FROM nodesync.documents WHERE doc = 'd'"), 4);
    }

    #[pg_test]
    fn props_size_is_one_measure_for_create_and_update() {
        Spi::run("SELECT nodesync.create_doc('d')").unwrap();
        // {"a": 1, "b": 2, "c": 3, "d": 4} is 32 bytes as jsonb text
        Spi::run("SET LOCAL nodesync.max_props_bytes = 32").unwrap();
        patch("d", json!([{"op": "create", "key": "n", "kind": "p", "parent": "root", "props": {"a": 1, "b": 2, "c": 3, "d": 4}}]));
        patch("d", json!([{"op": "update", "key": "n", "version": 1, "props": {"a": 1}}]));
        let e = catch(r#"SELECT nodesync.apply_patch('d', '{"ops": [{"op": "update", "key": "n", "version": 2, "props": {"e": 5}}]}')"#);
        assert_eq!(e["state"], "22023", "{e}");
        let e = catch(r#"SELECT nodesync.apply_patch('d', '{"ops": [{"op": "create", "key": "m", "kind": "p", "parent": "root", "props": {"a": 1, "b": 2, "c": 3, "d": 44}}]}')"#);
        assert_eq!(e["state"], "22023", "{e}");
        assert!(e["message"].as_str().unwrap().contains("nodesync.max_props_bytes"), "{e}");
        // removing keys is always possible
        patch("d", json!([{"op": "update", "key": "n", "version": 2, "props": {"a": null, "b": null}}]));
    }

    #[pg_test]
    fn props_are_stored_exactly() {
        Spi::run("SELECT nodesync.create_doc('d', 'doc', '{\"big\": 123456789012345678901234567890}')").unwrap();
        Spi::run(r#"SELECT nodesync.apply_patch('d', '{"ops": [{"op": "create", "key": "y", "kind": "p", "parent": "root",
            "props": {"v": 123456789012345678901234567890, "w": 0.1000000000000000055511151231257827, "x": 1e300, "s": "\u00e9\ud83d\ude42"}}]}')"#).unwrap();
        assert_eq!(Spi::get_one::<String>("SELECT props->>'v' FROM nodesync.nodes('d') WHERE key = 'y'").unwrap().unwrap(), "123456789012345678901234567890");
        assert_eq!(Spi::get_one::<String>("SELECT props->>'w' FROM nodesync.nodes('d') WHERE key = 'y'").unwrap().unwrap(), "0.1000000000000000055511151231257827");
        assert_eq!(Spi::get_one::<bool>("SELECT (props->>'x')::numeric = 1e300 FROM nodesync.nodes('d') WHERE key = 'y'").unwrap(), Some(true));
        // beyond a double's range, most JSON readers would fail on the whole document: refused
        assert_eq!(state(r#"SELECT nodesync.apply_patch('d', '{"ops": [{"op": "update", "key": "y", "version": 1, "props": {"x": 1e400}}]}')"#), "22023");
        assert_eq!(state(r#"SELECT nodesync.apply_patch('d', '{"ops": [{"op": "update", "key": "y", "version": 1, "props": {"x": {"deep": [-1e309]}}}]}')"#), "22023");
        assert_eq!(state(r#"SELECT nodesync.create_doc('e', 'doc', '{"x": 1e400}')"#), "22023");
        assert_eq!(Spi::get_one::<String>("SELECT props->>'s' FROM nodesync.nodes('d') WHERE key = 'y'").unwrap().unwrap(), "é🙂");
        assert_eq!(Spi::get_one::<String>("SELECT nodesync.snapshot('d')#>>'{root,props,big}'").unwrap().unwrap(), "123456789012345678901234567890");
        Spi::run(r#"SELECT nodesync.apply_patch('d', '{"ops": [{"op": "update", "key": "y", "version": 1, "props": {"v": 98765432109876543210.000000000001}}]}')"#).unwrap();
        assert_eq!(Spi::get_one::<String>("SELECT props->>'v' FROM nodesync.nodes('d') WHERE key = 'y'").unwrap().unwrap(), "98765432109876543210.000000000001");
    }

    #[pg_test]
    fn deep_json_is_a_clean_error() {
        fixture("d");
        let deep = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
        let ok = format!(r#"SELECT nodesync.apply_patch('d', '{{"ops": [{{"op": "update", "key": "a", "version": 1, "props": {{"v": {}}}}}]}}')"#, deep(100));
        Spi::run(&ok).unwrap();
        let too_deep = format!(r#"SELECT nodesync.apply_patch('d', '{{"ops": [{{"op": "update", "key": "a", "version": 2, "props": {{"v": {}}}}}]}}')"#, deep(300));
        let e = catch(&too_deep);
        assert_eq!(e["state"], "22023", "{e}");
        assert!(e["message"].as_str().unwrap().contains("at most 127"), "{e}");
        assert_eq!(state(&format!("SELECT nodesync.create_doc('e', 'doc', '{{\"v\": {}}}')", deep(300))), "22023");
        assert_eq!(int("SELECT version FROM nodesync.nodes('d') WHERE key = 'a'"), 2);
    }

    #[pg_test]
    fn max_nodes_never_blocks_deletes() {
        fixture("d");
        Spi::run("SET LOCAL nodesync.max_nodes = 2").unwrap();
        assert_eq!(state(r#"SELECT nodesync.apply_patch('d', '{"ops": [{"op": "create", "key": "n", "kind": "p", "parent": "root"}]}')"#), "22023");
        patch("d", json!([{"op": "delete", "key": "a", "version": 1}]));
        patch("d", json!([{"op": "update", "key": "b", "version": 1}]));
    }

    #[pg_test]
    fn conflicts_come_before_state_dependent_limits() {
        fixture("d");
        Spi::run("SET LOCAL nodesync.max_depth = 2").unwrap();
        // op 0 conflicts; op 1 would be too deep: try_apply_patch reports the conflict
        let r = q(r#"SELECT nodesync.try_apply_patch('d', '{"ops": [{"op": "update", "key": "a", "version": 5}, {"op": "create", "key": "deep", "kind": "p", "parent": "s1"}]}')"#);
        assert_eq!(r["ok"], false, "{r}");
        assert_eq!(r["conflicts"][0]["reason"], "version");
        assert_eq!(state(r#"SELECT nodesync.try_apply_patch('d', '{"ops": [{"op": "create", "key": "deep", "kind": "p", "parent": "s1"}]}')"#), "22023");
    }

    #[pg_test]
    fn argument_errors_name_the_document() {
        fixture("d");
        let e = catch(r#"SELECT nodesync.apply_patch('d', '{"ops": [{"op": "nope"}]}')"#);
        assert!(e["message"].as_str().unwrap().contains("document \"d\""), "{e}");
        let e = catch("SELECT nodesync.diff_since('d', 99)");
        assert!(e["message"].as_str().unwrap().contains("document \"d\""), "{e}");
        assert_eq!(state(r#"SELECT nodesync.apply_patch('d', '{"base": 99, "ops": []}')"#), "22023");
        assert_eq!(state(r#"SELECT nodesync.apply_patch('d', '{"base": 99, "ops": []}', 'c', 1)"#), "22023");
        assert_eq!(state("SELECT nodesync.create_doc('e', 'doc', NULL)"), "22023");
    }

    #[pg_test]
    fn node_pos_sorts_in_byte_order_in_any_locale() {
        fixture("d");
        assert_eq!(
            Spi::get_one::<String>("SELECT collname::text FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation WHERE a.attrelid = 'nodesync.node'::regclass AND a.attname = 'pos'").unwrap().unwrap(),
            "C"
        );
        patch("d", json!([{"op": "create", "key": "first", "kind": "p", "parent": "root", "after": null}]));
        let by_pos = q("SELECT jsonb_agg(key ORDER BY pos) FROM nodesync.nodes('d') WHERE parent = 'root'");
        assert_eq!(by_pos, json!(["first", "a", "b", "s"]));
    }

    #[pg_test]
    fn extension_tables_are_dumped() {
        let n = int("SELECT count(*) FROM pg_extension, unnest(extconfig) c WHERE extname = 'pg_nodesync'");
        assert_eq!(n, 5, "documents, its id sequence, tree, change, client_seq");
    }
}
