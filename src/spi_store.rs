//! The engine's `Store` over SPI: every method is one indexed lookup on `nodesync.tree`
//! (primary key, or the `tree_children` index for siblings and subtrees). A node's row is
//! read with its props (as text, parsed only if asked for): the engine needs the props of
//! every node a patch changes for the commit's undo entries (`nodesync_core::history`), and
//! one lookup is cheaper than two.

use pgrx::pg_sys::BuiltinOid::*;
use pgrx::spi::{SpiClient, SpiHeapTupleData};

use nodesync_core::store::{Child, Store, StoredNode};
use nodesync_core::Result;
use serde_json::{Map, Value};
use std::collections::HashMap;

use crate::sql::{col, exec, req, stored_object, Stmt};

pub struct SpiStore<'a, 'c> {
    client: &'a SpiClient<'c>,
    doc_id: i64,
    /// The props (jsonb text) of the live nodes read so far.
    props: HashMap<String, String>,
}

impl<'a, 'c> SpiStore<'a, 'c> {
    pub fn new(client: &'a SpiClient<'c>, doc_id: i64) -> Self {
        SpiStore { client, doc_id, props: HashMap::new() }
    }

    /// A row of NODE_AND_PROPS or DESCENDANTS (props in column `props_col`), its props kept.
    fn read(&mut self, r: &SpiHeapTupleData<'_>, deleted: bool, props_col: usize) -> Result<StoredNode> {
        let n = stored(r, deleted)?;
        if !deleted {
            if let Some(text) = col::<String>(r, props_col)? {
                self.props.insert(n.key.clone(), text);
            }
        }
        Ok(n)
    }
}

const FIRST: Stmt = Stmt {
    sql: "SELECT key, pos::text FROM nodesync.tree WHERE doc_id = $1 AND parent = $2 AND NOT deleted ORDER BY pos LIMIT $3",
    args: &[INT8OID, TEXTOID, INT8OID],
};
const AFTER: Stmt = Stmt {
    sql: "SELECT key, pos::text FROM nodesync.tree WHERE doc_id = $1 AND parent = $2 AND NOT deleted AND pos > $3 ORDER BY pos LIMIT $4",
    args: &[INT8OID, TEXTOID, TEXTOID, INT8OID],
};
const LAST: Stmt = Stmt {
    sql: "SELECT key, pos::text FROM nodesync.tree WHERE doc_id = $1 AND parent = $2 AND NOT deleted ORDER BY pos DESC LIMIT $3",
    args: &[INT8OID, TEXTOID, INT8OID],
};
const BEFORE: Stmt = Stmt {
    sql: "SELECT key, pos::text FROM nodesync.tree WHERE doc_id = $1 AND parent = $2 AND NOT deleted AND pos < $3 ORDER BY pos DESC LIMIT $4",
    args: &[INT8OID, TEXTOID, TEXTOID, INT8OID],
};
// A subtree, level by level through `tree_children` (the `ORDER BY pos LIMIT $3` subqueries,
// $3 = no limit, keep the children's lookups on that index whatever the estimates: in 0.4.0
// the kept generic plan could hash the whole document, twice, to find that a deleted leaf has
// no children; tests/tests/rows_read.rs), each node's props by primary key.
const DESCENDANTS: Stmt = Stmt {
    sql: "WITH RECURSIVE sub AS (
            (SELECT c.key, c.parent, c.pos, c.kind, c.version, c.gen FROM nodesync.tree c
              WHERE c.doc_id = $1 AND c.parent = $2 AND NOT c.deleted ORDER BY c.pos LIMIT $3)
            UNION ALL
            SELECT t.key, t.parent, t.pos, t.kind, t.version, t.gen
              FROM sub s CROSS JOIN LATERAL (SELECT * FROM nodesync.tree t
                                              WHERE t.doc_id = $1 AND t.parent = s.key AND NOT t.deleted
                                              ORDER BY t.pos LIMIT $3) t)
          SELECT s.key, s.parent, s.pos::text, s.kind, s.version, s.gen, p.props::text
            FROM sub s CROSS JOIN LATERAL (SELECT p.props FROM nodesync.tree p
                                            WHERE p.doc_id = $1 AND p.key = s.key OFFSET 0) p",
    args: &[INT8OID, TEXTOID, INT8OID],
};

