//! Text edits as ops on *blocks* (a string property of a node), and their transform: the
//! text-aware half of the rebase. Pure; property-tested below against a small list model.
//!
//! A [`BOp`] is a `text` splice list (as a [`TextOp`]), a `split`, a `join` (docs/api/apply_patch.md, the text ops), or, on
//! the server's side only, "these nodes are gone" and "this property is no longer text". Each
//! op carries the lengths of the texts it was made on, so transforms need no document.
//!
//! [`transform`]`(server, local)` rebases the local ops over the server's (the usual OT grid:
//! every local op over every server op, in order). The server's side wins ties. Rules:
//!
//! - **text / text** on one block: [`ot::transform`], the server's text first at equal offsets.
//! - **server split of a block the local side typed into**: local edits before the split point
//!   stay, the rest moves to the new block (offset − `at`); text typed exactly at the split
//!   point goes to the start of the new block (the split is the server's "text" at that offset,
//!   and the server's text comes first).
//! - **local split of a block the server typed into**: the split point moves with the text
//!   before it; server text inserted exactly at the split point stays at the end of the first
//!   block.
//! - **server join (`next` appended to `key`) of a block the local side typed into**: local
//!   edits of `next` move into `key`, shifted by `key`'s length at the join; edits of `key`
//!   stay. **Local join** of blocks the server typed into: the server's edits of `next` land in
//!   the joined block at `key`'s length; the join itself is re-sent (the server joins the
//!   *current* texts, so nothing the others typed is lost).
//! - Two splits of one block: both boundaries stay (at the same offset the server's comes
//!   first, leaving an empty block between). Two joins of the same pair: done once. A split and
//!   a join of neighbouring blocks compose (e.g. the server split `key`, the local side joined
//!   `next` into `key`: `next` now joins the server's new block).
//! - **server delete** of a block: local edits of it are dropped and reported
//!   ([`Lost::Deleted`]); a local join whose `next` the server deleted is dropped (the text
//!   typed locally in that part survives in `key`); a local join whose `key` the server
//!   deleted is dropped and the local edits of the `next` part go back to `next`.
//! - **server set a non-string value**: local text edits of that property are dropped and
//!   reported ([`Lost::NonText`]).
//! - A caret ([`BOp::Caret`]) maps like a local insert of nothing at its offset: after the
//!   server's text at that offset, into the new block at a split point, along with a join.

use std::collections::{BTreeMap, BTreeSet};

use nodesync_core::ot::{self, Assoc, TextOp};
use nodesync_core::patch::{Place, ROOT};
use serde_json::Value;

use crate::tree::{Node, Tree};

/// One op on blocks. `len`, `next_len` and a text op's base length are the lengths (code
/// points) of the texts the op was made on.
#[derive(Debug, Clone, PartialEq)]
pub enum BOp {
    Text { key: String, prop: String, op: TextOp },
    Split { key: String, prop: String, at: usize, new: String, len: usize },
    Join { key: String, next: String, prop: String, len: usize, next_len: usize },
    /// Server only: these nodes were deleted.
    Gone { keys: BTreeSet<String> },
    /// Server only: `prop` of `key` got a value that is not a string.
    NonText { key: String, prop: String },
    /// Local only: a caret to map.
    Caret { id: usize, key: String, prop: String, at: usize },
}

impl BOp {
    /// The node the op is about (`key`; the first of a `Gone`).
    pub fn key(&self) -> &str {
        match self {
            BOp::Text { key, .. } | BOp::Split { key, .. } | BOp::Join { key, .. } | BOp::NonText { key, .. } | BOp::Caret { key, .. } => key,
            BOp::Gone { keys } => keys.iter().next().map_or("", |k| k.as_str()),
        }
    }

    /// Every node the op reads or writes.
    pub fn touches(&self, k: &str) -> bool {
        match self {
            BOp::Text { key, .. } | BOp::NonText { key, .. } | BOp::Caret { key, .. } => key == k,
            BOp::Split { key, new, .. } => key == k || new == k,
            BOp::Join { key, next, .. } => key == k || next == k,
            BOp::Gone { keys } => keys.contains(k),
        }
    }
}

