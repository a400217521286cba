//! The pure half of the client: turning local edits into one patch ([`make_patch`]) and
//! rebasing local edits onto a newer server state ([`rebase`]). No I/O; unit-tested below.
//!
//! Local edits are kept as state, not as an op log: the local tree, the set of `dirty` keys
//! (touched locally since the shadow) and the set of `placed` keys (created or moved locally:
//! their place follows the local tree, everything else follows the server).
//!
//! # Rebase rules (three-way, per node: base = old shadow, local, remote = new shadow)
//!
//! 1. **props merge per key**: a key changed only locally survives; a key changed only on the
//!    server takes the server's value. A **string changed on both sides merges as text**
//!    (never a side: the local change, as a character diff, transformed over the server's; an
//!    absent property counts as ""), under either policy. Text edits recorded as splices are
//!    merged before this, by [`crate::blocks`] (see [`crate::workspace`]), so this only sees
//!    strings changed some other way. A string the server changed is never replaced by a local
//!    non-string value or removal (the server's text stays, [`Rule::PropConflict`]). Other
//!    values changed on both sides take the server's value ([`Rule::PropConflict`] reported)
//!    unless the policy is [`Policy::LocalWins`]. `kind` is merged like a non-string value
//!    ([`Rule::KindConflict`]).
//! 2. **child order follows anchors**: nodes not placed locally are in the server's order; each
//!    locally placed node goes right after its local predecessor; if that anchor is gone
//!    (deleted or moved away) it goes after the nearest earlier local sibling that survived,
//!    or first.
//! 3. **edit of a node the server deleted is dropped** and reported ([`Rule::EditOfDeleted`]);
//!    a local create under a node the server deleted is dropped ([`Rule::CreateUnderDeleted`]),
//!    a local move into one falls back to the server's place ([`Rule::MoveUnderDeleted`]).
//! 4. **a local delete of a node the server edited is re-sent** against the new version (it
//!    takes the node's subtree as the server has it now; a node with local edits that the
//!    server moved into that subtree is reported as [`Rule::DeletedWithSubtree`]). If the
//!    server changed the deleted node or anything in its subtree (props, kind, place, new
//!    nodes), the delete discards that change: reported as [`Rule::DeleteOverServerEdit`].
//!    (Nodes the server typed *text* into are kept before this runs:
//!    [`Rule::DeleteKeptTyping`], see [`crate::workspace`].)
//! 5. **a local move that would now form a cycle is dropped** and reported
//!    ([`Rule::MoveCycle`]); the node stays where the server has it.

use std::collections::{BTreeMap, BTreeSet};

use nodesync_core::ot;
use nodesync_core::patch::{Op, Patch, Place, ROOT};
use serde_json::{Map, Value};

use crate::tree::{Node, Tree};

/// Who wins when the same non-string property (or the kind) was changed on both sides.
/// Strings changed on both sides merge as text whatever the policy: no rebase removes text
/// committed on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    #[default]
    ServerWins,
    LocalWins,
}