const NODE_AND_PROPS: Stmt = Stmt {
    sql: "SELECT key, parent, pos::text, kind, version, gen, deleted, props::text FROM nodesync.tree WHERE doc_id = $1 AND key = $2",
    args: &[INT8OID, TEXTOID],
};

fn children(rows: pgrx::spi::SpiTupleTable<'_>) -> Result<Vec<Child>> {
    rows.map(|r| Ok((req::<String>(&r, 1)?, req::<String>(&r, 2)?))).collect()
}

fn stored(r: &SpiHeapTupleData<'_>, deleted: bool) -> Result<StoredNode> {
    Ok(StoredNode {
        key: req(r, 1)?,
        parent: col(r, 2)?,
        pos: col(r, 3)?,
        kind: req(r, 4)?,
        version: req(r, 5)?,
        gen: req(r, 6)?,
        deleted,
    })
}

/// Stored props (jsonb as text) as a map; tombstones have none.
fn props_of(key: &str, text: Option<String>) -> Result<Map<String, Value>> {
    match text {
        None => Ok(Map::new()),
        Some(text) => stored_object(&format!("the props of {key:?}"), &text),
    }
}

impl Store for SpiStore<'_, '_> {
    fn node(&mut self, key: &str) -> Result<Option<StoredNode>> {
        if crate::guc::DIRECT_COMMIT.get() {
            if let Some(row) = crate::direct::node(self.doc_id, key)? {
                return Ok(row.map(|r| {
                    if let (false, Some(p)) = (r.node.deleted, r.props) {
                        self.props.insert(r.node.key.clone(), p);
                    }
                    r.node
                }));
            }
        }
        let t = exec(self.client, &NODE_AND_PROPS, &[self.doc_id.into(), key.into()])?;
        match t.into_iter().next() {
            Some(r) => {
                let deleted = req::<bool>(&r, 7)?;
                self.read(&r, deleted, 8).map(Some)
            }
            None => Ok(None),
        }
    }

    fn children_after(&mut self, parent: &str, after: Option<&str>, limit: usize) -> Result<Vec<Child>> {
        let limit = limit.min(i64::MAX as usize) as i64;
        match after {
            None => children(exec(self.client, &FIRST, &[self.doc_id.into(), parent.into(), limit.into()])?),
            Some(a) => children(exec(self.client, &AFTER, &[self.doc_id.into(), parent.into(), a.into(), limit.into()])?),
        }
    }

    fn children_before(&mut self, parent: &str, before: Option<&str>, limit: usize) -> Result<Vec<Child>> {
        let limit = limit.min(i64::MAX as usize) as i64;
        match before {
            None => children(exec(self.client, &LAST, &[self.doc_id.into(), parent.into(), limit.into()])?),
            Some(b) => children(exec(self.client, &BEFORE, &[self.doc_id.into(), parent.into(), b.into(), limit.into()])?),
        }
    }

    fn props(&mut self, key: &str) -> Result<Map<String, Value>> {
        if !self.props.contains_key(key) {
            // not read yet (the engine reads a node before its props): one lookup of both
            self.node(key)?;
        }
        props_of(key, self.props.get(key).cloned())
    }

    fn tick(&mut self) -> Result<()> {
        pgrx::check_for_interrupts!();
        Ok(())
    }

    fn descendants(&mut self, key: &str) -> Result<Vec<StoredNode>> {
        let t = exec(self.client, &DESCENDANTS, &[self.doc_id.into(), key.into(), i64::MAX.into()])?;
        t.map(|r| self.read(&r, false, 7)).collect()
    }
}
