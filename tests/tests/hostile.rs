//! Malformed and hostile input through a real session: every refusal is a clean error with the
//! SQLSTATE of docs/api/README.md, "Errors" (never an internal error), the session stays usable and nothing
//! is written.

use pg_nodesync_tests::*;
use postgres::Client;
use serde_json::json;

/// Applies `patch` (JSON text, cast to jsonb by the server); returns the SQLSTATE or "ok".
fn outcome(c: &mut Client, doc: &str, patch_text: &str) -> String {
    match c.query_one("SELECT nodesync.apply_patch($1, $2::text::jsonb)", &[&doc, &patch_text]) {
        Ok(_) => "ok".into(),
        Err(e) => {
            let e = db_err(e);
            assert!(
                !e.detail.as_deref().unwrap_or("").contains("panic"),
                "patch {patch_text}: a Rust panic leaked into DETAIL: {e:?}"
            );
            e.code
        }
    }
}

#[test]
fn malformed_patches_are_22023_and_write_nothing() {
    let mut c = connect();
    let doc = new_doc(&mut c, "hostile");
    apply_ok(&mut c, &doc, &json!({"ops": [{"op": "create", "key": "a", "kind": "p", "parent": "root"}]}));
    let before = snapshot(&mut c, &doc, None).unwrap();
    let long = "k".repeat(10_000);
    let cases: Vec<String> = vec![
        "null".into(),
        "1".into(),
        "\"text\"".into(),
        "[]".into(),
        "{}".into(),
        r#"{"ops": null}"#.into(),
        r#"{"ops": "create"}"#.into(),
        r#"{"ops": [null]}"#.into(),
        r#"{"ops": [[]]}"#.into(),
        r#"{"ops": [{"op": null}]}"#.into(),
        r#"{"ops": [{"op": "CREATE", "key": "x", "kind": "p", "parent": "root"}]}"#.into(),
        r#"{"ops": [{"op": "create", "key": null, "kind": "p", "parent": "root"}]}"#.into(),
        r#"{"ops": [{"op": "create", "key": ["x"], "kind": "p", "parent": "root"}]}"#.into(),
        r#"{"ops": [{"op": "create", "key": "x", "kind": {}, "parent": "root"}]}"#.into(),
        r#"{"ops": [{"op": "create", "key": "x", "kind": "p", "parent": null}]}"#.into(),
        r#"{"ops": [{"op": "create", "key": "x", "kind": "p", "parent": "root", "props": null}]}"#.into(),
        r#"{"ops": [{"op": "update", "key": "a", "version": 0, "props": {}}]}"#.into(),
        r#"{"ops": [{"op": "update", "key": "a", "version": -1, "props": {}}]}"#.into(),
        r#"{"ops": [{"op": "update", "key": "a", "version": null, "props": {}}]}"#.into(),
        r#"{"ops": [{"op": "update", "key": "a", "version": 1.0, "props": {}}]}"#.into(),
        r#"{"ops": [{"op": "update", "key": "a", "version": 1, "kind": ""}]}"#.into(),
        r#"{"ops": [{"op": "move", "key": "a", "version": 1, "parent": "root", "after": "a"}]}"#.into(),
        r#"{"ops": [{"op": "delete", "key": "a"}]}"#.into(),
        r#"{"ops": [{"op": "delete", "key": "root", "version": 1}]}"#.into(),
        r#"{"base": 1.5, "ops": []}"#.into(),
        r#"{"base": null, "ops": [{"op": "delete", "key": "a", "version": 1}], "x": 1}"#.into(),
        format!(r#"{{"ops": [{{"op": "create", "key": "{long}", "kind": "p", "parent": "root"}}]}}"#),
        format!(r#"{{"ops": [{{"op": "update", "key": "a", "version": 1, "props": {{"{long}": 1}}, "kind": "{long}"}}]}}"#),
        // a valid first op does not make an invalid patch partly applied
        r#"{"ops": [{"op": "update", "key": "a", "version": 1, "props": {"x": 1}}, {"op": "bogus"}]}"#.into(),
    ];
    for p in &cases {
        let got = outcome(&mut c, &doc, p);
        assert_eq!(got, "22023", "patch {}", &p[..p.len().min(200)]);
    }
    // nesting inside props is just data
    let deep = format!("{}1{}", "[".repeat(100), "]".repeat(100));
    let p = format!(r#"{{"ops": [{{"op": "create", "key": "deep", "kind": "p", "parent": "root", "props": {{"v": {deep}}}}}]}}"#);
    assert_eq!(outcome(&mut c, &doc, &p), "ok");
    let r: i32 = c.query_one("SELECT 1", &[]).unwrap().get(0);
    assert_eq!(r, 1, "the session is still usable");
    let mut after = snapshot(&mut c, &doc, None).unwrap();
    assert_eq!(after["gen"], json!(3));
    // everything but the one valid patch left no trace
    let kids = after["root"]["children"].as_array_mut().unwrap();
    kids.retain(|k| k["key"] != json!("deep"));
    after["gen"] = json!(2);
    assert_eq!(after, before);
}

#[test]
fn random_mutations_of_valid_patches_never_fail_internally() {
    let mut c = connect();
    let doc = new_doc(&mut c, "mutations");
    apply_ok(&mut c, &doc, &json!({"ops": [
        {"op": "create", "key": "a", "kind": "p", "parent": "root"},
        {"op": "create", "key": "b", "kind": "p", "parent": "a"}]}));
    let base = json!({"base": 2, "ops": [
        {"op": "create", "key": "n", "kind": "p", "parent": "root", "after": "a", "props": {"t": "x"}},
        {"op": "update", "key": "a", "version": 1, "kind": "h", "props": {"t": null}},
        {"op": "move", "key": "b", "version": 1, "parent": "root", "after": null},
        {"op": "delete", "key": "a", "version": 1}]});
    let junk = [json!(null), json!(0), json!(-7), json!(1.5), json!(""), json!("root"), json!("a"), json!([]), json!({}), json!(true), json!(i64::MAX)];
    let mut rng = Rng(20240611);
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    for i in 0..400 {
        let mut p = base.clone();
        for _ in 0..1 + rng.below(3) {
            let ops = p["ops"].as_array_mut().unwrap();
            let at = rng.below(ops.len() as u32) as usize;
            let op = ops[at].as_object_mut().unwrap();
            let fields: Vec<String> = op.keys().cloned().collect();
            let f = fields[rng.below(fields.len() as u32) as usize].clone();
            match rng.below(3) {
                0 => {
                    op.remove(&f);
                }
                _ => {
                    op.insert(f, junk[rng.below(junk.len() as u32) as usize].clone());
                }
            }
        }
        let gen_before = gen(&mut c, &doc);
        c.batch_execute("BEGIN").unwrap();
        let got = outcome(&mut c, &doc, &p.to_string());
        *seen.entry(got.clone()).or_default() += 1;
        assert!(["ok", "22023", "40001"].contains(&got.as_str()), "mutation {i}: {p} gave SQLSTATE {got}");
        c.batch_execute("ROLLBACK").unwrap();
        assert_eq!(gen(&mut c, &doc), gen_before);
    }
    println!("mutated patches: {seen:?}");
    assert!(seen.get("22023").copied().unwrap_or(0) > 50, "the mutations should mostly be invalid: {seen:?}");
}

/// Regression test (bug found by this suite, fixed in 8cddcca): valid jsonb that serde_json
/// cannot represent -- numbers outside the f64 range, or nesting deeper than 128 levels -- made
/// the extension's jsonb -> serde_json argument conversion panic: SQLSTATE XX000 with a Rust
/// backtrace in DETAIL, instead of 22023 (or accepting them).
///   SELECT nodesync.create_doc('n');
///   SELECT nodesync.apply_patch('n', '{"ops": [{"op": "create", "key": "x", "kind": "p", "parent": "root", "props": {"v": 1e400}}]}');
///   -- ERROR XX000: a text version of jsonb must be a valid json: Error("number out of range" ...)
///   SELECT nodesync.apply_patch('n', format('{"ops": [{"op": "create", "key": "x", "kind": "p", "parent": "root", "props": {"v": %s1%s}}]}', repeat('[', 200), repeat(']', 200))::jsonb);
///   -- ERROR XX000: ... Error("recursion limit exceeded" ...)
#[test]
fn unrepresentable_json_is_refused_cleanly() {
    let mut c = connect();
    let doc = new_doc(&mut c, "bignum");
    let got = outcome(&mut c, &doc, r#"{"ops": [{"op": "create", "key": "x", "kind": "p", "parent": "root", "props": {"v": 1e400}}]}"#);
    assert!(got == "22023" || got == "ok", "got SQLSTATE {got}");
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    let got = outcome(&mut c, &doc, &format!(r#"{{"ops": [{{"op": "create", "key": "y", "kind": "p", "parent": "root", "props": {{"v": {deep}}}}}]}}"#));
    assert!(got == "22023" || got == "ok", "got SQLSTATE {got}");
    let e = c.query_one("SELECT nodesync.create_doc('bignum-root-' || pg_backend_pid(), 'doc', '{\"v\": 1e400}')", &[]);
    if let Err(e) = e {
        assert_eq!(db_err(e).code, "22023");
    }
}

/// Regression test (bug found by this suite, fixed in 8cddcca): props went through f64, so
/// numbers beyond 2^64 / 17 significant digits were silently changed:
///   SELECT nodesync.apply_patch('n', '{"ops": [{"op": "create", "key": "y", "kind": "p", "parent": "root", "props": {"v": 123456789012345678901234567890}}]}');
///   SELECT props FROM nodesync.nodes('n') WHERE key = 'y';   -- {"v": 123456789012345680000000000000}
#[test]
fn numeric_props_are_kept_exactly() {
    let mut c = connect();
    let doc = new_doc(&mut c, "precision");
    let v = "123456789012345678901234567890";
    let p = format!(r#"{{"ops": [{{"op": "create", "key": "y", "kind": "p", "parent": "root", "props": {{"v": {v}, "w": 0.1000000000000000055511151231257827}}}}]}}"#);
    assert_eq!(outcome(&mut c, &doc, &p), "ok");
    let got: String = c.query_one("SELECT props->>'v' FROM nodesync.nodes($1) WHERE key = 'y'", &[&doc]).unwrap().get(0);
    assert_eq!(got, v);
    // and the same through the JSON read functions
    let got: String = c
        .query_one("SELECT jsonb_path_query_first(nodesync.snapshot($1), '$.root.children[0].props.v')::text", &[&doc])
        .unwrap()
        .get(0);
    assert_eq!(got, v, "snapshot");
    let got: String = c.query_one("SELECT (nodesync.diff_since($1, 1)->'nodes'->0->'props'->'v')::text", &[&doc]).unwrap().get(0);
    assert_eq!(got, v, "diff_since");
    // an update keeps the other numbers exact too
    let p = r#"{"ops": [{"op": "update", "key": "y", "version": 1, "props": {"z": 1}}]}"#;
    assert_eq!(outcome(&mut c, &doc, p), "ok");
    let got: String = c.query_one("SELECT props->>'v' FROM nodesync.nodes($1) WHERE key = 'y'", &[&doc]).unwrap().get(0);
    assert_eq!(got, v, "after an update of another property");
}

/// A text op of many edits on a long text is work a caller can ask the server to stop: the
/// statement timeout cancels it between two edits, nothing is written, the document's lock is
/// released and the session stays usable.
#[test]
fn a_long_text_op_is_cancelled_by_the_statement_timeout() {
    let mut c = connect();
    let doc = new_doc(&mut c, "longtext");
    c.execute(
        "SELECT nodesync.apply_patch($1, jsonb_build_object('ops', jsonb_build_array(jsonb_build_object('op', 'create', 'key', 'p', 'kind', 'p', 'parent', 'root', 'props', jsonb_build_object('text', repeat('é', 400000))))))",
        &[&doc],
    )
    .unwrap();
    c.batch_execute("SET statement_timeout = '300ms'").unwrap();
    // 10,000 edits near the end of a 400,000-character text (each finds its offset from the start;
    // non-ASCII, so without the ASCII shortcut)
    let r = c.execute(
        "SELECT nodesync.apply_patch($1, jsonb_build_object('ops', jsonb_build_array(jsonb_build_object('op', 'text', 'key', 'p', 'version', 1, 'prop', 'text', 'edits', (SELECT jsonb_agg(jsonb_build_array(399990, 0, 'x')) FROM generate_series(1, 10000))))))",
        &[&doc],
    );
    let e = db_err(r.expect_err("the text op ran to the end within 300 ms"));
    assert_eq!(e.code, "57014", "{e:?}");
    c.batch_execute("RESET statement_timeout").unwrap();
    let len: i32 = c.query_one("SELECT length(props->>'text') FROM nodesync.nodes($1) WHERE key = 'p'", &[&doc]).unwrap().get(0);
    assert_eq!(len, 400_000, "nothing was written");
    // the lock went with the statement: another session writes at once
    let mut other = connect();
    apply_ok(&mut other, &doc, &json!({"ops": [{"op": "text", "key": "p", "version": 1, "prop": "text", "edits": [[0, 1, "b"]]}]}));
}
