//! Snapshots: the nested document JSON of docs/api/README.md built from flat node rows, and the reverse
//! (a snapshot flattened to one entry per node, for comparisons in tests).
//!
//! Rows carry `props` as JSON text straight from the database, so building a snapshot copies
//! them without parsing. Deep trees are walked with an explicit stack (no recursion).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// One node row as read from the database.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub key: String,
    pub parent: Option<String>,
    pub pos: Option<String>,
    pub kind: String,
    /// The props object as JSON text.
    pub props: String,
    pub version: i64,
    pub gen: i64,
}

fn push_str(out: &mut String, s: &str) {
    // serde_json's string escaping is exact JSON
    out.push_str(&Value::from(s).to_string());
}

fn open_node(out: &mut String, r: &Row) {
    out.push_str("{\"key\":");
    push_str(out, &r.key);
    out.push_str(",\"kind\":");
    push_str(out, &r.kind);
    out.push_str(",\"props\":");
    out.push_str(&r.props);
    let _ = write!(out, ",\"version\":{},\"gen\":{},\"pos\":", r.version, r.gen);
    match &r.pos {
        Some(p) => push_str(out, p),
        None => out.push_str("null"),
    }
    out.push_str(",\"children\":[");
}

/// `{"doc": doc, "gen": gen, "root": {... "children": [...]}}` as JSON text. Children are in
/// byte order of `pos`. Fails if there is no root or a row is not reachable from it.
pub fn snapshot_json(doc: &str, gen: i64, rows: &[Row]) -> Result<String> {
    let mut children: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut root = None;
    for (i, r) in rows.iter().enumerate() {
        match &r.parent {
            None => root = Some(i),
            Some(p) => children.entry(p.as_str()).or_default().push(i),
        }
    }
    for v in children.values_mut() {
        v.sort_by(|&a, &b| {
            let pa = rows[a].pos.as_deref().unwrap_or("").as_bytes();
            let pb = rows[b].pos.as_deref().unwrap_or("").as_bytes();
            pa.cmp(pb).then_with(|| rows[a].key.cmp(&rows[b].key))
        });
    }
    let root = root.ok_or_else(|| Error::Internal(format!("document {doc:?} has no root row")))?;
    let mut out = String::with_capacity(64 + rows.len() * 96);
    out.push_str("{\"doc\":");
    push_str(&mut out, doc);
    let _ = write!(out, ",\"gen\":{gen},\"root\":");
    let empty: Vec<usize> = Vec::new();
    let mut written = 1usize;
    open_node(&mut out, &rows[root]);
    let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
    while let Some(top) = stack.last_mut() {
        let kids = children.get(rows[top.0].key.as_str()).unwrap_or(&empty);
        if top.1 < kids.len() {
            let c = kids[top.1];
            if top.1 > 0 {
                out.push(',');
            }
            top.1 += 1;
            open_node(&mut out, &rows[c]);
            written += 1;
            stack.push((c, 0));
        } else {
            out.push_str("]}");
            stack.pop();
        }
    }
    out.push('}');
    if written != rows.len() {
        return Err(Error::Internal(format!(
            "document {doc:?}: {} node rows are not reachable from the root",
            rows.len() - written
        )));
    }
    Ok(out)
}

/// One node as a flat JSON object (`diff_since`'s `nodes`, `node_history`'s `state`).
pub fn node_json(out: &mut String, r: &Row) {
    out.push_str("{\"key\":");
    push_str(out, &r.key);
    out.push_str(",\"parent\":");
    match &r.parent {
        Some(p) => push_str(out, p),
        None => out.push_str("null"),
    }
    out.push_str(",\"pos\":");
    match &r.pos {
        Some(p) => push_str(out, p),
        None => out.push_str("null"),
    }
    out.push_str(",\"kind\":");
    push_str(out, &r.kind);
    out.push_str(",\"props\":");
    out.push_str(&r.props);
    let _ = write!(out, ",\"version\":{},\"gen\":{}}}", r.version, r.gen);
}

/// `diff_since`'s result as JSON text (docs/api/README.md).
pub fn diff_json(doc: &str, from: i64, to: i64, reset: bool, nodes: &[Row], deleted: &[String]) -> String {
    let mut out = String::with_capacity(96 + nodes.len() * 96 + deleted.len() * 16);
    out.push_str("{\"doc\":");
    push_str(&mut out, doc);
    let _ = write!(out, ",\"from\":{from},\"to\":{to},\"reset\":{reset},\"nodes\":[");
    for (i, r) in nodes.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        node_json(&mut out, r);
    }
    out.push_str("],\"deleted\":[");
    for (i, k) in deleted.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_str(&mut out, k);
    }
    out.push_str("]}");
    out
}

