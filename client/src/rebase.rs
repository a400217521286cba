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
mod tests {
    use super::*;
    use nodesync_core::reference::Model;
    use nodesync_core::patch::{parse, Limits};
    use serde_json::json;

    /// A tree from `(key, parent, kind, props)` in child order.
    fn tree(gen: i64, rows: &[(&str, &str, Value)]) -> Tree {
        let mut t = Tree::with_root("doc", Map::new());
        t.gen = gen;
        for (i, (k, p, props)) in rows.iter().enumerate() {
            let mut n = Node::new("p", props.as_object().cloned().unwrap_or_default(), Some(p.to_string()));
            n.version = 1;
            n.pos = Some(format!("a{i:03}"));
            t.nodes.insert(k.to_string(), n);
            t.nodes.get_mut(*p).unwrap().children.push(k.to_string());
        }
        t.check().unwrap();
        t
    }

    fn set(keys: &[&str]) -> BTreeSet<String> {
        keys.iter().map(|k| k.to_string()).collect()
    }

    fn kids(t: &Tree, k: &str) -> Vec<String> {
        t.children(k).to_vec()
    }

    fn move_local(t: &mut Tree, k: &str, parent: &str, place: Place) {
        t.detach(k);
        t.attach(k, parent, &place).unwrap();
    }

    fn rules(r: &Rebased) -> Vec<(String, Rule)> {
        r.dropped.iter().map(|d| (d.key.clone(), d.rule.clone())).collect()
    }

    // ---- rule 1: props per key ----

    #[test]
    fn props_changed_only_locally_survive_and_server_changes_come_in() {
        let base = tree(2, &[("a", "root", json!({"x": 1, "y": 1, "z": 1}))]);
        let mut local = base.clone();
        local.nodes.get_mut("a").unwrap().props = json!({"x": 2, "y": 1, "z": 1}).as_object().unwrap().clone();
        let mut remote = base.clone();
        remote.gen = 3;
        remote.nodes.get_mut("a").unwrap().props = json!({"x": 1, "y": 5}).as_object().unwrap().clone();
        let r = rebase(&base, &local, &set(&[]), &remote, Policy::ServerWins);
        assert_eq!(Value::Object(r.local.nodes["a"].props.clone()), json!({"x": 2, "y": 5}));
        assert!(r.dropped.is_empty());
        assert!(r.dirty.contains("a"));
    }

    #[test]
    fn props_changed_on_both_sides_server_wins_and_is_reported() {
        // non-string values: the policy decides
        let base = tree(2, &[("a", "root", json!({"x": 1}))]);
        let mut local = base.clone();
        local.nodes.get_mut("a").unwrap().props.insert("x".into(), json!(2));
        local.nodes.get_mut("a").unwrap().kind = "h1".into();
        let mut remote = base.clone();
        remote.nodes.get_mut("a").unwrap().props.insert("x".into(), json!([3]));
        remote.nodes.get_mut("a").unwrap().kind = "h2".into();
        let r = rebase(&base, &local, &set(&[]), &remote, Policy::ServerWins);
        assert_eq!(r.local.nodes["a"].props["x"], json!([3]));
        assert_eq!(r.local.nodes["a"].kind, "h2");
        assert_eq!(rules(&r), [("a".into(), Rule::PropConflict { prop: "x".into() }), ("a".into(), Rule::KindConflict)]);
        assert!(!r.dirty.contains("a"), "nothing left to send");
        // local wins
        let r = rebase(&base, &local, &set(&[]), &remote, Policy::LocalWins);
        assert_eq!(r.local.nodes["a"].props["x"], json!(2));
        assert_eq!(r.local.nodes["a"].kind, "h1");
        assert!(r.dropped.is_empty());
        let p = make_patch(&remote, &r.local, &r.placed, &r.dirty);
        assert_eq!(p.ops, [Op::Update { key: "a".into(), version: 1, kind: Some("h1".into()), props: Some(json!({"x": 2}).as_object().unwrap().clone()) }]);
    }

