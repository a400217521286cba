//! The local edits of a [`Workspace`]: creates, moves, deletes, props, and the text edits
//! (splices, splits, joins) that are logged as block ops. Every edit checks first and changes
//! nothing on an [`EditError`].

use nodesync_core::ot::{self, TextOp};
use nodesync_core::patch::{Place, ROOT};
use nodesync_core::text::Edit;
use serde_json::{Map, Value};

use super::{blocks_undo, clen, EditError, Logged, Workspace};
use crate::blocks::{self, text_of, BOp};
use crate::tree::Node;

impl Workspace {
    fn check_place(&self, parent: &str, place: &Place, key: Option<&str>) -> Result<(), EditError> {
        if !self.local.contains(parent) {
            return Err(EditError::NoSuchNode(parent.to_string()));
        }
        if let Place::After(a) = place {
            if Some(a.as_str()) == key || self.local.parent(a) != Some(parent) {
                return Err(EditError::BadAnchor(a.clone()));
            }
        }
        Ok(())
    }

    fn key_used(&self, key: &str) -> bool {
        self.local.contains(key) || self.shadow.contains(key) || self.proj.contains(key)
    }

    /// A fresh key `<key_prefix><n>` (for [`Workspace::split`]).
    pub fn fresh_key(&mut self) -> String {
        loop {
            self.next_key += 1;
            let k = format!("{}{}", self.key_prefix, self.next_key);
            if !self.key_used(&k) {
                return k;
            }
        }
    }

    /// Creates a node under `parent` at `place` with a fresh key, which it returns.
    pub fn create(&mut self, parent: &str, place: Place, kind: &str, props: Map<String, Value>) -> Result<String, EditError> {
        let key = self.fresh_key();
        self.create_with_key(&key, parent, place, kind, props)?;
        Ok(key)
    }

    /// Creates a node with a key chosen by the caller (it must never have existed).
    pub fn create_with_key(&mut self, key: &str, parent: &str, place: Place, kind: &str, mut props: Map<String, Value>) -> Result<(), EditError> {
        self.check_place(parent, &place, Some(key))?;
        if self.key_used(key) {
            return Err(EditError::KeyExists(key.to_string()));
        }
        props.retain(|_, v| !v.is_null());
        self.local.nodes.insert(key.to_string(), Node::new(kind, props, Some(parent.to_string())));
        self.local.attach(key, parent, &place).map_err(|_| EditError::BadAnchor(key.to_string()))?;
        self.placed.insert(key.to_string());
        self.dirty.insert(key.to_string());
        Ok(())
    }

    /// True if `prop` of `key` can be edited through the log: the node is in the projection
    /// and its value there is the local one and a string (or absent).
    fn loggable(&self, key: &str, prop: &str) -> bool {
        match (self.proj.get(key), self.local.get(key)) {
            (Some(p), Some(l)) => text_of(p, prop).is_some() && p.props.get(prop) == l.props.get(prop),
            _ => false,
        }
    }

    /// Applies `op` to the projection and the local tree and logs it (composing a text op
    /// into the previous one of the same block when nothing else touched the node since).
    fn record(&mut self, op: BOp) -> Result<(), EditError> {
        let move_next = blocks::apply(&mut self.proj, &op, None).map_err(|e| EditError::NoSuchNode(format!("{}: {e:?}", op.key())))?;
        if let Err(e) = blocks::apply(&mut self.local, &op, None) {
            // cannot happen (the local tree holds the projection's text); keep them equal
            self.proj = blocks_undo(&self.shadow, &self.log);
            return Err(EditError::NoSuchNode(format!("{}: {e:?}", op.key())));
        }
        self.map_cursors(&op);
        if let BOp::Text { key, prop, op: t } = &op {
            for e in self.log.iter_mut().rev() {
                match &mut e.op {
                    BOp::Text { key: k, prop: p, op: prev } if k == key && p == prop => {
                        if let Ok(c) = prev.compose(t) {
                            *prev = c;
                            return Ok(());
                        }
                        break;
                    }
                    // another property of the same block: look further back
                    BOp::Text { key: k, .. } if k == key => {}
                    other if other.touches(key) => break,
                    _ => {}
                }
            }
        }
        self.log.push(Logged { op, move_next });
        Ok(())
    }

    /// A local text op on a node that is not logged (created locally, or the property was
    /// changed some other way): applied to the local tree only, the node marked dirty.
    fn state_text(&mut self, key: &str, prop: &str, op: &TextOp) -> Result<(), EditError> {
        let b = BOp::Text { key: key.to_string(), prop: prop.to_string(), op: op.clone() };
        blocks::apply(&mut self.local, &b, None).map_err(|e| EditError::NoSuchNode(format!("{key}: {e:?}")))?;
        self.dirty.insert(key.to_string());
        self.map_cursors(&b);
        Ok(())
    }

    fn text_for_edit(&self, key: &str, prop: &str) -> Result<String, EditError> {
        let n = self.local.get(key).ok_or_else(|| EditError::NoSuchNode(key.to_string()))?;
        text_of(n, prop).map(str::to_string).ok_or_else(|| EditError::NotText { key: key.to_string(), prop: prop.to_string() })
    }

