//! The server's side of the block ops: the committed patches of `changes_since` replayed as
//! [`BOp`]s ([`replay`]), checked against the server's state ([`agrees`]), or, without the
//! log, a character diff per block ([`diff_ops`]).

use std::collections::BTreeSet;

use nodesync_core::ot::{self, TextOp};
use nodesync_core::patch::{Op, Patch};
use serde_json::Value;

use super::{apply, clen, flags_of, get_text, join, set_flags, split, text_of, BOp, Flags};
use crate::tree::{Node, Tree};

/// What [`replay`] returns: the replayed tree, the block ops with their gens, the flags of the
/// text the server inserted.
pub type Replayed = (Tree, Vec<(i64, BOp)>, Flags);

/// The server's changes as block ops: the committed patches from `changes_since` replayed on
/// the shadow `base`. Text ops are taken as sent, a whole-value `update` of a string becomes
/// the character diff against the value right before it, `split` and `join` as such, a
/// `delete` is [`BOp::Gone`] (with its subtree). Also returns the replayed tree (to check it
/// against the server's state) and the flags of the text the server inserted.
pub fn replay(base: &Tree, log: &[(i64, Patch)]) -> Result<Replayed, String> {
    let mut t = base.clone();
    let mut out = vec![];
    let mut flags = Flags::new();
    for (gen, patch) in log {
        for op in &patch.ops {
            let mut emit = |b: BOp| out.push((*gen, b));
            match op {
                Op::Create { key, kind, props, parent, place } => {
                    if t.contains(key) || !t.contains(parent) {
                        return Err(format!("gen {gen}: create {key:?}"));
                    }
                    let mut n = Node::new(kind, props.clone(), Some(parent.clone()));
                    n.version = 1;
                    t.nodes.insert(key.clone(), n);
                    t.attach(key, parent, place).map_err(|e| format!("gen {gen}: create {key:?}: {e}"))?;
                    for (p, v) in props {
                        if let Value::String(s) = v {
                            set_flags(&mut flags, key, p, vec![true; clen(s)]);
                        }
                    }
                }
                Op::Update { key, kind, props, .. } => {
                    let Some(n) = t.nodes.get(key).cloned() else { return Err(format!("gen {gen}: update of missing {key:?}")) };
                    // in key order, whatever order the parsed map keeps (preserve_order)
                    let mut sorted: Vec<(&String, &Value)> = props.iter().flatten().collect();
                    sorted.sort_by(|a, b| a.0.cmp(b.0));
                    for (p, v) in sorted {
                        let old = n.props.get(p);
                        let old_text = match old {
                            None => Some(""),
                            Some(Value::String(s)) => Some(s.as_str()),
                            Some(_) => None,
                        };
                        match (old_text, v) {
                            (Some(o), Value::String(s)) => {
                                let d = ot::diff(o, s);
                                let f = flags_of(&flags, key, p, clen(o));
                                if let Ok(f) = d.apply_vec(&f, true) {
                                    set_flags(&mut flags, key, p, f);
                                }
                                if !d.is_identity() {
                                    emit(BOp::Text { key: key.clone(), prop: p.clone(), op: d });
                                }
                            }
                            (Some(o), Value::Null) => {
                                if !o.is_empty() {
                                    let mut d = TextOp::new();
                                    d.delete(clen(o));
                                    emit(BOp::Text { key: key.clone(), prop: p.clone(), op: d });
                                }
                                flags.remove(&(key.clone(), p.clone()));
                            }
                            (Some(_), _) => {
                                emit(BOp::NonText { key: key.clone(), prop: p.clone() });
                                flags.remove(&(key.clone(), p.clone()));
                            }
                            (None, Value::String(s)) => set_flags(&mut flags, key, p, vec![true; clen(s)]),
                            (None, _) => {}
                        }
                    }
                    if let Some(node) = t.nodes.get_mut(key) {
                        if let Some(k) = kind {
                            node.kind = k.clone();
                        }
                        for (p, v) in props.iter().flatten() {
                            if v.is_null() {
                                node.props.remove(p);
                            } else {
                                node.props.insert(p.clone(), v.clone());
                            }
                        }
                    }
                }
                Op::Move { key, parent, place, .. } => {
                    if !t.contains(key) || !t.contains(parent) {
                        return Err(format!("gen {gen}: move {key:?}"));
                    }
                    t.detach(key);
                    t.attach(key, parent, place).map_err(|e| format!("gen {gen}: move {key:?}: {e}"))?;
                }
                Op::Delete { key, .. } => {
                    if !t.contains(key) {
                        return Err(format!("gen {gen}: delete of missing {key:?}"));
                    }
                    let sub = t.subtree(key);
                    t.detach(key);
                    for k in &sub {
                        t.nodes.remove(k);
                    }
                    flags.retain(|(k, _), _| !sub.contains(k));
                    emit(BOp::Gone { keys: sub.into_iter().collect() });
                }
                Op::Text { key, prop, edits, .. } => {
                    let cur = get_text(&t, key, prop).map_err(|e| format!("gen {gen}: {e:?}"))?;
                    let op = TextOp::from_splices(clen(&cur), edits).map_err(|e| format!("gen {gen}: text of {key:?}: {e}"))?;
                    let b = BOp::Text { key: key.clone(), prop: prop.clone(), op };
                    apply(&mut t, &b, Some((&mut flags, true))).map_err(|e| format!("gen {gen}: {e:?}"))?;
                    emit(b);
                }
                Op::Split { key, prop, at, new, .. } => {
                    let cur = get_text(&t, key, prop).map_err(|e| format!("gen {gen}: {e:?}"))?;
                    let b = split(key, prop, *at, new, clen(&cur));
                    apply(&mut t, &b, Some((&mut flags, true))).map_err(|e| format!("gen {gen}: {e:?}"))?;
                    emit(b);
                }
                Op::Join { key, next, prop, .. } => {
                    let a = get_text(&t, key, prop).map_err(|e| format!("gen {gen}: {e:?}"))?;
                    let b2 = get_text(&t, next, prop).map_err(|e| format!("gen {gen}: {e:?}"))?;
                    let b = join(key, next, prop, clen(&a), clen(&b2));
                    match apply(&mut t, &b, Some((&mut flags, true))) {
                        Ok(None) => {}
                        _ => return Err(format!("gen {gen}: join of {key:?} and {next:?} does not replay")),
                    }
                    emit(b);
                }
            }
        }
    }
    Ok((t, out, flags))
}