    #[test]
    fn strings_changed_on_both_sides_merge_as_text_under_either_policy() {
        let base = tree(2, &[("a", "root", json!({"t": "Hello world", "n": 1}))]);
        let mut local = base.clone();
        local.nodes.get_mut("a").unwrap().props.insert("t".into(), json!("Hello brave world"));
        let mut remote = base.clone();
        remote.nodes.get_mut("a").unwrap().props.insert("t".into(), json!("Hello world, again"));
        for policy in [Policy::ServerWins, Policy::LocalWins] {
            let r = rebase(&base, &local, &set(&[]), &remote, policy);
            assert_eq!(r.local.nodes["a"].props["t"], json!("Hello brave world, again"), "{policy:?}");
            assert!(r.dropped.is_empty());
            assert!(r.dirty.contains("a"));
        }
        // a local non-string value never replaces text the server changed, even if local wins
        for mine in [json!(5), json!({"t": "x"})] {
            let mut l2 = base.clone();
            l2.nodes.get_mut("a").unwrap().props.insert("t".into(), mine);
            let r = rebase(&base, &l2, &set(&[]), &remote, Policy::LocalWins);
            assert_eq!(r.local.nodes["a"].props["t"], json!("Hello world, again"));
            assert_eq!(rules(&r), [("a".into(), Rule::PropConflict { prop: "t".into() })]);
        }
        // a string the local side removed while the server typed: only the server's new text
        // stays (a removal is "delete all the text I saw")
        let mut l3 = base.clone();
        l3.nodes.get_mut("a").unwrap().props.remove("t");
        let r = rebase(&base, &l3, &set(&[]), &remote, Policy::LocalWins);
        assert_eq!(r.local.nodes["a"].props["t"], json!(", again"));
    }

    #[test]
    fn same_change_on_both_sides_is_not_a_conflict() {
        let base = tree(2, &[("a", "root", json!({"x": 1}))]);
        let mut local = base.clone();
        local.nodes.get_mut("a").unwrap().props.remove("x");
        let mut remote = base.clone();
        remote.nodes.get_mut("a").unwrap().props.remove("x");
        let r = rebase(&base, &local, &set(&[]), &remote, Policy::ServerWins);
        assert!(r.dropped.is_empty());
        assert!(r.local.nodes["a"].props.is_empty());
    }

    // ---- rule 2: anchors ----

    #[test]
    fn placed_nodes_follow_their_anchor_among_server_order() {
        // base: a b c ; local creates n after b ; server inserts s after a and moves c first
        let base = tree(2, &[("a", "root", json!({})), ("b", "root", json!({})), ("c", "root", json!({}))]);
        let mut local = base.clone();
        local.nodes.insert("n".into(), Node::new("p", Map::new(), None));
        local.attach("n", "root", &Place::After("b".into())).unwrap();
        let mut remote = base.clone();
        remote.nodes.insert("s".into(), Node::new("p", Map::new(), Some("root".into())));
        remote.nodes.get_mut("root").unwrap().children = vec!["c".into(), "a".into(), "s".into(), "b".into()];
        let r = rebase(&base, &local, &set(&["n"]), &remote, Policy::ServerWins);
        assert_eq!(kids(&r.local, "root"), ["c", "a", "s", "b", "n"]);
        let p = make_patch(&remote, &r.local, &r.placed, &r.dirty);
        assert_eq!(p.ops, [Op::Create { key: "n".into(), kind: "p".into(), props: Map::new(), parent: "root".into(), place: Place::After("b".into()) }]);
    }

