//! Op semantics (docs/api/apply_patch.md): evaluates a parsed patch against the document as it was before
//! the patch, through a [`Store`], and yields either the list of conflicts or a [`Plan`] of
//! row writes. Ops see the effects of earlier ops of the same patch through an overlay; every
//! `version` is checked against the state before the patch; a node touched by several ops
//! gains one version.
//!
//! Cost: a handful of indexed lookups per op (the node, its parent, the anchor and the next
//! sibling, the parent chain for `move`), and the subtree for `delete`. Nothing grows with the
//! document or with a child list.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::{Map, Value};

use crate::error::{Conflict, Error, Reason, Result};
use crate::patch::{shorten, Limits, Op, Patch, Place};
use crate::pos;
use crate::store::{Child, Store, StoredNode};

mod plan;
mod text_ops;

/// A node the patch creates.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNode {
    pub key: String,
    pub parent: String,
    pub pos: String,
    pub kind: String,
    pub props: Map<String, Value>,
}

/// An existing node the patch changes (it gains one version).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeChange {
    pub key: String,
    pub version: i64,
    /// New `(parent, pos)` if moved.
    pub place: Option<(String, String)>,
    pub kind: Option<String>,
    /// Props delta: a value sets, `null` removes.
    pub delta: Option<Map<String, Value>>,
}

/// The row writes of one patch.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub creates: Vec<NewNode>,
    pub changes: Vec<NodeChange>,
    /// Existing nodes deleted (each gets a tombstone).
    pub deletes: Vec<String>,
    /// Keys created and deleted within this patch: `(key, kind)`, tombstones only.
    pub ephemeral: Vec<(String, String)>,
    /// The result's `versions`: new version, or null for deleted nodes.
    pub versions: Map<String, Value>,
    /// The history of the commit: for every changed or deleted node, its undo entry
    /// ([`crate::history`]). Empty when the patch only creates.
    pub undo: Map<String, Value>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.creates.is_empty() && self.changes.is_empty() && self.deletes.is_empty() && self.ephemeral.is_empty()
    }

    /// Change in the number of live nodes.
    pub fn live_delta(&self) -> i64 {
        self.creates.len() as i64 - self.deletes.len() as i64
    }
}

#[derive(Debug)]
pub enum Outcome {
    Plan(Plan),
    Conflicts(Vec<Conflict>),
}

/// Applies a props delta: a value sets the key, `null` removes it.
pub fn merge_delta(props: &mut Map<String, Value>, delta: &Map<String, Value>) {
    for (k, v) in delta {
        if v.is_null() {
            props.remove(k);
        } else {
            props.insert(k.clone(), v.clone());
        }
    }
}

/// Composes two deltas: applying the result equals applying `first` then `then`.
fn compose_delta(first: &mut Map<String, Value>, then: &Map<String, Value>) {
    for (k, v) in then {
        first.insert(k.clone(), v.clone());
    }
}

/// The overlay entry of a node touched by this patch.
#[derive(Debug, Clone)]
struct Entry {
    /// The stored row before the patch; `None` if created by this patch.
    orig: Option<StoredNode>,
    live: bool,
    parent: Option<String>,
    pos: Option<String>,
    kind: String,
    kind_changed: bool,
    /// Created nodes: full props. Existing nodes: the composed delta (if any).
    props: Option<Map<String, Value>>,
    moved: bool,
}

/// The effective state of a node as the current op sees it.
#[derive(Debug, Clone)]
struct View {
    live: bool,
    parent: Option<String>,
    pos: Option<String>,
    /// Version before the patch; `None` for nodes created in the patch.
    orig_version: Option<i64>,
}

struct Engine<'s, S: Store> {
    store: &'s mut S,
    limits: Limits,
    /// Store reads, cached (the store is not written during evaluation).
    cache: HashMap<String, Option<StoredNode>>,
    overlay: HashMap<String, Entry>,
    /// Order in which keys entered the overlay (deterministic plans).
    order: Vec<String>,
    /// parent -> (pos, key) of overlay nodes placed (created or moved) under it and live.
    placed: HashMap<String, BTreeSet<(String, String)>>,
    /// Depths computed in this patch (cleared by every move).
    depths: HashMap<String, usize>,
    /// Stored props, read only for the ops that edit text.
    props: HashMap<String, Map<String, Value>>,
}

fn internal(e: pos::PosError) -> Error {
    Error::Internal(e.0)
}

