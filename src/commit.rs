//! Where commits are written and history is kept.
//!
//! One commit (gen G) writes, all in the caller's transaction:
//! - the new `tree` rows: created nodes, changed nodes (version + 1, gen G), tombstones,
//! - one `change` row: the log (patch as sent, client, seq, result versions) and the history
//!   (`undo`: for every node changed or deleted, what takes it back to its state before;
//!   `nodesync_core::history`),
//! - `documents.gen = G`, and a NOTIFY on `nodesync.notify_channel` (default `nodesync`;
//!   delivered by Postgres at commit) and/or a transactional logical message with that prefix
//!   (`nodesync.push`).
//!
//! Compaction drops the log rows at or below the new horizon: time travel to the horizon
//! rewinds the current tree through the commits after it, which are all kept.

use pgrx::pg_sys::BuiltinOid::*;
use pgrx::spi::SpiClient;
use std::sync::OnceLock;

use serde_json::Value;

use nodesync_core::engine::Plan;
use nodesync_core::prepare::PatchResult;
use nodesync_core::{Error, Limits, Result};

use crate::sql::{col, exec, req, stored_object, Stmt};

// One commit is one statement: its data-modifying CTEs run on one snapshot (Postgres runs
// every data-modifying CTE to completion, referenced or not). Empty arrays make a part a no-op,
// but Postgres still starts and finishes every part of a statement: commits that only change
// existing nodes run the statement without the `/*nodes*/ ... /*end*/` parts for deleted and
// created nodes (`changes_only`), and a commit that changes one node (an edit, a keystroke's
// text op) runs [`ONE_CHANGE`]. The rows a commit changes or deletes are found one
// primary-key lookup per key (the `LATERAL ... OFFSET 0` subquery, as diff_since's lookup in
// src/read.rs) and updated by their ctid, whatever the estimates: in 0.4.0 the kept generic
// plan could read every row of the document and filter on the join with `unnest` (thousands
// of rows for a one-node edit where statistics made a document look small;
// tests/tests/rows_read.rs).
const COMMIT: Stmt = Stmt {
    sql: "WITH changed AS (
            UPDATE nodesync.tree t SET
              parent = CASE WHEN u.moved THEN u.parent ELSE t.parent END,
              pos = CASE WHEN u.moved THEN u.pos ELSE t.pos END,
              kind = coalesce(u.kind, t.kind),
              props = CASE WHEN u.delta IS NULL THEN t.props
                           ELSE (t.props || u.delta::jsonb)
                                - ARRAY(SELECT e.key FROM jsonb_each(u.delta::jsonb) e WHERE e.value = 'null'::jsonb) END,
              version = t.version + 1,
              gen = $2
            FROM unnest($5::text[], $6::bool[], $7::text[], $8::text[], $9::text[], $10::text[])
                 AS u(key, moved, parent, pos, kind, delta)
                 CROSS JOIN LATERAL (SELECT x.ctid AS tid FROM nodesync.tree x
                                      WHERE x.doc_id = $1 AND x.key = u.key OFFSET 0) x
            WHERE t.ctid = x.tid AND t.doc_id = $1
            RETURNING t.key, CASE WHEN u.delta IS NULL THEN 0 ELSE octet_length(t.props::text) END AS bytes),
          /*nodes*/deleted AS (
            UPDATE nodesync.tree t SET deleted = true, parent = NULL, pos = NULL, props = NULL,
                   version = t.version + 1, gen = $2
              FROM unnest($11::text[]) AS u(key)
                   CROSS JOIN LATERAL (SELECT x.ctid AS tid FROM nodesync.tree x
                                        WHERE x.doc_id = $1 AND x.key = u.key OFFSET 0) x
             WHERE t.ctid = x.tid AND t.doc_id = $1),
          created AS (
            INSERT INTO nodesync.tree (doc_id, key, parent, pos, kind, props, version, gen, deleted)
            SELECT $1, u.key, u.parent, u.pos, u.kind, u.props::jsonb, 1, $2, u.props IS NULL
              FROM unnest($12::text[], $13::text[], $14::text[], $15::text[], $16::text[]) AS u(key, parent, pos, kind, props)
            RETURNING key, coalesce(octet_length(props::text), 0) AS bytes),/*end*/
          logged AS (
            INSERT INTO nodesync.change (doc_id, gen, client, seq, patch, versions, committed_at, undo)
            VALUES ($1, $2, $17, $18, $19::json, $20::json, clock_timestamp(), $4::json)),
          bumped AS (
            UPDATE nodesync.documents SET gen = $2, live_nodes = live_nodes + $3 WHERE id = $1
            RETURNING CASE WHEN $21::text IS NOT NULL THEN pg_notify($22, $21) END,
                      CASE WHEN $23::text IS NOT NULL THEN pg_logical_emit_message(true, $22, $23) END)
          SELECT key, bytes FROM changed/*nodes*/ UNION ALL SELECT key, bytes FROM created/*end*/",
    args: COMMIT_ARGS,
};