    /// Replaces `delete` code points at offset `at` of the string property `prop` of `key`
    /// with `insert` (an absent property is ""). Pushing sends it as a `text` op.
    pub fn splice(&mut self, key: &str, prop: &str, at: usize, delete: usize, insert: &str) -> Result<(), EditError> {
        let cur = self.text_for_edit(key, prop)?;
        let len = clen(&cur);
        let op = TextOp::splice(len, &Edit::new(at, delete, insert))
            .map_err(|_| EditError::OutOfRange { key: key.to_string(), at, delete, len })?;
        if op.is_identity() {
            return Ok(());
        }
        if self.loggable(key, prop) {
            self.record(BOp::Text { key: key.to_string(), prop: prop.to_string(), op })
        } else {
            self.state_text(key, prop, &op)
        }
    }

    /// Updates a node: `props` is a delta (null removes a property), `kind` if given. A string
    /// given for a string property becomes splices (a character diff against the local value),
    /// so it merges with what others type like [`Workspace::splice`] does.
    pub fn update(&mut self, key: &str, kind: Option<&str>, props: Map<String, Value>) -> Result<(), EditError> {
        if !self.local.contains(key) {
            return Err(EditError::NoSuchNode(key.to_string()));
        }
        // in key order whatever order the map keeps (serde_json's preserve_order may be on in a
        // workspace build): the logged ops, and so the patch, must not depend on it
        let mut props: Vec<(String, Value)> = props.into_iter().collect();
        props.sort_by(|a, b| a.0.cmp(&b.0));
        for (k, v) in props {
            if let Value::String(s) = &v {
                if let Ok(cur) = self.text_for_edit(key, &k) {
                    let op = ot::diff(&cur, s);
                    if !op.is_identity() {
                        if self.loggable(key, &k) {
                            self.record(BOp::Text { key: key.to_string(), prop: k.clone(), op })?;
                        } else {
                            self.state_text(key, &k, &op)?;
                        }
                    }
                    // an absent property set to "" becomes present
                    if let Some(n) = self.local.nodes.get_mut(key) {
                        if !n.props.contains_key(&k) {
                            n.props.insert(k.clone(), Value::String(String::new()));
                            self.dirty.insert(key.to_string());
                        }
                    }
                    continue;
                }
            }
            let Some(n) = self.local.nodes.get_mut(key) else { continue };
            if v.is_null() {
                n.props.remove(&k);
            } else {
                n.props.insert(k.clone(), v);
            }
            self.dirty.insert(key.to_string());
            self.cursors.retain(|_, c| !(c.key == key && c.prop == k));
        }
        if let Some(k) = kind {
            if let Some(n) = self.local.nodes.get_mut(key) {
                n.kind = k.to_string();
            }
            self.dirty.insert(key.to_string());
        }
        Ok(())
    }

    /// Splits a text block (Enter): `key` keeps the first `at` code points of `prop`; a new
    /// node `new_key` right after it (same kind, a copy of the other props) gets the rest.
    /// `key`'s children stay with it. Pushing sends a `split` op.
    pub fn split(&mut self, key: &str, prop: &str, at: usize, new_key: &str) -> Result<(), EditError> {
        if key == ROOT {
            return Err(EditError::Root);
        }
        let cur = self.text_for_edit(key, prop)?;
        let len = clen(&cur);
        if at > len {
            return Err(EditError::OutOfRange { key: key.to_string(), at, delete: 0, len });
        }
        if self.key_used(new_key) {
            return Err(EditError::KeyExists(new_key.to_string()));
        }
        let op = BOp::Split { key: key.to_string(), prop: prop.to_string(), at, new: new_key.to_string(), len };
        if self.loggable(key, prop) {
            // the new block is not "placed": like the other blocks it keeps the place the
            // (rebased) split gives it. It is dirty: the server copies its own version of the
            // other props, which local edits may have changed
            self.record(op)?;
            self.dirty.insert(new_key.to_string());
            // a block moved here locally is still at its old place on the server when the split
            // runs: the new block must then be moved too
            if self.placed.contains(key) {
                self.placed.insert(new_key.to_string());
            }
            Ok(())
        } else {
            blocks::apply(&mut self.local, &op, None).map_err(|e| EditError::NoSuchNode(format!("{key}: {e:?}")))?;
            if let Some(n) = self.local.nodes.get_mut(new_key) {
                n.version = 0;
            }
            self.map_cursors(&op);
            self.dirty.insert(key.to_string());
            self.dirty.insert(new_key.to_string());
            self.placed.insert(new_key.to_string());
            Ok(())
        }
    }

