//! Snapshots (now and at a gen), diffs and node histories. Each reads its rows and the
//! document's gen (or horizon) in *one* statement, so the result is consistent even when
//! commits land meanwhile. The past is the current tree rewound through the undo entries of
//! the commits after it (`nodesync_core::history`).

use pgrx::pg_sys::BuiltinOid::*;
use pgrx::spi::SpiClient;

use std::collections::HashMap;

use serde_json::{Map, Value};

use nodesync_core::history::{rewind, state_at, NodeState};
use nodesync_core::tree::{diff_json, snapshot_json, Row};
use nodesync_core::{Error, Result};

use crate::documents;
use crate::sql::{col, exec, req, stored_object, Stmt};

const NOW: Stmt = Stmt {
    sql: "SELECT key, parent, pos::text, kind, props::text, version, gen,
                 (SELECT d.gen FROM nodesync.documents d WHERE d.id = $1)
            FROM nodesync.tree WHERE doc_id = $1 AND NOT deleted",
    args: &[INT8OID],
};
// The document at gen $2, in one statement: the rows that may have looked different then (live
// nodes, and tombstones of nodes deleted after $2) and the undo entries of every commit after
// $2 (kind 1 rows: gen and entries only). Costs the document plus the changes since $2.
const AT: Stmt = Stmt {
    sql: "SELECT 0, key, parent, pos::text, kind, props::text, version, gen, deleted
            FROM nodesync.tree WHERE doc_id = $1 AND (NOT deleted OR gen > $2)
          UNION ALL
          SELECT 1, NULL, NULL, NULL, NULL, undo::text, NULL, gen, NULL
            FROM nodesync.change WHERE doc_id = $1 AND gen > $2 AND undo IS NOT NULL",
    args: &[INT8OID, INT8OID],
};
// One node's versions above the horizon, newest first, in one statement: its tree row, then
// the chain of undo entries (each names the version and gen it goes back to, or leaves out the
// version after − 1 and the gen before the commit's, `history::stored`; the commit at a
// state's gen holds the entry that leads to the state before). Columns: version, gen, the
// client of the commit that wrote that version, the entry that leads to the version before,
// then the tree row's place, kind, props and deleted (first row only), and the horizon. One
// primary-key lookup per version.
const HISTORY: Stmt = Stmt {
    sql: "WITH RECURSIVE chain(version, gen, client, entry) AS (
            SELECT t.version, t.gen, c.client, c.undo -> $2
              FROM nodesync.tree t
              LEFT JOIN nodesync.change c ON c.doc_id = t.doc_id AND c.gen = t.gen
             WHERE t.doc_id = $1 AND t.key = $2
            UNION ALL
            SELECT coalesce((x.entry ->> 'v')::bigint, x.version - 1), b.gen, c.client, c.undo -> $2
              FROM chain x
              CROSS JOIN LATERAL (SELECT coalesce((x.entry ->> 'g')::bigint, x.gen - 1) AS gen) b
              LEFT JOIN nodesync.change c ON c.doc_id = $1 AND c.gen = b.gen
             WHERE x.entry IS NOT NULL AND x.version > 1 AND x.gen > $3)
          SELECT x.version, x.gen, x.client, x.entry::text, t.parent, t.pos::text, t.kind, t.props::text, t.deleted,
                 (SELECT d.horizon FROM nodesync.documents d WHERE d.id = $1)
            FROM chain x
            LEFT JOIN nodesync.tree t ON t.doc_id = $1 AND t.key = $2 AND t.version = x.version
           ORDER BY x.version DESC",
    args: &[INT8OID, TEXTOID, INT8OID],
};
// the nodes written after gen $2: the keys of the change log's `versions` (every node a commit
// created, changed or deleted) after $2, and the root written by create_doc at gen 1 (which
// has no log row), then their rows by primary key. The shape does not depend on estimates (a
// bounded gen range on the log's primary key, one primary-key lookup per key: OFFSET 0 keeps
// the lookup a nested loop), so the kept generic plan is as good as a custom one. The log is complete
// above the horizon, and diff_since reads it only there (below: a reset). No index on
// tree.gen is needed, so edits are HOT updates (0.3.0). In the order of the nodes' last
// change, then by key.
const CHANGED: Stmt = Stmt {
    sql: "WITH ks AS MATERIALIZED (
            SELECT k FROM nodesync.change c CROSS JOIN LATERAL json_object_keys(c.versions::json) k
             WHERE c.doc_id = $1 AND c.gen > $2
               AND c.gen <= (SELECT d.gen FROM nodesync.documents d WHERE d.id = $1)
            UNION
            SELECT 'root' WHERE $2 < 1)
          SELECT t.key, t.parent, t.pos::text, t.kind, coalesce(t.props::text, '{}'), t.version, t.gen,
                 (SELECT d.gen FROM nodesync.documents d WHERE d.id = $1), t.deleted
            FROM ks CROSS JOIN LATERAL (SELECT * FROM nodesync.tree t
                                         WHERE t.doc_id = $1 AND t.key = ks.k AND t.gen > $2 OFFSET 0) t
           ORDER BY t.gen, t.key",
    args: &[INT8OID, INT8OID],
};

