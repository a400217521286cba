//! A naive reference model of docs/api, for property tests: the whole document in memory,
//! children as plain ordered vectors, a full copy of the document per generation. It shares
//! nothing with [`crate::engine`] but the patch parser, so agreement between the two (and
//! between the model and the extension) means something.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde_json::{json, Map, Value};

use crate::error::Reason;
use crate::patch::{Op, Patch, Place, ROOT};
use crate::tree::{Flat, FlatNode};

#[derive(Debug, Clone, PartialEq)]
pub struct MNode {
    pub kind: String,
    pub props: Map<String, Value>,
    pub version: i64,
    pub gen: i64,
    pub parent: Option<String>,
    pub children: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    pub gen: i64,
    pub nodes: BTreeMap<String, MNode>,
    /// Keys ever deleted (never reusable).
    pub deleted: BTreeSet<String>,
}

/// What a patch did to the model.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// Committed: the new gen and the versions map.
    Committed { gen: i64, versions: BTreeMap<String, Option<i64>> },
    /// Empty patch: nothing committed.
    Empty { gen: i64 },
    /// Refused: `(op index, reason)` in op order.
    Refused(Vec<(usize, Reason)>),
    /// Invalid (22023) at this op: a text edit that does not fit, or a non-string property.
    Invalid(usize),
}

/// A string property as the text ops see it: absent is `""`, a non-string is `None`.
fn text_of(props: &Map<String, Value>, prop: &str) -> Option<Vec<char>> {
    match props.get(prop) {
        None => Some(vec![]),
        Some(Value::String(s)) => Some(s.chars().collect()),
        Some(_) => None,
    }
}

/// A document with its full history (one copy per generation).
#[derive(Debug, Clone)]
pub struct Model {
    pub history: Vec<Doc>,
    /// For every gen > 1, the keys the commit deleted.
    pub deleted_at: BTreeMap<i64, BTreeSet<String>>,
}

impl Doc {
    pub fn new(root_kind: &str, root_props: Map<String, Value>) -> Doc {
        let mut nodes = BTreeMap::new();
        nodes.insert(
            ROOT.to_string(),
            MNode { kind: root_kind.into(), props: root_props, version: 1, gen: 1, parent: None, children: vec![] },
        );
        Doc { gen: 1, nodes, deleted: BTreeSet::new() }
    }

    fn is_descendant_or_self(&self, key: &str, of: &str) -> bool {
        let mut cur = Some(of.to_string());
        while let Some(c) = cur {
            if c == key {
                return true;
            }
            cur = self.nodes.get(&c).and_then(|n| n.parent.clone());
        }
        false
    }

    fn subtree(&self, key: &str) -> Vec<String> {
        let mut out = vec![];
        let mut stack = vec![key.to_string()];
        while let Some(k) = stack.pop() {
            if let Some(n) = self.nodes.get(&k) {
                for c in &n.children {
                    out.push(c.clone());
                    stack.push(c.clone());
                }
            }
        }
        out
    }

    fn detach(&mut self, key: &str) {
        if let Some(p) = self.nodes.get(key).and_then(|n| n.parent.clone()) {
            if let Some(pn) = self.nodes.get_mut(&p) {
                pn.children.retain(|c| c != key);
            }
        }
    }

    /// Inserts `key` into `parent`'s children at `place`; `Err(reason)` for a bad anchor.
    fn attach(&mut self, key: &str, parent: &str, place: &Place) -> Result<(), Reason> {
        let kids = &self.nodes.get(parent).ok_or(Reason::Missing)?.children;
        let at = match place {
            Place::Last => kids.len(),
            Place::First => 0,
            Place::After(a) => match kids.iter().position(|c| c == a) {
                Some(i) => i + 1,
                None => return Err(Reason::Anchor),
            },
        };
        if let Some(pn) = self.nodes.get_mut(parent) {
            pn.children.insert(at, key.to_string());
        }
        if let Some(n) = self.nodes.get_mut(key) {
            n.parent = Some(parent.to_string());
        }
        Ok(())
    }

    fn anchor_check(&self, place: &Place, parent: &str, key: &str) -> Option<Reason> {
        if let Place::After(a) = place {
            match self.nodes.get(a) {
                None => return Some(Reason::Missing),
                Some(n) if n.parent.as_deref() != Some(parent) || a == key => return Some(Reason::Anchor),
                _ => {}
            }
        }
        None
    }