    #[test]
    fn missing_anchor_falls_back_to_nearest_surviving_sibling() {
        // local: a b n1 n2 (n1 after b, n2 after n1); server deletes b → n1 after a, n2 after n1
        let base = tree(2, &[("a", "root", json!({})), ("b", "root", json!({})), ("c", "root", json!({}))]);
        let mut local = base.clone();
        for (k, after) in [("n1", "b"), ("n2", "n1")] {
            local.nodes.insert(k.into(), Node::new("p", Map::new(), None));
            local.attach(k, "root", &Place::After(after.into())).unwrap();
        }
        let mut remote = base.clone();
        remote.nodes.remove("b");
        remote.nodes.get_mut("root").unwrap().children.retain(|c| c != "b");
        let r = rebase(&base, &local, &set(&["n1", "n2"]), &remote, Policy::ServerWins);
        assert_eq!(kids(&r.local, "root"), ["a", "n1", "n2", "c"]);
        // and when no earlier sibling survives: first
        let mut remote2 = remote.clone();
        remote2.nodes.remove("a");
        remote2.nodes.get_mut("root").unwrap().children.retain(|c| c != "a");
        let r = rebase(&base, &local, &set(&["n1", "n2"]), &remote2, Policy::ServerWins);
        assert_eq!(kids(&r.local, "root"), ["n1", "n2", "c"]);
        let p = make_patch(&remote2, &r.local, &r.placed, &r.dirty);
        assert!(matches!(&p.ops[0], Op::Create { key, place: Place::First, .. } if key == "n1"));
        assert!(matches!(&p.ops[1], Op::Create { key, place: Place::After(a), .. } if key == "n2" && a == "n1"));
    }

    // ---- rule 3: edits of deleted nodes ----

    #[test]
    fn edit_of_a_node_the_server_deleted_is_dropped() {
        let base = tree(2, &[("a", "root", json!({"x": 1})), ("b", "root", json!({})), ("a1", "a", json!({}))]);
        let mut local = base.clone();
        local.nodes.get_mut("a").unwrap().props.insert("x".into(), json!(2));
        // a create under a, and a move of b under a1
        local.nodes.insert("n".into(), Node::new("p", Map::new(), None));
        local.attach("n", "a", &Place::Last).unwrap();
        move_local(&mut local, "b", "a1", Place::Last);
        let mut remote = base.clone();
        for k in ["a", "a1"] {
            remote.nodes.remove(k);
        }
        remote.nodes.get_mut("root").unwrap().children = vec!["b".into()];
        let r = rebase(&base, &local, &set(&["n", "b"]), &remote, Policy::ServerWins);
        assert_eq!(
            rules(&r),
            [("a".into(), Rule::EditOfDeleted), ("b".into(), Rule::MoveUnderDeleted), ("n".into(), Rule::CreateUnderDeleted)]
        );
        assert_eq!(kids(&r.local, "root"), ["b"]);
        assert_eq!(r.local.len(), 2);
        assert!(make_patch(&remote, &r.local, &r.placed, &r.dirty).ops.is_empty());
    }

    // ---- rule 4: local delete vs server edit ----

    #[test]
    fn local_delete_of_a_server_edited_node_is_resent_with_the_new_version() {
        let base = tree(2, &[("a", "root", json!({})), ("a1", "a", json!({})), ("b", "root", json!({}))]);
        let mut local = base.clone();
        local.nodes.remove("a1");
        local.nodes.remove("a");
        local.nodes.get_mut("root").unwrap().children = vec!["b".into()];
        let mut remote = base.clone();
        remote.gen = 4;
        remote.nodes.get_mut("a").unwrap().version = 3;
        remote.nodes.get_mut("a").unwrap().props.insert("x".into(), json!(1));
        // the server also added a child under a, and moved b (with a local prop edit) into a
        remote.nodes.insert("s".into(), Node::new("p", Map::new(), Some("a".into())));
        remote.nodes.get_mut("a").unwrap().children.push("s".into());
        let r = rebase(&base, &local, &set(&[]), &remote, Policy::ServerWins);
        // re-sent, and reported: the server's prop change and new child go with it
        assert_eq!(rules(&r), [("a".into(), Rule::DeleteOverServerEdit)]);
        assert!(Rule::DeleteOverServerEdit.is_warning());
        assert_eq!(r.local.len(), 2);
        let p = make_patch(&remote, &r.local, &r.placed, &r.dirty);
        assert_eq!(p.ops, [Op::Delete { key: "a".into(), version: 3 }]);
        assert_eq!(p.base, Some(4));

        let mut local2 = local.clone();
        local2.nodes.get_mut("b").unwrap().props.insert("y".into(), json!(1));
        let mut remote2 = remote.clone();
        remote2.nodes.get_mut("root").unwrap().children = vec!["a".into()];
        remote2.nodes.get_mut("a").unwrap().children.push("b".into());
        remote2.nodes.get_mut("b").unwrap().parent = Some("a".into());
        let r = rebase(&base, &local2, &set(&[]), &remote2, Policy::ServerWins);
        assert_eq!(rules(&r), [("a".into(), Rule::DeleteOverServerEdit), ("b".into(), Rule::DeletedWithSubtree)]);
        assert_eq!(r.local.len(), 1);
    }