impl<'s, S: Store> Engine<'s, S> {
    fn stored(&mut self, key: &str) -> Result<Option<StoredNode>> {
        if let Some(n) = self.cache.get(key) {
            return Ok(n.clone());
        }
        let n = self.store.node(key)?;
        self.cache.insert(key.to_string(), n.clone());
        Ok(n)
    }

    fn view(&mut self, key: &str) -> Result<Option<View>> {
        if let Some(e) = self.overlay.get(key) {
            return Ok(Some(View {
                live: e.live,
                parent: e.parent.clone(),
                pos: e.pos.clone(),
                orig_version: e.orig.as_ref().map(|o| o.version),
            }));
        }
        Ok(self.stored(key)?.map(|n| View {
            live: !n.deleted,
            parent: n.parent,
            pos: n.pos,
            orig_version: Some(n.version),
        }))
    }

    /// The overlay entry for an existing (stored) node, created on first touch.
    fn touch(&mut self, key: &str) -> Result<&mut Entry> {
        if !self.overlay.contains_key(key) {
            let orig = self
                .stored(key)?
                .ok_or_else(|| Error::Internal(format!("touching unknown node {key:?}")))?;
            let e = Entry {
                live: !orig.deleted,
                parent: orig.parent.clone(),
                pos: orig.pos.clone(),
                kind: orig.kind.clone(),
                kind_changed: false,
                props: None,
                moved: false,
                orig: Some(orig),
            };
            self.overlay.insert(key.to_string(), e);
            self.order.push(key.to_string());
        }
        self.overlay
            .get_mut(key)
            .ok_or_else(|| Error::Internal(format!("overlay lost node {key:?}")))
    }

    fn unplace(&mut self, key: &str) {
        if let Some(e) = self.overlay.get(key) {
            if let (Some(p), Some(pos)) = (&e.parent, &e.pos) {
                if let Some(set) = self.placed.get_mut(p) {
                    set.remove(&(pos.clone(), key.to_string()));
                }
            }
        }
    }

    fn place_at(&mut self, key: &str, parent: &str, pos: &str) {
        self.placed
            .entry(parent.to_string())
            .or_default()
            .insert((pos.to_string(), key.to_string()));
    }

    /// Is a stored child still where the store says (not moved, deleted, or `exclude`)?
    fn stays(&self, child: &Child, parent: &str, exclude: &str) -> bool {
        if child.0 == exclude {
            return false;
        }
        match self.overlay.get(&child.0) {
            None => true,
            Some(e) => e.live && e.parent.as_deref() == Some(parent) && e.pos.as_deref() == Some(child.1.as_str()),
        }
    }

    /// The nearest of `parent`'s effective children beyond `bound`, as `(pos, key)`: the
    /// smallest pos above it when `upward`, else the largest one below it (any child when
    /// `bound` is None). Stored children moved away or deleted by this patch, and `exclude`,
    /// are skipped.
    fn neighbour(&mut self, parent: &str, bound: Option<&str>, exclude: &str, upward: bool) -> Result<Option<Child>> {
        let beyond = |p: &str| bound.is_none_or(|b| if upward { p.as_bytes() > b.as_bytes() } else { p.as_bytes() < b.as_bytes() });
        let from_overlay = self.placed.get(parent).and_then(|set| {
            let mut it: Box<dyn Iterator<Item = &(String, String)>> = if upward { Box::new(set.iter()) } else { Box::new(set.iter().rev()) };
            it.find(|(p, k)| k != exclude && beyond(p)).map(|(p, k)| (k.clone(), p.clone()))
        });
        let mut cursor = bound.map(str::to_string);
        let mut limit = 1;
        let from_store = loop {
            let batch = if upward {
                self.store.children_after(parent, cursor.as_deref(), limit)?
            } else {
                self.store.children_before(parent, cursor.as_deref(), limit)?
            };
            let n = batch.len();
            if let Some(c) = batch.iter().find(|c| self.stays(c, parent, exclude)) {
                break Some(c.clone());
            }
            if n < limit {
                break None;
            }
            cursor = batch.last().map(|c| c.1.clone());
            limit = (limit * 4).min(1024);
        };
        Ok(nearest(from_overlay, from_store, !upward))
    }

    fn next_pos(&mut self, parent: &str, after: Option<&str>, exclude: &str) -> Result<Option<String>> {
        Ok(self.neighbour(parent, after, exclude, true)?.map(|c| c.1))
    }

