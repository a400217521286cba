//! The ops that edit text inside a string property (`text`, `split`, `join`): the part of
//! [`super::Engine`] that reads props. Splices themselves are [`crate::text`]'s.

use serde_json::{Map, Value};

use super::{conflict, internal, merge_delta, Engine};
use crate::error::{Conflict, Error, Reason, Result};
use crate::patch::{shorten, type_name, Place};
use crate::pos;
use crate::store::Store;
use crate::text;

impl<S: Store> Engine<'_, S> {
    /// Reads a node's row and props in one lookup before an op that needs both.
    fn prefetch(&mut self, key: &str) -> Result<()> {
        if self.cache.contains_key(key) || self.overlay.contains_key(key) {
            return Ok(());
        }
        match self.store.node_and_props(key)? {
            Some((n, props)) => {
                self.props.insert(key.to_string(), props);
                self.cache.insert(key.to_string(), Some(n));
            }
            None => {
                self.cache.insert(key.to_string(), None);
            }
        }
        Ok(())
    }

    /// The full props of a live node as this op sees them.
    fn full_props(&mut self, key: &str) -> Result<Map<String, Value>> {
        let delta = match self.overlay.get(key) {
            Some(e) if e.orig.is_none() => return Ok(e.props.clone().unwrap_or_default()),
            Some(e) => e.props.clone(),
            None => None,
        };
        let mut props = match self.props.get(key) {
            Some(p) => p.clone(),
            None => {
                let p = self.store.props(key)?;
                self.props.insert(key.to_string(), p.clone());
                p
            }
        };
        if let Some(d) = delta {
            merge_delta(&mut props, &d);
        }
        Ok(props)
    }

    /// The string property `prop` of a live node (absent is `""`); 22023 for any other value.
    fn string_prop(&mut self, i: usize, op: &str, key: &str, prop: &str) -> Result<String> {
        // a delta already names the value: no need to read the stored props
        let known = match self.overlay.get(key) {
            Some(e) if e.orig.is_none() => Some(e.props.as_ref().and_then(|p| p.get(prop)).cloned().unwrap_or(Value::Null)),
            Some(e) => e.props.as_ref().and_then(|d| d.get(prop)).cloned(),
            None => None,
        };
        let v = match known {
            Some(v) => v,
            None => self.full_props(key)?.get(prop).cloned().unwrap_or(Value::Null),
        };
        match v {
            Value::Null => Ok(String::new()),
            Value::String(s) => Ok(s),
            other => Err(Error::invalid_op(i, format!(
                "{op} of property \"{}\" of \"{}\": the property holds {}, not a string",
                shorten(prop),
                shorten(key),
                type_name(&other)
            ))),
        }
    }

    /// Sets one property of a live node (created in the patch or not).
    fn set_prop(&mut self, key: &str, prop: &str, value: Value) -> Result<()> {
        let e = self.touch(key)?;
        e.props.get_or_insert_with(Map::new).insert(prop.to_string(), value);
        Ok(())
    }

    pub(super) fn text(&mut self, i: usize, key: &str, version: i64, prop: &str, edits: &[text::Edit]) -> Result<Option<Conflict>> {
        self.prefetch(key)?;
        if let Err(c) = self.checked(i, key, version)? {
            return Ok(Some(c));
        }
        let mut value = self.string_prop(i, "text", key, prop)?;
        let store = &mut *self.store;
        text::apply_each(&mut value, edits, || store.tick(), |m| {
            Error::invalid_op(i, format!("text of property \"{}\" of \"{}\": {m}", shorten(prop), shorten(key)))
        })?;
        self.set_prop(key, prop, Value::String(value))?;
        Ok(None)
    }

    pub(super) fn split(&mut self, i: usize, key: &str, version: i64, prop: &str, at: usize, new: &str) -> Result<Option<Conflict>> {
        self.prefetch(key)?;
        let v = match self.checked(i, key, version)? {
            Ok(v) => v,
            Err(c) => return Ok(Some(c)),
        };
        let cur = self.string_prop(i, "split", key, prop)?;
        let (head, tail) = match text::split_at(&cur, at) {
            Some((h, t)) => (h.to_string(), t.to_string()),
            None => {
                return Err(Error::invalid_op(i, format!(
                    "split of property \"{}\" of \"{}\" at {at}: the text is {} code points long",
                    shorten(prop),
                    shorten(key),
                    text::len(&cur)
                )))
            }
        };
        let parent = v.parent.ok_or_else(|| Error::Internal(format!("live node {key:?} has no parent")))?;
        let kind = match self.overlay.get(key) {
            Some(e) => e.kind.clone(),
            None => self.stored(key)?.map(|n| n.kind).unwrap_or_default(),
        };
        let mut props = self.full_props(key)?;
        props.insert(prop.to_string(), Value::String(tail));
        if let Some(c) = self.create(i, new, &kind, &props, &parent, &Place::After(key.to_string()))? {
            return Ok(Some(c));
        }
        self.set_prop(key, prop, Value::String(head))?;
        Ok(None)
    }

    pub(super) fn join(&mut self, i: usize, key: &str, version: i64, next: &str, next_version: i64, prop: &str) -> Result<Option<Conflict>> {
        self.prefetch(key)?;
        self.prefetch(next)?;
        let kv = match self.checked(i, key, version)? {
            Ok(v) => v,
            Err(c) => return Ok(Some(c)),
        };
        if let Err(c) = self.checked(i, next, next_version)? {
            return Ok(Some(c));
        }
        let parent = kv.parent.ok_or_else(|| Error::Internal(format!("live node {key:?} has no parent")))?;
        let kpos = kv.pos.ok_or_else(|| Error::Internal(format!("live node {key:?} has no pos")))?;
        let following = self.neighbour(&parent, Some(&kpos), key, true)?;
        if following.as_ref().map(|c| c.0.as_str()) != Some(next) {
            return Ok(Some(conflict(i, next, Reason::Anchor, format!(
                "\"{}\" is not the next sibling of \"{}\"", shorten(next), shorten(key)
            ))));
        }
        let a = self.string_prop(i, "join", key, prop)?;
        let b = self.string_prop(i, "join", next, prop)?;
        // next's children follow key's own, in their order; each changes place
        let mut last = self.prev_pos(key, None, "")?;
        for (child, _) in self.children_of(next)? {
            let pos = pos::key_between(last.as_deref(), None).map_err(internal)?;
            self.touch(&child)?;
            self.unplace(&child);
            let e = self.touch(&child)?;
            e.parent = Some(key.to_string());
            e.pos = Some(pos.clone());
            e.moved = true;
            self.place_at(&child, key, &pos);
            last = Some(pos);
        }
        self.set_prop(key, prop, Value::String(a + &b))?;
        self.touch(next)?;
        self.unplace(next);
        if let Some(e) = self.overlay.get_mut(next) {
            e.live = false;
        }
        Ok(None)
    }
}
