//! The local edit state of a replica, without I/O. [`crate::Replica`] wraps one with a
//! connection; the pure tests drive one against the reference model.
//!
//! # State
//!
//! - the **shadow**: the last known server state;
//! - the **text log**: the text edits, splits and joins made locally since the shadow, as
//!   [`BOp`]s in the order they were made (consecutive splices of one block are composed into
//!   one op). Only blocks that exist on the server (or that an earlier split in the log
//!   creates) are logged; text of nodes created locally rides in their `create`;
//! - the **projection**: the shadow with the log applied;
//! - the **local tree** the app edits: the projection plus the state-based edits (creates,
//!   moves, deletes, other props, kinds), tracked by the **dirty** keys (touched locally) and
//!   the **placed** keys (created or moved locally: their place follows the local tree);
//! - named **cursors** (carets) that follow every local edit, rebase and pull.
//!
//! A patch is the log (as `text`, `split`, `join` ops, with the shadow's versions) followed by
//! the state diff from the projection to the local tree ([`crate::rebase::make_patch`]).
//!
//! # Rebase
//!
//! 1. The server's changes since the shadow as block ops ([`blocks::replay`] of
//!    `changes_since`, checked against the server's state; below the horizon, or if the replay
//!    does not agree, [`blocks::diff_ops`]: a character diff per block).
//! 2. The log and the cursors transformed over them ([`blocks::transform`]), then applied to
//!    the new shadow: that is the new log and the new projection. A join whose blocks someone
//!    moved to different parents is dropped ([`Rule::JoinSeparated`]); a join whose blocks are
//!    still siblings but not adjacent is sent with a `move` of `next` first.
//! 3. Local deletes of nodes the others typed text into: the node is kept, with only the text
//!    the others typed (the text this replica had seen is deleted, as the user asked), and its
//!    ancestors inside the deleted region with it ([`Rule::DeleteKeptTyping`]). A delete never
//!    silently discards text committed on the server.
//! 4. The state rebase ([`crate::rebase::rebase`]) of the local tree from the old projection
//!    onto the new one. A block this replica typed into (split, joined) that the server moved
//!    into a subtree this replica deletes goes with the re-sent delete: reported
//!    [`Rule::DeletedWithSubtree`] (the state rebase only sees edits of the state, not the log).

use std::collections::{BTreeMap, BTreeSet};

use nodesync_core::ot::TextOp;
use nodesync_core::patch::{Op, Patch, Place, ROOT};
use serde_json::Value;

use crate::blocks::{self, text_of, BOp, Flags, Lost, Unfit};
use crate::rebase::{make_patch, rebase, Dropped, Policy, Rule};
use crate::tree::{Node, Tree};

mod edits;

/// A local edit that cannot be made (the local tree is unchanged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditError {
    NoSuchNode(String),
    /// The root cannot be moved, deleted, split or joined.
    Root,
    /// `after` is not a child of the parent.
    BadAnchor(String),
    /// The move would put the node under itself.
    Cycle,
    /// The key exists (or existed) already.
    KeyExists(String),
    /// The property holds a value that is not a string.
    NotText { key: String, prop: String },
    /// A splice or split offset past the end of the text (`len` code points).
    OutOfRange { key: String, at: usize, delete: usize, len: usize },
    /// `next` is not the next sibling of `key`.
    NotAdjacent { key: String, next: String },
}

impl std::fmt::Display for EditError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EditError::NoSuchNode(k) => write!(f, "no node {k:?} in the local tree"),
            EditError::Root => write!(f, "the root cannot be moved, deleted, split or joined"),
            EditError::BadAnchor(k) => write!(f, "{k:?} is not a child of the new parent"),
            EditError::Cycle => write!(f, "a node cannot move under itself"),
            EditError::KeyExists(k) => write!(f, "key {k:?} exists already"),
            EditError::NotText { key, prop } => write!(f, "{prop:?} of {key:?} is not a string"),
            EditError::OutOfRange { key, at, delete, len } => {
                write!(f, "[{at}, {delete}] reaches past the end of the text of {key:?} ({len} code points)")
            }
            EditError::NotAdjacent { key, next } => write!(f, "{next:?} is not the next sibling of {key:?}"),
        }
    }
}

