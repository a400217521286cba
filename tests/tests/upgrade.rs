//! Upgrades: `CREATE EXTENSION pg_nodesync VERSION '0.1.0'` (and `'0.2.0'` .. `'0.5.0'`) still
//! works with the new library (every C symbol of the frozen install scripts is still exported,
//! and the library writes and reads the old storage until the update: src/legacy.rs), a
//! database of each released version filled with documents, history, log, seqs, compaction
//! and deletions reads the same after `ALTER EXTENSION pg_nodesync UPDATE` (every snapshot at
//! every gen, every node's history: 0.4.0 turns the history pieces into undo entries), the
//! newer features work on the old documents (0.2.0's text ops, 0.3.0's HOT edits, 0.4.0's
//! history, 0.5.0's json log, 0.6.0's documents without a CHECK), and the upgraded schema
//! equals a fresh install's (pg_dump --schema-only --binary-upgrade of both, which lists every
//! member object of the extension, its definition, privileges and initial privileges; only
//! OIDs, xids and LSNs are blanked).

use std::process::Command;

use pg_nodesync_tests::*;
use postgres::Client;
use serde_json::{json, Value};

/// The version this library installs by default.
const CURRENT: &str = "0.6.0";
/// The released versions: their frozen install scripts (sql/released/) and SHA-256.
const RELEASED: &[(&str, &str)] = &[
    ("0.1.0", "2fd10f28fc463013a2d0442a14157971ed8ecec7a5c0320fd2e943b5a26130e0"),
    ("0.2.0", "5a1f8360fb55182f1ce4eda1719bbce0f44e75527a65f0b9d800e6be1f3cefc7"),
    ("0.3.0", "3d37323064f68ef300109c5c544a0345a8caedabad49370d33e5b04b394446a3"),
    ("0.4.0", "deb748332d4e128ac6c9620544618f6e4091c0db7e51cdd72a4369147387bcb9"),
    ("0.5.0", "dff042f353294896c963c1926171f6768f9866118abaa3ad4dc8f67acdee62f9"),
];

fn version(c: &mut Client) -> String {
    c.query_one("SELECT extversion FROM pg_extension WHERE extname = 'pg_nodesync'", &[]).expect("extversion").get(0)
}

fn patch(c: &mut Client, doc: &str, p: Value, client: Option<&str>, seq: Option<i64>) -> Value {
    c.query_one("SELECT nodesync.apply_patch($1, $2, $3, $4)", &[&doc, &p, &client, &seq])
        .unwrap_or_else(|e| panic!("patch {p} on {doc}: {e}"))
        .get(0)
}

