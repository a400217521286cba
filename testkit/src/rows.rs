//! Nested snapshots (`nodesync.snapshot`) as flat rows: [`NodeRow`]s (pos included), core's
//! [`Flat`] ([`flatten_snapshot`]), or the reference model's [`Doc`].

use std::collections::{BTreeMap, BTreeSet};

use nodesync_core::reference::{Doc, MNode};
use serde_json::Value;

pub use nodesync_core::tree::{flatten_snapshot, Flat, FlatNode};

/// One node as the server lists it (`nodesync.nodes`, `diff_since`, `node_history`), keyed
/// by its key elsewhere.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeRow {
    pub parent: Option<String>,
    pub pos: Option<String>,
    pub kind: String,
    pub props: Value,
    pub version: i64,
    pub gen: i64,
}

/// A snapshot's nodes as rows keyed by node key (pos included, which [`flatten_snapshot`]
/// drops); panics on a node without key or children.
pub fn snapshot_rows(snap: &Value) -> BTreeMap<String, NodeRow> {
    let mut out = BTreeMap::new();
    let mut stack: Vec<(&Value, Option<String>)> = vec![(&snap["root"], None)];
    while let Some((n, parent)) = stack.pop() {
        let key = n["key"].as_str().unwrap_or_else(|| panic!("snapshot node without key: {n}")).to_string();
        for c in n["children"].as_array().unwrap_or_else(|| panic!("snapshot node without children: {n}")) {
            stack.push((c, Some(key.clone())));
        }
        out.insert(
            key,
            NodeRow {
                parent,
                pos: n["pos"].as_str().map(str::to_string),
                kind: n["kind"].as_str().unwrap().to_string(),
                props: n["props"].clone(),
                version: n["version"].as_i64().unwrap(),
                gen: n["gen"].as_i64().unwrap(),
            },
        );
    }
    out
}

/// A `diff_since` / `node_history` node object as a row.
pub fn json_row(n: &Value) -> (String, NodeRow) {
    (
        n["key"].as_str().unwrap_or_else(|| panic!("node without key: {n}")).to_string(),
        NodeRow {
            parent: n["parent"].as_str().map(str::to_string),
            pos: n["pos"].as_str().map(str::to_string),
            kind: n["kind"].as_str().unwrap_or_else(|| panic!("node without kind: {n}")).to_string(),
            props: n["props"].clone(),
            version: n["version"].as_i64().unwrap_or_else(|| panic!("node without version: {n}")),
            gen: n["gen"].as_i64().unwrap_or_else(|| panic!("node without gen: {n}")),
        },
    )
}

/// The reference model's view of the document `snap` shows (for `random_patch`), from
/// [`flatten_snapshot`]: children in snapshot order, no deleted keys known; gen 1 where the
/// snapshot has none, an empty document if it is malformed.
pub fn model_doc(snap: &Value) -> Doc {
    let flat = flatten_snapshot(snap).unwrap_or_default();
    let mut children: BTreeMap<&str, Vec<(usize, String)>> = BTreeMap::new();
    for (k, f) in &flat {
        if let Some(p) = &f.parent {
            children.entry(p.as_str()).or_default().push((f.place, k.clone()));
        }
    }
    let mut kids = |k: &str| -> Vec<String> {
        let mut v = children.remove(k).unwrap_or_default();
        v.sort();
        v.into_iter().map(|(_, k)| k).collect()
    };
    let nodes = flat
        .iter()
        .map(|(k, f)| {
            let n = MNode {
                kind: f.kind.clone(),
                props: f.props.clone(),
                version: f.version,
                gen: f.gen,
                parent: f.parent.clone(),
                children: kids(k),
            };
            (k.clone(), n)
        })
        .collect();
    Doc { gen: snap["gen"].as_i64().unwrap_or(1), nodes, deleted: BTreeSet::new() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn snap() -> Value {
        let node = |key: &str, pos: Option<&str>, kids: Vec<Value>| {
            json!({"key": key, "kind": "p", "props": {"t": key}, "version": 2, "gen": 3, "pos": pos, "children": kids})
        };
        json!({"gen": 7, "root": node("root", None, vec![
            node("b", Some("a0"), vec![node("c", Some("a0"), vec![])]),
            node("a", Some("a1"), vec![]),
        ])})
    }

    #[test]
    fn rows_keep_parents_and_pos() {
        let rows = snapshot_rows(&snap());
        assert_eq!(rows.keys().collect::<Vec<_>>(), ["a", "b", "c", "root"]);
        assert_eq!(rows["c"].parent.as_deref(), Some("b"));
        assert_eq!(rows["a"].pos.as_deref(), Some("a1"));
        assert_eq!(rows["root"].pos, None);
        assert_eq!(json_row(&json!({"key": "a", "parent": "root", "pos": "a1", "kind": "p", "props": {"t": "a"}, "version": 2, "gen": 3})).1, rows["a"]);
    }

    #[test]
    fn model_doc_keeps_child_order() {
        let d = model_doc(&snap());
        assert_eq!(d.gen, 7);
        assert_eq!(d.nodes["root"].children, ["b", "a"]);
        assert_eq!(d.nodes["b"].children, ["c"]);
        assert_eq!(d.nodes["c"].parent.as_deref(), Some("b"));
        assert_eq!(d.nodes["a"].props["t"], "a");
        // the same document as the model flattens it
        assert_eq!(d.flat(), flatten_snapshot(&snap()).unwrap());
    }
}
