//! History kept as what changed (0.4.0, docs/storage.md). A commit stores, next to the patch it
//! applied, one *undo entry* per node it changed or deleted: what it takes to go from the
//! node's state after the commit back to the state before. The current tree is the starting
//! point of every walk back in time: `snapshot(doc, at_gen)` rewinds the nodes written after
//! `at_gen` through the entries of the later commits, newest first, and `node_history` walks
//! one node's chain (each entry names the version and gen it goes back to). Nodes a commit
//! created need no entry: a state of version 1 whose gen is after `at_gen` did not exist then.
//!
//! An entry is a JSON object with short names (it is written for every edit):
//!
//! | field | meaning |
//! |---|---|
//! | `v`, `g` | the version and gen of the state before the commit; as stored ([`stored`]), `v` is left out (it is always the version after − 1) and so is `g` when it is the commit's gen − 1 (typing: the node changed by the commit before) |
//! | `pa`, `po` | the parent and pos before, when they changed (a move or a delete) |
//! | `k` | the kind before, when it changed |
//! | `f` | the whole props object before, when the commit deleted the node |
//! | `p` | props that changed: `{name: value before}`, `null` for a prop that was absent |
//! | `s` | string props that changed in part: `{name: [at, len, "before"]}`, byte offsets into the string after the commit: replace `len` bytes at `at` by `"before"` (`[at, len]`: by nothing, the undo of an insertion) |
//! | `x` | `true` if the node was a tombstone before (never written by the engine: a tombstone is never changed; accepted for completeness) |
//!
//! The `s` form keeps a keystroke's history at the size of the keystroke, not of the paragraph.

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// A node's state as history sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeState {
    /// `None` for the root and for tombstones.
    pub parent: Option<String>,
    /// `None` for the root and for tombstones.
    pub pos: Option<String>,
    pub kind: String,
    /// `None` for a tombstone.
    pub props: Option<Map<String, Value>>,
    pub version: i64,
    pub gen: i64,
}

/// A changed string keeps its history as a splice when at least this many bytes of it stayed.
const MIN_KEPT: usize = 16;

fn opt(s: &Option<String>) -> Value {
    match s {
        Some(s) => Value::String(s.clone()),
        None => Value::Null,
    }
}

/// The undo entry that takes `new` (a node's state after a commit) back to `old` (its state
/// before).
pub fn undo(old: &NodeState, new: &NodeState) -> Value {
    let mut e = Map::new();
    e.insert("v".into(), Value::from(old.version));
    e.insert("g".into(), Value::from(old.gen));
    if old.parent != new.parent {
        e.insert("pa".into(), opt(&old.parent));
    }
    if old.pos != new.pos {
        e.insert("po".into(), opt(&old.pos));
    }
    if old.kind != new.kind {
        e.insert("k".into(), Value::String(old.kind.clone()));
    }
    match (&old.props, &new.props) {
        (None, _) => {
            e.insert("x".into(), Value::Bool(true));
        }
        (Some(o), None) => {
            e.insert("f".into(), Value::Object(o.clone()));
        }
        (Some(o), Some(n)) => {
            let (mut whole, mut spliced) = (Map::new(), Map::new());
            for (k, before) in o {
                match n.get(k) {
                    Some(after) if after == before => {}
                    Some(Value::String(after)) if before.is_string() => {
                        let before = before.as_str().unwrap_or_default();
                        match splice_back(after, before) {
                            Some(s) => spliced.insert(k.clone(), s),
                            None => whole.insert(k.clone(), Value::String(before.to_string())),
                        };
                    }
                    _ => {
                        whole.insert(k.clone(), before.clone());
                    }
                }
            }
            for k in n.keys() {
                if !o.contains_key(k) {
                    whole.insert(k.clone(), Value::Null);
                }
            }
            if !whole.is_empty() {
                e.insert("p".into(), Value::Object(whole));
            }
            if !spliced.is_empty() {
                e.insert("s".into(), Value::Object(spliced));
            }
        }
    }
    Value::Object(e)
}

/// The undo entries of the commit at `gen` as they are stored: without what [`rewind`] knows
/// from the state after the commit, `v` (always that state's version − 1) and `g` when it is
/// `gen − 1`. A typed character's entry is then its splice alone: `{"s": {"text": [at, len]}}`.
pub fn stored(entries: &Map<String, Value>, gen: i64) -> Map<String, Value> {
    entries
        .iter()
        .map(|(key, e)| {
            let mut e = e.clone();
            if let Value::Object(m) = &mut e {
                m.retain(|name, v| match name.as_str() {
                    "v" => false,
                    "g" => v.as_i64() != Some(gen - 1),
                    _ => true,
                });
            }
            (key.clone(), e)
        })
        .collect()
}