impl std::error::Error for EditError {}

/// A caret: an offset (code points) in a string property of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub key: String,
    pub prop: String,
    pub at: usize,
}

/// One logged op; for a join, the parent under which `next` must first be moved right after
/// `key` (when they were not adjacent on the server).
#[derive(Debug, Clone, PartialEq)]
struct Logged {
    op: BOp,
    move_next: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Workspace {
    pub(crate) shadow: Tree,
    pub(crate) proj: Tree,
    pub(crate) local: Tree,
    pub(crate) placed: BTreeSet<String>,
    pub(crate) dirty: BTreeSet<String>,
    log: Vec<Logged>,
    cursors: BTreeMap<String, Cursor>,
    key_prefix: String,
    next_key: u64,
}

/// Caret ids from here on are probes of [`Workspace::rebase_with`], not cursors.
const PROBE: usize = 1 << 40;

fn clen(s: &str) -> usize {
    s.chars().count()
}

/// False if `v` holds a number that is not an integer: the server keeps numbers as decimal
/// text, which may not read back as the same float.
fn exact_json(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_i64() || n.is_u64(),
        Value::Array(a) => a.iter().all(exact_json),
        Value::Object(o) => o.values().all(exact_json),
        Value::Null | Value::Bool(_) | Value::String(_) => true,
    }
}

fn lost_rule(l: &Lost) -> (String, Rule) {
    match l {
        Lost::Deleted(k) => (k.clone(), Rule::EditOfDeleted),
        Lost::NonText(k, p) => (k.clone(), Rule::PropConflict { prop: p.clone() }),
        Lost::DropsServerEdit(k) => (k.clone(), Rule::DeleteOverServerEdit),
        Lost::Separated(k) => (k.clone(), Rule::JoinSeparated),
        Lost::Misfit(k) => (k.clone(), Rule::TextMisfit),
    }
}

impl Workspace {
    /// A workspace on `shadow` with no local edits; created keys are `<key_prefix><n>`.
    pub fn new(shadow: Tree, key_prefix: String) -> Workspace {
        Workspace {
            local: shadow.clone(),
            proj: shadow.clone(),
            shadow,
            placed: BTreeSet::new(),
            dirty: BTreeSet::new(),
            log: vec![],
            cursors: BTreeMap::new(),
            key_prefix,
            next_key: 0,
        }
    }

    /// The local tree.
    pub fn tree(&self) -> &Tree {
        &self.local
    }

    pub fn shadow(&self) -> &Tree {
        &self.shadow
    }

    /// The shadow with the logged text edits, splits and joins applied.
    pub fn projection(&self) -> &Tree {
        &self.proj
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.local.get(key)
    }

    /// The text of `prop` of `key` in the local tree (`""` if absent; `None` if there is no
    /// such node or the value is not a string).
    pub fn text(&self, key: &str, prop: &str) -> Option<&str> {
        self.local.get(key).and_then(|n| text_of(n, prop))
    }

    pub fn children(&self, key: &str) -> &[String] {
        self.local.children(key)
    }

    pub fn has_local_edits(&self) -> bool {
        !self.dirty.is_empty() || !self.placed.is_empty() || !self.log.is_empty()
    }

    /// Every key the local edits touch: dirty and placed keys, and the blocks of the logged
    /// text, split and join ops (for change reports: a rebase can change these nodes although
    /// the server's diff does not name them).
    pub fn touched_keys(&self) -> BTreeSet<String> {
        let mut out: BTreeSet<String> = self.dirty.iter().chain(self.placed.iter()).cloned().collect();
        for e in &self.log {
            match &e.op {
                BOp::Text { key, .. } => {
                    out.insert(key.clone());
                }
                BOp::Split { key, new, .. } => {
                    out.insert(key.clone());
                    out.insert(new.clone());
                }
                BOp::Join { key, next, .. } => {
                    out.insert(key.clone());
                    out.insert(next.clone());
                }
                BOp::Gone { .. } | BOp::NonText { .. } | BOp::Caret { .. } => {}
            }
        }
        out
    }