/// Why a local edit was dropped during a rebase.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rule {
    /// Rule 1: property `prop` changed on both sides; the server's value was kept.
    PropConflict { prop: String },
    /// Rule 1: `kind` changed on both sides; the server's kind was kept.
    KindConflict,
    /// Rule 3: local edits (props, kind, move) of a node the server deleted.
    EditOfDeleted,
    /// Rule 3: a node created locally under a node that no longer exists.
    CreateUnderDeleted,
    /// Rule 3: a local move into a node that no longer exists.
    MoveUnderDeleted,
    /// Rule 4: a node with local edits that the server moved into a subtree this replica deleted.
    /// Its edits go with the re-sent delete. Text typed into it (logged text ops, which
    /// [`rebase`] does not see) is reported the same way by [`crate::Workspace`].
    DeletedWithSubtree,
    /// Rule 5: a local move that would put the node under its own descendant.
    MoveCycle,
    /// A node this replica deleted was kept: others typed text into it (or into a node under
    /// it) meanwhile. It stays with only the text the others typed; the text this replica had
    /// seen is deleted as asked.
    DeleteKeptTyping,
    /// Not a dropped edit but a warning: this replica's delete (or join) of the node was sent
    /// over a change the server made to it or to its subtree (props, kind, place, new nodes),
    /// and that change is gone with it.
    DeleteOverServerEdit,
    /// A local join of two blocks that someone moved to different parents meanwhile: dropped,
    /// the blocks stay apart and what was typed after the join stays in the block it was
    /// typed into.
    JoinSeparated,
    /// Text this replica typed into a block (`key`) that someone joined meanwhile into a block
    /// this replica deleted: the typing moved with the join and goes with the re-sent delete.
    JoinedIntoDeleted,
    /// A recorded text edit that did not fit the server's text after the rebase (an internal
    /// error: never expected; the edit is dropped rather than sent).
    TextMisfit,
}

impl Rule {
    pub fn name(&self) -> &'static str {
        match self {
            Rule::PropConflict { .. } => "prop-conflict",
            Rule::KindConflict => "kind-conflict",
            Rule::EditOfDeleted => "edit-of-deleted",
            Rule::CreateUnderDeleted => "create-under-deleted",
            Rule::MoveUnderDeleted => "move-under-deleted",
            Rule::DeletedWithSubtree => "deleted-with-subtree",
            Rule::MoveCycle => "move-cycle",
            Rule::DeleteKeptTyping => "delete-kept-typing",
            Rule::DeleteOverServerEdit => "delete-over-server-edit",
            Rule::JoinSeparated => "join-separated",
            Rule::JoinedIntoDeleted => "joined-into-deleted",
            Rule::TextMisfit => "text-misfit",
        }
    }

    /// True for reports that do not mean a local edit was lost ([`Rule::DeleteOverServerEdit`]).
    pub fn is_warning(&self) -> bool {
        matches!(self, Rule::DeleteOverServerEdit)
    }
}

/// A dropped local edit: which node, which rule, and the server gen it was rebased onto.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dropped {
    pub key: String,
    pub rule: Rule,
    pub gen: i64,
}

/// What [`rebase`] returns: the new local tree and edit sets, and what was dropped.
#[derive(Debug, Clone)]
pub struct Rebased {
    pub local: Tree,
    pub placed: BTreeSet<String>,
    pub dirty: BTreeSet<String>,
    pub dropped: Vec<Dropped>,
}

/// Three-way merge of one optional value.
fn merge_value<'a, T: PartialEq>(base: Option<&'a T>, local: Option<&'a T>, remote: Option<&'a T>, policy: Policy) -> (Option<&'a T>, bool) {
    if local == base || local == remote {
        (remote, false)
    } else if remote == base {
        (local, false)
    } else {
        match policy {
            Policy::ServerWins => (remote, true),
            Policy::LocalWins => (local, false),
        }
    }
}

fn as_text(v: Option<&Value>) -> Option<&str> {
    match v {
        None => Some(""),
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => None,
    }
}

/// Three-way merge of a string changed on both sides: the local change (a character diff of
/// `base` → `local`) transformed over the server's (`base` → `remote`), the server's text first
/// where both inserted at one offset.
pub fn merge_text(base: &str, local: &str, remote: &str) -> String {
    let server = ot::diff(base, remote);
    let mine = ot::diff(base, local);
    match ot::transform(&server, &mine).and_then(|(_, mine2)| mine2.apply(remote)) {
        Ok(s) => s,
        // cannot happen (both diffs are of `base`); keep the server's text rather than lose it
        Err(_) => remote.to_string(),
    }
}