    /// The document flattened like [`crate::tree::flatten_snapshot`].
    pub fn flat(&self) -> Flat {
        let mut out = Flat::new();
        for (k, n) in &self.nodes {
            let place = n
                .parent
                .as_ref()
                .and_then(|p| self.nodes.get(p))
                .and_then(|p| p.children.iter().position(|c| c == k))
                .unwrap_or(0);
            out.insert(
                k.clone(),
                FlatNode {
                    parent: n.parent.clone(),
                    place,
                    kind: n.kind.clone(),
                    props: n.props.clone(),
                    version: n.version,
                    gen: n.gen,
                },
            );
        }
        out
    }
}

/// An op of [`Model::apply`] that is invalid (22023): it has no effect, the first one is
/// remembered, and the loop goes on (conflicts anywhere in the patch come first).
macro_rules! invalid_op {
    ($first:expr, $i:expr, $ops:lifetime) => {{
        $first.get_or_insert($i);
        continue $ops;
    }};
}

impl Model {
    pub fn new(root_kind: &str, root_props: Map<String, Value>) -> Model {
        Model { history: vec![Doc::new(root_kind, root_props)], deleted_at: BTreeMap::new() }
    }

    pub fn current(&self) -> &Doc {
        // history is never empty: it starts with gen 1
        &self.history[self.history.len() - 1]
    }

    pub fn gen(&self) -> i64 {
        self.current().gen
    }

    /// The document right after commit `gen` (1-based).
    pub fn at(&self, gen: i64) -> Option<&Doc> {
        if gen < 1 {
            return None;
        }
        self.history.get((gen - 1) as usize)
    }

    /// Keys changed after `since` (live now) and keys deleted after `since`, per SPEC's diff.
    pub fn diff_since(&self, since: i64) -> (BTreeSet<String>, BTreeSet<String>) {
        let cur = self.current();
        let changed = cur.nodes.iter().filter(|(_, n)| n.gen > since).map(|(k, _)| k.clone()).collect();
        let deleted = self
            .deleted_at
            .range(since + 1..)
            .flat_map(|(_, ks)| ks.iter().cloned())
            .filter(|k| !cur.nodes.contains_key(k))
            .collect();
        (changed, deleted)
    }

