//! Snapshots and diffs. Each reads its rows and the document's gen in *one* statement, so the
//! result is consistent even when commits land meanwhile.

use pgrx::pg_sys::BuiltinOid::*;
use pgrx::spi::SpiClient;

use nodesync_core::tree::{diff_json, snapshot_json, Row};
use nodesync_core::{Error, Result};

use crate::documents;
use crate::sql::{col, exec, req, Stmt};

const NOW: Stmt = Stmt {
    sql: "SELECT key, parent, pos::text, kind, props::text, version, gen,
                 (SELECT d.gen FROM nodesync.documents d WHERE d.id = $1)
            FROM nodesync.tree WHERE doc_id = $1 AND NOT deleted",
    args: &[INT8OID],
};
// the node's state at gen $2: its tree row if unchanged since, else its newest piece at or below $2
const AT: Stmt = Stmt {
    sql: "SELECT key, parent, pos::text, kind, props::text, version, gen, 0::bigint
            FROM nodesync.tree WHERE doc_id = $1 AND NOT deleted AND gen <= $2
          UNION ALL
          SELECT p.key, p.parent, p.pos::text, p.kind, p.props::text, p.version, p.gen, 0::bigint
            FROM nodesync.tree t
            CROSS JOIN LATERAL (SELECT * FROM nodesync.piece p
                                 WHERE p.doc_id = t.doc_id AND p.key = t.key AND p.gen <= $2
                                 ORDER BY p.version DESC LIMIT 1) p
           WHERE t.doc_id = $1 AND t.gen > $2",
    args: &[INT8OID, INT8OID],
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
            SELECT k FROM nodesync.change c CROSS JOIN LATERAL jsonb_object_keys(c.versions) k
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
            let (live, _, _) = rows(exec(client, &AT, &[d.id.into(), g.into()])?, false)?;
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