/// A local op the transform had to drop, and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Lost {
    /// An edit of a node the server deleted.
    Deleted(String),
    /// A text edit of `prop` of `key`, which the server set to a non-string value.
    NonText(String, String),
    /// A local join re-sent over a server edit of another property of `next` (a join drops
    /// `next`'s other properties).
    DropsServerEdit(String),
    /// A local join whose blocks someone moved apart (to different parents).
    Separated(String),
    /// An op whose lengths did not fit (an internal error; never expected).
    Misfit(String),
}

// ---------------------------------------------------------------------------------- helpers

/// The text of `prop` (`""` if absent), or `None` if it holds a value that is not a string.
pub fn text_of<'a>(n: &'a Node, prop: &str) -> Option<&'a str> {
    match n.props.get(prop) {
        None => Some(""),
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => None,
    }
}

fn clen(s: &str) -> usize {
    s.chars().count()
}

/// Per block, which code points the server inserted since the shadow (the local side has not
/// seen them). Blocks without an entry: none.
pub type Flags = BTreeMap<(String, String), Vec<bool>>;

fn flags_of(f: &Flags, key: &str, prop: &str, len: usize) -> Vec<bool> {
    match f.get(&(key.to_string(), prop.to_string())) {
        Some(v) if v.len() == len => v.clone(),
        _ => vec![false; len],
    }
}

fn set_flags(f: &mut Flags, key: &str, prop: &str, v: Vec<bool>) {
    if v.iter().any(|x| *x) {
        f.insert((key.to_string(), prop.to_string()), v);
    } else {
        f.remove(&(key.to_string(), prop.to_string()));
    }
}

// ---------------------------------------------------------------------------------- transform

fn text(key: &str, prop: &str, op: TextOp) -> Vec<BOp> {
    if op.is_identity() {
        vec![]
    } else {
        vec![BOp::Text { key: key.to_string(), prop: prop.to_string(), op }]
    }
}

fn split(key: &str, prop: &str, at: usize, new: &str, len: usize) -> BOp {
    BOp::Split { key: key.to_string(), prop: prop.to_string(), at, new: new.to_string(), len }
}

fn join(key: &str, next: &str, prop: &str, len: usize, next_len: usize) -> BOp {
    BOp::Join { key: key.to_string(), next: next.to_string(), prop: prop.to_string(), len, next_len }
}

/// Where a caret goes through op `s`; `None` if its block is gone.
fn map_caret(s: &BOp, c: &BOp) -> Option<BOp> {
    let BOp::Caret { id, key, prop, at } = c else { return Some(c.clone()) };
    let caret = |k: &str, a: usize| Some(BOp::Caret { id: *id, key: k.to_string(), prop: prop.clone(), at: a });
    match s {
        BOp::Text { key: k, prop: p, op } if k == key && p == prop => caret(k, op.map(*at, Assoc::After)),
        BOp::Split { key: k, prop: p, at: sat, new, .. } if k == key && p == prop => {
            if at < sat {
                caret(k, *at)
            } else {
                caret(new, at - sat)
            }
        }
        BOp::Join { key: k, next, prop: p, len, .. } if next == key => {
            if p == prop {
                caret(k, len + at)
            } else {
                None
            }
        }
        BOp::Gone { keys } if keys.contains(key) => None,
        BOp::NonText { key: k, prop: p } if k == key && p == prop => None,
        _ => Some(c.clone()),
    }
}

/// Where a caret goes through `ops` (applied in order); `None` if its block is gone.
pub fn map_caret_through(ops: &[BOp], key: &str, prop: &str, at: usize) -> Option<(String, usize)> {
    let mut c = BOp::Caret { id: 0, key: key.to_string(), prop: prop.to_string(), at };
    for s in ops {
        c = map_caret(s, &c)?;
    }
    match c {
        BOp::Caret { key, at, .. } => Some((key, at)),
        _ => None,
    }
}