fn rows(t: pgrx::spi::SpiTupleTable<'_>, with_deleted: bool) -> Result<(Vec<Row>, Vec<String>, Option<i64>)> {
    let (mut live, mut deleted, mut gen) = (Vec::new(), Vec::new(), None);
    for r in t {
        let g: Option<i64> = col(&r, 8)?;
        if g.is_some() && g != Some(0) {
            gen = g;
        }
        let key: String = req(&r, 1)?;
        if with_deleted && req::<bool>(&r, 9)? {
            deleted.push(key);
            continue;
        }
        live.push(Row {
            key,
            parent: col(&r, 2)?,
            pos: col(&r, 3)?,
            kind: req(&r, 4)?,
            props: req(&r, 5)?,
            version: req(&r, 6)?,
            gen: req(&r, 7)?,
        });
    }
    Ok((live, deleted, gen))
}

fn gen_arg(name: &str, v: Option<i64>, current: i64) -> Result<i64> {
    let v = v.ok_or_else(|| Error::InvalidArgument(format!("{name} must not be NULL")))?;
    if v < 0 {
        return Err(Error::InvalidArgument(format!("{name} must be >= 0, got {v}")));
    }
    if v > current {
        return Err(Error::InvalidArgument(format!("{name} {v} is after the current gen {current}")));
    }
    Ok(v)
}

/// `snapshot(doc, at_gen)` as JSON text.
pub fn snapshot(client: &SpiClient<'_>, doc: &str, at_gen: Option<i64>) -> Result<String> {
    let d = documents::get(client, doc)?;
    match at_gen {
        Some(_) => {
            let g = gen_arg("at_gen", at_gen, d.gen)?;
            if g < 1 {
                return Err(Error::InvalidArgument(format!(
                    "at_gen {g}: document \"{doc}\" starts at gen 1"
                ))
                .names_doc());
            }
            if g < d.horizon {
                return Err(Error::BelowHorizon { doc: doc.into(), asked: g, horizon: d.horizon, what: "snapshot" });
            }
            let live = if crate::legacy::pieces() {
                rows(exec(client, &crate::legacy::AT, &[d.id.into(), g.into()])?, false)?.0
            } else {
                at_gen_rows(exec(client, &AT, &[d.id.into(), g.into()])?, g)?
            };
            snapshot_json(doc, g, &live)
        }
        None => {
            let (live, _, gen) = rows(exec(client, &NOW, &[d.id.into()])?, false)?;
            snapshot_json(doc, gen.unwrap_or(d.gen), &live)
        }
    }
}

/// `diff_since(doc, since)` as JSON text.
pub fn diff(client: &SpiClient<'_>, doc: &str, since: Option<i64>) -> Result<String> {
    let d = documents::get(client, doc)?;
    let since = gen_arg("since", since, d.gen)?;
    if since < d.horizon {
        let (live, _, gen) = rows(exec(client, &NOW, &[d.id.into()])?, false)?;
        return Ok(diff_json(doc, since, gen.unwrap_or(d.gen), true, &live, &[]));
    }
    let (live, deleted, gen) = rows(exec(client, &CHANGED, &[d.id.into(), since.into()])?, true)?;
    Ok(diff_json(doc, since, gen.unwrap_or(d.gen), false, &live, &deleted))
}

/// Checks a `since` for the log: 22023 out of range, 55000 below the horizon. Returns the doc id.
pub fn check_history(client: &SpiClient<'_>, doc: &str, since: Option<i64>, what: &'static str) -> Result<i64> {
    let d = documents::get(client, doc)?;
    let since = gen_arg("since", since, d.gen)?;
    if since < d.horizon {
        return Err(Error::BelowHorizon { doc: doc.into(), asked: since, horizon: d.horizon, what });
    }
    Ok(d.id)
}

fn state_of(r: &Row, deleted: bool) -> Result<NodeState> {
    Ok(NodeState {
        parent: r.parent.clone(),
        pos: r.pos.clone(),
        kind: r.kind.clone(),
        props: if deleted { None } else { Some(stored_object("stored props", &r.props)?) },
        version: r.version,
        gen: r.gen,
    })
}

