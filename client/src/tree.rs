//! An in-memory document tree: the shape both the shadow (last known server state) and the
//! local tree (what the app edits) have. Children are ordered vectors; in the shadow they are
//! kept sorted by the server's `pos` (byte order, then key, as `snapshot()` does).

use std::collections::{BTreeMap, BTreeSet};

use nodesync_core::patch::{shorten_to, Place, ROOT};
use serde_json::{Map, Value};

/// One node. `version`, `gen` and `pos` are the server's and only meaningful in the shadow
/// (local nodes carry the shadow's values, or 0/None for nodes not yet on the server).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: String,
    pub props: Map<String, Value>,
    pub parent: Option<String>,
    pub children: Vec<String>,
    pub version: i64,
    pub gen: i64,
    pub pos: Option<String>,
}

impl Node {
    pub fn new(kind: &str, props: Map<String, Value>, parent: Option<String>) -> Node {
        Node { kind: kind.to_string(), props, parent, children: vec![], version: 0, gen: 0, pos: None }
    }

    /// Same content (kind and props), ignoring place and server fields.
    pub fn same_content(&self, other: &Node) -> bool {
        self.kind == other.kind && self.props == other.props
    }
}

/// A document: nodes by key, the root is `"root"`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Tree {
    /// The generation this tree reflects (shadow) or was last rebased on (local).
    pub gen: i64,
    pub nodes: BTreeMap<String, Node>,
}

/// One node of [`Tree::flat`]: where it is and what it holds (no server fields).
#[derive(Debug, Clone, PartialEq)]
pub struct FlatEntry {
    pub parent: Option<String>,
    pub place: usize,
    pub kind: String,
    pub props: Map<String, Value>,
}

/// A `diff_since` result.
#[derive(Debug, Clone, PartialEq)]
pub struct Diff {
    pub from: i64,
    pub to: i64,
    pub reset: bool,
    pub nodes: Vec<DiffNode>,
    pub deleted: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DiffNode {
    pub key: String,
    pub parent: Option<String>,
    pub pos: Option<String>,
    pub kind: String,
    pub props: Map<String, Value>,
    pub version: i64,
    pub gen: i64,
}

fn field<'a>(v: &'a Value, name: &str) -> Result<&'a Value, String> {
    v.get(name).ok_or_else(|| format!("missing \"{name}\" in {}", excerpt(v)))
}

/// `v` as JSON, cut to 120 characters for a message.
fn excerpt(v: &Value) -> String {
    shorten_to(&v.to_string(), 120)
}

fn as_str(v: &Value, name: &str) -> Result<String, String> {
    field(v, name)?.as_str().map(str::to_string).ok_or_else(|| format!("\"{name}\" is not a string in {}", excerpt(v)))
}

fn as_opt_str(v: &Value, name: &str) -> Result<Option<String>, String> {
    match v.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("\"{name}\" is not a string in {}", excerpt(v))),
    }
}

fn as_i64(v: &Value, name: &str) -> Result<i64, String> {
    field(v, name)?.as_i64().ok_or_else(|| format!("\"{name}\" is not an integer in {}", excerpt(v)))
}

fn as_obj(v: &Value, name: &str) -> Result<Map<String, Value>, String> {
    field(v, name)?.as_object().cloned().ok_or_else(|| format!("\"{name}\" is not an object in {}", excerpt(v)))
}