    // ---- rule 5: cycles ----

    #[test]
    fn local_move_that_would_form_a_cycle_is_dropped() {
        // base: a, b siblings. local: b under a. server: a under b.
        let base = tree(2, &[("a", "root", json!({})), ("b", "root", json!({}))]);
        let mut local = base.clone();
        move_local(&mut local, "b", "a", Place::Last);
        let mut remote = base.clone();
        remote.nodes.get_mut("root").unwrap().children = vec!["b".into()];
        remote.nodes.get_mut("b").unwrap().children = vec!["a".into()];
        remote.nodes.get_mut("a").unwrap().parent = Some("b".into());
        let r = rebase(&base, &local, &set(&["b"]), &remote, Policy::ServerWins);
        assert_eq!(rules(&r), [("b".into(), Rule::MoveCycle)]);
        assert_eq!(kids(&r.local, "b"), ["a"]);
        assert!(make_patch(&remote, &r.local, &r.placed, &r.dirty).ops.is_empty());
    }

    // ---- make_patch ----

    #[test]
    fn patch_orders_ops_so_they_apply() {
        // base: a > x ; local: create n under root first, move x under n, delete a, update root
        let base = tree(5, &[("a", "root", json!({})), ("x", "a", json!({"t": 1}))]);
        let mut local = base.clone();
        local.nodes.insert("n".into(), Node::new("sec", json!({"t": "n"}).as_object().unwrap().clone(), None));
        local.attach("n", "root", &Place::First).unwrap();
        move_local(&mut local, "x", "n", Place::Last);
        local.detach("a");
        local.nodes.remove("a");
        local.nodes.get_mut("x").unwrap().props.remove("t");
        let patch = make_patch(&base, &local, &set(&["n", "x"]), &set(&["n", "x", "a"]));
        let j = patch.to_json();
        assert_eq!(
            j,
            json!({"base": 5, "ops": [
                {"op": "create", "key": "n", "kind": "sec", "props": {"t": "n"}, "parent": "root", "after": null},
                {"op": "move", "key": "x", "version": 1, "parent": "n", "after": null},
                {"op": "update", "key": "x", "version": 1, "props": {"t": null}},
                {"op": "delete", "key": "a", "version": 1}
            ]})
        );
        // the reference model applies it and lands on the local tree
        let mut m = Model::new("doc", Map::new());
        let setup = json!({"ops": [
            {"op": "create", "key": "a", "kind": "p", "parent": "root"},
            {"op": "create", "key": "x", "kind": "p", "parent": "a", "props": {"t": 1}}]});
        m.apply(&parse(&setup, &Limits::default()).unwrap());
        m.apply(&parse(&j, &Limits::default()).unwrap());
        let flat = m.current().flat();
        assert_eq!(flat.len(), 3);
        assert_eq!(flat["x"].parent.as_deref(), Some("n"));
        assert!(flat["x"].props.is_empty());
    }
}