    fn prev_pos(&mut self, parent: &str, before: Option<&str>, exclude: &str) -> Result<Option<String>> {
        Ok(self.neighbour(parent, before, exclude, false)?.map(|c| c.1))
    }

    /// `parent`'s effective children in order (stored ones still there, and the ones this
    /// patch placed under it). Reads the child list: used by `join` only.
    fn children_of(&mut self, parent: &str) -> Result<Vec<Child>> {
        let mut kids: Vec<Child> = self
            .store
            .children_after(parent, None, usize::MAX)?
            .into_iter()
            .filter(|c| self.stays(c, parent, ""))
            .collect();
        if let Some(set) = self.placed.get(parent) {
            kids.extend(set.iter().map(|(p, k)| (k.clone(), p.clone())));
        }
        kids.sort_by(|a, b| a.1.as_bytes().cmp(b.1.as_bytes()));
        Ok(kids)
    }

    /// Computes the pos for `key` placed under `parent` at `place`, or the conflict.
    fn position(&mut self, i: usize, key: &str, parent: &str, place: &Place) -> Result<std::result::Result<String, Conflict>> {
        let (lo, hi) = match place {
            Place::Last => (self.prev_pos(parent, None, key)?, None),
            Place::First => (None, self.next_pos(parent, None, key)?),
            Place::After(anchor) => {
                let v = self.view(anchor)?;
                let v = match v {
                    Some(v) if v.live => v,
                    _ => {
                        return Ok(Err(conflict(i, anchor, Reason::Missing, format!(
                            "anchor \"{}\" does not exist", shorten(anchor)
                        ))))
                    }
                };
                if v.parent.as_deref() != Some(parent) {
                    return Ok(Err(conflict(i, anchor, Reason::Anchor, format!(
                        "anchor \"{}\" is not a child of \"{}\"", shorten(anchor), shorten(parent)
                    ))));
                }
                let apos = v
                    .pos
                    .ok_or_else(|| Error::Internal(format!("live child {anchor:?} has no pos")))?;
                let hi = self.next_pos(parent, Some(&apos), key)?;
                (Some(apos), hi)
            }
        };
        pos::key_between(lo.as_deref(), hi.as_deref()).map(Ok).map_err(internal)
    }

    fn live_parent(&mut self, i: usize, parent: &str) -> Result<Option<Conflict>> {
        match self.view(parent)? {
            Some(v) if v.live => Ok(None),
            _ => Ok(Some(conflict(i, parent, Reason::Missing, format!("parent \"{}\" does not exist", shorten(parent))))),
        }
    }

    /// The live node `key` with its version checked, or the conflict.
    fn checked(&mut self, i: usize, key: &str, version: i64) -> Result<std::result::Result<View, Conflict>> {
        let v = match self.view(key)? {
            Some(v) if v.live => v,
            _ => return Ok(Err(conflict(i, key, Reason::Missing, format!("node \"{}\" does not exist", shorten(key))))),
        };
        if let Some(actual) = v.orig_version {
            if actual != version {
                let mut c = conflict(i, key, Reason::Version, format!(
                    "op is based on version {version}, the node is at version {actual}"
                ));
                c.expected = Some(version);
                c.actual = Some(actual);
                return Ok(Err(c));
            }
        }
        Ok(Ok(v))
    }

    fn create(&mut self, i: usize, key: &str, kind: &str, props: &Map<String, Value>, parent: &str, place: &Place) -> Result<Option<Conflict>> {
        if self.view(key)?.is_some() {
            return Ok(Some(conflict(i, key, Reason::Exists, format!(
                "key \"{}\" exists or existed in this document (keys are never reused)", shorten(key)
            ))));
        }
        if let Some(c) = self.live_parent(i, parent)? {
            return Ok(Some(c));
        }
        let pos = match self.position(i, key, parent, place)? {
            Ok(p) => p,
            Err(c) => return Ok(Some(c)),
        };
        let depth = self.depth(parent)? + 1;
        self.check_depth(i, key, depth)?;
        self.overlay.insert(
            key.to_string(),
            Entry {
                orig: None,
                live: true,
                parent: Some(parent.to_string()),
                pos: Some(pos.clone()),
                kind: kind.to_string(),
                kind_changed: false,
                props: Some(props.clone()),
                moved: false,
            },
        );
        self.order.push(key.to_string());
        self.place_at(key, parent, &pos);
        Ok(None)
    }