    /// Number of logged text/split/join ops waiting to be sent.
    pub fn logged_ops(&self) -> usize {
        self.log.len()
    }

    /// True if a rebase needs the server's change log (text intent or cursors to carry over,
    /// or local deletes that must not discard the others' typing).
    pub fn wants_server_log(&self) -> bool {
        !self.log.is_empty() || !self.cursors.is_empty() || self.shadow.nodes.keys().any(|k| !self.local.contains(k))
    }

    /// The local edits as one patch against the shadow (`base` = shadow gen): the logged text,
    /// split and join ops, then the state diff from the projection to the local tree.
    pub fn patch(&self) -> Patch {
        let ver = |k: &str| self.shadow.get(k).map_or(1, |n| n.version);
        let mut ops = vec![];
        for e in &self.log {
            match &e.op {
                BOp::Text { key, prop, op } => {
                    let edits = op.to_splices();
                    if !edits.is_empty() {
                        ops.push(Op::Text { key: key.clone(), version: ver(key), prop: prop.clone(), edits });
                    }
                }
                BOp::Split { key, prop, at, new, .. } => {
                    ops.push(Op::Split { key: key.clone(), version: ver(key), prop: prop.clone(), at: *at, new: new.clone() })
                }
                BOp::Join { key, next, prop, .. } => {
                    if let Some(parent) = &e.move_next {
                        ops.push(Op::Move { key: next.clone(), version: ver(next), parent: parent.clone(), place: Place::After(key.clone()) });
                    }
                    ops.push(Op::Join { key: key.clone(), version: ver(key), next: next.clone(), next_version: ver(next), prop: prop.clone() })
                }
                BOp::Gone { .. } | BOp::NonText { .. } | BOp::Caret { .. } => {}
            }
        }
        let state = make_patch(&self.proj, &self.local, &self.placed, &self.dirty);
        ops.extend(state.ops);
        Patch { base: Some(self.shadow.gen), ops }
    }

    /// Dirty marks that turned out to change nothing (e.g. a prop set back to its value).
    pub fn forget_noop_edits(&mut self) {
        self.dirty.clear();
        self.placed.clear();
        if self.log.iter().all(|e| matches!(&e.op, BOp::Text { op, .. } if op.is_identity())) {
            self.log.clear();
            self.proj = self.shadow.clone();
        }
    }

    /// Every local edit is on the server, which is now at `remote`: the local tree becomes
    /// `remote`. Returns the local tree from before. Cursors stay where they are (use
    /// [`Workspace::committed_with`] to carry them over what others committed meanwhile).
    pub fn committed(&mut self, remote: Tree) -> Tree {
        let before = std::mem::replace(&mut self.local, remote.clone());
        self.proj = remote.clone();
        self.shadow = remote;
        self.placed.clear();
        self.dirty.clear();
        self.log.clear();
        self.drop_stale_cursors();
        before
    }

