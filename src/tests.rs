//! `#[pg_test]`s: each SQL function, each conflict reason, each SQLSTATE. Each test runs in a
//! transaction that is rolled back; commit-time behaviour (NOTIFY, blocking) is tested with real
//! sessions in tests/.
use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use pgrx::prelude::*;
    use pgrx::JsonB;
    use serde_json::{json, Value};

    fn q(sql: &str) -> Value {
        Spi::get_one::<JsonB>(sql).expect("query failed").map(|j| j.0).unwrap_or(Value::Null)
    }

    fn int(sql: &str) -> i64 {
        Spi::get_one::<i64>(sql).expect("query failed").expect("NULL")
    }

    /// Runs `stmt`; returns {"state", "message", "detail"} of its error, or null if none.
    fn catch(stmt: &str) -> Value {
        Spi::run(
            r#"CREATE OR REPLACE FUNCTION pg_temp.catch(stmt text) RETURNS jsonb LANGUAGE plpgsql AS $f$
               DECLARE d text; s text; m text; h text;
               BEGIN
                 EXECUTE stmt;
                 RETURN NULL;
               EXCEPTION WHEN OTHERS THEN
                 GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL, s = RETURNED_SQLSTATE, m = MESSAGE_TEXT, h = PG_EXCEPTION_HINT;
                 RETURN jsonb_build_object('state', s, 'message', m, 'detail', d, 'hint', h);
               END $f$"#,
        )
        .expect("helper");
        Spi::get_one_with_args::<JsonB>("SELECT pg_temp.catch($1)", &[stmt.into()])
            .expect("catch failed")
            .map(|j| j.0)
            .unwrap_or(Value::Null)
    }

    fn state(stmt: &str) -> String {
        catch(stmt)["state"].as_str().unwrap_or("none").to_string()
    }

    fn conflict(stmt: &str) -> Value {
        let e = catch(stmt);
        assert_eq!(e["state"], "40001", "{e}");
        serde_json::from_str(e["detail"].as_str().expect("conflict DETAIL")).expect("DETAIL is JSON")
    }

    fn patch(doc: &str, ops: Value) -> Value {
        let sql = format!("SELECT nodesync.apply_patch('{doc}', $1)");
        Spi::get_one_with_args::<JsonB>(&sql, &[JsonB(json!({ "ops": ops })).into()])
            .expect("apply_patch failed")
            .expect("NULL")
            .0
    }

    fn kids(doc: &str, parent: &str) -> Vec<String> {
        let v = q(&format!(
            "SELECT coalesce(jsonb_agg(key ORDER BY pos COLLATE \"C\"), '[]') FROM nodesync.nodes('{doc}') WHERE parent = '{parent}'"
        ));
        v.as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_string()).collect()
    }

    /// root -> a, b, s -> (s1, s2)
    fn fixture(doc: &str) {
        Spi::run(&format!("SELECT nodesync.create_doc('{doc}')")).unwrap();
        patch(doc, json!([
            {"op": "create", "key": "a", "kind": "p", "parent": "root", "props": {"t": "a"}},
            {"op": "create", "key": "b", "kind": "p", "parent": "root"},
            {"op": "create", "key": "s", "kind": "sec", "parent": "root"},
            {"op": "create", "key": "s1", "kind": "p", "parent": "s"},
            {"op": "create", "key": "s2", "kind": "sec", "parent": "s"}
        ]));
    }

    // ---- create_doc / drop_doc -------------------------------------------------------------

    #[pg_test]
    fn create_doc_makes_a_root() {
        assert_eq!(int("SELECT nodesync.create_doc('d', 'board', '{\"title\": \"Game\"}')"), 1);
        let s = q("SELECT nodesync.snapshot('d')");
        assert_eq!(s["gen"], 1);
        assert_eq!(s["root"], json!({"key": "root", "kind": "board", "props": {"title": "Game"}, "version": 1, "gen": 1, "pos": null, "children": []}));
    }

    #[pg_test]
    fn create_doc_errors() {
        Spi::run("SELECT nodesync.create_doc('d')").unwrap();
        assert_eq!(state("SELECT nodesync.create_doc('d')"), "23505");
        assert_eq!(state("SELECT nodesync.create_doc('')"), "22023");
        assert_eq!(state("SELECT nodesync.create_doc(repeat('x', 201))"), "22023");
        assert_eq!(state("SELECT nodesync.create_doc(NULL)"), "22023");
        assert_eq!(state("SELECT nodesync.create_doc('e', 'doc', '[1]')"), "22023");
        assert_eq!(state("SELECT nodesync.create_doc('e', '')"), "22023");
        assert_eq!(int("SELECT nodesync.create_doc(repeat('x', 200))"), 1);
    }

    #[pg_test]
    fn drop_doc_checks_the_gen() {
        fixture("d");
        let e = catch("SELECT nodesync.drop_doc('d', 1)");
        assert_eq!(e["state"], "40001");
        assert!(e["message"].as_str().unwrap().contains("\"d\""), "{e}");
        Spi::run("SELECT nodesync.drop_doc('d', 2)").unwrap();
        assert_eq!(state("SELECT nodesync.snapshot('d')"), "42704");
        assert_eq!(int("SELECT count(*) FROM nodesync.tree t WHERE NOT EXISTS (SELECT 1 FROM nodesync.documents d WHERE d.id = t.doc_id)"), 0);
        assert_eq!(state("SELECT nodesync.drop_doc('d', NULL)"), "42704");
        assert_eq!(int("SELECT nodesync.create_doc('d')"), 1);
    }

    // ---- apply_patch ----------------------------------------------------------------------

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
        assert!(e["message"].as_str().unwrap().contains("128"), "{e}");
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
        assert_eq!(n, 6, "documents, its id sequence, tree, piece, change, client_seq");
    }

    // ---- permissions (docs/security.md) ----------------------------------------------------

    /// Two tenants: alice and bob see and write only their own documents, plus what an app
    /// table grants them, through RLS policies on nodesync.documents.
    fn two_tenants() {
        Spi::run("CREATE ROLE ns_alice; CREATE ROLE ns_bob").unwrap();
        Spi::run("CREATE TABLE public.ns_grants (doc text, role name, can_write boolean); GRANT SELECT ON public.ns_grants TO PUBLIC").unwrap();
        Spi::run("ALTER TABLE nodesync.documents ENABLE ROW LEVEL SECURITY").unwrap();
        Spi::run(
            "CREATE POLICY ns_read ON nodesync.documents FOR SELECT USING (created_by = current_user
               OR EXISTS (SELECT 1 FROM public.ns_grants g WHERE g.doc = documents.doc AND g.role = current_user))",
        )
        .unwrap();
        Spi::run(
            "CREATE POLICY ns_write ON nodesync.documents FOR UPDATE USING (created_by = current_user
               OR EXISTS (SELECT 1 FROM public.ns_grants g WHERE g.doc = documents.doc AND g.role = current_user AND g.can_write))",
        )
        .unwrap();
        Spi::run("SET ROLE ns_alice").unwrap();
        Spi::run("SELECT nodesync.create_doc('alice-doc')").unwrap();
        patch("alice-doc", json!([{"op": "create", "key": "secret", "kind": "p", "parent": "root", "props": {"pin": 1234}}]));
        Spi::run("RESET ROLE").unwrap();
    }

    #[pg_test]
    fn a_role_without_access_can_neither_read_nor_write() {
        two_tenants();
        Spi::run("SET ROLE ns_bob").unwrap();
        for stmt in [
            "SELECT nodesync.snapshot('alice-doc')",
            "SELECT nodesync.snapshot('alice-doc', 1)",
            "SELECT * FROM nodesync.nodes('alice-doc')",
            "SELECT nodesync.diff_since('alice-doc', 0)",
            "SELECT * FROM nodesync.changes_since('alice-doc', 0)",
            "SELECT * FROM nodesync.node_history('alice-doc', 'secret')",
            r#"SELECT nodesync.apply_patch('alice-doc', '{"ops": [{"op": "delete", "key": "secret", "version": 1}]}')"#,
            r#"SELECT nodesync.try_apply_patch('alice-doc', '{"ops": [{"op": "delete", "key": "secret", "version": 1}]}')"#,
            "SELECT nodesync.compact('alice-doc', 1)",
            "SELECT nodesync.drop_doc('alice-doc', NULL)",
        ] {
            assert_eq!(state(stmt), "42704", "{stmt}");
        }
        // plain SQL sees nothing of it either
        assert_eq!(int("SELECT count(*) FROM nodesync.tree"), 0);
        assert_eq!(int("SELECT count(*) FROM nodesync.piece"), 0);
        assert_eq!(int("SELECT count(*) FROM nodesync.change"), 0);
        assert_eq!(int("SELECT count(*) FROM nodesync.live_nodes"), 0);
        // and nobody writes the tables directly
        for stmt in [
            "UPDATE nodesync.documents SET gen = 99",
            "INSERT INTO nodesync.tree (doc_id, key, kind, version, gen) VALUES (1, 'x', 'p', 1, 1)",
            "DELETE FROM nodesync.change",
            "UPDATE nodesync.tree SET props = '{}'",
            "TRUNCATE nodesync.piece",
            "INSERT INTO nodesync.client_seq VALUES (1, 'c', 1)",
        ] {
            assert_eq!(state(stmt), "42501", "{stmt}");
        }
        // bob's own documents work as usual
        Spi::run("SELECT nodesync.create_doc('bob-doc')").unwrap();
        patch("bob-doc", json!([{"op": "create", "key": "n", "kind": "p", "parent": "root"}]));
        assert_eq!(int("SELECT count(*) FROM nodesync.nodes('bob-doc')"), 2);
        Spi::run("RESET ROLE").unwrap();
        assert_eq!(q("SELECT props FROM nodesync.nodes('alice-doc') WHERE key = 'secret'"), json!({"pin": 1234}));
        assert_eq!(int("SELECT gen FROM nodesync.documents WHERE doc = 'alice-doc'"), 2);
    }

    #[pg_test]
    fn read_access_without_write_access() {
        two_tenants();
        Spi::run("INSERT INTO public.ns_grants VALUES ('alice-doc', 'ns_bob', false)").unwrap();
        Spi::run("SET ROLE ns_bob").unwrap();
        assert_eq!(q("SELECT nodesync.snapshot('alice-doc')")["root"]["children"][0]["key"], "secret");
        assert_eq!(int("SELECT count(*) FROM nodesync.nodes('alice-doc')"), 2);
        assert_eq!(int("SELECT count(*) FROM nodesync.changes_since('alice-doc', 0)"), 1);
        assert_eq!(state(r#"SELECT nodesync.apply_patch('alice-doc', '{"ops": [{"op": "update", "key": "secret", "version": 1}]}')"#), "42704");
        Spi::run("RESET ROLE").unwrap();
        Spi::run("UPDATE public.ns_grants SET can_write = true").unwrap();
        Spi::run("SET ROLE ns_bob").unwrap();
        let r = q(r#"SELECT nodesync.apply_patch('alice-doc', '{"ops": [{"op": "update", "key": "secret", "version": 1, "props": {"pin": null}}]}')"#);
        assert_eq!(r["versions"], json!({"secret": 2}));
        // the writes happened as the extension's owner; the caller is back to itself
        assert_eq!(Spi::get_one::<String>("SELECT current_user::text").unwrap().unwrap(), "ns_bob");
        Spi::run("RESET ROLE").unwrap();
    }

    // ---- reads ---------------------------------------------------------------------------

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
        assert_eq!(int("SELECT count(*) FROM nodesync.piece p JOIN nodesync.documents d ON d.id = p.doc_id WHERE d.doc = 'd' AND p.gen < 2"), 0);
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