    /// Joins two text blocks (Backspace at the start of `next`, Delete at the end of `key`):
    /// `next` (the next sibling of `key`) is appended to `key` — its `prop` text, then its
    /// children — and deleted. Pushing sends a `join` op. Returns the key of the joined block:
    /// `key`, except when `key` is not on the server yet and `next` is: then `next` is kept
    /// (with `key`'s kind and other props and `key`'s text in front), so that what others
    /// typed into `next` meanwhile stays.
    pub fn join(&mut self, key: &str, next: &str, prop: &str) -> Result<String, EditError> {
        if key == ROOT || next == ROOT {
            return Err(EditError::Root);
        }
        let a = self.text_for_edit(key, prop)?;
        let b = self.text_for_edit(next, prop)?;
        let parent = self.local.parent(key).map(str::to_string).ok_or(EditError::Root)?;
        let kids = self.local.children(&parent);
        if kids.iter().position(|c| c == key).map(|i| i + 1) != kids.iter().position(|c| c == next) {
            return Err(EditError::NotAdjacent { key: key.to_string(), next: next.to_string() });
        }
        let (la, lb) = (clen(&a), clen(&b));
        let jk = self.loggable(key, prop);
        let jn = self.loggable(next, prop) && self.proj.parent(next) == self.proj.parent(key);
        let join_op = BOp::Join { key: key.to_string(), next: next.to_string(), prop: prop.to_string(), len: la, next_len: lb };
        if jk && jn {
            self.record(join_op)?;
            return Ok(key.to_string());
        }
        // cursors follow the join, whatever ops express it (the deletes below remove cursors
        // on the deleted block: the carets keep the names they were taken with)
        let names = self.cursor_names();
        let carets: Vec<BOp> = self
            .carets()
            .into_iter()
            .map(|c| match c {
                BOp::Caret { id, key: k, prop: p, at } if k == next && p == prop => BOp::Caret { id, key: key.to_string(), prop: p, at: la + at },
                c => c,
            })
            .collect();
        if self.proj.contains(key) || !self.loggable(next, prop) {
            // `key` takes `next`'s text (logged if it can be) and children; `next` is deleted
            let mut append = TextOp::identity(la);
            append.insert(&b);
            if jk {
                self.record(BOp::Text { key: key.to_string(), prop: prop.to_string(), op: append })?;
            } else {
                self.state_text(key, prop, &append)?;
            }
            let kids: Vec<String> = self.local.children(next).to_vec();
            for c in kids {
                self.move_to(&c, key, Place::Last)?;
            }
            self.delete(next)?;
            self.set_carets_named(&names, &carets);
            return Ok(key.to_string());
        }
        // `key` is local only, `next` is on the server: `next` stays, with `key`'s text in
        // front, `key`'s kind and other props, and `key`'s children before its own
        let mut prepend = TextOp::new();
        prepend.insert(&a).retain(lb);
        self.record(BOp::Text { key: next.to_string(), prop: prop.to_string(), op: prepend })?;
        let moved: Vec<BOp> = carets
            .into_iter()
            .map(|c| match c {
                BOp::Caret { id, key: k, prop: p, at } if k == key && p == prop => BOp::Caret { id, key: next.to_string(), prop: p, at },
                c => c,
            })
            .collect();
        let (kind, mut props) = match self.local.get(key) {
            Some(n) => (n.kind.clone(), n.props.clone()),
            None => return Err(EditError::NoSuchNode(key.to_string())),
        };
        props.remove(prop);
        let mut delta: Map<String, Value> = props;
        if let Some(n) = self.local.get(next) {
            for k in n.props.keys() {
                if k != prop && !delta.contains_key(k) {
                    delta.insert(k.clone(), Value::Null);
                }
            }
        }
        self.update(next, Some(&kind), delta)?;
        let kids: Vec<String> = self.local.children(key).to_vec();
        let mut after: Option<String> = None;
        for c in kids {
            let place = after.clone().map_or(Place::First, Place::After);
            self.move_to(&c, next, place)?;
            after = Some(c);
        }
        self.delete(key)?;
        self.set_carets_named(&names, &moved);
        Ok(next.to_string())
    }

    /// Moves a node (with its subtree) under `parent` at `place`.
    pub fn move_to(&mut self, key: &str, parent: &str, place: Place) -> Result<(), EditError> {
        if key == ROOT {
            return Err(EditError::Root);
        }
        if !self.local.contains(key) {
            return Err(EditError::NoSuchNode(key.to_string()));
        }
        self.check_place(parent, &place, Some(key))?;
        if self.local.is_descendant_or_self(parent, key) {
            return Err(EditError::Cycle);
        }
        self.local.detach(key);
        self.local.attach(key, parent, &place).map_err(|_| EditError::BadAnchor(parent.to_string()))?;
        self.placed.insert(key.to_string());
        self.dirty.insert(key.to_string());
        Ok(())
    }

    /// Deletes a node and its subtree.
    pub fn delete(&mut self, key: &str) -> Result<(), EditError> {
        if key == ROOT {
            return Err(EditError::Root);
        }
        if !self.local.contains(key) {
            return Err(EditError::NoSuchNode(key.to_string()));
        }
        let sub = self.local.subtree(key);
        self.local.detach(key);
        for k in sub {
            self.local.nodes.remove(&k);
            self.placed.remove(&k);
            self.cursors.retain(|_, c| c.key != k);
            self.dirty.insert(k);
        }
        Ok(())
    }
}