/// [`COMMIT`] without its parts for deleted and created nodes (made once per backend).
fn changes_only() -> &'static Stmt {
    static STMT: OnceLock<Stmt> = OnceLock::new();
    STMT.get_or_init(|| {
        let mut sql = String::with_capacity(COMMIT.sql.len());
        let mut rest = COMMIT.sql;
        while let Some(i) = rest.find("/*nodes*/") {
            sql.push_str(&rest[..i]);
            rest = match rest[i..].find("/*end*/") {
                Some(j) => &rest[i + j + "/*end*/".len()..],
                None => "",
            };
        }
        sql.push_str(rest);
        Stmt { sql: Box::leak(sql.into_boxed_str()), args: COMMIT_ARGS }
    })
}
/// The commit of a patch that changes one existing node and creates and deletes none: the
/// node's row by primary key, its props merged with the delta (`$9`, NULL: unchanged) less the
/// keys the delta removes (`$10`), no `unnest`, no subquery. The other parts as in [`COMMIT`].
const ONE_CHANGE: Stmt = Stmt {
    sql: "WITH changed AS (
            UPDATE nodesync.tree t SET
              parent = CASE WHEN $5 THEN $6 ELSE t.parent END,
              pos = CASE WHEN $5 THEN $7 ELSE t.pos END,
              kind = coalesce($8, t.kind),
              props = CASE WHEN $9::text IS NULL THEN t.props ELSE (t.props || $9::jsonb) - $10::text[] END,
              version = t.version + 1,
              gen = $2
            WHERE t.doc_id = $1 AND t.key = $4
            RETURNING t.key, CASE WHEN $9::text IS NULL THEN 0 ELSE octet_length(t.props::text) END AS bytes),
          logged AS (
            INSERT INTO nodesync.change (doc_id, gen, client, seq, patch, versions, committed_at, undo)
            VALUES ($1, $2, $11, $12, $13::json, $14::json, clock_timestamp(), $3::json)),
          bumped AS (
            UPDATE nodesync.documents SET gen = $2 WHERE id = $1
            RETURNING CASE WHEN $15::text IS NOT NULL THEN pg_notify($16, $15) END,
                      CASE WHEN $17::text IS NOT NULL THEN pg_logical_emit_message(true, $16, $17) END)
          SELECT key, bytes FROM changed",
    args: &[
        INT8OID, INT8OID, TEXTOID, // doc_id, gen, undo entries (NULL: none)
        TEXTOID, BOOLOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTARRAYOID, // key, moved, parent, pos, kind, delta, removed keys
        TEXTOID, INT8OID, TEXTOID, TEXTOID, // log: client, seq, patch, versions
        TEXTOID, TEXTOID, TEXTOID, // NOTIFY payload (NULL: none), channel, message payload (NULL: none)
    ],
};
pub const COMMIT_ARGS: &[pgrx::pg_sys::BuiltinOid] = &[
        INT8OID, INT8OID, INT8OID, TEXTOID, // doc_id, gen, live delta, undo entries (NULL: none)
        TEXTARRAYOID, BOOLARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, // changes
        TEXTARRAYOID, // deletes
        TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, // creates
        TEXTOID, INT8OID, TEXTOID, TEXTOID, // log: client, seq, patch, versions
        TEXTOID, TEXTOID, // NOTIFY payload (NULL: none), channel (nodesync.notify_channel)
        TEXTOID, // logical message payload (NULL: none; nodesync.push), prefixed with the channel
];
const NOTIFY: Stmt = Stmt {
    sql: "SELECT CASE WHEN $1::text IS NOT NULL THEN pg_notify($2, $1) END,
                 CASE WHEN $3::text IS NOT NULL THEN pg_logical_emit_message(true, $2, $3) END",
    args: &[TEXTOID, TEXTOID, TEXTOID],
};

/// Who sent a patch.
pub struct Origin<'a> {
    pub client: Option<&'a str>,
    pub seq: Option<i64>,
}

/// The NOTIFY payload: no content, just which document and which gen.
pub fn notify_payload(doc: &str, gen: Option<i64>) -> String {
    match gen {
        Some(g) => format!("{{\"doc\": {}, \"gen\": {g}}}", Value::from(doc)),
        None => format!("{{\"doc\": {}, \"dropped\": true}}", Value::from(doc)),
    }
}

/// Announces `payload` (a drop) as `nodesync.notify` and `nodesync.push` say.
pub fn notify(client: &SpiClient<'_>, payload: &str) -> Result<()> {
    let (n, m, channel) = crate::guc::pushes(|| payload.to_string())?;
    if n.is_some() || m.is_some() {
        exec(client, &NOTIFY, &[n.into(), channel.into(), m.into()])?;
    }
    Ok(())
}