    /// `patch` (this workspace's [`Workspace::patch`], unchanged since) committed at `gen` with
    /// `versions` (apply_patch's result), and `gen` is the shadow's gen + 1: nobody else
    /// committed in between, so the server now holds exactly the local tree. If the patch only
    /// changed nodes in place (`text` and `update` ops, no float values whose text the server
    /// may spell differently), the new server state is known without reading it: the changed
    /// nodes get their new version and gen in the shadow, the projection and the local tree,
    /// and the local edits are done (true). Otherwise nothing changes (false) and the caller
    /// reads the server's state ([`Workspace::committed`] after `diff_since`): creates, moves,
    /// splits and joins have positions only the server knows.
    pub fn committed_alone(&mut self, patch: &Patch, gen: i64, versions: &serde_json::Map<String, Value>) -> bool {
        if patch.base != Some(self.shadow.gen) || gen != self.shadow.gen + 1 || !self.placed.is_empty() {
            return false;
        }
        // every op changes a node of the shadow in place and has its new version; every node
        // the server changed is one the patch named
        let named = |k: &str| patch.ops.iter().any(|op| op.key() == k);
        let fits = patch.ops.iter().all(|op| {
            let in_place = match op {
                Op::Text { .. } => true,
                Op::Update { props, .. } => props.as_ref().is_none_or(|p| p.values().all(exact_json)),
                _ => false,
            };
            in_place && self.shadow.contains(op.key()) && versions.get(op.key()).is_some_and(Value::is_i64)
        }) && versions.iter().all(|(k, v)| v.is_i64() && named(k) && self.local.contains(k));
        if !fits {
            return false;
        }
        for (k, v) in versions {
            let (Some(v), Some(l)) = (v.as_i64(), self.local.nodes.get_mut(k)) else { continue };
            (l.version, l.gen) = (v, gen);
            let (kind, props) = (l.kind.clone(), l.props.clone());
            for t in [&mut self.proj, &mut self.shadow] {
                if let Some(n) = t.nodes.get_mut(k) {
                    (n.kind, n.props, n.version, n.gen) = (kind.clone(), props.clone(), v, gen);
                }
            }
        }
        for t in [&mut self.local, &mut self.proj, &mut self.shadow] {
            t.gen = gen;
        }
        self.dirty.clear();
        self.log.clear();
        self.drop_stale_cursors();
        true
    }

    /// [`Workspace::committed`], with the cursors carried over the server's log since the old
    /// shadow (`log`, which holds this replica's own patch at gen `own`).
    pub fn committed_with(&mut self, remote: Tree, log: Option<&[(i64, Patch)]>, own: i64) -> Tree {
        if !self.cursors.is_empty() {
            let carets = self.carets();
            let mine: Vec<BOp> = self.log.iter().map(|e| e.op.clone()).collect();
            let mapped = match log.map(|l| blocks::replay(&self.shadow, l)) {
                Some(Ok((replayed, ops, _))) if blocks::agrees(&replayed, &remote) => {
                    let before: Vec<BOp> = ops.iter().filter(|(g, _)| *g < own).map(|(_, o)| o.clone()).collect();
                    let after: Vec<BOp> = ops.iter().filter(|(g, _)| *g > own).map(|(_, o)| o.clone()).collect();
                    let mut l = mine;
                    l.extend(carets.clone());
                    let (lp, _, _) = blocks::transform(&before, l);
                    let c1: Vec<BOp> = lp.into_iter().filter(|o| matches!(o, BOp::Caret { .. })).collect();
                    let (c2, _, _) = blocks::transform(&after, c1);
                    Some(c2)
                }
                _ => None,
            };
            if let Some(c) = mapped {
                self.set_carets(&c);
            } else {
                // without the log: through the diff of what changed, as well as it goes
                let (ops, _) = blocks::diff_ops(&self.local, &remote);
                let (c, _, _) = blocks::transform(&ops, carets);
                self.set_carets(&c);
            }
        }
        self.committed(remote)
    }

    /// The server moved on to `remote`, its log unknown: rebase the local edits onto it,
    /// taking the server's text changes as character diffs. See [`Workspace::rebase_with`].
    pub fn rebase_onto(&mut self, remote: Tree, policy: Policy) -> (Tree, Vec<Dropped>) {
        self.rebase_with(remote, None, policy)
    }