/// Rule 1 for one property. Returns the merged value and the conflict lost by the local side.
fn merge_prop(base: Option<&Value>, local: Option<&Value>, remote: Option<&Value>, policy: Policy) -> (Option<Value>, bool) {
    if local == base || local == remote {
        return (remote.cloned(), false);
    }
    if remote == base {
        return (local.cloned(), false);
    }
    match (as_text(base), as_text(local), as_text(remote)) {
        (Some(b), Some(l), Some(r)) => {
            let m = merge_text(b, l, r);
            if m.is_empty() && (local.is_none() || remote.is_none()) {
                (None, false)
            } else {
                (Some(Value::String(m)), false)
            }
        }
        // text the server changed is never replaced by a local non-string value or removal
        _ if matches!(remote, Some(Value::String(_))) => (remote.cloned(), true),
        _ => {
            let (v, lost) = merge_value(base, local, remote, policy);
            (v.cloned(), lost)
        }
    }
}

/// Rule 1: props per key and kind, three-way. Returns the merged (kind, props) and the
/// conflicts lost by the local side.
pub fn merge_content(base: &Node, local: &Node, remote: &Node, policy: Policy) -> (String, Map<String, Value>, Vec<Rule>) {
    let mut lost = vec![];
    let (kind, k_lost) = merge_value(Some(&base.kind), Some(&local.kind), Some(&remote.kind), policy);
    if k_lost {
        lost.push(Rule::KindConflict);
    }
    let keys: BTreeSet<&String> = base.props.keys().chain(local.props.keys()).chain(remote.props.keys()).collect();
    let mut props = Map::new();
    for k in keys {
        let (v, l) = merge_prop(base.props.get(k), local.props.get(k), remote.props.get(k), policy);
        if l {
            lost.push(Rule::PropConflict { prop: k.clone() });
        }
        if let Some(v) = v {
            props.insert(k.clone(), v);
        }
    }
    (kind.cloned().unwrap_or_default(), props, lost)
}