    fn update(&mut self, i: usize, key: &str, version: i64, kind: &Option<String>, props: &Option<Map<String, Value>>) -> Result<Option<Conflict>> {
        if let Err(c) = self.checked(i, key, version)? {
            return Ok(Some(c));
        }
        let e = self.touch(key)?;
        if let Some(k) = kind {
            e.kind = k.clone();
            e.kind_changed = true;
        }
        // (a node's props size is checked where it is written: commit::commit)
        if let Some(delta) = props {
            let created = e.orig.is_none();
            match (&mut e.props, created) {
                (Some(full), true) => merge_delta(full, delta),
                (Some(d), false) => compose_delta(d, delta),
                (None, _) => e.props = Some(delta.clone()),
            }
        }
        Ok(None)
    }

    /// Depth of a live node as the patch sees it (the root is 0).
    fn depth(&mut self, key: &str) -> Result<usize> {
        let mut d = 0usize;
        let mut cur = key.to_string();
        loop {
            if let Some(&known) = self.depths.get(&cur) {
                d += known;
                break;
            }
            match self.view(&cur)?.and_then(|v| v.parent) {
                Some(p) => {
                    d += 1;
                    if d > 10_000_000 {
                        return Err(Error::Internal(format!("parent chain of {key:?} does not end")));
                    }
                    cur = p;
                }
                None => break,
            }
        }
        self.depths.insert(key.to_string(), d);
        Ok(d)
    }

    fn check_depth(&self, i: usize, key: &str, depth: usize) -> Result<()> {
        if depth > self.limits.max_depth {
            let what = format!("op {i}: \"{}\" would be at depth", shorten(key));
            return Err(Error::limit("nodesync.max_depth", self.limits.max_depth, depth, what, ""));
        }
        Ok(())
    }

    fn is_ancestor_or_self(&mut self, key: &str, of: &str) -> Result<bool> {
        let mut cur = Some(of.to_string());
        let mut steps = 0usize;
        while let Some(c) = cur {
            if c == key {
                return Ok(true);
            }
            steps += 1;
            if steps > 1_000_000 {
                return Err(Error::Internal(format!("parent chain of {of:?} does not end")));
            }
            cur = self.view(&c)?.and_then(|v| v.parent);
        }
        Ok(false)
    }

    fn move_(&mut self, i: usize, key: &str, version: i64, parent: &str, place: &Place) -> Result<Option<Conflict>> {
        if let Err(c) = self.checked(i, key, version)? {
            return Ok(Some(c));
        }
        if let Some(c) = self.live_parent(i, parent)? {
            return Ok(Some(c));
        }
        if self.is_ancestor_or_self(key, parent)? {
            return Ok(Some(conflict(i, key, Reason::Cycle, format!(
                "moving \"{}\" under \"{}\" would put it inside itself", shorten(key), shorten(parent)
            ))));
        }
        let pos = match self.position(i, key, parent, place)? {
            Ok(p) => p,
            Err(c) => return Ok(Some(c)),
        };
        // a subtree that does not go deeper stays within the limit: only then is its height
        // (which costs a read of the subtree) needed
        let depth = self.depth(parent)? + 1;
        if depth > self.depth(key)? {
            let height = self.subtree(key)?.iter().map(|n| n.2).max().unwrap_or(0);
            self.check_depth(i, key, depth + height)?;
        }
        self.depths.clear();
        self.touch(key)?;
        self.unplace(key);
        let e = self.touch(key)?;
        e.parent = Some(parent.to_string());
        e.pos = Some(pos.clone());
        e.moved = true;
        self.place_at(key, parent, &pos);
        Ok(None)
    }

    /// Live descendants of `root` as the patch sees them:
    /// `(key, stored gen if untouched, depth below root)`.
    fn subtree(&mut self, root: &str) -> Result<Vec<(String, Option<i64>, usize)>> {
        let mut store_children: HashMap<String, Vec<(String, i64)>> = HashMap::new();
        let mut known: HashSet<String> = HashSet::new();
        let mut out = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut stack = vec![(root.to_string(), 0usize)];
        while let Some((x, depth)) = stack.pop() {
            let existing = self.overlay.get(&x).is_none_or(|e| e.orig.is_some());
            if existing && !known.contains(&x) {
                for n in self.store.descendants(&x)? {
                    let parent = n.parent.clone().ok_or_else(|| Error::Internal(format!("live node {:?} has no parent", n.key)))?;
                    known.insert(n.key.clone());
                    store_children.entry(parent).or_default().push((n.key.clone(), n.gen));
                    self.cache.entry(n.key.clone()).or_insert(Some(n));
                }
                known.insert(x.clone());
            }
            let mut kids: Vec<(String, Option<i64>)> = Vec::new();
            for (k, g) in store_children.get(&x).cloned().unwrap_or_default() {
                match self.overlay.get(&k) {
                    None => kids.push((k, Some(g))),
                    Some(e) if e.live && e.parent.as_deref() == Some(x.as_str()) => kids.push((k, None)),
                    Some(_) => {}
                }
            }
            if let Some(set) = self.placed.get(&x) {
                for (_, k) in set {
                    kids.push((k.clone(), None));
                }
            }
            for (k, g) in kids {
                if seen.insert(k.clone()) {
                    stack.push((k.clone(), depth + 1));
                    out.push((k, g, depth + 1));
                }
            }
        }
        Ok(out)
    }

