//! Native hash partitioning of tree/change by doc_id (issue 9, part 4; docs/scaling.md):
//! after an admin runs scripts/partition_tables.sql on a database with documents, every read
//! answers as before, every write answers as on an unpartitioned twin, rows spread over the
//! partitions, a document's lookups touch one partition, the documented dump/restore path
//! keeps everything, and DROP EXTENSION still removes it all.

use std::process::Command;

use pg_nodesync_tests::*;
use postgres::Client;
use serde_json::{json, Value};

fn psql_file(db: &str, file: &std::path::Path, vars: &[&str]) {
    let mut cmd = Command::new(pg_bin("psql"));
    cmd.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", &server().host, "-p", &server().port, "-U", "postgres", "-d", db]);
    for v in vars {
        cmd.args(["-v", v]);
    }
    let out = cmd.arg("-f").arg(file).output().expect("run psql");
    assert!(out.status.success(), "psql -f {}: {}", file.display(), String::from_utf8_lossy(&out.stderr));
}

fn script() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/partition_tables.sql")
}

fn patch(c: &mut Client, doc: &str, p: &Value, client: Option<&str>, seq: Option<i64>) -> Value {
    match c.query_one("SELECT nodesync.apply_patch($1, $2, $3, $4)", &[&doc, p, &client, &seq]) {
        Ok(r) => r.get(0),
        Err(e) => {
            let e = db_err(e);
            json!({"error": e.code, "detail": e.detail})
        }
    }
}

/// Timestamps differ between two databases fed the same patches; nothing else may.
fn without_times(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter().filter(|(k, _)| *k != "created_at" && *k != "committed_at").map(|(k, x)| (k.clone(), without_times(x))).collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_times).collect()),
        x => x.clone(),
    }
}

const DOCS: usize = 12;

/// Documents with history: creates, updates, moves, deletes, text, client seqs, a compaction.
fn history(c: &mut Client, round: usize) {
    for d in 0..DOCS {
        let doc = format!("doc-{d}");
        if round == 0 {
            c.query_one("SELECT nodesync.create_doc($1)", &[&doc]).unwrap();
        }
        let k = |s: &str| format!("{s}{round}");
        patch(c, &doc, &json!({"ops": [
            {"op": "create", "key": k("a"), "kind": "p", "parent": "root", "props": {"text": format!("round {round}")}},
            {"op": "create", "key": k("b"), "kind": "p", "parent": "root", "after": null},
            {"op": "create", "key": k("c"), "kind": "p", "parent": k("a")}]}), Some("w"), Some(10 * round as i64 + 1));
        patch(c, &doc, &json!({"ops": [{"op": "update", "key": k("a"), "version": 1, "props": {"n": d}}]}), Some("w"), Some(10 * round as i64 + 2));
        patch(c, &doc, &json!({"ops": [{"op": "text", "key": k("a"), "version": 2, "prop": "text", "edits": [[0, 5, "Round"]]}]}), None, None);
        patch(c, &doc, &json!({"ops": [{"op": "move", "key": k("c"), "version": 1, "parent": "root", "after": k("b")}]}), None, None);
        patch(c, &doc, &json!({"ops": [{"op": "delete", "key": k("b"), "version": 1}]}), Some("w"), Some(10 * round as i64 + 3));
        // a stale patch (conflict) and a duplicate retry
        patch(c, &doc, &json!({"ops": [{"op": "update", "key": k("a"), "version": 1}]}), None, None);
        patch(c, &doc, &json!({"ops": [{"op": "update", "key": k("a"), "version": 1}]}), Some("w"), Some(10 * round as i64 + 2));
        if d % 3 == 0 {
            let g: i64 = c.query_one("SELECT (nodesync.snapshot($1) ->> 'gen')::bigint", &[&doc]).unwrap().get(0);
            c.query_one("SELECT nodesync.compact($1, $2)", &[&doc, &(g - 2)]).unwrap();
        }
    }
}

fn reads(c: &mut Client) -> Value {
    let mut out = serde_json::Map::new();
    for d in 0..DOCS {
        let doc = format!("doc-{d}");
        let g: i64 = c.query_one("SELECT coalesce((SELECT gen FROM nodesync.documents WHERE doc = $1), 0)", &[&doc]).unwrap().get(0);
        out.insert(doc.clone(), all_reads(c, &doc, g));
    }
    out.insert("live_nodes".into(), c.query_one("SELECT jsonb_agg(to_jsonb(x) ORDER BY doc, key) FROM nodesync.live_nodes x", &[]).unwrap().get(0));
    Value::Object(out)
}