/// Rebases the local edits (`local`, `placed`) made on top of `base` onto `remote`.
pub fn rebase(base: &Tree, local: &Tree, placed: &BTreeSet<String>, remote: &Tree, policy: Policy) -> Rebased {
    let gen = remote.gen;
    let mut dropped: BTreeSet<Dropped> = BTreeSet::new();
    let drop = |dropped: &mut BTreeSet<Dropped>, key: &str, rule: Rule| {
        dropped.insert(Dropped { key: key.to_string(), rule, gen });
    };
    let locally_deleted = |k: &str| base.contains(k) && !local.contains(k);
    let content_edited = |k: &str| match (base.get(k), local.get(k)) {
        (Some(b), Some(l)) => !b.same_content(l),
        _ => false,
    };

    // Rule 3: edits of nodes the server deleted.
    for (k, _) in local.nodes.iter().filter(|(k, _)| base.contains(k) && !remote.contains(k)) {
        if content_edited(k) || placed.contains(k) {
            drop(&mut dropped, k, Rule::EditOfDeleted);
        }
    }

    // Candidates: the server's nodes minus local deletes (rule 4: the delete stands), plus
    // local creates.
    let mut alive: BTreeSet<String> = remote.nodes.keys().filter(|k| !locally_deleted(k)).cloned().collect();
    alive.extend(local.nodes.keys().filter(|k| !base.contains(k) && !remote.contains(k)).cloned());
    let mut placed: BTreeSet<String> = placed
        .iter()
        .filter(|k| alive.contains(*k) && local.contains(k))
        .filter(|k| remote.contains(k) || !base.contains(k))
        // a local create the server already has (a resent patch) is placed unless it sits
        // where the server put it
        .filter(|k| base.contains(k) || !remote.contains(k) || local.parent(k) != remote.parent(k))
        .cloned()
        .collect();
    // a local create is always placed locally
    placed.extend(alive.iter().filter(|k| !remote.contains(k)).cloned());

    let dp = |placed: &BTreeSet<String>, k: &str| -> Option<String> {
        if placed.contains(k) {
            local.parent(k).map(str::to_string)
        } else {
            remote.parent(k).or_else(|| local.parent(k)).map(str::to_string)
        }
    };

    loop {
        let mut changed = false;
        // parents that no longer exist
        let keys: Vec<String> = alive.iter().filter(|k| k.as_str() != ROOT).cloned().collect();
        for k in keys {
            if !alive.contains(&k) {
                continue;
            }
            let p = dp(&placed, &k);
            if p.as_ref().is_some_and(|p| alive.contains(p)) {
                continue;
            }
            changed = true;
            if placed.contains(&k) && remote.contains(&k) {
                placed.remove(&k);
                drop(&mut dropped, &k, Rule::MoveUnderDeleted);
            } else if placed.contains(&k) {
                alive.remove(&k);
                placed.remove(&k);
                drop(&mut dropped, &k, Rule::CreateUnderDeleted);
            } else {
                // inside a subtree this replica deletes (rule 4)
                alive.remove(&k);
                if content_edited(&k) {
                    drop(&mut dropped, &k, Rule::DeletedWithSubtree);
                }
            }
        }
        if changed {
            continue;
        }
        // Rule 5: cycles (each contains a locally moved node: the server's tree has none)
        if let Some(cycle) = find_cycle(&alive, |k| dp(&placed, k)) {
            let k = cycle.iter().filter(|k| placed.contains(*k) && remote.contains(k)).min().cloned();
            match k {
                Some(k) => {
                    placed.remove(&k);
                    drop(&mut dropped, &k, Rule::MoveCycle);
                    continue;
                }
                None => unreachable!("a cycle without a local move: {cycle:?}"),
            }
        }
        break;
    }

    // Rule 4: a local delete that discards server changes is reported.
    for k in remote.nodes.keys().filter(|k| locally_deleted(k)) {
        if remote.parent(k).is_some_and(locally_deleted) {
            continue; // not the top of a deleted region
        }
        let changed = remote.subtree(k).iter().any(|d| match (base.get(d), remote.get(d)) {
            (Some(b), Some(r)) => !b.same_content(r) || b.parent != r.parent,
            _ => true,
        });
        if changed {
            drop(&mut dropped, k, Rule::DeleteOverServerEdit);
        }
    }

    // Content (rule 1) and the node set.
    let mut nodes: BTreeMap<String, Node> = BTreeMap::new();
    for k in &alive {
        let mut n = match (base.get(k), local.get(k), remote.get(k)) {
            (Some(b), Some(l), Some(r)) => {
                let (kind, props, lost) = merge_content(b, l, r, policy);
                for rule in lost {
                    drop(&mut dropped, k, rule);
                }
                let mut n = r.clone();
                n.kind = kind;
                n.props = props;
                n
            }
            // a local create the server already has (a resent patch): keep the local content
            (None, Some(l), Some(r)) => {
                let mut n = r.clone();
                n.kind = l.kind.clone();
                n.props = l.props.clone();
                n
            }
            (_, Some(l), None) => l.clone(),
            (_, None, Some(r)) => r.clone(),
            (_, None, None) => continue,
        };
        n.parent = dp(&placed, k);
        n.children = vec![];
        nodes.insert(k.clone(), n);
    }

    // Rule 2: children.
    for p in &alive {
        let mut list: Vec<String> = remote
            .children(p)
            .iter()
            .filter(|c| alive.contains(*c) && !placed.contains(*c))
            .cloned()
            .collect();
        let lkids = local.children(p);
        for (i, c) in lkids.iter().enumerate() {
            if !(placed.contains(c) && alive.contains(c)) {
                continue;
            }
            let at = (0..i).rev().find_map(|j| list.iter().position(|x| x == &lkids[j])).map_or(0, |x| x + 1);
            list.insert(at, c.clone());
        }
        if let Some(n) = nodes.get_mut(p) {
            n.children = list;
        }
    }

    let mut dirty: BTreeSet<String> = placed.clone();
    for (k, n) in &nodes {
        match remote.get(k) {
            Some(r) if r.same_content(n) => {}
            _ => {
                dirty.insert(k.clone());
            }
        }
    }
    dirty.extend(remote.nodes.keys().filter(|k| !alive.contains(*k)).cloned());

    let local = Tree { gen, nodes };
    debug_assert!(local.check().is_ok(), "rebase produced a broken tree: {:?}", local.check());
    Rebased { local, placed, dirty, dropped: dropped.into_iter().collect() }
}