/// `[at, len, before]` such that replacing `len` bytes of `after` at `at` by `before` gives
/// `before` (`[at, len]` when that is empty: an insertion); `None` when less than
/// [`MIN_KEPT`] bytes are shared (the whole string is smaller).
fn splice_back(after: &str, before: &str) -> Option<Value> {
    let (a, b) = (after.as_bytes(), before.as_bytes());
    let mut pre = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    while !after.is_char_boundary(pre) || !before.is_char_boundary(pre) {
        pre -= 1;
    }
    let max_suf = a.len().min(b.len()) - pre;
    let mut suf = a.iter().rev().zip(b.iter().rev()).take(max_suf).take_while(|(x, y)| x == y).count();
    while !after.is_char_boundary(a.len() - suf) || !before.is_char_boundary(b.len() - suf) {
        suf -= 1;
    }
    if pre + suf < MIN_KEPT {
        return None;
    }
    let mut sp = vec![Value::from(pre), Value::from(a.len() - pre - suf)];
    // an insertion takes back to nothing: `[at, len]`
    if pre + suf < b.len() {
        sp.push(Value::String(before[pre..b.len() - suf].to_string()));
    }
    Some(Value::Array(sp))
}

fn bad(what: &str, entry: &Value) -> Error {
    Error::Internal(format!("history entry {what}: {}", crate::patch::shorten(&entry.to_string())))
}

fn place(entry: &Value, name: &str) -> Result<Option<Option<String>>> {
    match entry.get(name) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
        Some(_) => Err(bad(&format!("has a non-string {name}"), entry)),
    }
}

/// The state before the commit whose undo entry for this node is `entry`, from `state` (the
/// state after it, whose gen is the commit's). Fails (internal error) on an entry this module
/// did not write.
pub fn rewind(state: &NodeState, entry: &Value) -> Result<NodeState> {
    // `v` and `g` as written, or what [`stored`] left out
    let int = |name: &str, implied: i64| match entry.get(name) {
        None => Ok(implied),
        Some(v) => v.as_i64().ok_or_else(|| bad(&format!("with a non-integer {name}"), entry)),
    };
    let mut old = NodeState {
        parent: state.parent.clone(),
        pos: state.pos.clone(),
        kind: state.kind.clone(),
        props: None,
        version: int("v", state.version - 1)?,
        gen: int("g", state.gen - 1)?,
    };
    if let Some(p) = place(entry, "pa")? {
        old.parent = p;
    }
    if let Some(p) = place(entry, "po")? {
        old.pos = p;
    }
    if let Some(k) = entry.get("k") {
        old.kind = k.as_str().ok_or_else(|| bad("has a non-string k", entry))?.to_string();
    }
    if entry.get("x") == Some(&Value::Bool(true)) {
        return Ok(old);
    }
    if let Some(f) = entry.get("f") {
        old.props = Some(f.as_object().ok_or_else(|| bad("has non-object f", entry))?.clone());
        return Ok(old);
    }
    let mut props = state.props.clone().ok_or_else(|| bad("changes the props of a tombstone", entry))?;
    if let Some(p) = entry.get("p") {
        for (k, v) in p.as_object().ok_or_else(|| bad("has non-object p", entry))? {
            match v {
                Value::Null => props.remove(k),
                v => props.insert(k.clone(), v.clone()),
            };
        }
    }
    if let Some(s) = entry.get("s") {
        for (k, sp) in s.as_object().ok_or_else(|| bad("has non-object s", entry))? {
            let after = props.get(k).and_then(Value::as_str).ok_or_else(|| bad(&format!("splices {k:?}, not a string"), entry))?;
            let before = unsplice(after, sp).ok_or_else(|| bad(&format!("splices {k:?} out of range"), entry))?;
            props.insert(k.clone(), Value::String(before));
        }
    }
    old.props = Some(props);
    Ok(old)
}

/// A node's state at gen `at`, from its `state` now and `entry(gen)`, the undo entry for this
/// node of the commit at `gen` (every commit after `at` that changed or deleted the node has
/// one). `None` if the node did not exist at `at` (created after it) or was a tombstone then.
pub fn state_at<'e>(key: &str, state: NodeState, at: i64, entry: impl Fn(i64) -> Option<&'e Value>) -> Result<Option<NodeState>> {
    let mut s = state;
    while s.gen > at {
        if s.version == 1 {
            return Ok(None);
        }
        let e = entry(s.gen).ok_or_else(|| Error::Internal(format!("the history of {key:?} has no entry at gen {}", s.gen)))?;
        s = rewind(&s, e)?;
    }
    Ok(s.props.is_some().then_some(s))
}

fn unsplice(after: &str, sp: &Value) -> Option<String> {
    let at = usize::try_from(sp.get(0)?.as_u64()?).ok()?;
    let len = usize::try_from(sp.get(1)?.as_u64()?).ok()?;
    let ins = match sp.as_array()?.len() {
        2 => "",
        3 => sp.get(2)?.as_str()?,
        _ => return None,
    };
    let end = at.checked_add(len)?;
    if end > after.len() || !after.is_char_boundary(at) || !after.is_char_boundary(end) {
        return None;
    }
    let mut s = String::with_capacity(after.len() - len + ins.len());
    s.push_str(&after[..at]);
    s.push_str(ins);
    s.push_str(&after[end..]);
    Some(s)
}

#[cfg(test)]
mod tests;