    fn delete(&mut self, i: usize, key: &str, version: i64, base: Option<i64>) -> Result<Option<Conflict>> {
        if let Err(c) = self.checked(i, key, version)? {
            return Ok(Some(c));
        }
        let sub = self.subtree(key)?;
        if let Some(base) = base {
            if let Some((k, g)) = sub.iter().find_map(|(k, g, _)| g.filter(|g| *g > base).map(|g| (k, g))) {
                let mut c = conflict(i, key, Reason::Subtree, format!(
                    "node \"{}\" inside the deleted subtree changed at gen {g}, after base {base}", shorten(k)
                ));
                c.actual = Some(g);
                return Ok(Some(c));
            }
        }
        for k in std::iter::once(key.to_string()).chain(sub.into_iter().map(|(k, _, _)| k)) {
            if !self.overlay.contains_key(&k) {
                self.touch(&k)?;
            }
            self.unplace(&k);
            if let Some(e) = self.overlay.get_mut(&k) {
                e.live = false;
            }
        }
        Ok(None)
    }

}

/// The child with the smaller pos of two (the larger when `max`).
fn nearest(a: Option<Child>, b: Option<Child>, max: bool) -> Option<Child> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if (a.1.as_bytes() < b.1.as_bytes()) != max { a } else { b }),
        (a, b) => a.or(b),
    }
}

fn conflict(op: usize, key: &str, reason: Reason, note: String) -> Conflict {
    Conflict { op, key: key.to_string(), reason, expected: None, actual: None, note }
}


/// Evaluates `patch` against `store`. Conflicts are collected for every op (in op order);
/// an op that conflicts has no effect on the ops after it. An error that depends on the state
/// (a limit such as the depth, a text edit that does not fit) is returned only when no op
/// conflicts: after a rebase it may not happen.
pub fn evaluate<S: Store>(store: &mut S, patch: &Patch, limits: Limits) -> Result<Outcome> {
    let mut eng = Engine {
        store,
        limits,
        cache: HashMap::new(),
        overlay: HashMap::new(),
        order: Vec::new(),
        placed: HashMap::new(),
        depths: HashMap::new(),
        props: HashMap::new(),
    };
    let mut conflicts = Vec::new();
    let mut invalid: Option<Error> = None;
    for (i, op) in patch.ops.iter().enumerate() {
        let c = match op {
            Op::Create { key, kind, props, parent, place } => eng.create(i, key, kind, props, parent, place),
            Op::Update { key, version, kind, props } => eng.update(i, key, *version, kind, props),
            Op::Move { key, version, parent, place } => eng.move_(i, key, *version, parent, place),
            Op::Delete { key, version } => eng.delete(i, key, *version, patch.base),
            Op::Text { key, version, prop, edits } => eng.text(i, key, *version, prop, edits),
            Op::Split { key, version, prop, at, new } => eng.split(i, key, *version, prop, *at, new),
            Op::Join { key, version, next, next_version, prop } => eng.join(i, key, *version, next, *next_version, prop),
        };
        match c {
            Ok(Some(c)) => conflicts.push(c),
            Ok(None) => {}
            // a limit or a text edit that depends on the state (depth, a string's length) is
            // judged after a rebase: conflicts anywhere in the patch come first. The op has no
            // effect (each checks before it changes anything) and evaluation goes on.
            Err(e @ (Error::Limit { .. } | Error::InvalidPatch { .. })) => {
                invalid.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    if !conflicts.is_empty() {
        return Ok(Outcome::Conflicts(conflicts));
    }
    if let Some(e) = invalid {
        return Err(e);
    }
    eng.plan().map(Outcome::Plan)
}

#[cfg(test)]
mod tests;