/// Some cycle in the parent function restricted to `alive`, if there is one.
fn find_cycle(alive: &BTreeSet<String>, parent: impl Fn(&str) -> Option<String>) -> Option<Vec<String>> {
    // 1 = on the current path, 2 = done
    let mut state: BTreeMap<String, u8> = BTreeMap::new();
    for start in alive {
        if state.contains_key(start) {
            continue;
        }
        let mut path: Vec<String> = vec![];
        let mut cur = Some(start.clone());
        while let Some(c) = cur {
            match state.get(&c) {
                Some(2) => break,
                Some(_) => {
                    let i = path.iter().position(|x| x == &c).unwrap_or(0);
                    return Some(path[i..].to_vec());
                }
                None => {
                    state.insert(c.clone(), 1);
                    path.push(c.clone());
                    cur = if alive.contains(&c) { parent(&c) } else { None };
                }
            }
        }
        for k in path {
            state.insert(k, 2);
        }
    }
    None
}

/// Everything the local edits changed, as one patch against `shadow` (`base` = shadow gen):
/// creates and moves in local pre-order (so parents and anchors exist when they are used),
/// each placed after its local predecessor; then updates (props as a delta, kind if changed);
/// then one delete per deleted region, after the moves that rescued nodes out of it.
pub fn make_patch(shadow: &Tree, local: &Tree, placed: &BTreeSet<String>, dirty: &BTreeSet<String>) -> Patch {
    let mut ops = vec![];
    let mut order: Vec<(Vec<usize>, &String)> =
        placed.iter().filter(|k| local.contains(k) && k.as_str() != ROOT).map(|k| (local.path(k), k)).collect();
    order.sort();
    for (_, k) in order {
        let n = &local.nodes[k];
        let parent = n.parent.clone().unwrap_or_else(|| ROOT.to_string());
        let idx = local.index_of(k).unwrap_or(0);
        let place = if idx == 0 { Place::First } else { Place::After(local.children(&parent)[idx - 1].clone()) };
        match shadow.get(k) {
            Some(s) => ops.push(Op::Move { key: k.clone(), version: s.version, parent, place }),
            None => ops.push(Op::Create { key: k.clone(), kind: n.kind.clone(), props: n.props.clone(), parent, place }),
        }
    }
    for k in dirty {
        let (Some(s), Some(l)) = (shadow.get(k), local.get(k)) else { continue };
        let mut delta = Map::new();
        for key in s.props.keys().chain(l.props.keys()) {
            if s.props.get(key) != l.props.get(key) {
                delta.insert(key.clone(), l.props.get(key).cloned().unwrap_or(Value::Null));
            }
        }
        let kind = (s.kind != l.kind).then(|| l.kind.clone());
        if !delta.is_empty() || kind.is_some() {
            ops.push(Op::Update { key: k.clone(), version: s.version, kind, props: (!delta.is_empty()).then_some(delta) });
        }
    }
    for k in dirty {
        let Some(s) = shadow.get(k) else { continue };
        if local.contains(k) {
            continue;
        }
        if s.parent.as_deref().is_some_and(|p| local.contains(p)) {
            ops.push(Op::Delete { key: k.clone(), version: s.version });
        }
    }
    Patch { base: Some(shadow.gen), ops }
}

#[cfg(test)]
mod tests;
