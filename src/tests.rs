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
    /// `op` with the fields of `changes` set, or removed where the value is `"<absent>"`.
    fn with_fields(mut op: Value, changes: Value) -> Value {
        for (k, v) in changes.as_object().unwrap() {
            if v == &json!("<absent>") {
                op.as_object_mut().unwrap().remove(k);
            } else {
                op[k] = v.clone();
            }
        }
        op
    }

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
        // creating a document is an INSERT as the caller: RLS needs a policy for it
        Spi::run("CREATE POLICY ns_create ON nodesync.documents FOR INSERT WITH CHECK (created_by = current_user)").unwrap();
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
        assert_eq!(int("SELECT count(*) FROM nodesync.change"), 0);
        assert_eq!(int("SELECT count(*) FROM nodesync.live_nodes"), 0);
        // and nobody writes the tables directly
        for stmt in [
            "UPDATE nodesync.documents SET gen = 99",
            "INSERT INTO nodesync.tree (doc_id, key, kind, version, gen) VALUES (1, 'x', 'p', 1, 1)",
            "DELETE FROM nodesync.change",
            "UPDATE nodesync.tree SET props = '{}'",
            "TRUNCATE nodesync.change",
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

    // ---- text, split and join (docs/api/apply_patch.md, the text ops) ----------------------------------------------------

    /// `SELECT nodesync.apply_patch('doc', '{"ops": ops}')`, for `catch`, `state` and `conflict`.
    fn patch_sql(doc: &str, ops: Value) -> String {
        let p = json!({ "ops": ops }).to_string().replace('\'', "''");
        format!("SELECT nodesync.apply_patch('{doc}', '{p}')")
    }

    /// The same with try_apply_patch.
    fn try_patch(doc: &str, ops: Value) -> Value {
        let sql = format!("SELECT nodesync.try_apply_patch('{doc}', $1)");
        Spi::get_one_with_args::<JsonB>(&sql, &[JsonB(json!({ "ops": ops })).into()])
            .expect("try_apply_patch failed")
            .expect("NULL")
            .0
    }

    /// A live node's row as JSON without its pos; null if there is no such live node.
    fn node(doc: &str, key: &str) -> Value {
        q(&format!("SELECT (SELECT to_jsonb(n) - 'pos' FROM nodesync.nodes('{doc}') n WHERE key = '{key}')"))
    }

    fn text_of(doc: &str, key: &str) -> Value {
        node(doc, key)["props"]["text"].clone()
    }

    fn gen(doc: &str) -> i64 {
        int(&format!("SELECT gen FROM nodesync.documents WHERE doc = '{doc}'"))
    }

    /// Asserts that the patch is 22023 with a message naming op `op`; returns the message.
    fn invalid(doc: &str, ops: Value, op: usize) -> String {
        let e = catch(&patch_sql(doc, ops.clone()));
        assert_eq!(e["state"], "22023", "{ops}: {e}");
        let m = e["message"].as_str().expect("message").to_string();
        assert!(m.contains(&format!("op {op}:")), "the message names op {op}: {m}");
        m
    }

    fn text_op(key: &str, version: i64, prop: &str, edits: Value) -> Value {
        json!({"op": "text", "key": key, "version": version, "prop": prop, "edits": edits})
    }

    #[pg_test]
    fn text_splices_in_code_points() {
        Spi::run("SELECT nodesync.create_doc('d')").unwrap();
        patch("d", json!([{"op": "create", "key": "p", "kind": "paragraph", "parent": "root", "props": {"text": "hello world", "n": 1}}]));
        let r = patch("d", json!([text_op("p", 1, "text", json!([[5, 0, ","]]))]));
        assert_eq!(r, json!({"gen": 3, "versions": {"p": 2}, "duplicate": false}));
        assert_eq!(node("d", "p")["props"], json!({"text": "hello, world", "n": 1}), "other props untouched");
        patch("d", json!([text_op("p", 2, "text", json!([[7, 5, "there"]]))]));
        assert_eq!(text_of("d", "p"), "hello, there", "replace a range");
        patch("d", json!([text_op("p", 3, "text", json!([[0, 7, ""]]))]));
        assert_eq!(text_of("d", "p"), "there", "delete a range");
        // several edits apply in order, each to the result of the one before; one version
        let r = patch("d", json!([text_op("p", 4, "text", json!([[5, 0, "!"], [0, 0, "oh "], [3, 1, "T"]]))]));
        assert_eq!(r["versions"], json!({"p": 5}));
        assert_eq!(text_of("d", "p"), "oh There!");
        // the end of the text is its length: insert there, delete up to it
        patch("d", json!([text_op("p", 5, "text", json!([[9, 0, "?"]]))]));
        assert_eq!(text_of("d", "p"), "oh There!?");
        patch("d", json!([text_op("p", 6, "text", json!([[8, 2, ""]]))]));
        assert_eq!(text_of("d", "p"), "oh There");
        // code points: "é" is 2 bytes, "😀" 4 bytes and 2 UTF-16 units; each is one code point
        patch("d", json!([{"op": "create", "key": "u", "kind": "paragraph", "parent": "root", "props": {"text": "é😀x"}}]));
        patch("d", json!([text_op("u", 1, "text", json!([[2, 0, "-"]]))]));
        assert_eq!(text_of("d", "u"), "é😀-x");
        patch("d", json!([text_op("u", 2, "text", json!([[1, 1, "o"]]))]));
        assert_eq!(text_of("d", "u"), "éo-x", "deleting 1 removes the whole astral character");
        patch("d", json!([text_op("u", 3, "text", json!([[4, 0, "ß"], [0, 0, "😀😀"], [2, 0, "|"]]))]));
        assert_eq!(text_of("d", "u"), "😀😀|éo-xß");
        assert_eq!(int("SELECT length(props->>'text') FROM nodesync.nodes('d') WHERE key = 'u'"), 8, "offsets are what Postgres's length() counts");
        // a combining mark is a code point of its own: "e\u{301}" is two
        patch("d", json!([{"op": "create", "key": "c", "kind": "paragraph", "parent": "root", "props": {"text": "e\u{301}a"}}]));
        patch("d", json!([text_op("c", 1, "text", json!([[1, 1, ""]]))]));
        assert_eq!(text_of("d", "c"), "ea");
        patch("d", json!([text_op("c", 2, "text", json!([[1, 0, "\u{308}"], [3, 0, "\u{301}"]]))]));
        assert_eq!(text_of("d", "c"), "e\u{308}a\u{301}");
        assert_eq!(invalid("d", json!([text_op("c", 3, "text", json!([[5, 0, "x"]]))]), 0).contains("4 code points"), true);
    }

    #[pg_test]
    fn text_on_an_absent_prop_starts_from_the_empty_string() {
        fixture("d");
        let r = patch("d", json!([text_op("b", 1, "title", json!([[0, 0, "T"]]))]));
        assert_eq!(r["versions"], json!({"b": 2}));
        assert_eq!(node("d", "b")["props"], json!({"title": "T"}));
        patch("d", json!([text_op("b", 2, "title", json!([[0, 1, ""]]))]));
        assert_eq!(node("d", "b")["props"], json!({"title": ""}), "emptied, the prop stays present as \"\"");
        // an absent prop has length 0: only edits at 0 fit
        invalid("d", json!([text_op("b", 3, "other", json!([[1, 0, "x"]]))]), 0);
        // an edit that changes nothing is still a change of the node, like an update without props
        let r = patch("d", json!([text_op("b", 3, "other", json!([[0, 0, ""]]))]));
        assert_eq!(r["versions"], json!({"b": 4}));
        assert_eq!(node("d", "b")["props"], json!({"title": "", "other": ""}));
    }

    #[pg_test]
    fn text_and_update_mix_in_one_patch_in_op_order() {
        fixture("d");
        let r = patch("d", json!([
            {"op": "update", "key": "a", "version": 1, "props": {"t": "abc", "x": 1}},
            text_op("a", 1, "t", json!([[3, 0, "d"]])),
            {"op": "update", "key": "a", "version": 1, "props": {"x": null}},
            text_op("a", 1, "t", json!([[0, 1, "A"]]))
        ]));
        assert_eq!(r, json!({"gen": 3, "versions": {"a": 2}, "duplicate": false}), "one version for the node, one gen for the patch");
        assert_eq!(node("d", "a")["props"], json!({"t": "Abcd"}));
        assert_eq!(node("d", "a")["version"], 2);
        // a prop removed by an earlier update is absent, so "" for the text op
        patch("d", json!([{"op": "update", "key": "a", "version": 2, "props": {"t": null}}, text_op("a", 2, "t", json!([[0, 0, "new"]]))]));
        assert_eq!(node("d", "a")["props"], json!({"t": "new"}));
        // an update after the text op replaces its result
        patch("d", json!([text_op("a", 3, "t", json!([[3, 0, "er"]])), {"op": "update", "key": "a", "version": 3, "props": {"t": "old"}}]));
        assert_eq!(node("d", "a")["props"], json!({"t": "old"}));
        // the edit is checked against the value the earlier ops left
        invalid("d", json!([{"op": "update", "key": "a", "version": 4, "props": {"t": "ab"}}, text_op("a", 4, "t", json!([[3, 0, "x"]]))]), 1);
        // a node created in the same patch: no version check, and it stays at version 1
        let r = patch("d", json!([
            {"op": "create", "key": "n", "kind": "p", "parent": "root", "props": {"text": "ab"}},
            text_op("n", 7, "text", json!([[1, 0, "x"]])),
            text_op("n", 1, "text", json!([[3, 0, "!"]]))
        ]));
        assert_eq!(r["versions"], json!({"n": 1}));
        assert_eq!(node("d", "n")["props"], json!({"text": "axb!"}));
        assert_eq!(node("d", "n")["version"], 1);
    }

    #[pg_test]
    fn text_conflicts_version_and_missing() {
        fixture("d");
        patch("d", json!([text_op("a", 1, "t", json!([[1, 0, "b"]]))]));
        let stale = patch_sql("d", json!([text_op("a", 1, "t", json!([[0, 0, "x"]]))]));
        assert_eq!(conflict(&stale), json!({"gen": 3, "conflicts": [{"op": 0, "key": "a", "reason": "version", "expected": 1, "actual": 2}]}));
        let msg = catch(&stale)["message"].as_str().unwrap().to_string();
        assert!(msg.contains("\"d\"") && msg.contains("op 0") && msg.contains("\"a\""), "{msg}");
        let d = conflict(&patch_sql("d", json!([text_op("zz", 1, "t", json!([[0, 0, "x"]]))])));
        assert_eq!(d["conflicts"], json!([{"op": 0, "key": "zz", "reason": "missing"}]));
        patch("d", json!([{"op": "delete", "key": "b", "version": 1}]));
        let d = conflict(&patch_sql("d", json!([text_op("b", 1, "t", json!([[0, 0, "x"]]))])));
        assert_eq!(d["conflicts"], json!([{"op": 0, "key": "b", "reason": "missing"}]), "a deleted node is missing");
        // deleted earlier in the same patch
        let d = conflict(&patch_sql("d", json!([{"op": "delete", "key": "s1", "version": 1}, text_op("s1", 1, "t", json!([[0, 0, "x"]]))])));
        assert_eq!(d["conflicts"], json!([{"op": 1, "key": "s1", "reason": "missing"}]));
        assert_eq!(node("d", "a")["props"], json!({"t": "ab"}), "refused patches change nothing");
        assert_eq!(gen("d"), 4);
        // try_apply_patch returns the conflict
        let r = try_patch("d", json!([text_op("a", 1, "t", json!([[0, 0, "x"]]))]));
        assert_eq!(r, json!({"ok": false, "gen": 4, "conflicts": [{"op": 0, "key": "a", "reason": "version", "expected": 1, "actual": 2}]}));
    }

    #[pg_test]
    fn text_edits_that_do_not_fit_are_22023_and_change_nothing() {
        Spi::run("SELECT nodesync.create_doc('d')").unwrap();
        patch("d", json!([{"op": "create", "key": "p", "kind": "p", "parent": "root",
            "props": {"text": "hello", "n": 1, "b": true, "o": {"text": "x"}, "l": ["x"]}}]));
        let before = node("d", "p");
        let ops = |edits: Value| json!([text_op("p", 1, "text", edits)]);
        let m = invalid("d", ops(json!([[6, 0, "x"]])), 0);
        assert!(m.contains("edit 0") && m.contains("5 code points"), "{m}");
        invalid("d", ops(json!([[3, 3, ""]])), 0);
        let m = invalid("d", ops(json!([[0, 5, ""], [1, 0, "x"]])), 0);
        assert!(m.contains("edit 1") && m.contains("0 code points"), "the second edit applies to the result of the first: {m}");
        for bad in [
            json!([[-1, 0, "x"]]), json!([[0, -1, ""]]), json!([[1.5, 0, "x"]]), json!([[0, 0.5, ""]]), json!([["1", 0, "x"]]),
            json!([[0, 0, 5]]), json!([[0, 0, null]]), json!([[0, 0, ["x"]]]), json!([[0, 0]]), json!([[0, 0, "x", 1]]),
            json!([{"at": 0, "delete": 0, "insert": "x"}]), json!("x"), json!([]), json!([[0, 0, "x"], [0, 0]]),
        ] {
            invalid("d", ops(bad), 0);
        }
        assert!(invalid("d", ops(json!([])), 0).contains("empty"));
        invalid("d", json!([{"op": "text", "key": "p", "version": 1, "prop": "text"}]), 0);
        // prop: missing, empty, over 200 bytes (100 "é" are 200 bytes: fine; 101 are not)
        invalid("d", json!([{"op": "text", "key": "p", "version": 1, "edits": [[0, 0, "x"]]}]), 0);
        invalid("d", json!([text_op("p", 1, "", json!([[0, 0, "x"]]))]), 0);
        invalid("d", json!([text_op("p", 1, &"x".repeat(201), json!([[0, 0, "x"]]))]), 0);
        invalid("d", json!([text_op("p", 1, &"é".repeat(101), json!([[0, 0, "x"]]))]), 0);
        invalid("d", json!([{"op": "text", "key": "p", "version": 1, "prop": 5, "edits": [[0, 0, "x"]]}]), 0);
        // the property holds something else than a string
        for (prop, what) in [("n", "a number"), ("b", "a boolean"), ("o", "an object"), ("l", "an array")] {
            let m = invalid("d", json!([text_op("p", 1, prop, json!([[0, 0, "x"]]))]), 0);
            assert!(m.contains(what), "{m}");
        }
        // the message names the op index
        invalid("d", json!([{"op": "update", "key": "p", "version": 1}, text_op("p", 1, "text", json!([[9, 0, ""]]))]), 1);
        invalid("d", json!([{"op": "text", "key": "p", "version": 1, "prop": "text", "edits": [[0, 0, "x"]], "at": 1}]), 0);
        // nothing changed and no gen was taken
        assert_eq!(node("d", "p"), before);
        assert_eq!(gen("d"), 2);
        assert_eq!(int("SELECT count(*) FROM nodesync.changes_since('d', 0)"), 1);
        // the bounds themselves are fine
        let r = patch("d", json!([text_op("p", 1, &"é".repeat(100), json!([[0, 0, "x"]])), text_op("p", 1, "text", json!([[0, 5, "bye"]]))]));
        assert_eq!(r["versions"], json!({"p": 2}));
        assert_eq!(text_of("d", "p"), "bye");
    }

    #[pg_test]
    fn text_results_count_against_max_props_bytes() {
        Spi::run("SELECT nodesync.create_doc('d')").unwrap();
        // {"text": "0123456789"} is 22 bytes as jsonb text
        patch("d", json!([
            {"op": "create", "key": "p", "kind": "p", "parent": "root", "props": {"text": "0123456789"}},
            {"op": "create", "key": "q", "kind": "p", "parent": "root", "props": {"text": "abc"}}
        ]));
        Spi::run("SET LOCAL nodesync.max_props_bytes = 24").unwrap();
        // the op itself is tiny; the node's props after it are what counts
        patch("d", json!([text_op("p", 1, "text", json!([[10, 0, "ab"]]))]));
        assert_eq!(int("SELECT octet_length(props::text) FROM nodesync.nodes('d') WHERE key = 'p'"), 24, "exactly at the limit");
        let e = catch(&patch_sql("d", json!([text_op("p", 2, "text", json!([[12, 0, "c"]]))])));
        assert_eq!(e["state"], "22023", "{e}");
        let m = e["message"].as_str().unwrap();
        assert!(m.contains("nodesync.max_props_bytes") && m.contains("\"p\""), "{m}");
        assert_eq!(text_of("d", "p"), "0123456789ab");
        assert_eq!(gen("d"), 3);
        // a join's concatenation counts the same way
        let e = catch(&patch_sql("d", json!([{"op": "join", "key": "p", "version": 2, "next": "q", "next_version": 1, "prop": "text"}])));
        assert_eq!(e["state"], "22023", "{e}");
        assert!(e["message"].as_str().unwrap().contains("nodesync.max_props_bytes"), "{e}");
        // and a split that adds an absent prop to both halves
        patch("d", json!([{"op": "create", "key": "r", "kind": "p", "parent": "root", "props": {"x": "0123456789abc"}}]));
        let e = catch(&patch_sql("d", json!([{"op": "split", "key": "r", "version": 1, "prop": "text", "at": 0, "new": "r2"}])));
        assert_eq!(e["state"], "22023", "{e}");
        assert!(e["message"].as_str().unwrap().contains("nodesync.max_props_bytes"), "{e}");
        assert_eq!(node("d", "r2"), Value::Null);
        // shrinking always works
        patch("d", json!([text_op("p", 2, "text", json!([[0, 12, ""]]))]));
        assert_eq!(text_of("d", "p"), "");
    }

    #[pg_test]
    fn text_is_logged_as_sent_and_history_keeps_values() {
        Spi::run("SELECT nodesync.create_doc('d')").unwrap();
        patch("d", json!([{"op": "create", "key": "p", "kind": "p", "parent": "root", "props": {"text": "hello"}}]));
        let op = text_op("p", 1, "text", json!([[5, 0, " world"], [0, 1, "H"]]));
        patch("d", json!([op.clone()]));
        patch("d", json!([text_op("p", 2, "text", json!([[11, 0, "!"]]))]));
        assert_eq!(q("SELECT patch FROM nodesync.changes_since('d', 2) WHERE gen = 3"), json!({"ops": [op]}), "the log keeps the op, not the value");
        assert_eq!(q("SELECT jsonb_agg(state->'props'->'text' ORDER BY version) FROM nodesync.node_history('d', 'p')"),
            json!(["hello", "Hello world", "Hello world!"]), "history keeps full values");
        assert_eq!(q("SELECT nodesync.snapshot('d', 3)#>'{root,children,0,props,text}'"), json!("Hello world"));
        assert_eq!(q("SELECT nodesync.snapshot('d')#>'{root,children,0,props,text}'"), json!("Hello world!"));
        let d = q("SELECT nodesync.diff_since('d', 3)");
        assert_eq!(d["nodes"].as_array().unwrap().len(), 1);
        assert_eq!(d["nodes"][0]["props"], json!({"text": "Hello world!"}));
        assert_eq!(d["nodes"][0]["version"], 3);
    }

    #[pg_test]
    fn text_after_a_conflicting_op_reports_the_conflict() {
        fixture("d");
        patch("d", json!([{"op": "update", "key": "a", "version": 1, "props": {"n": 1}}]));
        let stale_b = json!({"op": "update", "key": "b", "version": 9});
        let b_conflict = json!([{"op": 0, "key": "b", "reason": "version", "expected": 9, "actual": 1}]);
        // alone, each of these is 22023 ...
        let state_dependent = [
            text_op("a", 2, "t", json!([[5, 0, "x"]])),
            text_op("a", 2, "n", json!([[0, 0, "x"]])),
            json!({"op": "split", "key": "a", "version": 2, "prop": "t", "at": 9, "new": "z"}),
            json!({"op": "split", "key": "a", "version": 2, "prop": "n", "at": 0, "new": "z"}),
            json!({"op": "join", "key": "a", "version": 2, "next": "b", "next_version": 1, "prop": "n"}),
        ];
        for op in &state_dependent {
            assert_eq!(state(&patch_sql("d", json!([op]))), "22023", "{op}");
            // ... after a conflicting op, the conflict is reported: after the rebase the edit
            // may well fit
            let d = conflict(&patch_sql("d", json!([stale_b, op])));
            assert_eq!(d["conflicts"], b_conflict, "{op}");
            let r = try_patch("d", json!([stale_b, op]));
            assert_eq!(r, json!({"ok": false, "gen": 3, "conflicts": b_conflict}), "{op}");
            // ... and before one too: the op has no effect, evaluation goes on, and the
            // conflict after it is reported
            let d = conflict(&patch_sql("d", json!([op, stale_b])));
            assert_eq!(d["conflicts"].as_array().map(Vec::len), Some(1), "{op}: {d}");
            assert_eq!((d["conflicts"][0]["op"].as_i64(), d["conflicts"][0]["reason"].as_str()), (Some(1), Some("version")), "{op}: {d}");
        }
        // a create that conflicts (the key exists) has no effect: the text op after it edits the
        // existing node, whose text is shorter; the conflict is what the writer needs to know
        let d = conflict(&patch_sql("d", json!([
            {"op": "create", "key": "a", "kind": "p", "parent": "root", "props": {"t": "a longer text"}},
            text_op("a", 2, "t", json!([[13, 0, "!"]]))
        ])));
        assert_eq!(d["conflicts"], json!([{"op": 0, "key": "a", "reason": "exists"}]));
        // shape errors do not depend on the state: 22023 even after a conflict
        assert_eq!(state(&patch_sql("d", json!([stale_b, text_op("a", 2, "t", json!([]))]))), "22023");
        assert_eq!(state(&patch_sql("d", json!([stale_b, {"op": "split", "key": "a", "version": 2, "prop": "t", "at": 0, "new": "a"}]))), "22023");
        assert_eq!(node("d", "a")["props"], json!({"t": "a", "n": 1}));
        assert_eq!(gen("d"), 3);
    }

    #[pg_test]
    fn split_keeps_the_head_and_creates_the_tail_right_after() {
        Spi::run("SELECT nodesync.create_doc('d')").unwrap();
        patch("d", json!([
            {"op": "create", "key": "p1", "kind": "para", "parent": "root", "props": {"text": "hello world", "b": true}},
            {"op": "create", "key": "p2", "kind": "para", "parent": "root", "props": {"text": "second"}},
            {"op": "create", "key": "c1", "kind": "span", "parent": "p1"}
        ]));
        let r = patch("d", json!([{"op": "split", "key": "p1", "version": 1, "prop": "text", "at": 5, "new": "p1b"}]));
        assert_eq!(r, json!({"gen": 3, "versions": {"p1": 2, "p1b": 1}, "duplicate": false}));
        assert_eq!(node("d", "p1"), json!({"key": "p1", "parent": "root", "kind": "para", "props": {"text": "hello", "b": true}, "version": 2, "gen": 3}));
        assert_eq!(node("d", "p1b"), json!({"key": "p1b", "parent": "root", "kind": "para", "props": {"text": " world", "b": true}, "version": 1, "gen": 3}));
        assert_eq!(kids("d", "root"), ["p1", "p1b", "p2"], "the new node comes right after the split one");
        assert_eq!(kids("d", "p1"), ["c1"], "children stay with key");
        assert!(kids("d", "p1b").is_empty());
        assert_eq!(node("d", "c1")["version"], 1, "and do not change");
        // at 0: the head is empty; at the end: the tail is
        patch("d", json!([{"op": "split", "key": "p1b", "version": 1, "prop": "text", "at": 0, "new": "p1c"}]));
        assert_eq!((text_of("d", "p1b"), text_of("d", "p1c")), (json!(""), json!(" world")));
        patch("d", json!([{"op": "split", "key": "p2", "version": 1, "prop": "text", "at": 6, "new": "p2b"}]));
        assert_eq!((text_of("d", "p2"), text_of("d", "p2b")), (json!("second"), json!("")));
        assert_eq!(kids("d", "root"), ["p1", "p1b", "p1c", "p2", "p2b"]);
        // an absent prop is "": both halves get it
        patch("d", json!([{"op": "create", "key": "q", "kind": "para", "parent": "root"}]));
        patch("d", json!([{"op": "split", "key": "q", "version": 1, "prop": "text", "at": 0, "new": "qb"}]));
        assert_eq!((node("d", "q")["props"].clone(), node("d", "qb")["props"].clone()), (json!({"text": ""}), json!({"text": ""})));
        // code points
        patch("d", json!([{"op": "create", "key": "u", "kind": "para", "parent": "root", "props": {"text": "é😀e\u{301}"}}]));
        patch("d", json!([{"op": "split", "key": "u", "version": 1, "prop": "text", "at": 2, "new": "ub"}]));
        assert_eq!((text_of("d", "u"), text_of("d", "ub")), (json!("é😀"), json!("e\u{301}")));
        patch("d", json!([{"op": "split", "key": "ub", "version": 1, "prop": "text", "at": 1, "new": "uc"}]));
        assert_eq!((text_of("d", "ub"), text_of("d", "uc")), (json!("e"), json!("\u{301}")), "a split may separate a combining mark");
        // the log keeps the split as sent
        assert_eq!(q("SELECT patch->'ops'->0 FROM nodesync.changes_since('d', 2) WHERE gen = 3"),
            json!({"op": "split", "key": "p1", "version": 1, "prop": "text", "at": 5, "new": "p1b"}));
        assert_eq!(q("SELECT nodesync.snapshot('d', 2)#>'{root,children,0,props,text}'"), json!("hello world"), "time travel sees the block before its split");
    }

    #[pg_test]
    fn split_copies_the_kind_as_it_is_at_that_point_of_the_patch() {
        Spi::run("SELECT nodesync.create_doc('d')").unwrap();
        patch("d", json!([{"op": "create", "key": "a", "kind": "p", "parent": "root", "props": {"text": "abc", "n": 1}}]));
        patch("d", json!([
            {"op": "update", "key": "a", "version": 1, "kind": "heading", "props": {"level": 2, "n": null}},
            {"op": "split", "key": "a", "version": 1, "prop": "text", "at": 1, "new": "a2"},
            {"op": "update", "key": "a", "version": 1, "kind": "quote"}
        ]));
        assert_eq!(node("d", "a")["kind"], "quote");
        assert_eq!(node("d", "a2")["kind"], "heading");
        assert_eq!(node("d", "a2")["props"], json!({"text": "bc", "level": 2}), "props as they are at that point too");
    }

    #[pg_test]
    fn split_conflicts() {
        Spi::run("SELECT nodesync.create_doc('d')").unwrap();
        patch("d", json!([
            {"op": "create", "key": "p", "kind": "p", "parent": "root", "props": {"text": "abc"}},
            {"op": "create", "key": "q", "kind": "p", "parent": "root"},
            {"op": "create", "key": "gone", "kind": "p", "parent": "root"}
        ]));
        patch("d", json!([{"op": "delete", "key": "gone", "version": 1}]));
        let split = |version: i64, at: i64, new: &str| json!({"op": "split", "key": "p", "version": version, "prop": "text", "at": at, "new": new});
        let d = conflict(&patch_sql("d", json!([split(1, 1, "q")])));
        assert_eq!(d, json!({"gen": 3, "conflicts": [{"op": 0, "key": "q", "reason": "exists"}]}), "exists names the new key");
        let d = conflict(&patch_sql("d", json!([split(1, 1, "gone")])));
        assert_eq!(d["conflicts"], json!([{"op": 0, "key": "gone", "reason": "exists"}]), "keys are never reused");
        let d = conflict(&patch_sql("d", json!([{"op": "create", "key": "n", "kind": "p", "parent": "root"}, split(1, 1, "n")])));
        assert_eq!(d["conflicts"], json!([{"op": 1, "key": "n", "reason": "exists"}]));
        let d = conflict(&patch_sql("d", json!([split(1, 1, "root")])));
        assert_eq!(d["conflicts"][0]["reason"], "exists");
        let d = conflict(&patch_sql("d", json!([{"op": "split", "key": "zz", "version": 1, "prop": "text", "at": 0, "new": "z"}])));
        assert_eq!(d["conflicts"], json!([{"op": 0, "key": "zz", "reason": "missing"}]));
        patch("d", json!([text_op("p", 1, "text", json!([[3, 0, "d"]]))]));
        let d = conflict(&patch_sql("d", json!([split(1, 1, "z")])));
        assert_eq!(d["conflicts"], json!([{"op": 0, "key": "p", "reason": "version", "expected": 1, "actual": 2}]));
        // checked in order: the version, then the offset, then that new is fresh
        assert_eq!(conflict(&patch_sql("d", json!([split(1, 99, "q")])))["conflicts"][0]["reason"], "version");
        assert_eq!(state(&patch_sql("d", json!([split(2, 99, "q")]))), "22023");
        assert_eq!(conflict(&patch_sql("d", json!([split(2, 4, "q")])))["conflicts"][0]["reason"], "exists");
        // two splits in one patch: the second new node lands between key and the first
        let r = patch("d", json!([split(2, 3, "p3"), split(2, 1, "p2")]));
        assert_eq!(r["versions"], json!({"p": 3, "p2": 1, "p3": 1}));
        assert_eq!(kids("d", "root"), ["p", "p2", "p3", "q"]);
        assert_eq!((text_of("d", "p"), text_of("d", "p2"), text_of("d", "p3")), (json!("a"), json!("bc"), json!("d")));
        assert_eq!(node("d", "z"), Value::Null, "refused splits created nothing");
    }

    #[pg_test]
    fn split_invalid_is_22023_and_changes_nothing() {
        Spi::run("SELECT nodesync.create_doc('d')").unwrap();
        patch("d", json!([{"op": "create", "key": "p", "kind": "p", "parent": "root", "props": {"text": "abc", "n": 1}}]));
        let before = node("d", "p");
        let split = |f: Value| json!([with_fields(json!({"op": "split", "key": "p", "version": 1, "prop": "text", "at": 1, "new": "z"}), f)]);
        assert!(invalid("d", split(json!({"at": 4})), 0).contains("3 code points"));
        for bad in [
            json!({"at": -1}), json!({"at": 1.5}), json!({"at": "1"}), json!({"at": null}), json!({"at": "<absent>"}),
            json!({"key": "root"}), json!({"new": "p"}), json!({"new": ""}), json!({"new": 5}), json!({"new": "<absent>"}),
            json!({"new": "n".repeat(201)}), json!({"prop": "<absent>"}), json!({"prop": ""}), json!({"prop": "x".repeat(201)}),
            json!({"version": "<absent>"}), json!({"version": 0}), json!({"after": "p"}),
        ] {
            invalid("d", split(bad), 0);
        }
        assert!(invalid("d", split(json!({"prop": "n"})), 0).contains("a number"));
        assert!(invalid("d", split(json!({"key": "root"})), 0).contains("root"));
        // new is a created key: nodesync.max_key_bytes applies
        Spi::run("SET LOCAL nodesync.max_key_bytes = 3").unwrap();
        let e = catch(&patch_sql("d", split(json!({"new": "abcd"}))));
        assert_eq!(e["state"], "22023");
        assert!(e["message"].as_str().unwrap().contains("nodesync.max_key_bytes"), "{e}");
        assert_eq!(node("d", "p"), before);
        assert_eq!(gen("d"), 2);
        assert_eq!(int("SELECT count(*) FROM nodesync.nodes('d')"), 2);
        patch("d", split(json!({"new": "abc"})));
        assert_eq!(text_of("d", "abc"), "bc");
    }

    #[pg_test]
    fn later_ops_of_the_patch_use_the_new_node() {
        Spi::run("SELECT nodesync.create_doc('d')").unwrap();
        patch("d", json!([{"op": "create", "key": "p", "kind": "p", "parent": "root", "props": {"text": "second"}}]));
        let r = patch("d", json!([
            {"op": "split", "key": "p", "version": 1, "prop": "text", "at": 3, "new": "px"},
            text_op("px", 1, "text", json!([[0, 0, "X"]])),
            {"op": "update", "key": "px", "version": 5, "props": {"style": "quote"}},
            {"op": "create", "key": "c", "kind": "span", "parent": "px"},
            text_op("p", 1, "text", json!([[3, 0, "!"]]))
        ]));
        assert_eq!(r["versions"], json!({"p": 2, "px": 1, "c": 1}));
        assert_eq!(node("d", "px")["props"], json!({"text": "Xond", "style": "quote"}));
        assert_eq!(node("d", "px")["version"], 1);
        assert_eq!(text_of("d", "p"), "sec!", "a text op after the split edits the head");
        assert_eq!(kids("d", "px"), ["c"]);
        // the head is shorter after the split: an edit past its end is 22023
        invalid("d", json!([{"op": "split", "key": "p", "version": 2, "prop": "text", "at": 1, "new": "py"}, text_op("p", 2, "text", json!([[2, 0, "x"]]))]), 1);
        // split, then move and delete the new node in the same patch
        let r = patch("d", json!([
            {"op": "split", "key": "p", "version": 2, "prop": "text", "at": 1, "new": "pz"},
            {"op": "move", "key": "pz", "version": 1, "parent": "root", "after": null},
            {"op": "split", "key": "p", "version": 2, "prop": "text", "at": 0, "new": "pw"},
            {"op": "delete", "key": "pw", "version": 1}
        ]));
        assert_eq!(r["versions"], json!({"p": 3, "pz": 1, "pw": null}));
        assert_eq!(kids("d", "root"), ["pz", "p", "px"]);
        assert_eq!((text_of("d", "pz"), text_of("d", "p")), (json!("ec!"), json!("")));
        assert_eq!(conflict(&patch_sql("d", json!([{"op": "create", "key": "pw", "kind": "p", "parent": "root"}])))["conflicts"][0]["reason"], "exists");
    }

    #[pg_test]
    fn join_concatenates_and_deletes_next() {
        Spi::run("SELECT nodesync.create_doc('d')").unwrap();
        patch("d", json!([
            {"op": "create", "key": "p1", "kind": "para", "parent": "root", "props": {"text": "hello", "b": true}},
            {"op": "create", "key": "p2", "kind": "quote", "parent": "root", "props": {"text": " wörld 😀", "x": 1}},
            {"op": "create", "key": "p3", "kind": "para", "parent": "root", "props": {"text": "!"}}
        ]));
        let r = patch("d", json!([{"op": "join", "key": "p1", "version": 1, "next": "p2", "next_version": 1, "prop": "text"}]));
        assert_eq!(r, json!({"gen": 3, "versions": {"p1": 2, "p2": null}, "duplicate": false}));
        assert_eq!(node("d", "p1"), json!({"key": "p1", "parent": "root", "kind": "para", "props": {"text": "hello wörld 😀", "b": true}, "version": 2, "gen": 3}),
            "key keeps its kind and props; next's other props are dropped");
        assert_eq!(node("d", "p2"), Value::Null);
        assert_eq!(kids("d", "root"), ["p1", "p3"]);
        assert_eq!(q("SELECT nodesync.diff_since('d', 2)->'deleted'"), json!(["p2"]));
        assert_eq!(q("SELECT jsonb_agg(jsonb_build_array(version, gen, state IS NULL) ORDER BY version) FROM nodesync.node_history('d', 'p2')"),
            json!([[1, 2, false], [2, 3, true]]));
        // next's key is never reusable
        for ops in [
            json!([{"op": "create", "key": "p2", "kind": "para", "parent": "root"}]),
            json!([{"op": "split", "key": "p1", "version": 2, "prop": "text", "at": 0, "new": "p2"}]),
        ] {
            assert_eq!(conflict(&patch_sql("d", ops.clone()))["conflicts"][0]["reason"], "exists", "{ops}");
        }
        // absent props are ""
        patch("d", json!([
            {"op": "create", "key": "e1", "kind": "para", "parent": "root"},
            {"op": "create", "key": "e2", "kind": "para", "parent": "root", "props": {"text": "tail"}},
            {"op": "create", "key": "e3", "kind": "para", "parent": "root"}
        ]));
        patch("d", json!([{"op": "join", "key": "e1", "version": 1, "next": "e2", "next_version": 1, "prop": "text"}]));
        assert_eq!(node("d", "e1")["props"], json!({"text": "tail"}));
        patch("d", json!([{"op": "join", "key": "p3", "version": 1, "next": "e1", "next_version": 2, "prop": "other"}]));
        assert_eq!(node("d", "p3")["props"], json!({"text": "!", "other": ""}));
        assert_eq!(q("SELECT patch->'ops'->0 FROM nodesync.changes_since('d', 2) WHERE gen = 3"),
            json!({"op": "join", "key": "p1", "version": 1, "next": "p2", "next_version": 1, "prop": "text"}), "the log keeps the join as sent");
    }

    #[pg_test]
    fn join_moves_the_children_of_next_after_those_of_key() {
        Spi::run("SELECT nodesync.create_doc('d')").unwrap();
        patch("d", json!([
            {"op": "create", "key": "L1", "kind": "item", "parent": "root", "props": {"text": "a"}},
            {"op": "create", "key": "L2", "kind": "item", "parent": "root", "props": {"text": "b"}},
            {"op": "create", "key": "c1", "kind": "p", "parent": "L1"},
            {"op": "create", "key": "c2", "kind": "p", "parent": "L1"},
            {"op": "create", "key": "c3", "kind": "p", "parent": "L2"},
            {"op": "create", "key": "c4", "kind": "p", "parent": "L2"},
            {"op": "create", "key": "g1", "kind": "p", "parent": "c3"}
        ]));
        let r = patch("d", json!([{"op": "join", "key": "L1", "version": 1, "next": "L2", "next_version": 1, "prop": "text"}]));
        assert_eq!(r["versions"], json!({"L1": 2, "L2": null, "c3": 2, "c4": 2}), "each moved child gains a version; key's own do not");
        assert_eq!(kids("d", "L1"), ["c1", "c2", "c3", "c4"]);
        assert_eq!(node("d", "c1")["version"], 1);
        assert_eq!(node("d", "c3")["parent"], "L1");
        assert_eq!((node("d", "g1")["parent"].clone(), node("d", "g1")["version"].clone()), (json!("c3"), json!(1)), "grandchildren stay where they are");
        assert_eq!(text_of("d", "L1"), "ab");
        assert_eq!(q("SELECT jsonb_agg(state->>'parent' ORDER BY version) FROM nodesync.node_history('d', 'c3')"), json!(["L2", "L1"]));
        // children added to either node earlier in the same patch keep the order too
        patch("d", json!([
            {"op": "create", "key": "M1", "kind": "item", "parent": "root", "props": {"text": "m"}},
            {"op": "create", "key": "M2", "kind": "item", "parent": "root", "props": {"text": "n"}},
            {"op": "create", "key": "x1", "kind": "p", "parent": "M2"}
        ]));
        let r = patch("d", json!([
            {"op": "create", "key": "x0", "kind": "p", "parent": "M2", "after": null},
            {"op": "create", "key": "k1", "kind": "p", "parent": "M1"},
            {"op": "join", "key": "M1", "version": 1, "next": "M2", "next_version": 1, "prop": "text"}
        ]));
        assert_eq!(r["versions"], json!({"M1": 2, "M2": null, "x0": 1, "x1": 2, "k1": 1}));
        assert_eq!(kids("d", "M1"), ["k1", "x0", "x1"]);
    }

    #[pg_test]
    fn join_conflicts() {
        fixture("d"); // root -> a, b, s -> (s1, s2)
        patch("d", json!([{"op": "create", "key": "c", "kind": "p", "parent": "root", "props": {"t": "c"}}]));
        let join = |key: &str, version: i64, next: &str, next_version: i64| {
            patch_sql("d", json!([{"op": "join", "key": key, "version": version, "next": next, "next_version": next_version, "prop": "t"}]))
        };
        let d = conflict(&join("a", 1, "s", 1));
        assert_eq!(d, json!({"gen": 3, "conflicts": [{"op": 0, "key": "s", "reason": "anchor"}]}), "not the next sibling: anchor, naming next");
        assert_eq!(conflict(&join("b", 1, "a", 1))["conflicts"], json!([{"op": 0, "key": "a", "reason": "anchor"}]), "the previous sibling");
        assert_eq!(conflict(&join("s", 1, "s1", 1))["conflicts"], json!([{"op": 0, "key": "s1", "reason": "anchor"}]), "a child");
        assert_eq!(conflict(&join("s1", 1, "b", 1))["conflicts"], json!([{"op": 0, "key": "b", "reason": "anchor"}]), "another parent");
        assert_eq!(conflict(&join("a", 1, "zz", 1))["conflicts"], json!([{"op": 0, "key": "zz", "reason": "missing"}]));
        patch("d", json!([{"op": "update", "key": "b", "version": 1, "props": {"t": "b"}}]));
        assert_eq!(conflict(&join("a", 1, "b", 1))["conflicts"], json!([{"op": 0, "key": "b", "reason": "version", "expected": 1, "actual": 2}]),
            "a stale next_version names next");
        assert_eq!(conflict(&join("a", 3, "b", 2))["conflicts"], json!([{"op": 0, "key": "a", "reason": "version", "expected": 3, "actual": 1}]));
        assert_eq!(conflict(&join("zz", 1, "b", 2))["conflicts"], json!([{"op": 0, "key": "zz", "reason": "missing"}]));
        // checked in order: key, then next (missing, version), then adjacency
        assert_eq!(conflict(&join("a", 3, "zz", 1))["conflicts"][0]["key"], "a");
        assert_eq!(conflict(&join("a", 1, "c", 9))["conflicts"][0]["reason"], "version", "next's version before adjacency");
        // adjacency as the patch sees it: a node created between them...
        let d = conflict(&patch_sql("d", json!([
            {"op": "create", "key": "n", "kind": "p", "parent": "root", "after": "a"},
            {"op": "join", "key": "a", "version": 1, "next": "b", "next_version": 2, "prop": "t"}
        ])));
        assert_eq!(d["conflicts"], json!([{"op": 1, "key": "b", "reason": "anchor"}]));
        // ... or one moved away first
        let r = patch("d", json!([
            {"op": "move", "key": "s", "version": 1, "parent": "b"},
            {"op": "join", "key": "b", "version": 2, "next": "c", "next_version": 1, "prop": "t"}
        ]));
        assert_eq!(r["versions"], json!({"b": 3, "c": null, "s": 2}));
        assert_eq!(node("d", "b")["props"], json!({"t": "bc"}));
        assert_eq!(kids("d", "root"), ["a", "b"]);
        // a deleted next is missing
        assert_eq!(conflict(&join("b", 3, "c", 1))["conflicts"], json!([{"op": 0, "key": "c", "reason": "missing"}]));
    }

    #[pg_test]
    fn join_invalid_is_22023_and_changes_nothing() {
        Spi::run("SELECT nodesync.create_doc('d')").unwrap();
        patch("d", json!([
            {"op": "create", "key": "a", "kind": "p", "parent": "root", "props": {"text": "x", "n": 1, "k": "s"}},
            {"op": "create", "key": "b", "kind": "p", "parent": "root", "props": {"text": "y", "n": "s", "k": [1]}}
        ]));
        let snapshot = q("SELECT nodesync.snapshot('d')");
        let join = |f: Value| json!([with_fields(json!({"op": "join", "key": "a", "version": 1, "next": "b", "next_version": 1, "prop": "text"}), f)]);
        assert!(invalid("d", join(json!({"next": "a"})), 0).contains("itself"));
        assert!(invalid("d", join(json!({"key": "root"})), 0).contains("root"));
        assert!(invalid("d", join(json!({"next": "root"})), 0).contains("root"));
        assert!(invalid("d", join(json!({"prop": "n"})), 0).contains("a number"), "a non-string on key");
        let m = invalid("d", join(json!({"prop": "k"})), 0);
        assert!(m.contains("an array") && m.contains("\"b\""), "a non-string on next: {m}");
        for bad in [
            json!({"next_version": "<absent>"}), json!({"next_version": 0}), json!({"next_version": 1.5}), json!({"next": "<absent>"}),
            json!({"next": ""}), json!({"next": 7}), json!({"prop": "<absent>"}), json!({"prop": ""}), json!({"prop": "x".repeat(201)}),
            json!({"version": "<absent>"}), json!({"at": 0}),
        ] {
            invalid("d", join(bad), 0);
        }
        assert_eq!(q("SELECT nodesync.snapshot('d')"), snapshot);
        assert_eq!(gen("d"), 2);
    }

    #[pg_test]
    fn join_of_nodes_created_in_the_same_patch() {
        Spi::run("SELECT nodesync.create_doc('d')").unwrap();
        let r = patch("d", json!([
            {"op": "create", "key": "n1", "kind": "para", "parent": "root", "props": {"text": "ab"}},
            {"op": "create", "key": "n2", "kind": "para", "parent": "root", "after": "n1", "props": {"text": "cd"}},
            {"op": "create", "key": "n3", "kind": "span", "parent": "n2"},
            {"op": "join", "key": "n1", "version": 1, "next": "n2", "next_version": 5, "prop": "text"}
        ]));
        assert_eq!(r["versions"], json!({"n1": 1, "n2": null, "n3": 1}));
        assert_eq!(node("d", "n1")["props"], json!({"text": "abcd"}));
        assert_eq!(kids("d", "n1"), ["n3"]);
        assert_eq!(kids("d", "root"), ["n1"]);
        assert_eq!(conflict(&patch_sql("d", json!([{"op": "create", "key": "n2", "kind": "p", "parent": "root"}])))["conflicts"][0]["reason"], "exists",
            "a key created and joined away in one patch stays reserved");
        // split and join back in one patch: the text is as before, and the split-off key is used up
        let r = patch("d", json!([
            {"op": "split", "key": "n1", "version": 1, "prop": "text", "at": 1, "new": "tmp"},
            {"op": "join", "key": "n1", "version": 1, "next": "tmp", "next_version": 1, "prop": "text"}
        ]));
        assert_eq!(r["versions"], json!({"n1": 2, "tmp": null}));
        assert_eq!(text_of("d", "n1"), "abcd");
        assert_eq!(kids("d", "root"), ["n1"]);
        assert_eq!(conflict(&patch_sql("d", json!([{"op": "create", "key": "tmp", "kind": "p", "parent": "root"}])))["conflicts"][0]["reason"], "exists");
    }
}