/// Writes the commit of `plan` as generation `gen`, in one statement. The document must be
/// locked; `claimed`: by [`crate::documents::claim`], so its row's gen is `gen` already.
#[allow(clippy::too_many_arguments)]
pub fn commit(
    client: &SpiClient<'_>,
    doc: &str,
    doc_id: i64,
    gen: i64,
    plan: &Plan,
    patch: &Value,
    origin: &Origin<'_>,
    claimed: bool,
    limits: &Limits,
) -> Result<()> {
    let pieces = crate::legacy::pieces();
    // $4: the undo entries, or (before 0.4.0) the keys whose states are saved as pieces
    let undo = if pieces {
        Some(Value::from_iter(plan.changes.iter().map(|c| Value::from(c.key.as_str())).chain(plan.deletes.iter().map(|k| Value::from(k.as_str())))).to_string())
    } else {
        (!plan.undo.is_empty()).then(|| Value::Object(nodesync_core::history::stored(&plan.undo, gen)).to_string())
    };
    // the log's patch, as sent: compact JSON text (numbers exactly as parsed, keys in order)
    let patch = patch.to_string();
    let versions = Value::Object(plan.versions.clone()).to_string();
    let (payload, message, channel) = crate::guc::pushes(|| notify_payload(doc, Some(gen)))?;
    let only_changes = plan.creates.is_empty() && plan.ephemeral.is_empty() && plan.deletes.is_empty();
    if let ([c], true, false) = (plan.changes.as_slice(), only_changes, pieces) {
        let removed: Vec<String> = c.delta.iter().flatten().filter(|(_, v)| v.is_null()).map(|(k, _)| k.clone()).collect();
        let delta = c.delta.as_ref().map(|d| Value::Object(d.clone()).to_string());
        if crate::guc::DIRECT_COMMIT.get() {
            let one = crate::direct::OneChange {
                doc_id,
                gen,
                claimed,
                key: &c.key,
                place: c.place.as_ref().map(|p| (p.0.as_str(), p.1.as_str())),
                kind: c.kind.as_deref(),
                delta: delta.as_deref(),
                removed: &removed,
                client: origin.client,
                seq: origin.seq,
                patch: &patch,
                versions: &versions,
                undo: undo.as_deref(),
                notify: payload.as_deref(),
                channel: &channel,
                message: message.as_deref(),
            };
            if let Some(bytes) = crate::direct::one_change(&one)? {
                return check_size(bytes, &c.key, doc, limits);
            }
        }
        let t = exec(
            client,
            &ONE_CHANGE,
            &[
                doc_id.into(),
                gen.into(),
                undo.into(),
                c.key.as_str().into(),
                c.place.is_some().into(),
                c.place.as_ref().map(|p| p.0.as_str()).into(),
                c.place.as_ref().map(|p| p.1.as_str()).into(),
                c.kind.as_deref().into(),
                delta.into(),
                removed.into(),
                origin.client.into(),
                origin.seq.into(),
                patch.as_str().into(),
                versions.into(),
                payload.into(),
                channel.into(),
                message.into(),
            ],
        )?;
        return check_props_size(t, doc, limits);
    }
    let n = plan.changes.len();
    let (mut ckeys, mut moved, mut cparents, mut cposs, mut ckinds, mut deltas) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for c in &plan.changes {
        ckeys.push(c.key.clone());
        moved.push(c.place.is_some());
        cparents.push(c.place.as_ref().map(|p| p.0.clone()));
        cposs.push(c.place.as_ref().map(|p| p.1.clone()));
        ckinds.push(c.kind.clone());
        deltas.push(c.delta.as_ref().map(|d| Value::Object(d.clone()).to_string()));
    }
    let m = plan.creates.len() + plan.ephemeral.len();
    let (mut nkeys, mut nparents, mut nposs, mut nkinds, mut nprops) =
        (Vec::with_capacity(m), Vec::with_capacity(m), Vec::with_capacity(m), Vec::with_capacity(m), Vec::with_capacity(m));
    for c in &plan.creates {
        nkeys.push(c.key.clone());
        nparents.push(Some(c.parent.clone()));
        nposs.push(Some(c.pos.clone()));
        nkinds.push(c.kind.clone());
        nprops.push(Some(Value::Object(c.props.clone()).to_string()));
    }
    for (k, kind) in &plan.ephemeral {
        nkeys.push(k.clone());
        nparents.push(None);
        nposs.push(None);
        nkinds.push(kind.clone());
        nprops.push(None);
    }
    let t = exec(
        client,
        if pieces {
            &crate::legacy::COMMIT
        } else if only_changes {
            changes_only()
        } else {
            &COMMIT
        },
        &[
            doc_id.into(),
            gen.into(),
            plan.live_delta().into(),
            undo.into(),
            ckeys.into(),
            moved.into(),
            cparents.into(),
            cposs.into(),
            ckinds.into(),
            deltas.into(),
            plan.deletes.clone().into(),
            nkeys.into(),
            nparents.into(),
            nposs.into(),
            nkinds.into(),
            nprops.into(),
            origin.client.into(),
            origin.seq.into(),
            patch.as_str().into(),
            versions.into(),
            payload.into(),
            channel.into(),
            message.into(),
        ],
    )?;
    check_props_size(t, doc, limits)
}