/// The documents of the upgrade test, written through the 0.1.0 schema: history, log, client
/// seqs (some compacted into client_seq), deletions, a moved subtree, a dropped document,
/// metadata, and numbers that only exact storage keeps.
fn fill(c: &mut Client) -> Vec<(String, i64)> {
    c.batch_execute("SELECT nodesync.create_doc('essay', 'doc', '{\"title\": \"Field notes\"}')").unwrap();
    patch(c, "essay", json!({"ops": [
        {"op": "create", "key": "h1", "kind": "heading", "parent": "root", "props": {"text": "Rain"}},
        {"op": "create", "key": "p1", "kind": "paragraph", "parent": "root", "props": {"text": "It rained.", "n": "12345678901234567890.5e3"}},
        {"op": "create", "key": "l1", "kind": "list", "parent": "p1"},
        {"op": "create", "key": "i1", "kind": "item", "parent": "l1", "props": {"text": "coat"}},
        {"op": "create", "key": "i2", "kind": "item", "parent": "l1", "props": {"text": "boots"}},
        {"op": "create", "key": "i0", "kind": "item", "parent": "l1", "after": null, "props": {"text": "umbrella"}},
        {"op": "create", "key": "p2", "kind": "paragraph", "parent": "root", "props": {"text": "gone soon"}}]}), Some("alice"), Some(1));
    patch(c, "essay", json!({"ops": [{"op": "update", "key": "p1", "version": 1, "props": {"text": "It poured.", "n": null, "bold": true}}]}), Some("alice"), Some(2));
    patch(c, "essay", json!({"ops": [{"op": "move", "key": "l1", "version": 1, "parent": "root", "after": "h1"}]}), Some("bob"), Some(10));
    patch(c, "essay", json!({"ops": [{"op": "delete", "key": "p2", "version": 1}]}), Some("bob"), Some(11));
    patch(c, "essay", json!({"ops": [{"op": "update", "key": "h1", "version": 1, "kind": "title"}, {"op": "delete", "key": "i2", "version": 1}]}), None, None);
    patch(c, "essay", json!({"ops": [{"op": "update", "key": "i1", "version": 1, "props": {"text": "raincoat"}}]}), Some("alice"), Some(3));

    c.batch_execute("SELECT nodesync.create_doc('board', 'board', '{\"rows\": 8}')").unwrap();
    for i in 0..6 {
        let after = if i == 0 { Value::Null } else { json!(format!("c{}", i - 1)) };
        patch(c, "board", json!({"ops": [{"op": "create", "key": format!("c{i}"), "kind": "cell", "parent": "root", "after": after, "props": {"v": i}}]}), Some("carol"), Some(i + 1));
    }
    patch(c, "board", json!({"ops": [{"op": "update", "key": "c1", "version": 1, "props": {"v": 10}}]}), Some("dave"), Some(1));
    // compaction: log and history at or below gen 4 go, carol's seqs move to client_seq
    c.query_one("SELECT nodesync.compact('board', 4)", &[]).unwrap();
    patch(c, "board", json!({"ops": [{"op": "delete", "key": "c0", "version": 1}]}), Some("carol"), Some(9));
    c.batch_execute("UPDATE nodesync.documents SET meta = '{\"owner\": \"carol\"}' WHERE doc = 'board'").unwrap();

    c.batch_execute("SELECT nodesync.create_doc('scratch')").unwrap();
    patch(c, "scratch", json!({"ops": [{"op": "create", "key": "x", "kind": "p", "parent": "root"}]}), None, None);
    c.query_one("SELECT nodesync.drop_doc('scratch', 2)", &[]).unwrap();
    c.batch_execute("SELECT nodesync.create_doc('empty')").unwrap();
    vec![("essay".into(), 7), ("board".into(), 9), ("scratch".into(), 2), ("empty".into(), 1)]
}

/// The indexes of `nodesync.<table>`, by name.
/// The types of the log's patch, versions and undo columns ("-": no such column).
fn log_types(c: &mut Client) -> [String; 3] {
    ["patch", "versions", "undo"].map(|col| {
        c.query_opt(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'nodesync.change'::regclass AND attname = $1 AND NOT attisdropped",
            &[&col],
        )
        .unwrap()
        .map_or("-".to_string(), |r| r.get(0))
    })
}

fn indexes(c: &mut Client, table: &str) -> Vec<String> {
    names(c, "SELECT indexname::text FROM pg_indexes WHERE schemaname = 'nodesync' AND tablename = $1 ORDER BY 1", table)
}

/// The CHECK constraints of table `nodesync.<table>`.
fn checks(c: &mut Client, table: &str) -> Vec<String> {
    names(c, "SELECT conname::text FROM pg_constraint WHERE conrelid = ('nodesync.' || $1)::regclass AND contype = 'c' ORDER BY 1", table)
}

/// The first column of `sql`'s rows for table `table`.
fn names(c: &mut Client, sql: &str, table: &str) -> Vec<String> {
    c.query(sql, &[&table]).unwrap().iter().map(|r| r.get(0)).collect()
}

/// Every read of every document, and the raw rows of every table (what pg_dump would keep)
/// but the history's: the update rewrites it (pieces become undo entries), and the reads of
/// the past (snapshot at every gen, node_history of every key) show that it means the same.
fn state(c: &mut Client, docs: &[(String, i64)]) -> Value {
    let mut out = serde_json::Map::new();
    for (doc, upto) in docs {
        let mut r = all_reads(c, doc, *upto);
        r.as_object_mut().unwrap().remove("wait_gen"); // 0.1.0 has no wait_gen
        out.insert(doc.clone(), r);
    }
    for t in ["documents", "tree", "change", "client_seq"] {
        let rows: Value = c
            .query_one(&format!("SELECT coalesce(jsonb_agg(to_jsonb(x) - 'undo' ORDER BY to_jsonb(x)::text), '[]') FROM nodesync.{t} x"), &[])
            .unwrap()
            .get(0);
        out.insert(format!("table {t}"), rows);
    }
    out.insert(
        "live_nodes".into(),
        c.query_one("SELECT jsonb_agg(to_jsonb(x) ORDER BY doc, key) FROM nodesync.live_nodes x", &[]).unwrap().get(0),
    );
    Value::Object(out)
}