/// Transforms one server op `s` and one local op `l` made on the same state: returns `s'`
/// (applies after `l`) and `l'` (applies after `s`).
fn pair(s: &BOp, l: &BOp, lost: &mut Vec<Lost>) -> (Vec<BOp>, Vec<BOp>) {
    use BOp::*;
    let pass = || (vec![s.clone()], vec![l.clone()]);
    let misfit = |lost: &mut Vec<Lost>| {
        lost.push(Lost::Misfit(l.key().to_string()));
        (vec![s.clone()], vec![])
    };
    match (s, l) {
        (_, Caret { .. }) => (vec![s.clone()], map_caret(s, l).into_iter().collect()),
        (Caret { .. }, _) | (_, Gone { .. }) | (_, NonText { .. }) => pass(),

        // ---- the server deleted nodes
        (Gone { keys }, Text { key, .. }) if keys.contains(key) => {
            lost.push(Lost::Deleted(key.clone()));
            (vec![s.clone()], vec![])
        }
        (Gone { keys }, Split { key, new, .. }) if keys.contains(key) => {
            lost.push(Lost::Deleted(key.clone()));
            let mut k = keys.clone();
            k.insert(new.clone());
            (vec![Gone { keys: k }], vec![])
        }
        (Gone { keys }, Join { key, next, prop, len, next_len }) if keys.contains(key) || keys.contains(next) => {
            let mut rest = keys.clone();
            rest.remove(next);
            let gone = |k: BTreeSet<String>| if k.is_empty() { vec![] } else { vec![Gone { keys: k }] };
            match (keys.contains(key), keys.contains(next)) {
                (true, true) => (gone(rest), vec![]),
                (false, _) => {
                    // `next` is gone: what of it this side joined into `key` goes too
                    let mut del = TextOp::identity(*len);
                    del.delete(*next_len);
                    let mut out = text(key, prop, del);
                    out.extend(gone(rest));
                    (out, vec![])
                }
                (true, false) => {
                    // `key` is gone, `next` is not: the `next` part goes back to `next`
                    lost.push(Lost::Deleted(key.clone()));
                    (vec![split(key, prop, *len, next, len + next_len), Gone { keys: keys.clone() }], vec![])
                }
            }
        }
        (Gone { .. }, _) => pass(),

        // ---- the server set a non-string value
        (NonText { key: k, prop: p }, Text { key, prop, .. }) if k == key && p == prop => {
            lost.push(Lost::NonText(key.clone(), prop.clone()));
            (vec![s.clone()], vec![])
        }
        (NonText { key: k, prop: p }, Split { key, prop, new, .. }) if k == key && p == prop => {
            lost.push(Lost::NonText(key.clone(), prop.clone()));
            (vec![s.clone(), Gone { keys: BTreeSet::from([new.clone()]) }], vec![])
        }
        (NonText { key: k, prop: p }, Join { key, next, prop, len, next_len }) if p == prop && (k == key || k == next) => {
            lost.push(Lost::NonText(k.clone(), prop.clone()));
            (vec![split(key, prop, *len, next, len + next_len), s.clone()], vec![])
        }
        (NonText { .. }, _) => pass(),

        // ---- text / text
        (Text { key: k1, prop: p1, op: a }, Text { key: k2, prop: p2, op: b }) => {
            if k1 != k2 || p1 != p2 {
                return pass();
            }
            match ot::transform(a, b) {
                Ok((ap, bp)) => (text(k1, p1, ap), text(k1, p1, bp)),
                Err(_) => misfit(lost),
            }
        }

        // ---- split / text
        (Split { key: k, prop: p, at, new, len }, Text { key, prop, op: b }) if k == key && p == prop => {
            if b.base_len() != *len {
                return misfit(lost);
            }
            match b.cut(*at, true) {
                Ok((bl, br)) => {
                    let at2 = bl.target_len();
                    let mut l2 = text(k, p, bl);
                    l2.extend(text(new, p, br));
                    (vec![split(k, p, at2, new, b.target_len())], l2)
                }
                Err(_) => misfit(lost),
            }
        }
        (Text { key: k, prop: p, op: a }, Split { key, prop, at, new, len }) if k == key => {
            if p != prop {
                // another property of the block: the split copies it, so both copies get it
                let mut s2 = vec![s.clone()];
                s2.extend(text(new, p, a.clone()));
                return (s2, vec![l.clone()]);
            }
            if a.base_len() != *len {
                return misfit(lost);
            }
            match a.cut(*at, false) {
                Ok((al, ar)) => {
                    let at2 = al.target_len();
                    let mut s2 = text(k, p, al);
                    s2.extend(text(new, p, ar));
                    (s2, vec![split(k, p, at2, new, a.target_len())])
                }
                Err(_) => misfit(lost),
            }
        }
        (Split { .. }, Text { .. }) | (Text { .. }, Split { .. }) => pass(),

        // ---- join / text
        (Join { key: k, next: n, prop: p, len: lk, next_len: ln }, Text { key, prop, op: b }) if key == k || key == n => {
            if prop != p {
                if key == n {
                    // `next` is gone with its other properties
                    lost.push(Lost::Deleted(key.clone()));
                    return (vec![s.clone()], vec![]);
                }
                return pass();
            }
            if key == n {
                if b.base_len() != *ln {
                    return misfit(lost);
                }
                (vec![join(k, n, p, *lk, b.target_len())], text(k, p, b.padded(*lk, 0)))
            } else {
                if b.base_len() != *lk {
                    return misfit(lost);
                }
                (vec![join(k, n, p, b.target_len(), *ln)], text(k, p, b.padded(0, *ln)))
            }
        }
        (Text { key, prop, op: a }, Join { key: k, next: n, prop: p, len: lk, next_len: ln }) if key == k || key == n => {
            if prop != p {
                if key == n {
                    // this side's join drops `next`'s other properties, which the server edited
                    lost.push(Lost::DropsServerEdit(n.clone()));
                    return (vec![], vec![l.clone()]);
                }
                return pass();
            }
            if key == n {
                if a.base_len() != *ln {
                    return misfit(lost);
                }
                (text(k, p, a.padded(*lk, 0)), vec![join(k, n, p, *lk, a.target_len())])
            } else {
                if a.base_len() != *lk {
                    return misfit(lost);
                }
                (text(k, p, a.padded(0, *ln)), vec![join(k, n, p, a.target_len(), *ln)])
            }
        }
        (Join { .. }, Text { .. }) | (Text { .. }, Join { .. }) => pass(),

        // ---- split / split
        (Split { key: k1, prop: p1, at: a1, new: n1, len }, Split { key: k2, prop: p2, at: a2, new: n2, len: len2 }) => {
            if k1 != k2 || p1 != p2 {
                return pass();
            }
            if len != len2 {
                return misfit(lost);
            }
            if a1 <= a2 {
                (vec![split(k1, p1, *a1, n1, *a2)], vec![split(n1, p1, a2 - a1, n2, len - a1)])
            } else {
                (vec![split(n2, p1, a1 - a2, n1, len - a2)], vec![split(k1, p1, *a2, n2, *a1)])
            }
        }

        // ---- join / join
        (Join { key: a, next: b, prop: p, len: la, next_len: lb }, Join { key: c, next: d, prop: q, len: lc, next_len: ld }) => {
            if (a, b) == (c, d) {
                return (vec![], vec![]);
            }
            let related = a == c || a == d || b == c || b == d;
            if !related {
                return pass();
            }
            if p != q {
                return misfit(lost);
            }
            // (after moves, the two sides may have joined different neighbours)
            if b == c && d == a {
                // server: a ← b; local: b ← a. The server's order wins; the local join is void
                lost.push(Lost::Separated(a.clone()));
                return (vec![split(b, p, *lb, a, lb + la), join(a, b, p, *la, *lb)], vec![]);
            }
            if b == d {
                // both joined b, into different blocks: b's text is in a now
                lost.push(Lost::Separated(b.clone()));
                return (vec![split(c, p, *lc, b, lc + lb), s.clone()], vec![]);
            }
            if a == c {
                // a took b on the server and d locally: a, then b, then d
                return (
                    vec![split(a, p, *la, d, la + ld), join(a, b, p, *la, *lb), join(a, d, p, la + lb, *ld)],
                    vec![join(a, d, p, la + lb, *ld)],
                );
            }
            if b == c {
                // server: a ← b; local: b ← d
                (vec![join(a, b, p, *la, lb + ld)], vec![join(a, d, p, la + lb, *ld)])
            } else if d == a {
                // server: a ← b; local: c ← a
                (vec![join(c, b, p, lc + la, *lb)], vec![join(c, a, p, *lc, la + lb)])
            } else {
                misfit(lost)
            }
        }

        // ---- join / split
        (Join { key: k, next: n, prop: p, len: lk, next_len: ln }, Split { key, prop, at, new, len }) if key == k || key == n => {
            if prop != p {
                if key == n {
                    lost.push(Lost::Deleted(key.clone()));
                    return (vec![s.clone(), Gone { keys: BTreeSet::from([new.clone()]) }], vec![]);
                }
                return pass();
            }
            if key == k {
                if len != lk {
                    return misfit(lost);
                }
                (vec![join(new, n, p, lk - at, *ln)], vec![split(k, p, *at, new, lk + ln)])
            } else {
                if len != ln {
                    return misfit(lost);
                }
                (vec![join(k, n, p, *lk, *at)], vec![split(k, p, lk + at, new, lk + ln)])
            }
        }
        (Split { key, prop, at, new, len }, Join { key: k, next: n, prop: p, len: lk, next_len: ln }) if (key == k || key == n) && prop == p => {
            if key == k {
                if len != lk {
                    return misfit(lost);
                }
                (vec![split(k, p, *at, new, lk + ln)], vec![join(new, n, p, lk - at, *ln)])
            } else {
                if len != ln {
                    return misfit(lost);
                }
                (vec![split(k, p, lk + at, new, lk + ln)], vec![join(k, n, p, *lk, *at)])
            }
        }
        (Join { .. }, Split { .. }) | (Split { .. }, Join { .. }) => pass(),
    }
}