    /// The server moved on to `remote` by the committed patches `log` (from `changes_since`
    /// of the shadow's gen, up to `remote.gen`; `None` if unknown): rebase the local edits
    /// onto it (see the module docs). Returns the local tree from before and what was dropped
    /// or reported.
    pub fn rebase_with(&mut self, remote: Tree, log: Option<&[(i64, Patch)]>, policy: Policy) -> (Tree, Vec<Dropped>) {
        if !self.has_local_edits() {
            if self.cursors.is_empty() {
                return (self.committed(remote), vec![]);
            }
            let own = i64::MAX;
            return (self.committed_with(remote, log, own), vec![]);
        }
        let gen = remote.gen;
        let mut dropped: Vec<Dropped> = vec![];
        let mut report = |key: String, rule: Rule| dropped.push(Dropped { key, rule, gen });
        let mut new_log: Vec<Logged> = vec![];
        let mut proj2 = remote.clone();
        let mut new_cursors: Vec<BOp> = vec![];
        let mut flags2 = Flags::new();
        let mut joined_into_deleted: Vec<(String, String)> = vec![];
        let text_world = self.wants_server_log();
        if text_world {
            // 1. the server's changes as block ops
            let (sops, flags) = match log.map(|l| blocks::replay(&self.shadow, l)) {
                Some(Ok((replayed, ops, flags))) if blocks::agrees(&replayed, &remote) => (ops.into_iter().map(|(_, o)| o).collect(), flags),
                _ => blocks::diff_ops(&self.shadow, &remote),
            };
            flags2 = flags;
            // 2. the log and the cursors over them, then onto the new shadow
            let mut local_ops: Vec<BOp> = self.log.iter().map(|e| e.op.clone()).collect();
            local_ops.extend(self.carets());
            // probes: where the typing of each block this replica typed into (and did not
            // delete) ends up — a server join may carry it into a block this replica deleted
            let mut typed_into: Vec<(String, String)> = vec![];
            for e in &self.log {
                if let BOp::Text { key, prop, op } = &e.op {
                    if op.to_splices().iter().any(|e| !e.insert.is_empty()) && self.local.contains(key) && !typed_into.iter().any(|(k, p)| k == key && p == prop) {
                        typed_into.push((key.clone(), prop.clone()));
                    }
                }
            }
            for (i, (key, prop)) in typed_into.iter().enumerate() {
                local_ops.push(BOp::Caret { id: PROBE + i, key: key.clone(), prop: prop.clone(), at: 0 });
            }
            let (lp, _, lost) = blocks::transform(&sops, local_ops);
            for op in &lp {
                if let BOp::Caret { id, key, .. } = op {
                    if let Some((from, _)) = id.checked_sub(PROBE).and_then(|i| typed_into.get(i)) {
                        if key != from && self.proj.contains(key) && !self.local.contains(key) {
                            joined_into_deleted.push((from.clone(), key.clone()));
                        }
                    }
                }
            }
            let lp: Vec<BOp> = lp.into_iter().filter(|o| !matches!(o, BOp::Caret { id, .. } if *id >= PROBE)).collect();
            for l in &lost {
                let (k, r) = lost_rule(l);
                report(k, r);
            }
            let mut queue: std::collections::VecDeque<BOp> = lp.into();
            while let Some(op) = queue.pop_front() {
                if let BOp::Caret { .. } = op {
                    new_cursors.push(op);
                    continue;
                }
                match blocks::apply(&mut proj2, &op, Some((&mut flags2, false))) {
                    Ok(move_next) => new_log.push(Logged { op, move_next }),
                    Err(Unfit::Separated) => {
                        // undo the join for what follows: the `next` part goes back to `next`
                        let BOp::Join { key, next, prop, len, next_len } = &op else { continue };
                        report(next.clone(), Rule::JoinSeparated);
                        let unjoin = BOp::Split { key: key.clone(), prop: prop.clone(), at: *len, new: next.clone(), len: len + next_len };
                        let rest: Vec<BOp> = queue.drain(..).collect();
                        let (rest2, _, lost) = blocks::transform(&[unjoin], rest);
                        for l in &lost {
                            let (k, r) = lost_rule(l);
                            report(k, r);
                        }
                        queue.extend(rest2);
                    }
                    Err(Unfit::Misfit(_)) => report(op.key().to_string(), Rule::TextMisfit),
                }
            }
        }
        // the blocks this replica's own text ops (typing, Enter, Backspace) edit
        let own_text: BTreeSet<String> = new_log
            .iter()
            .flat_map(|e| match &e.op {
                BOp::Text { key, op, .. } if !op.is_identity() => vec![key.clone()],
                BOp::Split { key, new, .. } => vec![key.clone(), new.clone()],
                BOp::Join { key, .. } => vec![key.clone()],
                _ => vec![],
            })
            .collect();
        // 3. local deletes must not discard what others typed
        let mut local = self.local.clone();
        if text_world {
            let kept = self.keep_typing(&mut proj2, &mut flags2, &mut new_log, &mut local);
            for k in kept {
                report(k, Rule::DeleteKeptTyping);
            }
        }
        // 4. the state rebase from the old projection onto the new one
        let placed: BTreeSet<String> = self.placed.iter().filter(|k| local.contains(k)).cloned().collect();
        let r = rebase(&self.proj, &local, &placed, &proj2, policy);
        // Rule 4 for text: a block this replica typed into (its text intent is in the log, so
        // the state rebase sees no content edit) that the server moved into a subtree this
        // replica deletes goes with the re-sent delete: the typing is lost, and reported like
        // any other local edit taken by the subtree (`deleted-with-subtree`)
        for k in &own_text {
            let gone = local.contains(k) && proj2.contains(k) && !r.local.contains(k);
            let reported = r.dropped.iter().any(|d| &d.key == k && d.rule == Rule::DeletedWithSubtree);
            if gone && !reported {
                report(k.clone(), Rule::DeletedWithSubtree);
            }
        }
        // typing that a server join carried into a block this replica deleted goes with the
        // delete (unless the block was kept for others' typing)
        for (from, into) in joined_into_deleted {
            if !r.local.contains(&into) && !r.dropped.iter().chain(dropped.iter()).any(|d| d.key == from && d.rule == Rule::JoinedIntoDeleted) {
                dropped.push(Dropped { key: from, rule: Rule::JoinedIntoDeleted, gen });
            }
        }
        dropped.extend(r.dropped);
        let before = std::mem::replace(&mut self.local, r.local);
        self.placed = r.placed;
        self.dirty = r.dirty;
        self.shadow = remote;
        self.proj = proj2;
        self.log = new_log;
        self.set_carets(&new_cursors);
        if !text_world {
            self.cursors.clear();
        }
        // a cursor on a node (or string) the state rebase removed goes with it
        self.drop_stale_cursors();
        (before, dropped)
    }