    /// Applies a parsed patch the simple way.
    pub fn apply(&mut self, patch: &Patch) -> Applied {
        let before = self.current().clone();
        if patch.ops.is_empty() {
            return Applied::Empty { gen: before.gen };
        }
        let gen = before.gen + 1;
        let mut d = before.clone();
        let mut created: HashSet<String> = HashSet::new();
        let mut touched: BTreeSet<String> = BTreeSet::new();
        let mut refused = vec![];
        // version check against the state before the patch, skipped for nodes created in it
        let check = |d: &Doc, created: &HashSet<String>, key: &str, version: i64| -> Option<Reason> {
            if !d.nodes.contains_key(key) {
                return Some(Reason::Missing);
            }
            if created.contains(key) {
                return None;
            }
            match before.nodes.get(key) {
                Some(n) if n.version == version => None,
                Some(_) => Some(Reason::Version),
                None => Some(Reason::Missing),
            }
        };
        let mut first_invalid: Option<usize> = None;
        'ops: for (i, op) in patch.ops.iter().enumerate() {
            let r: Option<Reason> = match op {
                Op::Create { key, kind, props, parent, place } => {
                    if d.nodes.contains_key(key) || d.deleted.contains(key) || created.contains(key) {
                        Some(Reason::Exists)
                    } else if !d.nodes.contains_key(parent) {
                        Some(Reason::Missing)
                    } else if let Some(r) = d.anchor_check(place, parent, key) {
                        Some(r)
                    } else {
                        d.nodes.insert(
                            key.clone(),
                            MNode { kind: kind.clone(), props: props.clone(), version: 1, gen, parent: None, children: vec![] },
                        );
                        // anchor was checked: attach cannot fail
                        let _ = d.attach(key, parent, place);
                        created.insert(key.clone());
                        None
                    }
                }
                Op::Update { key, version, kind, props } => match check(&d, &created, key, *version) {
                    Some(r) => Some(r),
                    None => {
                        if let Some(n) = d.nodes.get_mut(key) {
                            if let Some(k) = kind {
                                n.kind = k.clone();
                            }
                            if let Some(p) = props {
                                for (k, v) in p {
                                    if v.is_null() {
                                        n.props.remove(k);
                                    } else {
                                        n.props.insert(k.clone(), v.clone());
                                    }
                                }
                            }
                        }
                        touched.insert(key.clone());
                        None
                    }
                },
                Op::Move { key, version, parent, place } => match check(&d, &created, key, *version) {
                    Some(r) => Some(r),
                    None if !d.nodes.contains_key(parent) => Some(Reason::Missing),
                    None if d.is_descendant_or_self(key, parent) => Some(Reason::Cycle),
                    None => match d.anchor_check(place, parent, key) {
                        Some(r) => Some(r),
                        None => {
                            d.detach(key);
                            let _ = d.attach(key, parent, place);
                            touched.insert(key.clone());
                            None
                        }
                    },
                },
                Op::Delete { key, version } => match check(&d, &created, key, *version) {
                    Some(r) => Some(r),
                    None => {
                        let sub = d.subtree(key);
                        let stale = patch.base.is_some_and(|base| {
                            sub.iter().any(|k| {
                                !created.contains(k)
                                    && !touched.contains(k)
                                    && before.nodes.get(k).is_some_and(|n| n.gen > base)
                            })
                        });
                        if stale {
                            Some(Reason::Subtree)
                        } else {
                            d.detach(key);
                            for k in std::iter::once(key.clone()).chain(sub) {
                                d.nodes.remove(&k);
                                d.deleted.insert(k.clone());
                                touched.insert(k);
                            }
                            None
                        }
                    }
                },
                Op::Text { key, version, prop, edits } => match check(&d, &created, key, *version) {
                    Some(r) => Some(r),
                    None => {
                        let Some(node) = d.nodes.get_mut(key) else { invalid_op!(first_invalid, i, 'ops) };
                        let Some(mut t) = text_of(&node.props, prop) else { invalid_op!(first_invalid, i, 'ops) };
                        for e in edits {
                            if e.at + e.delete > t.len() {
                                invalid_op!(first_invalid, i, 'ops);
                            }
                            t.splice(e.at..e.at + e.delete, e.insert.chars());
                        }
                        node.props.insert(prop.clone(), Value::String(t.into_iter().collect()));
                        touched.insert(key.clone());
                        None
                    }
                },
                Op::Split { key, version, prop, at, new } => match check(&d, &created, key, *version) {
                    Some(r) => Some(r),
                    None => {
                        let node = d.nodes[key].clone();
                        let Some(t) = text_of(&node.props, prop) else { invalid_op!(first_invalid, i, 'ops) };
                        if *at > t.len() {
                            invalid_op!(first_invalid, i, 'ops);
                        }
                        if d.nodes.contains_key(new) || d.deleted.contains(new) || created.contains(new) {
                            Some(Reason::Exists)
                        } else {
                            let parent = node.parent.clone().unwrap_or_default();
                            let mut props = node.props.clone();
                            props.insert(prop.clone(), Value::String(t[*at..].iter().collect()));
                            d.nodes.insert(new.clone(), MNode { kind: node.kind.clone(), props, version: 1, gen, parent: None, children: vec![] });
                            let _ = d.attach(new, &parent, &Place::After(key.clone()));
                            created.insert(new.clone());
                            if let Some(n) = d.nodes.get_mut(key) {
                                n.props.insert(prop.clone(), Value::String(t[..*at].iter().collect()));
                            }
                            touched.insert(key.clone());
                            None
                        }
                    }
                },
                Op::Join { key, version, next, next_version, prop } => match check(&d, &created, key, *version).or_else(|| check(&d, &created, next, *next_version)) {
                    Some(r) => Some(r),
                    None => {
                        let parent = d.nodes[key].parent.clone();
                        let siblings = parent.as_ref().map(|p| d.nodes[p].children.clone()).unwrap_or_default();
                        let adjacent = d.nodes[next].parent == parent
                            && siblings.iter().position(|c| c == key).map(|x| x + 1) == siblings.iter().position(|c| c == next);
                        if !adjacent {
                            Some(Reason::Anchor)
                        } else {
                            let (Some(mut a), Some(b)) = (text_of(&d.nodes[key].props, prop), text_of(&d.nodes[next].props, prop)) else {
                                invalid_op!(first_invalid, i, 'ops)
                            };
                            a.extend(b);
                            let kids = d.nodes[next].children.clone();
                            for c in &kids {
                                d.detach(c);
                                let _ = d.attach(c, key, &Place::Last);
                                touched.insert(c.clone());
                            }
                            if let Some(n) = d.nodes.get_mut(key) {
                                n.props.insert(prop.clone(), Value::String(a.into_iter().collect()));
                            }
                            d.detach(next);
                            d.nodes.remove(next);
                            d.deleted.insert(next.clone());
                            touched.insert(key.clone());
                            touched.insert(next.clone());
                            None
                        }
                    }
                },
            };
            if let Some(r) = r {
                refused.push((i, r));
            }
        }
        if !refused.is_empty() {
            return Applied::Refused(refused);
        }
        if let Some(i) = first_invalid {
            return Applied::Invalid(i);
        }
        let mut versions = BTreeMap::new();
        let mut deleted_now = BTreeSet::new();
        for k in created.iter().chain(touched.iter()) {
            match d.nodes.get_mut(k) {
                Some(n) => {
                    if !created.contains(k) {
                        n.version += 1;
                    }
                    n.gen = gen;
                    versions.insert(k.clone(), Some(n.version));
                }
                None => {
                    versions.insert(k.clone(), None);
                    deleted_now.insert(k.clone());
                }
            }
        }
        d.gen = gen;
        self.history.push(d);
        self.deleted_at.insert(gen, deleted_now);
        Applied::Committed { gen, versions }
    }
}

    /// A random patch for property tests: creates (fresh keys `n1`, `n2`, ...), updates, moves and
/// deletes of the document's nodes with current or stale versions, good and bad anchors, and
/// sometimes a `base`. Each 4 numbers of `seed` make one op.
pub fn random_patch(doc: &Doc, seed: &[u32], next_key: &mut u32) -> Value {
    let live: Vec<&String> = doc.nodes.keys().collect();
    let pick = |x: u32| live[(x as usize) % live.len()].clone();
    let mut ops = vec![];
    for chunk in seed.chunks(4) {
        let (a, b, c, d) = (chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0), *chunk.get(3).unwrap_or(&0));
        let ver = |k: &str| doc.nodes.get(k).map_or(1, |n| n.version) + if d % 7 == 0 { 1 } else { 0 };
        let after = |p: &str| -> Value {
            match c % 4 {
                0 => Value::Null,
                1 => json!("__none__"),
                _ => {
                    let kids = doc.nodes.get(p).map(|n| n.children.clone()).unwrap_or_default();
                    if kids.is_empty() || c % 11 == 0 { json!(pick(c)) } else { json!(kids[(c as usize) % kids.len()]) }
                }
            }
        };
        const TEXTS: [&str; 3] = ["", "ab", "é😀x"];
        const INSERTS: [&str; 5] = ["", "x", "é", "😀", "ab\u{301}"];
        let text_len = |k: &str| doc.nodes.get(k).and_then(|n| n.props.get("t")).and_then(Value::as_str).map_or(0, |t| t.chars().count());
        // a text prop that is usually "t" (a string), sometimes "v" (a number: invalid)
        let prop = if d % 13 == 0 { "v" } else { "t" };
        let mut op = match a % 8 {
            0 | 1 => {
                *next_key += 1;
                let parent = pick(b);
                json!({"op": "create", "key": format!("n{next_key}"), "kind": "p", "parent": parent, "props": {"v": b % 5, "t": TEXTS[(b % 3) as usize]}, "after": after(&parent)})
            }
            2 => {
                let k = pick(b);
                json!({"op": "update", "key": k, "version": ver(&k), "props": {"v": c % 3, "w": if c % 2 == 0 { Value::Null } else { json!(c) }}})
            }
            3 => {
                let k = pick(b);
                if k == ROOT { continue; }
                let parent = pick(c);
                json!({"op": "move", "key": k, "version": ver(&k), "parent": parent, "after": after(&parent)})
            }
            4 => {
                let k = pick(b);
                if k == ROOT { continue; }
                json!({"op": "delete", "key": k, "version": ver(&k)})
            }
            5 => {
                let k = pick(b);
                // offsets mostly inside the text, sometimes one past its end (invalid)
                let n = text_len(&k) + 2;
                let edits: Vec<Value> = (0..1 + c % 3)
                    .map(|j| json!([(c as usize + j as usize) % n, (d as usize >> j) % 2, INSERTS[((c + j) % 5) as usize]]))
                    .collect();
                json!({"op": "text", "key": k, "version": ver(&k), "prop": prop, "edits": edits})
            }
            6 => {
                let k = pick(b);
                if k == ROOT { continue; }
                *next_key += 1;
                // sometimes an existing key as `new` (conflict exists)
                let new = if c % 9 == 0 { pick(c) } else { format!("n{next_key}") };
                if new == k { continue; }
                json!({"op": "split", "key": k, "version": ver(&k), "prop": prop, "at": c as usize % (text_len(&k) + 2), "new": new})
            }
            _ => {
                let k = pick(b);
                if k == ROOT { continue; }
                // usually the next sibling, sometimes any node (conflict anchor)
                let sibs = doc.nodes.get(k.as_str()).and_then(|n| n.parent.as_ref()).map(|p| doc.nodes[p].children.clone()).unwrap_or_default();
                let next = match sibs.iter().position(|x| x == &k) {
                    Some(x) if x + 1 < sibs.len() && c % 5 != 0 => sibs[x + 1].clone(),
                    _ => pick(c),
                };
                if next == k || next == ROOT { continue; }
                json!({"op": "join", "key": k, "version": ver(&k), "next": next, "next_version": ver(&next), "prop": prop})
            }
        };
        if op.get("after") == Some(&json!("__none__")) {
            op.as_object_mut().map(|o| o.remove("after"));
        }
        if op.get("after") == op.get("key") {
            continue;
        }
        ops.push(op);
    }
    let mut p = json!({"ops": ops});
    if seed.first().is_some_and(|s| s % 3 == 0) {
        p["base"] = json!(doc.gen.saturating_sub((seed[0] % 3) as i64).max(0));
    }
    p
}


/// A small deterministic PRNG (xorshift64*) so tests can print and replay their seed.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u32(&mut self) -> u32 {
        let mut x = self.0.max(1);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32
    }

    pub fn below(&mut self, n: u32) -> u32 {
        self.next_u32() % n.max(1)
    }

    pub fn seed(&mut self, len: usize) -> Vec<u32> {
        (0..len).map(|_| self.next_u32()).collect()
    }
}

#[cfg(test)]
mod tests {
    //! The engine (over [`MemStore`]) against the model, on random patches.
    use super::*;
    use crate::engine::{evaluate, Outcome};
    use crate::error::Error;
    use crate::patch::{parse, Limits};
    use crate::memstore::MemStore;
    use proptest::prelude::*;

    /// The generator reaches every op kind in committed patches (else the property below would
    /// test less than it claims), and produces invalid text ops too.
    #[test]
    fn random_patches_commit_every_op_kind() {
        let mut model = Model::new("doc", Map::new());
        let mut rng = Rng(7);
        let mut next_key = 0;
        let mut committed: BTreeMap<String, usize> = BTreeMap::new();
        let mut invalid = 0;
        for _ in 0..3000 {
            let len = 1 + rng.below(6) as usize;
            let pj = random_patch(model.current(), &rng.seed(len * 4), &mut next_key);
            let patch = parse(&pj, &Limits::default()).unwrap();
            match model.apply(&patch) {
                Applied::Committed { .. } => {
                    for op in &patch.ops {
                        *committed.entry(op.name().to_string()).or_default() += 1;
                    }
                }
                Applied::Invalid(_) => invalid += 1,
                _ => {}
            }
        }
        for op in ["create", "update", "move", "delete", "text", "split", "join"] {
            assert!(committed.get(op).copied().unwrap_or(0) >= 20, "{op}: {committed:?}");
        }
        assert!(invalid > 0);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn engine_agrees_with_model(patches in proptest::collection::vec(proptest::collection::vec(any::<u32>(), 1..24), 1..30)) {
            let mut model = Model::new("doc", Map::new());
            let mut store = MemStore::new("doc", Map::new());
            let mut next_key = 0;
            for seed in patches {
                let pj = random_patch(model.current(), &seed, &mut next_key);
                let patch = parse(&pj, &Limits::default()).unwrap();
                let want = model.apply(&patch);
                let got = match evaluate(&mut store, &patch, Limits::default()) {
                    Err(Error::InvalidPatch { op: Some(i), .. }) => {
                        prop_assert_eq!(&want, &Applied::Invalid(i), "patch {}", pj);
                        continue;
                    }
                    other => other.unwrap(),
                };
                match (&want, got) {
                    (Applied::Committed { versions, .. }, Outcome::Plan(plan)) => {
                        let got_versions: BTreeMap<String, Option<i64>> = plan.versions.iter().map(|(k, v)| (k.clone(), v.as_i64())).collect();
                        prop_assert_eq!(versions, &got_versions, "patch {}", pj);
                        store.apply(&plan);
                    }
                    (Applied::Empty { .. }, Outcome::Plan(plan)) => prop_assert!(plan.is_empty()),
                    (Applied::Refused(want), Outcome::Conflicts(got)) => {
                        let got: Vec<(usize, Reason)> = got.iter().map(|c| (c.op, c.reason)).collect();
                        prop_assert_eq!(want, &got, "patch {}", pj);
                    }
                    (w, g) => prop_assert!(false, "patch {}: model {:?}, engine {:?}", pj, w, g),
                }
                prop_assert_eq!(model.current().flat(), store.flat(), "after patch {}", pj);
            }
        }
    }
}