impl Diff {
    pub fn from_json(v: &Value) -> Result<Diff, String> {
        let nodes = field(v, "nodes")?
            .as_array()
            .ok_or("\"nodes\" is not an array")?
            .iter()
            .map(|n| {
                Ok(DiffNode {
                    key: as_str(n, "key")?,
                    parent: as_opt_str(n, "parent")?,
                    pos: as_opt_str(n, "pos")?,
                    kind: as_str(n, "kind")?,
                    props: as_obj(n, "props")?,
                    version: as_i64(n, "version")?,
                    gen: as_i64(n, "gen")?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let deleted = field(v, "deleted")?
            .as_array()
            .ok_or("\"deleted\" is not an array")?
            .iter()
            .map(|k| k.as_str().map(str::to_string).ok_or_else(|| "a deleted key is not a string".to_string()))
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Diff {
            from: as_i64(v, "from")?,
            to: as_i64(v, "to")?,
            reset: field(v, "reset")?.as_bool().ok_or("\"reset\" is not a boolean")?,
            nodes,
            deleted,
        })
    }

    pub fn is_empty(&self) -> bool {
        !self.reset && self.nodes.is_empty() && self.deleted.is_empty()
    }
}

fn pos_order(nodes: &BTreeMap<String, Node>, a: &str, b: &str) -> std::cmp::Ordering {
    let pa = nodes.get(a).and_then(|n| n.pos.as_deref()).unwrap_or("").as_bytes();
    let pb = nodes.get(b).and_then(|n| n.pos.as_deref()).unwrap_or("").as_bytes();
    pa.cmp(pb).then_with(|| a.cmp(b))
}

impl Tree {
    /// A document with only its root.
    pub fn with_root(kind: &str, props: Map<String, Value>) -> Tree {
        let mut nodes = BTreeMap::new();
        let mut root = Node::new(kind, props, None);
        root.version = 1;
        root.gen = 1;
        nodes.insert(ROOT.to_string(), root);
        Tree { gen: 1, nodes }
    }

    /// From `nodesync.snapshot(doc)` (`{"doc", "gen", "root": {...}}`). Walks with a stack.
    pub fn from_snapshot(snap: &Value) -> Result<Tree, String> {
        let gen = as_i64(snap, "gen")?;
        let root = field(snap, "root")?;
        let mut nodes = BTreeMap::new();
        let mut stack: Vec<(&Value, Option<String>)> = vec![(root, None)];
        while let Some((n, parent)) = stack.pop() {
            let key = as_str(n, "key")?;
            let kids = n.get("children").and_then(Value::as_array).cloned().unwrap_or_default();
            let mut children = Vec::with_capacity(kids.len());
            for c in &kids {
                children.push(as_str(c, "key")?);
            }
            if let Some(arr) = n.get("children").and_then(Value::as_array) {
                for c in arr {
                    stack.push((c, Some(key.clone())));
                }
            }
            nodes.insert(
                key,
                Node {
                    kind: as_str(n, "kind")?,
                    props: as_obj(n, "props")?,
                    parent,
                    children,
                    version: as_i64(n, "version")?,
                    gen: as_i64(n, "gen")?,
                    pos: as_opt_str(n, "pos")?,
                },
            );
        }
        Ok(Tree { gen, nodes })
    }

    /// From a reset diff (every live node).
    pub fn from_diff_nodes(gen: i64, rows: &[DiffNode]) -> Result<Tree, String> {
        let mut t = Tree { gen, nodes: BTreeMap::new() };
        for r in rows {
            t.nodes.insert(
                r.key.clone(),
                Node {
                    kind: r.kind.clone(),
                    props: r.props.clone(),
                    parent: r.parent.clone(),
                    children: vec![],
                    version: r.version,
                    gen: r.gen,
                    pos: r.pos.clone(),
                },
            );
        }
        let pairs: Vec<(String, String)> =
            t.nodes.iter().filter_map(|(k, n)| n.parent.clone().map(|p| (p, k.clone()))).collect();
        let mut parents = BTreeSet::new();
        for (p, k) in pairs {
            t.nodes.get_mut(&p).ok_or_else(|| format!("node {k:?} has unknown parent {p:?}"))?.children.push(k);
            parents.insert(p);
        }
        t.sort_children(parents);
        if !t.nodes.contains_key(ROOT) {
            return Err("no root in reset diff".into());
        }
        t.check()?;
        Ok(t)
    }

    fn sort_children(&mut self, parents: BTreeSet<String>) {
        for p in parents {
            let Some(mut kids) = self.nodes.get_mut(&p).map(|n| std::mem::take(&mut n.children)) else { continue };
            kids.sort_by(|a, b| pos_order(&self.nodes, a, b));
            if let Some(n) = self.nodes.get_mut(&p) {
                n.children = kids;
            }
        }
    }

    /// Applies a (non-reset) diff in place: the shadow at `diff.from` becomes the shadow at
    /// `diff.to`. An inconsistent diff is an error (the caller then reloads a snapshot).
    pub fn apply_diff(&mut self, diff: &Diff) -> Result<(), String> {
        if diff.reset {
            *self = Tree::from_diff_nodes(diff.to, &diff.nodes)?;
            return Ok(());
        }
        if diff.from != self.gen {
            return Err(format!("diff from gen {} applied to a tree at gen {}", diff.from, self.gen));
        }
        for k in &diff.deleted {
            if let Some(n) = self.nodes.remove(k) {
                if let Some(p) = n.parent {
                    if let Some(pn) = self.nodes.get_mut(&p) {
                        pn.children.retain(|c| c != k);
                    }
                }
            }
        }
        let mut attach = vec![];
        for dn in &diff.nodes {
            match self.nodes.get_mut(&dn.key) {
                Some(n) => {
                    let replaced = n.parent != dn.parent || n.pos != dn.pos;
                    let old_parent = n.parent.clone();
                    n.kind = dn.kind.clone();
                    n.props = dn.props.clone();
                    n.version = dn.version;
                    n.gen = dn.gen;
                    if replaced {
                        n.parent = dn.parent.clone();
                        n.pos = dn.pos.clone();
                        if let Some(op) = old_parent {
                            if let Some(pn) = self.nodes.get_mut(&op) {
                                pn.children.retain(|c| c != &dn.key);
                            }
                        }
                        attach.push(dn.key.clone());
                    }
                }
                None => {
                    self.nodes.insert(
                        dn.key.clone(),
                        Node {
                            kind: dn.kind.clone(),
                            props: dn.props.clone(),
                            parent: dn.parent.clone(),
                            children: vec![],
                            version: dn.version,
                            gen: dn.gen,
                            pos: dn.pos.clone(),
                        },
                    );
                    attach.push(dn.key.clone());
                }
            }
        }
        let mut parents = BTreeSet::new();
        for k in attach {
            let Some(p) = self.nodes[&k].parent.clone() else { continue };
            self.nodes.get_mut(&p).ok_or_else(|| format!("diff puts {k:?} under unknown node {p:?}"))?.children.push(k);
            parents.insert(p);
        }
        self.sort_children(parents);
        self.gen = diff.to;
        Ok(())
    }

    /// Structural self-check: parent/children agree, every node reachable from the root.
    pub fn check(&self) -> Result<(), String> {
        let mut seen = 0usize;
        let mut stack = vec![ROOT.to_string()];
        while let Some(k) = stack.pop() {
            let n = self.nodes.get(&k).ok_or_else(|| format!("child {k:?} is not a node"))?;
            seen += 1;
            if seen > self.nodes.len() {
                return Err("cycle".into());
            }
            for c in &n.children {
                let cn = self.nodes.get(c).ok_or_else(|| format!("child {c:?} of {k:?} is not a node"))?;
                if cn.parent.as_deref() != Some(k.as_str()) {
                    return Err(format!("{c:?} is listed under {k:?} but its parent is {:?}", cn.parent));
                }
                stack.push(c.clone());
            }
        }
        if seen != self.nodes.len() {
            return Err(format!("{} nodes are not reachable from the root", self.nodes.len() - seen));
        }
        Ok(())
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.nodes.get(key)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.nodes.contains_key(key)
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn parent(&self, key: &str) -> Option<&str> {
        self.nodes.get(key).and_then(|n| n.parent.as_deref())
    }

    pub fn children(&self, key: &str) -> &[String] {
        self.nodes.get(key).map(|n| n.children.as_slice()).unwrap_or(&[])
    }

    /// The 0-based place of `key` among its siblings.
    pub fn index_of(&self, key: &str) -> Option<usize> {
        let p = self.parent(key)?;
        self.children(p).iter().position(|c| c == key)
    }

    /// True if `of` is `key` or one of its descendants.
    pub fn is_descendant_or_self(&self, of: &str, key: &str) -> bool {
        let mut cur = Some(of);
        let mut steps = 0;
        while let Some(c) = cur {
            if c == key {
                return true;
            }
            steps += 1;
            if steps > self.nodes.len() {
                return false;
            }
            cur = self.parent(c);
        }
        false
    }

    /// `key` and all its descendants (pre-order).
    pub fn subtree(&self, key: &str) -> Vec<String> {
        let mut out = vec![];
        let mut stack = vec![key.to_string()];
        while let Some(k) = stack.pop() {
            if let Some(n) = self.nodes.get(&k) {
                for c in n.children.iter().rev() {
                    stack.push(c.clone());
                }
                out.push(k);
            }
        }
        out
    }

    /// The path of sibling indexes from the root: sorting by it gives pre-order.
    pub fn path(&self, key: &str) -> Vec<usize> {
        let mut out = vec![];
        let mut cur = key;
        while let Some(p) = self.parent(cur) {
            out.push(self.children(p).iter().position(|c| c == cur).unwrap_or(0));
            cur = p;
            if out.len() > self.nodes.len() {
                break;
            }
        }
        out.reverse();
        out
    }

    /// Removes `key` from its parent's children (the node keeps its `parent` field).
    pub(crate) fn detach(&mut self, key: &str) {
        if let Some(p) = self.parent(key).map(str::to_string) {
            if let Some(pn) = self.nodes.get_mut(&p) {
                pn.children.retain(|c| c != key);
            }
        }
    }

    /// Inserts `key` (already in `nodes`) under `parent` at `place`.
    pub(crate) fn attach(&mut self, key: &str, parent: &str, place: &Place) -> Result<(), String> {
        let kids = &self.nodes.get(parent).ok_or_else(|| format!("no node {parent:?}"))?.children;
        let at = match place {
            Place::Last => kids.len(),
            Place::First => 0,
            Place::After(a) => kids.iter().position(|c| c == a).map(|i| i + 1).ok_or_else(|| format!("{a:?} is not a child of {parent:?}"))?,
        };
        self.nodes.get_mut(parent).expect("checked").children.insert(at, key.to_string());
        self.nodes.get_mut(key).ok_or_else(|| format!("no node {key:?}"))?.parent = Some(parent.to_string());
        Ok(())
    }

    /// One entry per node: parent, place among siblings, kind, props.
    pub fn flat(&self) -> BTreeMap<String, FlatEntry> {
        let mut out = BTreeMap::new();
        for (k, n) in &self.nodes {
            out.insert(
                k.clone(),
                FlatEntry { parent: n.parent.clone(), place: self.index_of(k).unwrap_or(0), kind: n.kind.clone(), props: n.props.clone() },
            );
        }
        out
    }

    /// A readable outline: one line per node, indented by depth, at most `max_lines` lines.
    pub fn outline(&self, max_lines: usize) -> String {
        let mut out = String::new();
        let mut lines = 0;
        let mut stack = vec![(ROOT.to_string(), 0usize)];
        while let Some((k, depth)) = stack.pop() {
            let Some(n) = self.nodes.get(&k) else { continue };
            if lines == max_lines {
                out.push_str(&format!("… ({} nodes in all)\n", self.nodes.len()));
                break;
            }
            let mut props = Value::Object(n.props.clone()).to_string();
            if props.len() > 60 {
                let cut = props.char_indices().take_while(|(i, _)| *i < 57).last().map_or(0, |(i, c)| i + c.len_utf8());
                props.truncate(cut);
                props.push('…');
            }
            out.push_str(&format!("{}{} [{}] {}\n", "  ".repeat(depth), k, n.kind, props));
            lines += 1;
            for c in n.children.iter().rev() {
                stack.push((c.clone(), depth + 1));
            }
        }
        out
    }

    /// Depth of the deepest node (root = 0).
    pub fn depth(&self) -> usize {
        let mut max = 0;
        let mut stack = vec![(ROOT, 0usize)];
        while let Some((k, d)) = stack.pop() {
            max = max.max(d);
            for c in self.children(k) {
                stack.push((c.as_str(), d + 1));
            }
        }
        max
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn snapshot_and_diff_round_trip() {
        let snap = json!({"doc": "d", "gen": 3, "root": {"key": "root", "kind": "doc", "props": {}, "version": 1, "gen": 1, "pos": null, "children": [
            {"key": "a", "kind": "p", "props": {"t": 1}, "version": 1, "gen": 2, "pos": "a0", "children": [
                {"key": "a1", "kind": "p", "props": {}, "version": 1, "gen": 2, "pos": "a0", "children": []}]},
            {"key": "b", "kind": "p", "props": {}, "version": 2, "gen": 3, "pos": "a1", "children": []}]}});
        let mut t = Tree::from_snapshot(&snap).unwrap();
        t.check().unwrap();
        assert_eq!(t.children("root"), ["a", "b"]);
        assert_eq!(t.path("a1"), [0, 0]);
        let diff = Diff::from_json(&json!({"doc": "d", "from": 3, "to": 5, "reset": false,
            "nodes": [{"key": "c", "parent": "root", "pos": "a0V", "kind": "p", "props": {}, "version": 1, "gen": 4},
                      {"key": "b", "parent": "root", "pos": "Zz", "kind": "h", "props": {"x": 2}, "version": 3, "gen": 5}],
            "deleted": ["a", "a1"]}))
        .unwrap();
        t.apply_diff(&diff).unwrap();
        t.check().unwrap();
        assert_eq!(t.gen, 5);
        assert_eq!(t.children("root"), ["b", "c"]);
        assert_eq!(t.get("b").unwrap().kind, "h");
        assert!(!t.contains("a1"));
        assert!(t.outline(10).contains("  b [h] {\"x\":2}"));
    }
}