/// `nodesync.max_props_bytes` on written rows `(key, octet_length(props::text))`: one measure
/// (the jsonb text form) for created and changed nodes alike.
fn check_props_size(rows: pgrx::spi::SpiTupleTable<'_>, doc: &str, limits: &Limits) -> Result<()> {
    for r in rows {
        let bytes: i32 = req(&r, 2)?;
        check_size(bytes as usize, &req::<String>(&r, 1)?, doc, limits)?;
    }
    Ok(())
}

fn check_size(bytes: usize, key: &str, doc: &str, limits: &Limits) -> Result<()> {
    if bytes > limits.max_props_bytes {
        let what = format!("props of \"{}\" in document \"{doc}\" (as jsonb text) would be", nodesync_core::patch::shorten(key));
        return Err(Error::props_limit(what, bytes, limits.max_props_bytes).names_doc());
    }
    Ok(())
}

const LAST_SEQ: Stmt = Stmt {
    sql: "SELECT greatest((SELECT max(seq) FROM nodesync.change WHERE doc_id = $1 AND client = $2),
                          (SELECT seq FROM nodesync.client_seq WHERE doc_id = $1 AND client = $2))",
    args: &[INT8OID, TEXTOID],
};
const SEQ_RESULT: Stmt = Stmt {
    sql: "SELECT gen, versions::text FROM nodesync.change WHERE doc_id = $1 AND client = $2 AND seq = $3",
    args: &[INT8OID, TEXTOID, INT8OID],
};

/// If `(client, seq)` was already committed (seq at or below the client's last), the result to
/// return again: the original one while it is above the horizon, else the current gen.
pub fn duplicate(client: &SpiClient<'_>, doc_id: i64, current_gen: i64, who: &str, seq: i64) -> Result<Option<PatchResult>> {
    let last: Option<i64> = {
        let t = exec(client, &LAST_SEQ, &[doc_id.into(), who.into()])?;
        match t.into_iter().next() {
            Some(r) => col(&r, 1)?,
            None => None,
        }
    };
    match last {
        Some(last) if seq <= last => {}
        _ => return Ok(None),
    }
    let t = exec(client, &SEQ_RESULT, &[doc_id.into(), who.into(), seq.into()])?;
    let found = match t.into_iter().next() {
        Some(r) => Some((req::<i64>(&r, 1)?, req::<String>(&r, 2)?)),
        None => None,
    };
    Ok(Some(match found {
        Some((gen, versions)) => PatchResult { gen, versions: stored_object("stored versions", &versions)?, duplicate: true },
        None => PatchResult { duplicate: true, ..PatchResult::unchanged(current_gen) },
    }))
}

const COMPACT: [Stmt; 3] = [
    // remember each client's last seq before its log rows go
    Stmt {
        sql: "INSERT INTO nodesync.client_seq (doc_id, client, seq)
              SELECT doc_id, client, max(seq) FROM nodesync.change
               WHERE doc_id = $1 AND gen <= $2 AND client IS NOT NULL AND seq IS NOT NULL
               GROUP BY doc_id, client
              ON CONFLICT (doc_id, client) DO UPDATE SET seq = greatest(nodesync.client_seq.seq, excluded.seq)",
        args: &[INT8OID, INT8OID],
    },
    Stmt { sql: "DELETE FROM nodesync.change WHERE doc_id = $1 AND gen <= $2", args: &[INT8OID, INT8OID] },
    Stmt { sql: "UPDATE nodesync.documents SET horizon = $2 WHERE id = $1", args: &[INT8OID, INT8OID] },
];

/// Raises the horizon of a locked document to `upto` and drops what is below it.
pub fn compact(client: &SpiClient<'_>, doc_id: i64, upto: i64) -> Result<()> {
    let [seqs, log, horizon] = &COMPACT;
    exec(client, seqs, &[doc_id.into(), upto.into()])?;
    if crate::legacy::pieces() {
        exec(client, &crate::legacy::COMPACT_PIECES, &[doc_id.into(), upto.into()])?;
    }
    exec(client, log, &[doc_id.into(), upto.into()])?;
    exec(client, horizon, &[doc_id.into(), upto.into()])?;
    Ok(())
}