/// The OT grid of two op sequences made on one state: `(ss', ls')`.
fn grid(ss: Vec<BOp>, ls: Vec<BOp>, lost: &mut Vec<Lost>) -> (Vec<BOp>, Vec<BOp>) {
    match (ss.len(), ls.len()) {
        (0, _) | (_, 0) => (ss, ls),
        (1, 1) => pair(&ss[0], &ls[0], lost),
        (1, _) => {
            let mut cur = ss;
            let mut out = Vec::with_capacity(ls.len());
            for l in ls {
                let (c, lp) = grid(cur, vec![l], lost);
                cur = c;
                out.extend(lp);
            }
            (cur, out)
        }
        _ => {
            let mut cur = ls;
            let mut out = Vec::with_capacity(ss.len());
            for s in ss {
                let (sp, l2) = grid(vec![s], cur, lost);
                out.extend(sp);
                cur = l2;
            }
            (out, cur)
        }
    }
}

/// Rebases `local` (made on some state) over `server` (made on the same state, applied first):
/// returns the local ops as they apply after the server's, the server's ops as they apply
/// after the local ones, and what was lost.
pub fn transform(server: &[BOp], local: Vec<BOp>) -> (Vec<BOp>, Vec<BOp>, Vec<Lost>) {
    let mut lost = vec![];
    let (sp, lp) = grid(server.to_vec(), local, &mut lost);
    (lp, sp, lost)
}

