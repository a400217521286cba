//! The local edits of a [`Replica`]: its [`Workspace`] and the workspace's edit calls, on the
//! replica (they touch no connection; [`Replica::push`] sends them).

use nodesync_core::patch::Place;
use serde_json::{Map, Value};

use super::Replica;
use crate::workspace::{Cursor, EditError, Workspace};

impl Replica {
    /// The local edit state (also reachable through the delegating methods below).
    pub fn workspace(&self) -> &Workspace {
        &self.ws
    }

    pub fn workspace_mut(&mut self) -> &mut Workspace {
        &mut self.ws
    }

    /// Creates a node under `parent` at `place` with a fresh key, which it returns.
    pub fn create(&mut self, parent: &str, place: Place, kind: &str, props: Map<String, Value>) -> Result<String, EditError> {
        self.ws.create(parent, place, kind, props)
    }

    /// Creates a node with a key chosen by the caller (it must never have existed).
    pub fn create_with_key(&mut self, key: &str, parent: &str, place: Place, kind: &str, props: Map<String, Value>) -> Result<(), EditError> {
        self.ws.create_with_key(key, parent, place, kind, props)
    }

    /// Updates a node: `props` is a delta (null removes a property), `kind` if given.
    pub fn update(&mut self, key: &str, kind: Option<&str>, props: Map<String, Value>) -> Result<(), EditError> {
        self.ws.update(key, kind, props)
    }

    /// Moves a node (with its subtree) under `parent` at `place`.
    pub fn move_to(&mut self, key: &str, parent: &str, place: Place) -> Result<(), EditError> {
        self.ws.move_to(key, parent, place)
    }

    /// Deletes a node and its subtree.
    pub fn delete(&mut self, key: &str) -> Result<(), EditError> {
        self.ws.delete(key)
    }

    /// Replaces `delete` code points at `at` of the string property `prop` of `key` with
    /// `insert`; sent as a `text` op and merged with what others type (see docs/client.md).
    pub fn splice(&mut self, key: &str, prop: &str, at: usize, delete: usize, insert: &str) -> Result<(), EditError> {
        self.ws.splice(key, prop, at, delete, insert)
    }

    /// Splits a text block (Enter): `key` keeps `prop`'s first `at` code points, a new node
    /// `new_key` right after it gets the rest. Sent as a `split` op.
    pub fn split(&mut self, key: &str, prop: &str, at: usize, new_key: &str) -> Result<(), EditError> {
        self.ws.split(key, prop, at, new_key)
    }

    /// Joins `next` (the next sibling of `key`) into `key` (Backspace at the start of `next`).
    /// Sent as a `join` op. Returns the key of the joined block.
    pub fn join(&mut self, key: &str, next: &str, prop: &str) -> Result<String, EditError> {
        self.ws.join(key, next, prop)
    }

    /// A fresh key for [`Replica::split`] (`<key_prefix><n>`).
    pub fn fresh_key(&mut self) -> String {
        self.ws.fresh_key()
    }

    /// The text of `prop` of `key` in the local tree (`""` if absent).
    pub fn text(&self, key: &str, prop: &str) -> Option<&str> {
        self.ws.text(key, prop)
    }

    /// Sets the named cursor (caret); it follows local edits, rebases and pulls.
    pub fn set_cursor(&mut self, name: &str, key: &str, prop: &str, at: usize) {
        self.ws.set_cursor(name, key, prop, at)
    }

    /// Where the named cursor is now (`None` once its node is gone).
    pub fn cursor(&self, name: &str) -> Option<&Cursor> {
        self.ws.cursor(name)
    }
}
