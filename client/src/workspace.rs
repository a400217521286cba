//! The local edit state of a replica, without I/O: the shadow (last known server state), the
//! local tree the app edits, the dirty keys (touched locally) and the placed keys (created or
//! moved locally: their place follows the local tree). [`crate::Replica`] wraps one with a
//! connection; the pure tests drive one against the reference model.

use std::collections::BTreeSet;

use nodesync_core::patch::{Patch, Place, ROOT};
use serde_json::{Map, Value};

use crate::rebase::{make_patch, rebase, Dropped, Policy};
use crate::tree::{Node, Tree};

/// A local edit that cannot be made (the local tree is unchanged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditError {
    NoSuchNode(String),
    /// The root cannot be moved or deleted.
    Root,
    /// `after` is not a child of the parent.
    BadAnchor(String),
    /// The move would put the node under itself.
    Cycle,
}

impl std::fmt::Display for EditError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EditError::NoSuchNode(k) => write!(f, "no node {k:?} in the local tree"),
            EditError::Root => write!(f, "the root cannot be moved or deleted"),
            EditError::BadAnchor(k) => write!(f, "{k:?} is not a child of the new parent"),
            EditError::Cycle => write!(f, "a node cannot move under itself"),
        }
    }
}

impl std::error::Error for EditError {}

#[derive(Debug, Clone)]
pub struct Workspace {
    pub(crate) shadow: Tree,
    pub(crate) local: Tree,
    pub(crate) placed: BTreeSet<String>,
    pub(crate) dirty: BTreeSet<String>,
    key_prefix: String,
    next_key: u64,
}

impl Workspace {
    /// A workspace on `shadow` with no local edits; created keys are `<key_prefix><n>`.
    pub fn new(shadow: Tree, key_prefix: String) -> Workspace {
        Workspace { local: shadow.clone(), shadow, placed: BTreeSet::new(), dirty: BTreeSet::new(), key_prefix, next_key: 0 }
    }

    /// The local tree.
    pub fn tree(&self) -> &Tree {
        &self.local
    }

    pub fn shadow(&self) -> &Tree {
        &self.shadow
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.local.get(key)
    }

    pub fn children(&self, key: &str) -> &[String] {
        self.local.children(key)
    }

    pub fn has_local_edits(&self) -> bool {
        !self.dirty.is_empty() || !self.placed.is_empty()
    }

    /// The local edits as one patch against the shadow (`base` = shadow gen).
    pub fn patch(&self) -> Patch {
        make_patch(&self.shadow, &self.local, &self.placed, &self.dirty)
    }

    /// Dirty marks that turned out to change nothing (e.g. a prop set back to its value).
    pub fn forget_noop_edits(&mut self) {
        self.dirty.clear();
        self.placed.clear();
    }

    /// Every local edit is on the server, which is now at `remote`: the local tree becomes
    /// `remote`. Returns the local tree from before.
    pub fn committed(&mut self, remote: Tree) -> Tree {
        let before = std::mem::replace(&mut self.local, remote.clone());
        self.shadow = remote;
        self.placed.clear();
        self.dirty.clear();
        before
    }

    /// The server moved on to `remote`: rebase the local edits onto it (see [`crate::rebase`]).
    /// Returns the local tree from before and the dropped edits.
    pub fn rebase_onto(&mut self, remote: Tree, policy: Policy) -> (Tree, Vec<Dropped>) {
        if !self.has_local_edits() {
            return (self.committed(remote), vec![]);
        }
        let r = rebase(&self.shadow, &self.local, &self.placed, &remote, policy);
        let before = std::mem::replace(&mut self.local, r.local);
        self.placed = r.placed;
        self.dirty = r.dirty;
        self.shadow = remote;
        (before, r.dropped)
    }

    fn check_place(&self, parent: &str, place: &Place, key: Option<&str>) -> Result<(), EditError> {
        if !self.local.contains(parent) {
            return Err(EditError::NoSuchNode(parent.to_string()));
        }
        if let Place::After(a) = place {
            if Some(a.as_str()) == key || self.local.parent(a) != Some(parent) {
                return Err(EditError::BadAnchor(a.clone()));
            }
        }
        Ok(())
    }

    /// Creates a node under `parent` at `place` with a fresh key, which it returns.
    pub fn create(&mut self, parent: &str, place: Place, kind: &str, props: Map<String, Value>) -> Result<String, EditError> {
        let key = loop {
            self.next_key += 1;
            let k = format!("{}{}", self.key_prefix, self.next_key);
            if !self.local.contains(&k) && !self.shadow.contains(&k) {
                break k;
            }
        };
        self.create_with_key(&key, parent, place, kind, props)?;
        Ok(key)
    }

    /// Creates a node with a key chosen by the caller (it must never have existed).
    pub fn create_with_key(&mut self, key: &str, parent: &str, place: Place, kind: &str, mut props: Map<String, Value>) -> Result<(), EditError> {
        self.check_place(parent, &place, Some(key))?;
        if self.local.contains(key) {
            return Err(EditError::BadAnchor(key.to_string()));
        }
        props.retain(|_, v| !v.is_null());
        self.local.nodes.insert(key.to_string(), Node::new(kind, props, Some(parent.to_string())));
        self.local.attach(key, parent, &place).map_err(|_| EditError::BadAnchor(key.to_string()))?;
        self.placed.insert(key.to_string());
        self.dirty.insert(key.to_string());
        Ok(())
    }

    /// Updates a node: `props` is a delta (null removes a property), `kind` if given.
    pub fn update(&mut self, key: &str, kind: Option<&str>, props: Map<String, Value>) -> Result<(), EditError> {
        let n = self.local.nodes.get_mut(key).ok_or_else(|| EditError::NoSuchNode(key.to_string()))?;
        if let Some(k) = kind {
            n.kind = k.to_string();
        }
        for (k, v) in props {
            if v.is_null() {
                n.props.remove(&k);
            } else {
                n.props.insert(k, v);
            }
        }
        self.dirty.insert(key.to_string());
        Ok(())
    }

    /// Moves a node (with its subtree) under `parent` at `place`.
    pub fn move_to(&mut self, key: &str, parent: &str, place: Place) -> Result<(), EditError> {
        if key == ROOT {
            return Err(EditError::Root);
        }
        if !self.local.contains(key) {
            return Err(EditError::NoSuchNode(key.to_string()));
        }
        self.check_place(parent, &place, Some(key))?;
        if self.local.is_descendant_or_self(parent, key) {
            return Err(EditError::Cycle);
        }
        self.local.detach(key);
        self.local.attach(key, parent, &place).expect("place checked");
        self.placed.insert(key.to_string());
        self.dirty.insert(key.to_string());
        Ok(())
    }

    /// Deletes a node and its subtree.
    pub fn delete(&mut self, key: &str) -> Result<(), EditError> {
        if key == ROOT {
            return Err(EditError::Root);
        }
        if !self.local.contains(key) {
            return Err(EditError::NoSuchNode(key.to_string()));
        }
        let sub = self.local.subtree(key);
        self.local.detach(key);
        for k in sub {
            self.local.nodes.remove(&k);
            self.placed.remove(&k);
            self.dirty.insert(k);
        }
        Ok(())
    }
}