    /// Rule 3 of the rebase: nodes inside regions this replica deleted that hold text the
    /// server inserted since the shadow are put back into `local` (with their ancestors in the
    /// region), their seen text deleted by logged text ops. Returns the nodes kept for their
    /// own text.
    fn keep_typing(&self, proj2: &mut Tree, flags: &mut Flags, log: &mut Vec<Logged>, local: &mut Tree) -> Vec<String> {
        let deleted = |k: &str| self.proj.contains(k) && !self.local.contains(k);
        let typed: BTreeSet<String> = flags.iter().filter(|(_, v)| v.iter().any(|x| *x)).map(|((k, _), _)| k.clone()).collect();
        let mut keep: BTreeSet<String> = BTreeSet::new();
        let mut own: Vec<String> = vec![];
        for y in &typed {
            if !proj2.contains(y) {
                continue;
            }
            // up from `y` through the parents the state rebase will give: the local one for a
            // node placed locally, else the server's. A deleted node on the way means the
            // delete takes `y` — also when `y` is not deleted locally but the server moved it
            // (or an ancestor) into the deleted region. `path`: the nodes to bring back.
            let mut path = vec![];
            let mut cur = Some(y.clone());
            let (mut in_region, mut reached) = (false, false);
            let mut hops = 0;
            while let Some(c) = cur.take() {
                hops += 1;
                if c == ROOT {
                    reached = true;
                    break;
                }
                if hops > proj2.len() + self.local.len() {
                    break; // a cycle (a local move the state rebase will drop): leave it to it
                }
                in_region |= deleted(&c);
                let placed = self.placed.contains(&c) && self.local.contains(&c);
                cur = if placed { self.local.parent(&c) } else { proj2.parent(&c).or_else(|| self.local.parent(&c)) }.map(str::to_string);
                if !self.local.contains(&c) {
                    path.push(c);
                }
            }
            if in_region && reached {
                own.push(y.clone());
                keep.extend(path);
            }
        }
        if keep.is_empty() {
            return own;
        }
        // the seen text of each kept node goes, as the local user asked
        for k in &keep {
            let Some(n) = proj2.get(k).cloned() else { continue };
            for (p, v) in &n.props {
                let Value::String(s) = v else { continue };
                let f = flags.get(&(k.clone(), p.clone())).cloned().unwrap_or_else(|| vec![false; clen(s)]);
                if f.len() != clen(s) || f.iter().all(|x| *x) {
                    continue;
                }
                let mut op = TextOp::new();
                for x in &f {
                    if *x {
                        op.retain(1);
                    } else {
                        op.delete(1);
                    }
                }
                let b = BOp::Text { key: k.clone(), prop: p.clone(), op };
                if blocks::apply(proj2, &b, Some((flags, false))).is_ok() {
                    log.push(Logged { op: b, move_next: None });
                }
            }
        }
        // back into the local tree, where the server has them (nodes the server created are
        // brought in by the state rebase)
        let mut order: Vec<(Vec<usize>, String)> = keep.iter().filter(|k| self.proj.contains(k)).map(|k| (proj2.path(k), k.clone())).collect();
        order.sort();
        for (_, k) in order {
            let Some(mut n) = proj2.get(&k).cloned() else { continue };
            let Some(p) = n.parent.clone() else { continue };
            if !local.contains(&p) {
                continue;
            }
            n.children = vec![];
            local.nodes.insert(k.clone(), n);
            if local.attach(&k, &p, &Place::Last).is_err() {
                local.nodes.remove(&k);
            }
        }
        own
    }