/// One node of a flattened document: where it is and what it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct FlatNode {
    pub parent: Option<String>,
    /// 0-based place among its siblings.
    pub place: usize,
    pub kind: String,
    pub props: Map<String, Value>,
    pub version: i64,
    pub gen: i64,
}

pub type Flat = BTreeMap<String, FlatNode>;

/// Flattens a snapshot (`{"root": {...}}` or a bare node object) to one entry per node.
pub fn flatten_snapshot(snap: &Value) -> Result<Flat> {
    let root = snap.get("root").unwrap_or(snap);
    let mut out = Flat::new();
    let mut stack: Vec<(&Value, Option<String>, usize)> = vec![(root, None, 0)];
    while let Some((n, parent, place)) = stack.pop() {
        let bad = || Error::Internal(format!("malformed snapshot node {n}"));
        let key = n.get("key").and_then(Value::as_str).ok_or_else(bad)?.to_string();
        let kind = n.get("kind").and_then(Value::as_str).ok_or_else(bad)?.to_string();
        let props = n.get("props").and_then(Value::as_object).cloned().ok_or_else(bad)?;
        let version = n.get("version").and_then(Value::as_i64).ok_or_else(bad)?;
        let gen = n.get("gen").and_then(Value::as_i64).ok_or_else(bad)?;
        if let Some(kids) = n.get("children").and_then(Value::as_array) {
            for (i, c) in kids.iter().enumerate() {
                stack.push((c, Some(key.clone()), i));
            }
        }
        out.insert(key, FlatNode { parent, place, kind, props, version, gen });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(key: &str, parent: Option<&str>, pos: Option<&str>) -> Row {
        Row {
            key: key.into(),
            parent: parent.map(Into::into),
            pos: pos.map(Into::into),
            kind: "p".into(),
            props: format!("{{\"k\": {}}}", Value::from(key)),
            version: 1,
            gen: 2,
        }
    }

    #[test]
    fn nests_and_orders_children_by_pos_bytes() {
        let rows = vec![
            row("b", Some("root"), Some("a1")),
            row("root", None, None),
            row("a", Some("root"), Some("Zz")),
            row("b2", Some("b"), Some("a0V")),
            row("b1", Some("b"), Some("a0")),
        ];
        let s = snapshot_json("d \"q\"", 7, &rows).unwrap();
        let v: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["doc"], "d \"q\"");
        assert_eq!(v["gen"], 7);
        assert_eq!(v["root"]["pos"], Value::Null);
        let keys: Vec<&str> = v["root"]["children"].as_array().unwrap().iter().map(|c| c["key"].as_str().unwrap()).collect();
        assert_eq!(keys, ["a", "b"]);
        assert_eq!(v["root"]["children"][1]["children"][0]["key"], "b1");
        assert_eq!(v["root"]["children"][1]["children"][1]["props"], json!({"k": "b2"}));
        let flat = flatten_snapshot(&v).unwrap();
        assert_eq!(flat.len(), 5);
        assert_eq!(flat["b2"].place, 1);
        assert_eq!(flat["b2"].parent.as_deref(), Some("b"));
    }

    #[test]
    fn diffs_are_json() {
        let rows = vec![row("a", Some("root"), Some("a0"))];
        let s = diff_json("d", 3, 5, false, &rows, &["x\"y".to_string()]);
        let v: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v, json!({"doc": "d", "from": 3, "to": 5, "reset": false,
            "nodes": [{"key": "a", "parent": "root", "pos": "a0", "kind": "p", "props": {"k": "a"}, "version": 1, "gen": 2}],
            "deleted": ["x\"y"]}));
        let empty: Value = serde_json::from_str(&diff_json("d", 5, 5, true, &[], &[])).unwrap();
        assert_eq!(empty["nodes"], json!([]));
        assert_eq!(empty["reset"], json!(true));
    }

    #[test]
    fn deep_trees_do_not_recurse() {
        let mut rows = vec![row("root", None, None)];
        for i in 0..100_000 {
            let parent = if i == 0 { "root".to_string() } else { format!("n{}", i - 1) };
            rows.push(row(&format!("n{i}"), Some(&parent), Some("a0")));
        }
        let s = snapshot_json("deep", 1, &rows).unwrap();
        assert!(s.ends_with("]}]}}"));
    }

    #[test]
    fn unreachable_rows_are_an_error() {
        let rows = vec![row("root", None, None), row("x", Some("ghost"), Some("a0"))];
        assert!(matches!(snapshot_json("d", 1, &rows), Err(Error::Internal(_))));
        assert!(matches!(snapshot_json("d", 1, &[]), Err(Error::Internal(_))));
    }
}
