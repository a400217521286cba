//! The text transform's shared test vectors (`tests/vectors/text_transform.json`), so another
//! client (e.g. TypeScript) can check it implements the same rules. Each case: a base text,
//! the server's splices and the local splices (each list applied in order, offsets in code
//! points), the expected local splices rebased over the server's, the server's splices
//! transformed over the local ones, the result, and carets mapped through the server's change.
//!
//! `NODESYNC_WRITE_VECTORS=1` rewrites the file from the case list below (then review the diff:
//! the file is the contract).

use nodesync_core::ot::{self, Assoc, TextOp};
use nodesync_core::text::{apply, Edit};
use serde_json::{json, Value};

fn path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/text_transform.json")
}

type S = &'static [(usize, usize, &'static str)];

/// (name, base, server splices, local splices, carets)
const CASES: &[(&str, &str, S, S, &[usize])] = &[
    ("both insert at the same offset: the server's text first", "Hi", &[(2, 0, " there")], &[(2, 0, "!")], &[2]),
    ("inserts at different offsets", "Hello world", &[(5, 0, ",")], &[(11, 0, "!"), (0, 0, ">")], &[0, 5, 11]),
    ("local typing inside a range the server deleted survives", "the quick brown fox", &[(4, 6, "")], &[(7, 0, "XY")], &[7, 4, 10]),
    ("server typing inside a range the local side deleted survives", "the quick brown fox", &[(7, 0, "XY")], &[(4, 6, "")], &[7]),
    ("overlapping deletes delete the union once", "0123456789", &[(2, 4, "")], &[(4, 4, "")], &[3, 5, 9]),
    ("the same delete on both sides", "abcdef", &[(1, 3, "")], &[(1, 3, "")], &[2]),
    ("both replace the same word", "one two three", &[(4, 3, "2")], &[(4, 3, "TWO")], &[4, 7]),
    ("a delete next to an insert", "abcd", &[(1, 2, "")], &[(3, 0, "X")], &[3]),
    ("astral characters count as one", "a😀b😀c", &[(1, 1, "")], &[(2, 0, "é"), (5, 0, "😀")], &[2, 4]),
    ("combining marks are code points of their own", "e\u{301}x", &[(1, 1, "")], &[(1, 0, "\u{300}")], &[1, 2]),
    ("empty base", "", &[(0, 0, "server")], &[(0, 0, "local")], &[0]),
    ("a burst of splices on each side", "abcdefgh", &[(0, 0, "1"), (5, 2, "XYZ"), (9, 0, "!")], &[(8, 0, "#"), (2, 3, ""), (0, 1, "A")], &[0, 4, 8]),
    ("delete everything while the other side types", "old", &[(0, 3, "")], &[(3, 0, " more"), (0, 0, "pre ")], &[3]),
    ("a caret at the server's insert moves after it", "ab", &[(1, 0, "123")], &[], &[1, 0, 2]),
];

fn splices(s: S) -> Vec<Edit> {
    s.iter().map(|(a, d, i)| Edit::new(*a, *d, *i)).collect()
}

fn to_json(e: &[Edit]) -> Value {
    Value::Array(e.iter().map(Edit::to_json).collect())
}

fn from_json(v: &Value) -> Vec<Edit> {
    v.as_array().expect("a splice list").iter().map(|e| Edit::from_json(e).expect("a splice")).collect()
}

/// Computes a case with this implementation.
fn compute(base: &str, server: &[Edit], local: &[Edit], carets: &[usize]) -> Value {
    let n = base.chars().count();
    let s = TextOp::from_splices(n, server).expect("server splices fit");
    let l = TextOp::from_splices(n, local).expect("local splices fit");
    let (s2, l2) = ot::transform(&s, &l).expect("same base");
    let result = l2.apply(&s.apply(base).unwrap()).unwrap();
    json!({
        "local_after_server": to_json(&l2.to_splices()),
        "server_after_local": to_json(&s2.to_splices()),
        "result": result,
        "carets": carets.iter().map(|c| json!([c, s.map(*c, Assoc::After)])).collect::<Vec<_>>(),
    })
}

#[test]
fn transform_vectors() {
    let cases: Vec<Value> = CASES
        .iter()
        .map(|(name, base, server, local, carets)| {
            let (s, l) = (splices(server), splices(local));
            let mut c = json!({"name": name, "base": base, "server": to_json(&s), "local": to_json(&l)});
            let out = compute(base, &s, &l, carets);
            for (k, v) in out.as_object().unwrap() {
                c[k] = v.clone();
            }
            c
        })
        .collect();
    if std::env::var_os("NODESYNC_WRITE_VECTORS").is_some() {
        let doc = json!({
            "about": "pg_nodesync text transform vectors (docs/client.md, \"Text\"). Offsets and counts are Unicode code points. \
                      Each splice list applies in order, each splice [at, delete, insert] to the result of the one before. \
                      local_after_server: the local splices rebased to apply after the server's; server_after_local: the server's \
                      splices to apply after the local ones; both orders give result. Ties: where both sides insert at one offset, \
                      the server's text comes first. carets: [offset before, offset after the server's change], a caret at an \
                      offset where the server inserted ends up after the inserted text.",
            "cases": cases
        });
        std::fs::create_dir_all(path().parent().unwrap()).unwrap();
        std::fs::write(path(), serde_json::to_string_pretty(&doc).unwrap() + "\n").unwrap();
    }
    let file: Value = serde_json::from_str(&std::fs::read_to_string(path()).expect("tests/vectors/text_transform.json")).unwrap();
    let stored = file["cases"].as_array().expect("cases");
    assert_eq!(stored.len(), CASES.len(), "the vectors file and the case list disagree: regenerate and review");
    for c in stored {
        let name = c["name"].as_str().unwrap();
        let base = c["base"].as_str().unwrap();
        let (s, l) = (from_json(&c["server"]), from_json(&c["local"]));
        // both orders give the stored result, with the stored rebased splices
        let via_server = apply(&apply(base, &s).unwrap(), &from_json(&c["local_after_server"])).unwrap();
        let via_local = apply(&apply(base, &l).unwrap(), &from_json(&c["server_after_local"])).unwrap();
        assert_eq!(via_server, c["result"], "{name}");
        assert_eq!(via_local, c["result"], "{name}");
        // and this implementation computes exactly the stored case
        let carets: Vec<usize> = c["carets"].as_array().unwrap().iter().map(|p| p[0].as_u64().unwrap() as usize).collect();
        let out = compute(base, &s, &l, &carets);
        for k in ["local_after_server", "server_after_local", "result", "carets"] {
            assert_eq!(out[k], c[k], "{name}: {k}");
        }
    }
}
