//! What the engine needs to read from a document, as a trait: the pgrx layer implements it
//! with indexed SPI queries (`src/spi_store.rs`); `crate::memstore::MemStore` (feature
//! `testing`) implements it in memory for tests. Every method is a point or range lookup:
//! nothing here scans a document.

use serde_json::{Map, Value};

use crate::error::Result;

/// A node row as stored before the patch (live, or a tombstone of a deleted key).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredNode {
    pub key: String,
    /// `None` for the root and for tombstones.
    pub parent: Option<String>,
    /// `None` for the root and for tombstones.
    pub pos: Option<String>,
    pub kind: String,
    pub version: i64,
    pub gen: i64,
    pub deleted: bool,
}

/// A live child: its key and pos.
pub type Child = (String, String);

pub trait Store {
    /// The row for `key`, live or tombstone; `None` if the key was never used.
    fn node(&mut self, key: &str) -> Result<Option<StoredNode>>;
    /// Up to `limit` live children of `parent` with `pos > after` (all when `after` is `None`),
    /// in pos order.
    fn children_after(&mut self, parent: &str, after: Option<&str>, limit: usize) -> Result<Vec<Child>>;
    /// Up to `limit` live children of `parent` with `pos < before` (all when `before` is
    /// `None`), in *descending* pos order.
    fn children_before(&mut self, parent: &str, before: Option<&str>, limit: usize) -> Result<Vec<Child>>;
    /// Every live strict descendant of `key` (any order).
    fn descendants(&mut self, key: &str) -> Result<Vec<StoredNode>>;
    /// The props of the live node `key` (empty for a tombstone or an unknown key). Read only
    /// by the ops that edit text (`text`, `split`, `join`).
    fn props(&mut self, key: &str) -> Result<Map<String, Value>>;
    /// Called between the steps of long work (each text edit): the SQL store checks for a
    /// query cancel or statement timeout here.
    fn tick(&mut self) -> Result<()> {
        Ok(())
    }
    /// [`Store::node`] and [`Store::props`] of one key together (one lookup where the store
    /// can).
    fn node_and_props(&mut self, key: &str) -> Result<Option<(StoredNode, Map<String, Value>)>> {
        match self.node(key)? {
            Some(n) => Ok(Some((n, self.props(key)?))),
            None => Ok(None),
        }
    }
}
