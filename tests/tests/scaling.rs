//! The precondition for distributing pg_nodesync by document (issue 9, part 4; docs/scaling.md),
//! checked on one machine:
//!
//! 1. every statement the extension runs — each kept statement of `src/*.rs` and each query of
//!    the SQL/PL/pgSQL functions, on the write and the read paths, as a superuser and as an
//!    ordinary role under the RLS policies — touches each of its tables for **one document**
//!    only: every scan of a `nodesync` table is restricted by its document column (`doc_id`,
//!    or `id`/`doc` of `documents`) to a parameter, or joined on it to another restricted
//!    scan, every INSERT writes one document's key, and all of a statement's restrictions name
//!    the same document. The plans are the real ones, logged by auto_explain while a workload
//!    runs every function; the test fails if a kept statement of the source never ran.
//! 2. every table's primary key (and every other index) leads with the document column.
//!
//! With `doc_id` replaced by `doc` (the layout of docs/scaling.md) that is what Citus needs for
//! every statement to be a single-shard router query and every constraint to include the
//! distribution column.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use pg_nodesync_tests::*;
use postgres::{Client, NoTls};
use serde_json::{json, Value};

const TABLES: [&str; 4] = ["documents", "tree", "change", "client_seq"];

/// The document column(s) of a table: what a statement must restrict it by.
fn doc_columns(table: &str) -> &'static [&'static str] {
    if table == "documents" { &["id", "doc"] } else { &["doc_id"] }
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The SQL text of every kept statement in src/*.rs (`Stmt { sql: "...", .. }`), whitespace
/// squashed, with the file it is in.
fn kept_statements() -> BTreeMap<String, String> {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../src");
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(&src).expect("src/") {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".rs") || name == "tests.rs" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let mut rest = text.as_str();
        while let Some(i) = rest.find("sql: \"") {
            rest = &rest[i + 6..];
            let mut lit = String::new();
            let mut chars = rest.char_indices();
            let end = loop {
                match chars.next() {
                    Some((j, '"')) => break j,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, 'n')) => lit.push('\n'),
                        Some((_, c)) => lit.push(c),
                        None => panic!("unterminated string in {name}"),
                    },
                    Some((_, c)) => lit.push(c),
                    None => panic!("unterminated string in {name}"),
                }
            };
            rest = &rest[end + 1..];
            out.insert(squash(&lit), name.clone());
        }
    }
    assert!(out.len() >= 25, "found only {} kept statements in src/: is the Stmt syntax still `sql: \"...\"`?", out.len());
    out
}

/// A session whose every statement, nested ones included, sends its plan as a NOTICE.
fn explaining(db: &str, plans: Arc<Mutex<Vec<Value>>>) -> Client {
    let mut cfg = postgres::Config::from_str(&conninfo(db)).unwrap();
    cfg.notice_callback(move |n| {
        let m = n.message();
        if let Some(i) = m.find('{') {
            if let Ok(v) = serde_json::from_str::<Value>(&m[i..]) {
                plans.lock().unwrap().push(v);
            }
        }
    });
    let mut c = cfg.connect(NoTls).expect("connect");
    c.batch_execute(
        "LOAD 'auto_explain';
         SET auto_explain.log_min_duration = 0;
         SET auto_explain.log_nested_statements = on;
         SET auto_explain.log_format = json;
         SET auto_explain.log_verbose = on;
         SET auto_explain.log_level = notice;
         SET client_min_messages = notice;
         SET jit = on;
         SET jit_above_cost = 0;",
    )
    .expect("auto_explain (postgresql-15 contrib)");
    c
}

fn patch(c: &mut Client, doc: &str, p: Value, client: Option<&str>, seq: Option<i64>) -> Value {
    c.query_one("SELECT nodesync.apply_patch($1, $2, $3, $4)", &[&doc, &p, &client, &seq])
        .unwrap_or_else(|e| panic!("patch {p} on {doc}: {e}"))
        .get(0)
}

/// Every function, every op and every path through them: creates first/last/after, moves,
/// updates, text/split/join, deletes of subtrees, conflicts (try_apply_patch), duplicates of
/// live and compacted seqs, reads now/at a gen/below the horizon, compaction, wait_gen, drop.
fn workload(c: &mut Client, doc: &str) {
    c.query_one("SELECT nodesync.create_doc($1, 'doc', '{\"t\": 1}')", &[&doc]).expect("create_doc");
    patch(c, doc, json!({"ops": [
        {"op": "create", "key": "a", "kind": "p", "parent": "root", "props": {"text": "alpha"}},
        {"op": "create", "key": "b", "kind": "p", "parent": "root"},
        {"op": "create", "key": "c", "kind": "p", "parent": "root", "after": null},
        {"op": "create", "key": "d", "kind": "p", "parent": "root", "after": "a"},
        {"op": "create", "key": "s", "kind": "list", "parent": "b"},
        {"op": "create", "key": "s1", "kind": "item", "parent": "s"}]}), Some("w"), Some(1));
    patch(c, doc, json!({"ops": [{"op": "update", "key": "a", "version": 1, "props": {"x": 1}, "kind": "q"}]}), Some("w"), Some(2));
    patch(c, doc, json!({"ops": [{"op": "move", "key": "s", "version": 1, "parent": "root", "after": "c"}]}), Some("w"), Some(3));
    patch(c, doc, json!({"ops": [{"op": "move", "key": "c", "version": 1, "parent": "s", "after": "s1"}]}), None, None);
    patch(c, doc, json!({"ops": [{"op": "text", "key": "a", "version": 2, "prop": "text", "edits": [[0, 1, "A"]]}]}), None, None);
    // the same kind of commit through the SQL statement (nodesync.direct_commit off; on, it is
    // written without the executor: src/direct.rs)
    c.batch_execute("SET nodesync.direct_commit = off").unwrap();
    patch(c, doc, json!({"ops": [{"op": "update", "key": "d", "version": 1, "props": {"z": 1}}]}), None, None);
    c.batch_execute("RESET nodesync.direct_commit").unwrap();
    patch(c, doc, json!({"ops": [{"op": "split", "key": "a", "version": 3, "prop": "text", "at": 2, "new": "a2"}]}), None, None);
    patch(c, doc, json!({"ops": [{"op": "join", "key": "a", "version": 4, "next": "a2", "next_version": 1, "prop": "text"}]}), None, None);
    // a text op on a node an earlier op of the patch changed: its props are read on their own
    patch(c, doc, json!({"ops": [
        {"op": "update", "key": "a", "version": 5, "props": {"y": 2}},
        {"op": "text", "key": "a", "version": 5, "prop": "text", "edits": [[0, 0, "!"]]}]}), None, None);
    // appending after a last child that the same patch deletes: the siblings before it are paged
    patch(c, doc, json!({"ops": [{"op": "create", "key": "e", "kind": "p", "parent": "root"}]}), None, None);
    patch(c, doc, json!({"ops": [
        {"op": "delete", "key": "e", "version": 1},
        {"op": "create", "key": "f", "kind": "p", "parent": "root"}]}), None, None);
    patch(c, doc, json!({"base": 5, "ops": [{"op": "delete", "key": "b", "version": 1}]}), Some("w"), Some(4));
    patch(c, doc, json!({"ops": [{"op": "update", "key": "a", "version": 1}]}), Some("w"), Some(2)); // duplicate
    patch(c, doc, json!({"ops": []}), None, None);
    let r: Value = c
        .query_one("SELECT nodesync.try_apply_patch($1, '{\"ops\": [{\"op\": \"update\", \"key\": \"a\", \"version\": 1}]}')", &[&doc])
        .unwrap()
        .get(0);
    assert_eq!(r["ok"], json!(false));
    for sql in [
        "SELECT nodesync.snapshot($1)::text",
        "SELECT nodesync.snapshot($1, 3)::text",
        "SELECT nodesync.diff_since($1, 2)::text",
        "SELECT nodesync.diff_since($1, 0)::text",
        "SELECT count(*)::text FROM nodesync.nodes($1)",
        "SELECT count(*)::text FROM nodesync.changes_since($1, 1)",
        "SELECT count(*)::text FROM nodesync.node_history($1, 'a')",
        "SELECT count(*)::text FROM nodesync.live_nodes WHERE doc = $1",
        "SELECT nodesync.wait_gen($1, 1, 0)::text",
        "SELECT nodesync.compact($1, 5)::text",
        "SELECT nodesync.diff_since($1, 1)::text", // below the horizon: a reset
    ] {
        c.query_one(sql, &[&doc]).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    patch(c, doc, json!({"ops": [{"op": "update", "key": "d", "version": 1}]}), Some("w"), Some(3)); // a compacted seq
    c.query_one("SELECT nodesync.drop_doc($1, NULL)", &[&doc]).expect("drop_doc");
}

/// Every node of a plan tree, each with the output of the hashed SubPlan it is part of, if
/// any: a hashed SubPlan (an EXISTS or IN that the planner evaluates by hashing its whole
/// result once) is joined to the outer query on the columns of that output.
fn nodes<'a>(n: &'a Value, hashed: &str, ctx: Option<&'a Value>, out: &mut Vec<(&'a Value, Option<&'a Value>)>) {
    let ctx = match (n["Parent Relationship"].as_str(), n["Subplan Name"].as_str()) {
        (Some("SubPlan"), Some(name)) if hashed.contains(&format!("hashed {name})")) => Some(&n["Output"]),
        _ => ctx,
    };
    out.push((n, ctx));
    for c in n["Plans"].as_array().into_iter().flatten() {
        nodes(c, hashed, ctx, out);
    }
}

const CONDS: [&str; 4] = ["Index Cond", "Recheck Cond", "Filter", "TID Cond"];
const JOIN_CONDS: [&str; 3] = ["Hash Cond", "Merge Cond", "Join Filter"];

/// The conditions of a scan node, and of the bitmap index scans under it.
fn scan_conds(n: &Value) -> Vec<String> {
    let mut out: Vec<String> = CONDS.iter().filter_map(|k| n[*k].as_str().map(str::to_string)).collect();
    for c in n["Plans"].as_array().into_iter().flatten() {
        if c["Node Type"].as_str().is_some_and(|t| t.starts_with("Bitmap") || t == "BitmapAnd" || t == "BitmapOr") {
            out.extend(scan_conds(c));
        }
    }
    out
}

fn is_value(x: &str) -> bool {
    x.starts_with('$') || x.starts_with('\'')
}

/// The top-level conjuncts of a condition: `((a = 1) AND (b > 2))` -> `a = 1`, `b > 2`.
fn conjuncts(cond: &str) -> Vec<String> {
    fn strip(s: &str) -> &str {
        let mut s = s.trim();
        while s.starts_with('(') && s.ends_with(')') {
            // only if the outer parens match each other
            let mut depth = 0;
            let mut whole = true;
            for (i, ch) in s.char_indices() {
                match ch {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 && i != s.len() - 1 {
                            whole = false;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            if !whole {
                break;
            }
            s = s[1..s.len() - 1].trim();
        }
        s
    }
    let s = strip(cond);
    let mut out = vec![];
    let (mut depth, mut start, mut in_quote) = (0i32, 0usize, false);
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => in_quote = !in_quote,
            b'(' if !in_quote => depth += 1,
            b')' if !in_quote => depth -= 1,
            b' ' if !in_quote && depth == 0 && s[i..].starts_with(" AND ") => {
                out.push(strip(&s[start..i]).to_string());
                start = i + 5;
                i += 4;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(strip(&s[start..]).to_string());
    out
}

/// The `other` of every top-level conjunct `alias.col = other` (or `other = alias.col`).
fn equated(cond: &str, alias: &str, col: &str) -> Vec<String> {
    let me = format!("{alias}.{col}");
    let mut out = vec![];
    for c in conjuncts(cond) {
        if let Some((l, r)) = c.split_once(" = ") {
            let (l, r) = (l.trim(), r.trim());
            if r.contains(' ') || l.contains(' ') {
                continue;
            }
            if l == me {
                out.push(r.to_string());
            } else if r == me {
                out.push(l.to_string());
            }
        }
    }
    out
}

/// Checks one plan; returns its query text and the problems found.
fn check_plan(plan: &Value) -> (String, Vec<String>) {
    let query = squash(plan["Query Text"].as_str().unwrap_or_default());
    let mut all = vec![];
    let text = plan["Plan"].to_string();
    nodes(&plan["Plan"], &text, None, &mut all);
    let mut problems = vec![];
    // alias -> table, for every nodesync relation the statement touches
    let mut aliases: BTreeMap<String, String> = BTreeMap::new();
    for (n, _) in &all {
        if let (Some(rel), Some("nodesync")) = (n["Relation Name"].as_str(), n["Schema"].as_str()) {
            if TABLES.contains(&rel) {
                aliases.insert(n["Alias"].as_str().unwrap_or(rel).to_string(), rel.to_string());
            }
        }
    }
    let doc_ref = |x: &str| -> bool {
        x.split_once('.').is_some_and(|(a, c)| aliases.get(a).is_some_and(|t| doc_columns(t).contains(&c)))
    };
    let join_conds: Vec<String> = all.iter().flat_map(|(n, _)| JOIN_CONDS.iter().filter_map(|k| n[*k].as_str().map(str::to_string))).collect();
    let mut values: BTreeSet<String> = BTreeSet::new();
    for (n, hashed_output) in &all {
        let (Some(rel), Some("nodesync")) = (n["Relation Name"].as_str(), n["Schema"].as_str()) else { continue };
        if !TABLES.contains(&rel) {
            continue;
        }
        let alias = n["Alias"].as_str().unwrap_or(rel);
        let ty = n["Node Type"].as_str().unwrap_or_default();
        if ty == "ModifyTable" {
            if n["Operation"] == "Insert" {
                // the source's value for the document column (columns in table order)
                let src = n["Plans"].as_array().and_then(|ps| ps.iter().find(|p| p["Parent Relationship"] != "InitPlan" && p["Parent Relationship"] != "SubPlan"));
                let pos = if rel == "documents" { 1 } else { 0 };
                match src.and_then(|s| s["Output"].get(pos)).and_then(Value::as_str) {
                    Some(x) if is_value(x) => {
                        values.insert(x.to_string());
                    }
                    Some(x) if doc_ref(x) => {}
                    other => problems.push(format!("INSERT into {rel} takes its document column from {other:?}")),
                }
            }
            continue; // UPDATE/DELETE: the scan below is checked
        }
        let mut restricted = false;
        for col in doc_columns(rel) {
            for cond in scan_conds(n) {
                for x in equated(&cond, alias, col) {
                    if is_value(&x) {
                        values.insert(x);
                        restricted = true;
                    } else if doc_ref(&x) {
                        restricted = true;
                    }
                }
            }
            for cond in &join_conds {
                if equated(cond, alias, col).iter().any(|x| doc_ref(x)) {
                    restricted = true;
                }
            }
            // in a hashed SubPlan whose hash key includes this scan's document column: joined
            // to the outer query on it (docs/scaling.md: a colocated join)
            let me = format!("{alias}.{col}");
            if hashed_output.and_then(Value::as_array).is_some_and(|o| o.iter().any(|x| x.as_str() == Some(me.as_str()))) {
                restricted = true;
            }
        }
        if !restricted {
            problems.push(format!("{ty} on {rel} (alias {alias}) is not restricted to one document: {:?}", scan_conds(n)));
        }
    }
    if values.len() > 1 {
        problems.push(format!("restricted to more than one document: {values:?}"));
    }
    if !aliases.is_empty() && values.is_empty() {
        problems.push("no scan or insert names a document: the statement spans every document".into());
    }
    (query, problems)
}

#[test]
fn every_statement_runs_on_one_document() {
    let db = fresh_database("scaling");
    let old = fresh_database("scaling_010");
    let pieces = fresh_database("scaling_030");
    let roles = Roles::create("ns_scale", &["writer"]);
    let mut admin = connect_to(&db);
    admin.batch_execute("CREATE EXTENSION pg_nodesync; CREATE TABLE public.filler AS SELECT 1 AS x").unwrap();
    // other documents around, so that a plan that ignored the document would show it
    for d in ["other-1", "other-2"] {
        workload(&mut admin, d);
        admin.query_one("SELECT nodesync.create_doc($1)", &[&d]).unwrap();
        patch(&mut admin, d, json!({"ops": [{"op": "create", "key": "z", "kind": "p", "parent": "root"}]}), None, None);
    }
    admin.batch_execute("ANALYZE").unwrap();
    let plans = Arc::new(Mutex::new(vec![]));
    {
        let mut c = explaining(&db, plans.clone());
        workload(&mut c, "as-superuser");
        // as an ordinary role: RLS policies in the plans, writes switched to the owner
        c.batch_execute(&format!("SET ROLE \"{}\"", roles.names[0])).unwrap();
        workload(&mut c, "as-role");
        c.batch_execute("RESET ROLE").unwrap();
        let mut o = connect_to(&old);
        o.batch_execute("CREATE EXTENSION pg_nodesync VERSION '0.1.0'").unwrap();
        drop(o);
        // the 0.1.0 schema's create_doc (the legacy C symbol) has statements of its own
        let mut c = explaining(&old, plans.clone());
        c.query_one("SELECT nodesync.create_doc('legacy')", &[]).unwrap();
        // a 0.3.0 schema: until it is updated, history is written and read as pieces
        // (src/legacy.rs), with statements of their own
        let mut o = connect_to(&pieces);
        o.batch_execute("CREATE EXTENSION pg_nodesync VERSION '0.3.0'").unwrap();
        workload(&mut o, "other-1");
        o.query_one("SELECT nodesync.create_doc('other-2')", &[]).unwrap();
        o.batch_execute("ANALYZE").unwrap();
        drop(o);
        let mut c = explaining(&pieces, plans.clone());
        workload(&mut c, "pieces");
    }
    let plans = plans.lock().unwrap().clone();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut problems: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut touching = 0;
    let kept_sql = kept_statements();
    let mut jit_seen = false;
    for p in &plans {
        let (query, bad) = check_plan(p);
        if TABLES.iter().any(|t| query.contains(&format!("nodesync.{t}"))) {
            touching += 1;
        }
        if !bad.is_empty() {
            problems.entry(query.clone()).or_default().extend(bad);
        }
        // every session runs with `jit_above_cost = 0`: the extension's own statements run with
        // JIT off (src/sql.rs, NoJit), whatever their estimates
        if kept_sql.contains_key(&query) && p.get("JIT").is_some() {
            problems.entry(query.clone()).or_default().push("JIT-compiled".into());
        }
        jit_seen |= p.get("JIT").is_some();
        seen.insert(query);
    }
    assert!(problems.is_empty(), "statements that do not stay on one document (or were JIT-compiled):\n{problems:#?}");
    assert!(jit_seen, "the test's own statements were JIT-compiled (jit_above_cost = 0), so the check of the extension's could fail");
    let kept = kept_sql;
    let missing: Vec<(&String, &String)> = kept.iter().filter(|(sql, _)| !seen.contains(*sql)).collect();
    assert!(
        missing.is_empty(),
        "kept statements this workload never ran (add an operation to workload() in tests/tests/scaling.rs that runs them): {missing:#?}"
    );
    println!(
        "scaling: {} plans checked ({touching} touching nodesync tables), {} distinct statements (all {} kept statements of src/ among them), all on one document",
        plans.len(),
        seen.len(),
        kept.len()
    );
    drop(admin);
    drop(roles);
    drop_database(&pieces);
    drop_database(&db);
    drop_database(&old);
}

#[test]
fn every_key_and_index_leads_with_the_document_column() {
    let mut c = connect();
    let tables: Vec<String> = c
        .query("SELECT relname::text FROM pg_class WHERE relnamespace = 'nodesync'::regnamespace AND relkind IN ('r', 'p') ORDER BY 1", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut want: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
    want.sort();
    assert_eq!(tables, want, "a new table: give it the document column and add it here and to docs/scaling.md");
    for t in &tables {
        let cols: Vec<String> = c
            .query("SELECT attname::text FROM pg_attribute WHERE attrelid = ('nodesync.' || $1)::regclass AND attnum > 0 AND NOT attisdropped", &[t])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert!(doc_columns(t).iter().any(|d| cols.contains(&d.to_string())), "{t} has no document column");
        let indexes = c
            .query(
                "SELECT i.indexrelid::regclass::text, i.indisprimary, i.indisunique, a.attname::text
                   FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                  WHERE i.indrelid = ('nodesync.' || $1)::regclass",
                &[t],
            )
            .unwrap();
        assert!(indexes.iter().any(|r| r.get::<_, bool>(1)), "{t} has no primary key");
        for r in indexes {
            let (name, primary, unique, first): (String, bool, bool, String) = (r.get(0), r.get(1), r.get(2), r.get(3));
            assert!(
                doc_columns(t).contains(&first.as_str()),
                "{name} on {t} (primary {primary}, unique {unique}) leads with {first}, not the document column"
            );
        }
    }
}

#[test]
fn the_check_flags_statements_that_span_documents() {
    // the checker itself can fail: statements over several documents, or all of them (such as
    // a plain read of the view live_nodes without a document), are flagged
    let db = fresh_database("scaling_bad");
    let mut admin = connect_to(&db);
    admin.batch_execute("CREATE EXTENSION pg_nodesync").unwrap();
    for d in ["one", "two"] {
        admin.query_one("SELECT nodesync.create_doc($1)", &[&d]).unwrap();
    }
    let plans = Arc::new(Mutex::new(vec![]));
    let bad = [
        "SELECT count(*) FROM nodesync.tree",
        "SELECT count(*) FROM nodesync.live_nodes",
        "SELECT count(*) FROM nodesync.tree WHERE doc_id IN (1, 2)",
        "SELECT count(*) FROM nodesync.tree WHERE doc_id = 1 OR gen = 3",
        "SELECT (SELECT count(*) FROM nodesync.tree WHERE doc_id = 1) + (SELECT count(*) FROM nodesync.change WHERE doc_id = 2)",
        "INSERT INTO nodesync.client_seq SELECT id + 1, 'c', 1 FROM nodesync.documents WHERE id = 1",
    ];
    {
        let mut c = explaining(&db, plans.clone());
        for sql in bad {
            c.batch_execute(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        c.batch_execute("SELECT count(*) FROM nodesync.live_nodes WHERE doc = 'one'").unwrap();
    }
    let plans = plans.lock().unwrap().clone();
    for sql in bad {
        let p = plans.iter().find(|p| squash(p["Query Text"].as_str().unwrap_or_default()) == sql).unwrap_or_else(|| panic!("no plan for {sql}"));
        let (_, problems) = check_plan(p);
        assert!(!problems.is_empty(), "the check let {sql} through");
    }
    let good = plans.iter().find(|p| p["Query Text"].as_str().unwrap_or_default().contains("doc = 'one'")).unwrap();
    assert_eq!(check_plan(good).1, Vec::<String>::new(), "live_nodes for one document is fine");
    drop(admin);
    drop_database(&db);
}