/// `pg_dump --schema-only --binary-upgrade` of `db`, with what differs between any two
/// databases blanked: OIDs (of the extension's config tables, and the binary_upgrade_set_next_*
/// calls), relfrozenxid/relminmxid, and pg_dump's random \restrict key. The data (the config
/// tables' rows and the sequence's value) is not part of a schema: the setval line is dropped.
fn schema(db: &str) -> String {
    let out = Command::new(pg_bin("pg_dump"))
        .args(["-h", &server().host, "-p", &server().port, "-U", "postgres", "-d", db, "--schema-only", "--binary-upgrade"])
        .output()
        .expect("run pg_dump");
    assert!(out.status.success(), "pg_dump {db}: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("utf8 dump");
    let mut lines = vec![];
    for l in text.lines() {
        if l.starts_with("\\restrict") || l.starts_with("\\unrestrict") || l.starts_with("SELECT pg_catalog.binary_upgrade_set_next_") {
            continue;
        }
        if l.starts_with("SELECT pg_catalog.setval('nodesync.documents_id_seq'") {
            continue;
        }
        lines.push(blank_numbers_in(l));
    }
    lines.join("\n")
}

fn blank_numbers_in(l: &str) -> String {
    if l.contains("binary_upgrade_create_empty_extension") || l.contains("relfrozenxid") || l.starts_with("WHERE oid = ") {
        let mut s = String::with_capacity(l.len());
        let mut prev_digit = false;
        for ch in l.chars() {
            if ch.is_ascii_digit() {
                if !prev_digit {
                    s.push('N');
                }
                prev_digit = true;
            } else {
                s.push(ch);
                prev_digit = false;
            }
        }
        s.replace("'N.N.N'", &format!("'{CURRENT}'"))
    } else {
        l.to_string()
    }
}

#[test]
fn the_frozen_scripts_are_the_released_ones_and_are_installed() {
    // sql/released/ holds each release's generated install script, never edited
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut c = connect();
    let sharedir: String = c.query_one("SELECT setting FROM pg_config WHERE name = 'SHAREDIR'", &[]).unwrap().get(0);
    for (v, sha) in RELEASED {
        let file = repo.join(format!("sql/released/pg_nodesync--{v}.sql"));
        let frozen = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let out = Command::new("sha256sum").arg(&file).output().expect("sha256sum");
        let sum = String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap_or_default().to_string();
        assert_eq!(&sum, sha, "sql/released/pg_nodesync--{v}.sql was edited: it is frozen");
        let installed = std::fs::read(format!("{sharedir}/extension/pg_nodesync--{v}.sql")).unwrap_or_else(|_| panic!("the {v} script is installed (scripts/install.sh)"));
        assert_eq!(installed, frozen, "the installed {v} script is not the frozen one");
    }
    let default: String = c.query_one("SELECT default_version FROM pg_available_extensions WHERE name = 'pg_nodesync'", &[]).unwrap().get(0);
    assert_eq!(default, CURRENT);
    let mut path = |from: &str| -> Vec<String> {
        c.query("SELECT path FROM pg_extension_update_paths('pg_nodesync') WHERE source = $1 AND target = $2", &[&from, &CURRENT])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    assert_eq!(path("0.1.0"), vec!["0.1.0--0.2.0--0.3.0--0.4.0--0.5.0--0.6.0"], "0.1.0 updates through every version");
    assert_eq!(path("0.2.0"), vec!["0.2.0--0.3.0--0.4.0--0.5.0--0.6.0"], "0.2.0 updates through 0.3.0, 0.4.0 and 0.5.0");
    assert_eq!(path("0.3.0"), vec!["0.3.0--0.4.0--0.5.0--0.6.0"], "0.3.0 updates through 0.4.0 and 0.5.0");
    assert_eq!(path("0.4.0"), vec!["0.4.0--0.5.0--0.6.0"], "0.4.0 updates through 0.5.0");
    assert_eq!(path("0.5.0"), vec!["0.5.0--0.6.0"], "one update script from 0.5.0");
}

#[test]
fn update_from_0_1_0_keeps_every_read_and_equals_a_fresh_install() {
    update_keeps_every_read_and_equals_a_fresh_install("0.1.0");
}

#[test]
fn update_from_0_2_0_keeps_every_read_and_equals_a_fresh_install() {
    update_keeps_every_read_and_equals_a_fresh_install("0.2.0");
}

#[test]
fn update_from_0_3_0_keeps_every_read_and_equals_a_fresh_install() {
    update_keeps_every_read_and_equals_a_fresh_install("0.3.0");
}

#[test]
fn update_from_0_4_0_keeps_every_read_and_equals_a_fresh_install() {
    update_keeps_every_read_and_equals_a_fresh_install("0.4.0");
}

#[test]
fn update_from_0_5_0_keeps_every_read_and_equals_a_fresh_install() {
    update_keeps_every_read_and_equals_a_fresh_install("0.5.0");
}

/// A database made with version `from`, filled, then updated to the current version.
fn update_keeps_every_read_and_equals_a_fresh_install(from: &str) {
    let tag = from.replace('.', "_");
    let old = fresh_database(&format!("upgrade_old_{tag}"));
    let new = fresh_database(&format!("upgrade_new_{tag}"));
    let mut c = connect_to(&old);
    // every C function of the frozen script resolves in the new library (CREATE FUNCTION
    // ... LANGUAGE c looks the symbol up)
    c.batch_execute(&format!("CREATE EXTENSION pg_nodesync VERSION '{from}'")).unwrap_or_else(|e| panic!("CREATE EXTENSION pg_nodesync VERSION '{from}': {e}"));
    assert_eq!(version(&mut c), from);
    if from < "0.3.0" {
        assert!(indexes(&mut c, "tree").contains(&"tree_gen".to_string()), "the {from} schema has tree_gen");
    }
    let docs = fill(&mut c);
    if from < "0.4.0" {
        // until the update, the library keeps history as the old schema does: pieces
        let pieces: i64 = c.query_one("SELECT count(*) FROM nodesync.piece", &[]).unwrap().get(0);
        assert!(pieces >= 5, "the {from} schema's history is written as pieces ({pieces})");
    }
    // until the update, the log's columns are the old schema's jsonb (the library writes json
    // text into them)
    if from < "0.5.0" {
        assert_eq!(log_types(&mut c), ["jsonb", "jsonb", if from < "0.4.0" { "-" } else { "jsonb" }]);
    } else {
        assert_eq!(log_types(&mut c), ["json", "json", "json"]);
    }
    assert_eq!(checks(&mut c, "documents"), vec!["documents_doc_check".to_string()], "the {from} schema checks documents.doc");
    let before = state(&mut c, &docs);
    assert_eq!(before["board"]["documents"][0]["horizon"], json!(4), "the fixture compacted board");
    assert!(!before["table client_seq"].as_array().unwrap().is_empty(), "the fixture has remembered seqs");

    c.batch_execute("ALTER EXTENSION pg_nodesync UPDATE").expect("ALTER EXTENSION pg_nodesync UPDATE");
    assert_eq!(version(&mut c), CURRENT);
    assert_eq!(log_types(&mut c), ["json", "json", "json"], "0.5.0: the log is json text");
    // 0.6.0: no CHECK on nodesync.documents, which every commit updates
    assert_eq!(checks(&mut c, "documents"), Vec::<String>::new(), "0.6.0 drops the CHECK of documents");
    // a session that was open across the update reads the same; so does a new one
    let after = state(&mut c, &docs);
    for (k, v) in before.as_object().unwrap() {
        assert_eq!(Some(v), after.get(k), "{k} changed across the update");
    }
    assert_eq!(before, after);
    let mut fresh_session = connect_to(&old);
    assert_eq!(state(&mut fresh_session, &docs), before);

    // the schema is the one a fresh install has
    let mut n = connect_to(&new);
    n.batch_execute("CREATE EXTENSION pg_nodesync").unwrap();
    assert_eq!(version(&mut n), CURRENT);
    let (a, b) = (schema(&old), schema(&new));
    if a != b {
        let dir = std::env::temp_dir().join(format!("nodesync-upgrade-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("upgraded.sql"), &a).unwrap();
        std::fs::write(dir.join("fresh.sql"), &b).unwrap();
        let d = Command::new("diff").arg("-u").arg(dir.join("upgraded.sql")).arg(dir.join("fresh.sql")).output().expect("diff");
        panic!("the upgraded schema differs from a fresh install's (both kept in {}):\n{}", dir.display(), String::from_utf8_lossy(&d.stdout));
    }
    assert!(a.contains("CREATE FUNCTION nodesync.wait_gen(doc text, gen bigint, timeout_ms integer DEFAULT 10000)"), "the dump shows the members");
    assert!(a.contains("ALTER EXTENSION pg_nodesync ADD FUNCTION nodesync.wait_gen(doc text, gen bigint, timeout_ms integer)"));

    // 0.3.0: no index on tree.gen, so an edit that keeps a node's place is a HOT update
    // (counted in this transaction's statistics), and diff_since still finds it
    assert_eq!(indexes(&mut c, "tree"), vec!["tree_children".to_string(), "tree_pkey".to_string()]);
    let mut tx = fresh_session.transaction().unwrap();
    let r: Value = tx
        .query_one("SELECT nodesync.apply_patch('board', '{\"ops\": [{\"op\": \"update\", \"key\": \"c3\", \"version\": 1, \"props\": {\"v\": 33}}]}')", &[])
        .unwrap()
        .get(0);
    assert_eq!(r["versions"], json!({"c3": 2}));
    let (upd, hot): (i64, i64) = {
        let row = tx.query_one("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relid = 'nodesync.tree'::regclass", &[]).unwrap();
        (row.get(0), row.get(1))
    };
    assert!(upd >= 1 && hot == upd, "the edit of c3 is a HOT update ({hot} of {upd} updates)");
    let d: Value = tx.query_one("SELECT nodesync.diff_since('board', 9)", &[]).unwrap().get(0);
    // 0.4.0: the pieces are undo entries now, and the commit wrote its own
    let no_piece: Option<String> = tx.query_one("SELECT to_regclass('nodesync.piece')::text", &[]).unwrap().get(0);
    assert_eq!(no_piece, None, "the update drops nodesync.piece");
    let undo: Value = tx.query_one("SELECT undo FROM nodesync.change WHERE doc_id = (SELECT id FROM nodesync.documents WHERE doc = 'board') AND gen = 10", &[]).unwrap().get(0);
    // its version before (1) is implied by the version after (history::stored)
    assert_eq!(undo["c3"].get("v"), None, "{undo}");
    assert_eq!(undo["c3"]["p"], json!({"v": 3}), "{undo}");
    assert_eq!(d["nodes"].as_array().map(|n| n.iter().map(|x| x["key"].clone()).collect::<Vec<_>>()), Some(vec![json!("c3")]));
    tx.rollback().unwrap();

    // 0.2.0 on the old documents: text, split and join on rows written before the update,
    // wait_gen, duplicates of seqs committed (or compacted) before it, new documents
    let r = patch(&mut fresh_session, "essay", json!({"ops": [{"op": "text", "key": "p1", "version": 2, "prop": "text", "edits": [[3, 6, "rained"]]}]}), Some("alice"), Some(4));
    assert_eq!(r, json!({"gen": 8, "versions": {"p1": 3}, "duplicate": false}));
    let r = patch(&mut fresh_session, "essay", json!({"ops": [{"op": "split", "key": "p1", "version": 3, "prop": "text", "at": 3, "new": "p3"}]}), None, None);
    assert_eq!(r["versions"], json!({"p1": 4, "p3": 1}));
    let r = patch(&mut fresh_session, "essay", json!({"ops": [{"op": "join", "key": "p1", "version": 4, "next": "p3", "next_version": 1, "prop": "text"}]}), None, None);
    assert_eq!(r["versions"], json!({"p1": 5, "p3": null}));
    let text: String = fresh_session.query_one("SELECT props ->> 'text' FROM nodesync.nodes('essay') WHERE key = 'p1'", &[]).unwrap().get(0);
    assert_eq!(text, "It rained.");
    let snap_old: Value = fresh_session.query_one("SELECT nodesync.snapshot('essay', 7)", &[]).unwrap().get(0);
    assert_eq!(snap_old, before["essay"]["snapshot"][0]["s"], "time travel to a pre-update gen still works");
    // a node's history runs across the update: versions from pieces, then from new entries
    let h: Vec<(i64, i64, Option<Value>)> = fresh_session
        .query("SELECT version, gen, state FROM nodesync.node_history('essay', 'p1')", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let texts: Vec<Value> = h.iter().map(|(_, _, s)| s.as_ref().map_or(Value::Null, |s| s["props"]["text"].clone())).collect();
    assert_eq!(texts, vec![json!("It rained."), json!("It poured."), json!("It rained."), json!("It "), json!("It rained.")]);
    assert_eq!(h.iter().map(|(v, _, _)| *v).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5]);
    assert_eq!(h[0].2.as_ref().unwrap()["props"]["n"], json!("12345678901234567890.5e3"), "the first version, from a piece");
    let w: i64 = fresh_session.query_one("SELECT nodesync.wait_gen('essay', 10, 0)", &[]).unwrap().get(0);
    assert_eq!(w, 10);
    let dup = patch(&mut fresh_session, "essay", json!({"ops": [{"op": "update", "key": "p1", "version": 1}]}), Some("alice"), Some(2));
    assert_eq!(dup, json!({"gen": 3, "versions": {"p1": 2}, "duplicate": true}), "a seq committed before the update");
    let dup = patch(&mut fresh_session, "board", json!({"ops": []}), Some("carol"), Some(2));
    assert_eq!(dup["duplicate"], json!(true), "a seq compacted into client_seq before the update");
    let g: i64 = fresh_session.query_one("SELECT nodesync.create_doc('after-update')", &[]).unwrap().get(0);
    assert_eq!(g, 1);
    let e = fresh_session.query_one("SELECT nodesync.create_doc('essay')", &[]).map_err(db_err).unwrap_err();
    assert_eq!(e.code, "23505");
    fresh_session.query_one("SELECT nodesync.drop_doc('empty', 1)", &[]).unwrap();

    drop((c, n, fresh_session));
    drop_database(&old);
    drop_database(&new);
}

#[test]
fn create_doc_honours_insert_policies_from_the_update_on() {
    // On the 0.1.0 schema create_doc keeps 0.1.0's behaviour (the C symbol the old script binds
    // is kept): RLS on documents is not consulted, so a tenant can squat another's namespace.
    // The update switches create_doc to the checked path; nothing else is needed.
    let db = fresh_database("upgrade_rls");
    let roles = Roles::create("ns_upg", &["acme"]);
    let mut admin = connect_to(&db);
    admin
        .batch_execute(&format!(
            "CREATE EXTENSION pg_nodesync VERSION '0.1.0';
             ALTER TABLE nodesync.documents ENABLE ROW LEVEL SECURITY;
             CREATE POLICY tenant ON nodesync.documents FOR ALL USING (doc LIKE current_setting('app.tenant') || '/%');
             ALTER ROLE \"{}\" IN DATABASE \"{db}\" SET app.tenant = 'acme';",
            roles.names[0]
        ))
        .unwrap();
    let mut a = roles.connect(0, &db);
    let g: i64 = a.query_one("SELECT nodesync.create_doc('globex/squatted')", &[]).expect("0.1.0 lets acme squat").get(0);
    assert_eq!(g, 1);
    admin.batch_execute("ALTER EXTENSION pg_nodesync UPDATE").unwrap();
    // the same session: it picks up the new definition of nodesync._create_doc at once
    let e = a.query_one("SELECT nodesync.create_doc('globex/again')", &[]).map_err(db_err).expect_err("0.2.0 refuses");
    assert_eq!(e.code, "42501", "{e:?}");
    let g: i64 = a.query_one("SELECT nodesync.create_doc('acme/ok')", &[]).unwrap().get(0);
    assert_eq!(g, 1);
    drop((a, admin));
    drop(roles);
    drop_database(&db);
}