/// True if the replayed tree holds what the server says (same nodes, parents, kinds, props).
pub fn agrees(replayed: &Tree, remote: &Tree) -> bool {
    replayed.nodes.len() == remote.nodes.len()
        && remote.nodes.iter().all(|(k, r)| replayed.get(k).is_some_and(|n| n.parent == r.parent && n.kind == r.kind && n.props == r.props))
}

/// The server's changes when its log is not available (below the horizon): per block, the
/// character diff from `base` to `remote`, and [`BOp::Gone`] for deleted nodes. Splits and
/// joins show as shortened and lengthened texts and created and deleted nodes.
pub fn diff_ops(base: &Tree, remote: &Tree) -> (Vec<BOp>, Flags) {
    let mut ops = vec![];
    let mut flags = Flags::new();
    let gone: BTreeSet<String> = base.nodes.keys().filter(|k| !remote.contains(k)).cloned().collect();
    for (k, r) in &remote.nodes {
        match base.get(k) {
            None => {
                for (p, v) in &r.props {
                    if let Value::String(s) = v {
                        set_flags(&mut flags, k, p, vec![true; clen(s)]);
                    }
                }
            }
            Some(b) => {
                let props: BTreeSet<&String> = b.props.keys().chain(r.props.keys()).collect();
                for p in props {
                    match (text_of(b, p), text_of(r, p)) {
                        (Some(x), Some(y)) if x != y => {
                            let d = ot::diff(x, y);
                            if let Ok(f) = d.apply_vec(&vec![false; clen(x)], true) {
                                set_flags(&mut flags, k, p, f);
                            }
                            ops.push(BOp::Text { key: k.clone(), prop: p.clone(), op: d });
                        }
                        (Some(_), None) => ops.push(BOp::NonText { key: k.clone(), prop: p.clone() }),
                        (None, Some(y)) => set_flags(&mut flags, k, p, vec![true; clen(y)]),
                        _ => {}
                    }
                }
            }
        }
    }
    if !gone.is_empty() {
        ops.push(BOp::Gone { keys: gone });
    }
    (ops, flags)
}

