//! The end of an evaluation: the overlay of touched nodes turned into the [`Plan`] of row
//! writes, with the undo entry of every node the commit changes or deletes
//! ([`crate::history`]).

use serde_json::{Map, Value};

use super::{merge_delta, Engine, NewNode, NodeChange, Plan};
use crate::error::{Error, Result};
use crate::history;
use crate::store::Store;

impl<S: Store> Engine<'_, S> {
    /// The stored props of an existing node, for its undo entry.
    fn stored_props(&mut self, key: &str) -> Result<Map<String, Value>> {
        match self.props.get(key) {
            Some(p) => Ok(p.clone()),
            None => self.store.props(key),
        }
    }

    pub(super) fn plan(mut self) -> Result<Plan> {
        let mut plan = Plan::default();
        let order = std::mem::take(&mut self.order);
        for key in &order {
            let e = match self.overlay.get(key) {
                Some(e) => e.clone(),
                None => continue,
            };
            match (&e.orig, e.live) {
                (None, true) => {
                    let (parent, pos) = match (&e.parent, &e.pos) {
                        (Some(p), Some(s)) => (p.clone(), s.clone()),
                        _ => return Err(Error::Internal(format!("created node {key:?} has no place"))),
                    };
                    plan.creates.push(NewNode {
                        key: key.clone(),
                        parent,
                        pos,
                        kind: e.kind.clone(),
                        props: e.props.clone().unwrap_or_default(),
                    });
                    plan.versions.insert(key.clone(), Value::from(1));
                }
                (None, false) => {
                    plan.ephemeral.push((key.clone(), e.kind.clone()));
                    plan.versions.insert(key.clone(), Value::Null);
                }
                (Some(orig), false) => {
                    let old = history::NodeState {
                        parent: orig.parent.clone(),
                        pos: orig.pos.clone(),
                        kind: orig.kind.clone(),
                        props: Some(self.stored_props(key)?),
                        version: orig.version,
                        gen: orig.gen,
                    };
                    let new = history::NodeState { parent: None, pos: None, props: None, ..old.clone() };
                    plan.undo.insert(key.clone(), history::undo(&old, &new));
                    plan.deletes.push(key.clone());
                    plan.versions.insert(key.clone(), Value::Null);
                }
                (Some(orig), true) => {
                    let place = if e.moved {
                        match (&e.parent, &e.pos) {
                            (Some(p), Some(s)) => Some((p.clone(), s.clone())),
                            _ => return Err(Error::Internal(format!("moved node {key:?} has no place"))),
                        }
                    } else {
                        None
                    };
                    let change = NodeChange {
                        key: key.clone(),
                        version: orig.version + 1,
                        place,
                        kind: if e.kind_changed { Some(e.kind.clone()) } else { None },
                        delta: e.props.clone(),
                    };
                    let old_props = match &change.delta {
                        Some(_) => self.stored_props(key)?,
                        None => Map::new(),
                    };
                    let old = history::NodeState {
                        parent: orig.parent.clone(),
                        pos: orig.pos.clone(),
                        kind: orig.kind.clone(),
                        props: Some(old_props),
                        version: orig.version,
                        gen: orig.gen,
                    };
                    let mut new = old.clone();
                    if let Some((p, s)) = &change.place {
                        new.parent = Some(p.clone());
                        new.pos = Some(s.clone());
                    }
                    new.kind = e.kind.clone();
                    if let (Some(d), Some(props)) = (&change.delta, new.props.as_mut()) {
                        merge_delta(props, d);
                    }
                    plan.undo.insert(key.clone(), history::undo(&old, &new));
                    plan.changes.push(change);
                    plan.versions.insert(key.clone(), Value::from(orig.version + 1));
                }
            }
        }
        Ok(plan)
    }
}