    // ------------------------------------------------------------------ cursors

    /// Sets (or moves) the named cursor. It follows local edits, rebases and pulls; it is
    /// removed when its node goes.
    pub fn set_cursor(&mut self, name: &str, key: &str, prop: &str, at: usize) {
        self.cursors.insert(name.to_string(), Cursor { key: key.to_string(), prop: prop.to_string(), at });
    }

    pub fn cursor(&self, name: &str) -> Option<&Cursor> {
        self.cursors.get(name)
    }

    pub fn has_cursors(&self) -> bool {
        !self.cursors.is_empty()
    }

    pub fn remove_cursor(&mut self, name: &str) {
        self.cursors.remove(name);
    }

    fn carets(&self) -> Vec<BOp> {
        self.cursors.values().enumerate().map(|(id, c)| BOp::Caret { id, key: c.key.clone(), prop: c.prop.clone(), at: c.at }).collect()
    }

    /// Cursors on a node that is gone, on a prop that is not a string, or past the end of the
    /// text are removed.
    fn drop_stale_cursors(&mut self) {
        self.cursors.retain(|_, c| self.local.get(&c.key).is_some_and(|n| text_of(n, &c.prop).is_some_and(|t| c.at <= clen(t))));
    }

    /// The cursor names in caret id order (ids are positions in this list, see [`Self::carets`]).
    fn cursor_names(&self) -> Vec<String> {
        self.cursors.keys().cloned().collect()
    }

    fn set_carets(&mut self, carets: &[BOp]) {
        let names = self.cursor_names();
        self.set_carets_named(&names, carets);
    }

    /// Sets the cursors from carets whose ids index `names` (the names when the carets were
    /// taken: edits in between may have removed cursors).
    fn set_carets_named(&mut self, names: &[String], carets: &[BOp]) {
        let mut out = BTreeMap::new();
        for c in carets {
            if let BOp::Caret { id, key, prop, at } = c {
                if let Some(name) = names.get(*id) {
                    out.insert(name.clone(), Cursor { key: key.clone(), prop: prop.clone(), at: *at });
                }
            }
        }
        self.cursors = out;
    }

    fn map_cursors(&mut self, op: &BOp) {
        let carets = self.carets();
        let (c, _, _) = blocks::transform(std::slice::from_ref(op), carets);
        self.set_carets(&c);
    }
}

/// The shadow with `log` applied (used to recover the projection after an internal error).
fn blocks_undo(shadow: &Tree, log: &[Logged]) -> Tree {
    let mut t = shadow.clone();
    for e in log {
        let _ = blocks::apply(&mut t, &e.op, None);
    }
    t
}
