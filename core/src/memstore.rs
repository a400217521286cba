//! An in-memory document implementing [`Store`], with the same write semantics as the SQL
//! layer ([`MemStore::apply`]), for tests and the property tests against
//! [`crate::reference`]. Not part of the extension's build (feature `testing`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::Result;
use crate::store::{Child, Store, StoredNode};

/// A full node, as kept by [`MemStore`].
#[derive(Debug, Clone, PartialEq)]
pub struct MemNode {
    pub row: StoredNode,
    pub props: Map<String, Value>,
}

/// An in-memory document implementing [`Store`], with the same write semantics as the SQL
/// layer ([`MemStore::apply`]). Used by tests and by the property tests against the model.
#[derive(Debug, Clone, Default)]
pub struct MemStore {
    pub nodes: BTreeMap<String, MemNode>,
    pub gen: i64,
}

impl MemStore {
    pub fn new(root_kind: &str, root_props: Map<String, Value>) -> MemStore {
        let mut nodes = BTreeMap::new();
        nodes.insert(
            crate::patch::ROOT.to_string(),
            MemNode {
                row: StoredNode {
                    key: crate::patch::ROOT.to_string(),
                    parent: None,
                    pos: None,
                    kind: root_kind.to_string(),
                    version: 1,
                    gen: 1,
                    deleted: false,
                },
                props: root_props,
            },
        );
        MemStore { nodes, gen: 1 }
    }

    fn live_children(&self, parent: &str) -> Vec<Child> {
        let mut v: Vec<Child> = self
            .nodes
            .values()
            .filter(|n| !n.row.deleted && n.row.parent.as_deref() == Some(parent))
            .filter_map(|n| n.row.pos.clone().map(|p| (n.row.key.clone(), p)))
            .collect();
        v.sort_by(|a, b| a.1.as_bytes().cmp(b.1.as_bytes()));
        v
    }

    /// The live document flattened like [`crate::tree::flatten_snapshot`], for comparisons.
    pub fn flat(&self) -> crate::tree::Flat {
        let mut out = crate::tree::Flat::new();
        for (k, n) in self.nodes.iter().filter(|(_, n)| !n.row.deleted) {
            let place = match &n.row.parent {
                Some(p) => self.live_children(p).iter().position(|c| &c.0 == k).unwrap_or(usize::MAX),
                None => 0,
            };
            out.insert(
                k.clone(),
                crate::tree::FlatNode {
                    parent: n.row.parent.clone(),
                    place,
                    kind: n.row.kind.clone(),
                    props: n.props.clone(),
                    version: n.row.version,
                    gen: n.row.gen,
                },
            );
        }
        out
    }

    /// Writes a plan the way `src/commit.rs` does in SQL. Returns the new gen.
    pub fn apply(&mut self, plan: &crate::engine::Plan) -> i64 {
        let gen = self.gen + 1;
        for c in &plan.changes {
            if let Some(n) = self.nodes.get_mut(&c.key) {
                if let Some((parent, pos)) = &c.place {
                    n.row.parent = Some(parent.clone());
                    n.row.pos = Some(pos.clone());
                }
                if let Some(k) = &c.kind {
                    n.row.kind = k.clone();
                }
                if let Some(d) = &c.delta {
                    crate::engine::merge_delta(&mut n.props, d);
                }
                n.row.version += 1;
                n.row.gen = gen;
            }
        }
        for key in &plan.deletes {
            if let Some(n) = self.nodes.get_mut(key) {
                n.row.deleted = true;
                n.row.parent = None;
                n.row.pos = None;
                n.row.version += 1;
                n.row.gen = gen;
                n.props.clear();
            }
        }
        for c in &plan.creates {
            self.nodes.insert(
                c.key.clone(),
                MemNode {
                    row: StoredNode {
                        key: c.key.clone(),
                        parent: Some(c.parent.clone()),
                        pos: Some(c.pos.clone()),
                        kind: c.kind.clone(),
                        version: 1,
                        gen,
                        deleted: false,
                    },
                    props: c.props.clone(),
                },
            );
        }
        for (key, kind) in &plan.ephemeral {
            self.nodes.insert(
                key.clone(),
                MemNode {
                    row: StoredNode {
                        key: key.clone(),
                        parent: None,
                        pos: None,
                        kind: kind.clone(),
                        version: 1,
                        gen,
                        deleted: true,
                    },
                    props: Map::new(),
                },
            );
        }
        self.gen = gen;
        gen
    }
}

impl Store for MemStore {
    fn node(&mut self, key: &str) -> Result<Option<StoredNode>> {
        Ok(self.nodes.get(key).map(|n| n.row.clone()))
    }

    fn children_after(&mut self, parent: &str, after: Option<&str>, limit: usize) -> Result<Vec<Child>> {
        Ok(self
            .live_children(parent)
            .into_iter()
            .filter(|(_, p)| after.is_none_or(|a| p.as_bytes() > a.as_bytes()))
            .take(limit)
            .collect())
    }

    fn children_before(&mut self, parent: &str, before: Option<&str>, limit: usize) -> Result<Vec<Child>> {
        Ok(self
            .live_children(parent)
            .into_iter()
            .rev()
            .filter(|(_, p)| before.is_none_or(|b| p.as_bytes() < b.as_bytes()))
            .take(limit)
            .collect())
    }

    fn props(&mut self, key: &str) -> Result<Map<String, Value>> {
        Ok(self.nodes.get(key).map(|n| n.props.clone()).unwrap_or_default())
    }

    fn descendants(&mut self, key: &str) -> Result<Vec<StoredNode>> {
        let mut out = Vec::new();
        let mut stack = vec![key.to_string()];
        while let Some(k) = stack.pop() {
            for n in self.nodes.values() {
                if !n.row.deleted && n.row.parent.as_deref() == Some(k.as_str()) {
                    out.push(n.row.clone());
                    stack.push(n.row.key.clone());
                }
            }
        }
        Ok(out)
    }
}
