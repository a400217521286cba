//! Simulated editors for the convergence tests and the demo: random local edits of every kind
//! (creates, prop and kind updates, moves, subtree deletes), each carrying a unique token so a
//! test can follow it to the server.

use nodesync_core::model::Rng;
use nodesync_core::patch::{Place, ROOT};
use serde_json::{json, Map, Value};

use crate::workspace::Workspace;

/// One local edit made by [`random_edit`].
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    /// A node created with `props` (kind included as `"@kind"` for the ledger).
    Create { key: String, props: Map<String, Value> },
    /// `prop` set to `value` (`Value::Null`: removed); `"@kind"` for a kind change.
    Set { key: String, prop: String, value: Value },
    Move { key: String, parent: String },
    /// `key` deleted with `subtree` (all keys, `key` included).
    Delete { key: String, subtree: Vec<String> },
}

pub const KINDS: [&str; 5] = ["para", "heading", "list", "item", "quote"];

fn pick<'a>(rng: &mut Rng, v: &'a [String]) -> Option<&'a String> {
    if v.is_empty() {
        None
    } else {
        Some(&v[rng.below(v.len() as u32) as usize])
    }
}

fn random_place(rng: &mut Rng, kids: &[String], not: &str) -> Place {
    let kids: Vec<String> = kids.iter().filter(|k| k.as_str() != not).cloned().collect();
    match rng.below(4) {
        0 => Place::First,
        1 => Place::Last,
        _ => pick(rng, &kids).map_or(Place::Last, |a| Place::After(a.clone())),
    }
}

/// Makes one random local edit on `rep`. `token` is unique per edit; `target` is the document
/// size the editor steers towards (more creates below it, more deletes above).
pub fn random_edit(rep: &mut Workspace, rng: &mut Rng, token: &str, target: usize) -> Option<Edit> {
    let keys: Vec<String> = rep.tree().nodes.keys().cloned().collect();
    let non_root: Vec<String> = keys.iter().filter(|k| k.as_str() != ROOT).cloned().collect();
    let size = keys.len();
    let roll = rng.below(100);
    let (p_create, p_delete) = if size < target / 2 { (55, 5) } else if size > target * 3 / 2 { (15, 30) } else { (28, 12) };
    if roll < p_create || non_root.is_empty() {
        // create, under a shallow node
        let mut parent = pick(rng, &keys)?.clone();
        while rep.tree().path(&parent).len() >= 4 {
            parent = rep.tree().parent(&parent).unwrap_or(ROOT).to_string();
        }
        let place = random_place(rng, rep.children(&parent), "");
        let kind = KINDS[rng.below(KINDS.len() as u32) as usize];
        let mut props = Map::new();
        props.insert("text".into(), json!(token));
        let key = rep.create(&parent, place, kind, props.clone()).ok()?;
        props.insert("@kind".into(), json!(kind));
        return Some(Edit::Create { key, props });
    }
    let roll = roll - p_create;
    if roll < p_delete {
        // delete: a node whose subtree is a small part of the document (often a leaf, sometimes
        // a few nodes)
        for _ in 0..6 {
            let k = pick(rng, &non_root)?.clone();
            let subtree = rep.tree().subtree(&k);
            if subtree.len() <= (size / 25).max(3) {
                rep.delete(&k).ok()?;
                return Some(Edit::Delete { key: k, subtree });
            }
        }
        return None;
    }
    let roll = roll - p_delete;
    if roll < 18 {
        // move
        let k = pick(rng, &non_root)?.clone();
        for _ in 0..4 {
            let p = pick(rng, &keys)?.clone();
            if rep.tree().is_descendant_or_self(&p, &k) || rep.tree().path(&p).len() >= 4 {
                continue;
            }
            let place = random_place(rng, rep.children(&p), &k);
            rep.move_to(&k, &p, place).ok()?;
            return Some(Edit::Move { key: k, parent: p });
        }
        return None;
    }
    // update: text, a counter, removing a prop, or the kind
    let k = pick(rng, &keys)?.clone();
    let node = rep.get(&k)?.clone();
    let (prop, value) = match rng.below(10) {
        0..=4 => ("text".to_string(), json!(token)),
        5..=6 => ("n".to_string(), json!(token)),
        7 if node.props.contains_key("n") => ("n".to_string(), Value::Null),
        _ if k != ROOT => {
            let others: Vec<&str> = KINDS.iter().copied().filter(|x| *x != node.kind).collect();
            let kind = others[rng.below(others.len() as u32) as usize];
            rep.update(&k, Some(kind), Map::new()).ok()?;
            return Some(Edit::Set { key: k, prop: "@kind".into(), value: json!(kind) });
        }
        _ => ("text".to_string(), json!(token)),
    };
    let mut delta = Map::new();
    delta.insert(prop.clone(), value.clone());
    rep.update(&k, None, delta).ok()?;
    Some(Edit::Set { key: k, prop, value })
}

/// A starting document: `sections` headings under the root, `size` nodes in all.
pub fn seed_patch(size: usize) -> Value {
    let sections = (size / 12).clamp(1, 40);
    let mut ops = vec![];
    for s in 0..sections {
        ops.push(json!({"op": "create", "key": format!("s{s}"), "kind": "heading", "parent": ROOT, "props": {"text": format!("Section {s}")}}));
    }
    for i in 0..size.saturating_sub(sections + 1) {
        ops.push(json!({"op": "create", "key": format!("p{i}"), "kind": "para", "parent": format!("s{}", i % sections), "props": {"text": format!("paragraph {i}")}}));
    }
    json!({"ops": ops})
}
