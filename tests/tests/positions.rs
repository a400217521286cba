//! Position lengths: `pos` is a fractional key chosen by the server. Appending at the end and
//! inserting at the front are the common cases and must keep keys short, however many there are.
//! Prints the measured lengths (see them with --nocapture).

use std::time::Instant;

use pg_nodesync_tests::*;
use postgres::Client;
use serde_json::{json, Value};

fn create(key: String, parent: &str, after: Option<Option<&str>>) -> Value {
    let mut op = json!({"op": "create", "key": key, "kind": "p", "parent": parent});
    if let Some(a) = after {
        op["after"] = json!(a);
    }
    op
}

fn max_len(c: &mut Client, doc: &str, parent: &str, like: &str) -> i32 {
    c.query_one(
        "SELECT max(octet_length(pos))::int FROM nodesync.nodes($1) WHERE parent = $2 AND key LIKE $3",
        &[&doc, &parent, &like],
    )
    .unwrap()
    .get(0)
}

fn children(c: &mut Client, doc: &str, parent: &str) -> Vec<String> {
    c.query("SELECT key FROM nodesync.nodes($1) WHERE parent = $2 ORDER BY pos COLLATE \"C\"", &[&doc, &parent])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[test]
fn appends_and_front_inserts_keep_positions_short() {
    let mut c = connect();
    let doc = new_doc(&mut c, "pos");
    let t0 = Instant::now();
    // 100 patches x 1,000 appends (no "after": last child), then 1,000 single-op appends
    let mut n = 0usize;
    for _ in 0..100 {
        let ops: Vec<Value> = (0..1000).map(|i| create(format!("a{:06}", n + i), "root", None)).collect();
        apply_ok(&mut c, &doc, &json!({"ops": ops}));
        n += 1000;
    }
    for _ in 0..1000 {
        apply_ok(&mut c, &doc, &json!({"ops": [create(format!("a{n:06}"), "root", None)]}));
        n += 1;
    }
    let appends = n;
    let max_append = max_len(&mut c, &doc, "root", "a%");
    let t_append = t0.elapsed();

    // 10,000 inserts at the front ("after": null): 9 patches x 1,000, then 1,000 single-op patches
    let t1 = Instant::now();
    let mut f = 0usize;
    for _ in 0..9 {
        let ops: Vec<Value> = (0..1000).map(|i| create(format!("f{:05}", f + i), "root", Some(None))).collect();
        apply_ok(&mut c, &doc, &json!({"ops": ops}));
        f += 1000;
    }
    for _ in 0..1000 {
        apply_ok(&mut c, &doc, &json!({"ops": [create(format!("f{f:05}"), "root", Some(None))]}));
        f += 1;
    }
    let fronts = f;
    let max_front = max_len(&mut c, &doc, "root", "f%");
    let t_front = t1.elapsed();

    println!("pos lengths: {appends} appends -> max {max_append} bytes; {fronts} front inserts -> max {max_front} bytes");
    println!("  (appends took {t_append:.1?}, front inserts {t_front:.1?})");

    // the order is what the ops asked for: newest front insert first, then the appends in order
    let kids = children(&mut c, &doc, "root");
    let mut want: Vec<String> = (0..fronts).rev().map(|i| format!("f{i:05}")).collect();
    want.extend((0..appends).map(|i| format!("a{i:06}")));
    assert!(kids == want, "children are not in insertion order (first differing index {:?})", kids.iter().zip(&want).position(|(a, b)| a != b));
    let distinct: i64 = c
        .query_one("SELECT count(DISTINCT pos) FROM nodesync.nodes($1) WHERE parent = 'root'", &[&doc])
        .unwrap()
        .get(0);
    assert_eq!(distinct as usize, appends + fronts, "sibling positions are distinct");
    let overall = max_len(&mut c, &doc, "root", "%");
    assert!(overall < 32, "pos must stay under 32 bytes for appends and front inserts, got {overall} (appends {max_append}, front {max_front})");

    // SPEC: a diff's cost grows with what changed, not with the document. One small change in
    // this 111,000-node document: diff_since(last gen) must be far cheaper than a snapshot.
    let r = apply_ok(&mut c, &doc, &json!({"ops": [{"op": "update", "key": "a050000", "version": 1, "props": {"x": 1}}]}));
    let g = r["gen"].as_i64().unwrap();
    let time = |c: &mut Client, sql: &str| {
        let mut best = std::time::Duration::MAX;
        for _ in 0..3 {
            let t = Instant::now();
            c.query_one(sql, &[&doc, &(g - 1)]).unwrap();
            best = best.min(t.elapsed());
        }
        best
    };
    let t_diff = time(&mut c, "SELECT jsonb_array_length(nodesync.diff_since($1, $2)->'nodes') WHERE $2::bigint IS NOT NULL");
    let t_snap = time(&mut c, "SELECT length(nodesync.snapshot($1)::text) WHERE $2::bigint IS NOT NULL");
    let d = diff_since(&mut c, &doc, g - 1).unwrap();
    assert_eq!(d["nodes"].as_array().unwrap().len(), 1);
    println!("  diff_since(last gen) {t_diff:.1?} vs snapshot {t_snap:.1?} on {} nodes", appends + fronts + 1);
    assert!(t_diff * 10 < t_snap, "diff_since of one change should cost far less than a snapshot: {t_diff:?} vs {t_snap:?}");
}

#[test]
fn inserts_after_one_anchor_and_after_the_newest() {
    let mut c = connect();
    let doc = new_doc(&mut c, "pos-mid");
    apply_ok(&mut c, &doc, &json!({"ops": [
        create("same".into(), "root", None), create("anchor".into(), "same", None), create("tail1".into(), "same", None),
        create("chain".into(), "root", None), create("start".into(), "chain", None), create("tail2".into(), "chain", None),
        create("open".into(), "root", None), create("first".into(), "open", None)]}));
    let t0 = Instant::now();
    // 1,000 inserts, each right after the same anchor (so always between the anchor and the
    // previous insert); 1,000 each right after the newest, always before a tail node; and
    // 1,000 each right after the newest with nothing behind it (an append by anchor)
    let mut newest = "start".to_string();
    let mut newest_open = "first".to_string();
    for i in 0..1000 {
        let k = format!("n{i:04}");
        let o = format!("o{i:04}");
        apply_ok(&mut c, &doc, &json!({"ops": [
            create(format!("s{i:04}"), "same", Some(Some("anchor"))),
            create(k.clone(), "chain", Some(Some(&newest))),
            create(o.clone(), "open", Some(Some(&newest_open)))]}));
        newest = k;
        newest_open = o;
    }
    let max_same = max_len(&mut c, &doc, "same", "s%");
    let max_chain = max_len(&mut c, &doc, "chain", "n%");
    let max_open = max_len(&mut c, &doc, "open", "o%");
    println!(
        "pos lengths: 1000 inserts after the same anchor -> max {max_same} bytes; 1000 inserts after the newest, \
         before a tail -> max {max_chain} bytes; 1000 after the newest, at the end -> max {max_open} bytes ({:.1?})",
        t0.elapsed()
    );

    let mut want = vec!["anchor".to_string()];
    want.extend((0..1000).rev().map(|i| format!("s{i:04}")));
    want.push("tail1".into());
    assert_eq!(children(&mut c, &doc, "same"), want);
    let mut want = vec!["start".to_string()];
    want.extend((0..1000).map(|i| format!("n{i:04}")));
    want.push("tail2".into());
    assert_eq!(children(&mut c, &doc, "chain"), want);
    let mut want = vec!["first".to_string()];
    want.extend((0..1000).map(|i| format!("o{i:04}")));
    assert_eq!(children(&mut c, &doc, "open"), want);
    // a generous bound: these are the adversarial cases of fractional keys
    assert!(max_same < 1024 && max_chain < 1024, "positions grew beyond 1 KiB: {max_same}, {max_chain}");
    // after the last child is an append: short like the appends above
    assert!(max_open < 32, "inserting after the last child must stay short, got {max_open}");
}