fn row_of(key: String, s: NodeState) -> Row {
    Row {
        key,
        parent: s.parent,
        pos: s.pos,
        kind: s.kind,
        props: Value::Object(s.props.unwrap_or_default()).to_string(),
        version: s.version,
        gen: s.gen,
    }
}

/// The live rows at gen `at` from the rows of [`AT`]: nodes written after `at` rewound through
/// the later commits' undo entries; nodes created after `at` left out.
fn at_gen_rows(t: pgrx::spi::SpiTupleTable<'_>, at: i64) -> Result<Vec<Row>> {
    let mut now: Vec<(Row, bool)> = Vec::new();
    let mut undo: HashMap<i64, Map<String, Value>> = HashMap::new();
    for r in t {
        let gen: i64 = req(&r, 8)?;
        if req::<i32>(&r, 1)? == 1 {
            undo.insert(gen, stored_object("an undo column", &req::<String>(&r, 6)?)?);
            continue;
        }
        let row = Row {
            key: req(&r, 2)?,
            parent: col(&r, 3)?,
            pos: col(&r, 4)?,
            kind: req(&r, 5)?,
            props: col(&r, 6)?.unwrap_or_default(),
            version: req(&r, 7)?,
            gen,
        };
        now.push((row, req(&r, 9)?));
    }
    let mut live = Vec::with_capacity(now.len());
    for (row, deleted) in now {
        if row.gen <= at {
            live.push(row);
            continue;
        }
        let key = row.key.clone();
        if let Some(s) = state_at(&key, state_of(&row, deleted)?, at, |g| undo.get(&g).and_then(|u| u.get(&key)))? {
            live.push(row_of(key, s));
        }
    }
    Ok(live)
}

/// One version of a node in `node_history`: version, gen, client, state (JSON text; `None`
/// for a deletion).
pub type Version = (i64, i64, Option<String>, Option<String>);

fn state_json(key: &str, s: &NodeState) -> Option<String> {
    let props = s.props.as_ref()?;
    let mut o = Map::new();
    o.insert("key".into(), Value::from(key));
    o.insert("parent".into(), s.parent.clone().map_or(Value::Null, Value::String));
    o.insert("pos".into(), s.pos.clone().map_or(Value::Null, Value::String));
    o.insert("kind".into(), Value::from(s.kind.as_str()));
    o.insert("props".into(), Value::Object(props.clone()));
    o.insert("version".into(), Value::from(s.version));
    o.insert("gen".into(), Value::from(s.gen));
    Some(Value::Object(o).to_string())
}

/// `node_history(doc, key)`: the node's versions above the horizon, oldest first.
pub fn node_history(client: &SpiClient<'_>, doc: &str, key: Option<&str>) -> Result<Vec<Version>> {
    let d = documents::get(client, doc)?;
    let key = key.ok_or_else(|| Error::InvalidArgument("node_history: key must not be NULL".into()))?;
    let mut out = Vec::new();
    let mut horizon = d.horizon;
    let mut state: Option<NodeState> = None;
    let mut entry: Option<Value> = None;
    // (schemas before 0.4.0 have their own node_history in SQL, over pieces)
    for r in exec(client, &HISTORY, &[d.id.into(), key.into(), d.horizon.into()])? {
        let (version, gen): (i64, i64) = (req(&r, 1)?, req(&r, 2)?);
        horizon = col(&r, 10)?.unwrap_or(horizon);
        let s = match (state.take(), entry.take()) {
            (None, _) => {
                let deleted: bool = req(&r, 9)?;
                let now = Row { key: key.to_string(), parent: col(&r, 5)?, pos: col(&r, 6)?, kind: req(&r, 7)?, props: col(&r, 8)?.unwrap_or_default(), version, gen };
                state_of(&now, deleted)?
            }
            (Some(s), Some(e)) => rewind(&s, &e)?,
            (Some(_), None) => return Err(Error::Internal(format!("the history of {key:?} has no entry at version {version}"))),
        };
        if (s.version, s.gen) != (version, gen) {
            return Err(Error::Internal(format!("the history of {key:?} is out of order at version {version}")));
        }
        if gen > horizon {
            out.push((version, gen, col(&r, 3)?, state_json(key, &s)));
        }
        entry = match col::<String>(&r, 4)? {
            Some(text) => Some(serde_json::from_str(&text).map_err(|e| Error::Internal(format!("an undo entry does not parse: {e}")))?),
            None => None,
        };
        state = Some(s);
    }
    out.reverse();
    Ok(out)
}