#[test]
fn the_extension_works_on_hash_partitioned_tables() {
    let (pdb, plain, restored) = (fresh_database("part"), fresh_database("part_plain"), fresh_database("part_restored"));
    let mut p = connect_to(&pdb);
    let mut u = connect_to(&plain);
    for c in [&mut p, &mut u] {
        c.batch_execute("CREATE EXTENSION pg_nodesync").unwrap();
        history(c, 0);
    }
    let before = reads(&mut p);

    psql_file(&pdb, &script(), &["partitions=4"]);
    // the tables are partitioned, the rows spread over the partitions
    let kinds: Vec<(String, String, i64)> = p
        .query(
            "SELECT c.relname::text, c.relkind::text, (SELECT count(*) FROM pg_inherits i WHERE i.inhparent = c.oid)
               FROM pg_class c WHERE c.relnamespace = 'nodesync'::regnamespace AND c.relname IN ('tree', 'piece', 'change') ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(kinds, vec![("change".into(), "p".into(), 4), ("tree".into(), "p".into(), 4)]);
    let used: i64 = p.query_one("SELECT count(DISTINCT tableoid) FROM nodesync.tree", &[]).unwrap().get(0);
    assert!(used >= 2, "{DOCS} documents landed in {used} partition(s)");

    // every read answers as before, in a session opened before the change and in a new one
    let before = canonical(&before);
    assert_same(&canonical(&reads(&mut p)), &before, "reads before and after partitioning");
    let mut p = connect_to(&pdb);
    assert_same(&canonical(&reads(&mut p)), &before, "reads in a new session after partitioning");

    // and writes answer as on the unpartitioned twin
    for c in [&mut p, &mut u] {
        history(c, 1);
        c.query_one("SELECT nodesync.drop_doc('doc-5', NULL)", &[]).unwrap();
        c.query_one("SELECT nodesync.create_doc('doc-5', 'board')", &[]).unwrap();
        history(c, 2);
    }
    let after = canonical(&reads(&mut p));
    assert_same(&without_times(&after), &without_times(&canonical(&reads(&mut u))), "the partitioned and the plain database");

    // one document's lookups touch one partition
    let plan: Value = p
        .query_one("EXPLAIN (FORMAT JSON) SELECT key FROM nodesync.tree WHERE doc_id = (SELECT id FROM nodesync.documents WHERE doc = 'doc-1') AND key = 'a1'", &[])
        .unwrap()
        .get(0);
    let text = plan.to_string();
    assert!(text.contains("Subplans Removed") || text.matches("\"Relation Name\":\"tree").count() == 1, "no pruning: {plan}");
    let plan: Value = p.query_one("EXPLAIN (FORMAT JSON) SELECT key FROM nodesync.tree WHERE doc_id = 3 AND key = 'a1'", &[]).unwrap().get(0);
    assert_eq!(plan.to_string().matches("\"Relation Name\":\"tree_p").count(), 1, "plan-time pruning: {plan}");

    // RLS still hides the rows of invisible documents from ordinary roles, partitions included
    let roles = Roles::create("ns_part", &["reader"]);
    p.batch_execute(
        "ALTER TABLE nodesync.documents ENABLE ROW LEVEL SECURITY;
         CREATE POLICY only_doc1 ON nodesync.documents FOR SELECT USING (doc = 'doc-1');",
    )
    .unwrap();
    let mut r = roles.connect(0, &pdb);
    let visible: i64 = r.query_one("SELECT count(DISTINCT doc_id) FROM nodesync.tree", &[]).unwrap().get(0);
    assert_eq!(visible, 1);
    let e = r.query_one("SELECT count(*) FROM nodesync.tree_p0", &[]).map_err(db_err).expect_err("a partition read directly");
    assert_eq!(e.code, "42501");
    p.batch_execute("DROP POLICY only_doc1 ON nodesync.documents; ALTER TABLE nodesync.documents DISABLE ROW LEVEL SECURITY").unwrap();
    drop(r);
    drop(roles);

    // the documented dump/restore path: CREATE EXTENSION, the script, then the data only
    let dir = std::env::temp_dir().join(format!("nodesync-part-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dump = dir.join("data.sql");
    let out = Command::new(pg_bin("pg_dump"))
        .args(["-h", &server().host, "-p", &server().port, "-U", "postgres", "-d", &pdb, "--data-only", "-f"])
        .arg(&dump)
        .output()
        .expect("pg_dump");
    assert!(out.status.success(), "pg_dump: {}", String::from_utf8_lossy(&out.stderr));
    let mut c = connect_to(&restored);
    c.batch_execute("CREATE EXTENSION pg_nodesync").unwrap();
    psql_file(&restored, &script(), &["partitions=4"]);
    psql_file(&restored, &dump, &[]);
    let mut c = connect_to(&restored);
    assert_same(&canonical(&reads(&mut c)), &after, "the restored partitioned database and the original");
    let g: Value = c.query_one("SELECT nodesync.apply_patch('doc-1', '{\"ops\": [{\"op\": \"create\", \"key\": \"new\", \"kind\": \"p\", \"parent\": \"root\"}]}')", &[]).unwrap().get(0);
    assert_eq!(g["duplicate"], json!(false), "writes go on after the restore");
    let g2: i64 = c.query_one("SELECT nodesync.create_doc('fresh-after-restore')", &[]).unwrap().get(0);
    assert_eq!(g2, 1, "the id sequence was restored");
    std::fs::remove_dir_all(&dir).ok();

    // DROP EXTENSION removes the partitioned tables and their partitions
    p.batch_execute("DROP EXTENSION pg_nodesync").unwrap();
    let left: i64 = p.query_one("SELECT count(*) FROM pg_class WHERE relnamespace = 'nodesync'::regnamespace", &[]).unwrap().get(0);
    assert_eq!(left, 0, "DROP EXTENSION left relations behind");

    drop((p, u, c));
    for d in [&pdb, &plain, &restored] {
        drop_database(d);
    }
}