// ---------------------------------------------------------------------------------- on a tree

/// Why an op does not apply to a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unfit {
    /// A join of blocks under different parents.
    Separated,
    /// Anything else (missing node, wrong length, not a string...).
    Misfit(String),
}

fn unfit<T>(m: String) -> Result<T, Unfit> {
    Err(Unfit::Misfit(m))
}

fn get_text(t: &Tree, key: &str, prop: &str) -> Result<String, Unfit> {
    match t.get(key) {
        None => unfit(format!("no node {key:?}")),
        Some(n) => match text_of(n, prop) {
            Some(s) => Ok(s.to_string()),
            None => unfit(format!("{prop:?} of {key:?} is not a string")),
        },
    }
}

fn put_text(t: &mut Tree, key: &str, prop: &str, s: String) {
    if let Some(n) = t.nodes.get_mut(key) {
        n.props.insert(prop.to_string(), Value::String(s));
    }
}

/// Applies a block op to a tree, and to the flags of server-inserted text if given (`(flags,
/// true)` for a server op: what it inserts is unseen; `false` for a local one). For a join
/// whose `next` is under the same parent but not right after `key`, `next` is first moved
/// there: returns `Some(parent)` then (the patch needs a `move` before the `join`).
pub fn apply(t: &mut Tree, op: &BOp, flags: Option<(&mut Flags, bool)>) -> Result<Option<String>, Unfit> {
    match op {
        BOp::Text { key, prop, op } => {
            let cur = get_text(t, key, prop)?;
            let out = op.apply(&cur).map_err(|e| Unfit::Misfit(format!("text of {key:?}: {e}")))?;
            if let Some((f, server)) = flags {
                let v = flags_of(f, key, prop, clen(&cur));
                if let Ok(v) = op.apply_vec(&v, server) {
                    set_flags(f, key, prop, v);
                }
            }
            put_text(t, key, prop, out);
            Ok(None)
        }
        BOp::Split { key, prop, at, new, len } => {
            if key == ROOT {
                return unfit("split of the root".into());
            }
            let cur = get_text(t, key, prop)?;
            let n = clen(&cur);
            if n != *len || *at > n {
                return unfit(format!("split of {key:?} at {at}: its text is {n} long, the op was made on {len}"));
            }
            if t.contains(new) {
                return unfit(format!("split: {new:?} exists"));
            }
            let Some(parent) = t.parent(key).map(str::to_string) else { return unfit(format!("{key:?} has no parent")) };
            let (head, tail) = nodesync_core::text::split_at(&cur, *at).unwrap_or((&cur, ""));
            let (head, tail) = (head.to_string(), tail.to_string());
            let mut node = t.nodes[key].clone();
            node.props.insert(prop.clone(), Value::String(tail));
            node.children = vec![];
            node.version = 1;
            node.gen = 0;
            node.pos = None;
            t.nodes.insert(new.clone(), node);
            t.attach(new, &parent, &Place::After(key.clone())).map_err(Unfit::Misfit)?;
            if let Some((f, _)) = flags {
                let v = flags_of(f, key, prop, n);
                let other: Vec<(String, Vec<bool>)> =
                    f.iter().filter(|((k, p), _)| k == key && p != prop).map(|((_, p), v)| (p.clone(), v.clone())).collect();
                set_flags(f, key, prop, v[..*at].to_vec());
                set_flags(f, new, prop, v[*at..].to_vec());
                for (p, v) in other {
                    set_flags(f, new, &p, v);
                }
            }
            put_text(t, key, prop, head);
            Ok(None)
        }
        BOp::Join { key, next, prop, len, next_len } => {
            let a = get_text(t, key, prop)?;
            let b = get_text(t, next, prop)?;
            if clen(&a) != *len || clen(&b) != *next_len {
                return unfit(format!("join of {key:?} and {next:?}: lengths {} and {}, the op was made on {len} and {next_len}", clen(&a), clen(&b)));
            }
            let parent = t.parent(key).map(str::to_string);
            if parent.is_none() || t.parent(next).map(str::to_string) != parent {
                return Err(Unfit::Separated);
            }
            let parent = parent.unwrap_or_default();
            let mut moved = None;
            let kids = t.children(&parent);
            let adjacent = kids.iter().position(|c| c == key).map(|i| i + 1) == kids.iter().position(|c| c == next);
            if !adjacent {
                t.detach(next);
                t.attach(next, &parent, &Place::After(key.clone())).map_err(Unfit::Misfit)?;
                moved = Some(parent);
            }
            if let Some((f, _)) = flags {
                let mut v = flags_of(f, key, prop, *len);
                v.extend(flags_of(f, next, prop, *next_len));
                set_flags(f, key, prop, v);
                f.retain(|(k, _), _| k != next);
            }
            put_text(t, key, prop, a + &b);
            let kids: Vec<String> = t.children(next).to_vec();
            for c in &kids {
                t.detach(c);
                t.attach(c, key, &Place::Last).map_err(Unfit::Misfit)?;
            }
            t.detach(next);
            t.nodes.remove(next);
            Ok(moved)
        }
        BOp::Gone { .. } | BOp::NonText { .. } | BOp::Caret { .. } => Ok(None),
    }
}

// ---------------------------------------------------------------------------------- the server's side

mod server;
pub use server::{agrees, diff_ops, replay, Replayed};

#[cfg(test)]
mod tests;
