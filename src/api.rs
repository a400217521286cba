//! The SQL API (docs/api/README.md): each function converts its arguments, runs the core inside one SPI
//! connection, and maps errors once (`errors::raise`). `apply_patch` and `try_apply_patch`
//! are these C functions themselves; the read functions `snapshot`, `diff_since`, `nodes`,
//! `changes_since` and `node_history` and `create_doc` are SQL wrappers (sql/functions.sql)
//! over the `_`-prefixed helpers here.

use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::Value;

use nodesync_core::engine::{evaluate, Outcome};
use nodesync_core::prepare::{before_evaluate, check_growth, refusal_json, PatchResult};
use nodesync_core::patch::{check_name, nesting_depth, parse, MAX_JSON_DEPTH};
use nodesync_core::{Error, Result};

use crate::access::AsOwner;
use crate::documents::{self, doc_arg};
use crate::jsonb::JsonbText;
use crate::errors::OrRaise;
use crate::guc::limits;
use crate::commit::{self, Origin};
use crate::read;
use crate::spi_store::SpiStore;

/// jsonb arguments arrive as text ([`JsonbText`], or cast by the SQL wrapper of create_doc) and
/// are parsed here with exact numbers (serde_json `arbitrary_precision`): props are stored exactly
/// as sent. Nesting deeper than serde_json's limit (128) is a clean 22023.
fn json_arg(what: &str, text: &str) -> Result<Value> {
    let depth = nesting_depth(text);
    if depth > MAX_JSON_DEPTH {
        return Err(Error::InvalidArgument(format!(
            "{what} nests JSON {depth} levels deep; pg_nodesync accepts at most {MAX_JSON_DEPTH}"
        )));
    }
    serde_json::from_str(text).map_err(|e| Error::InvalidArgument(format!("{what} is not JSON pg_nodesync can read: {e}")))
}

/// The body of a function on one document: checks the id, runs `f` inside one SPI connection,
/// names the document in argument and limit errors, and raises any error.
fn on_doc<T>(doc: Option<&str>, f: impl FnOnce(&pgrx::spi::SpiClient<'_>, &str) -> Result<T>) -> T {
    let r: Result<T> = doc_arg(doc).and_then(|doc| crate::sql::connect(|c| f(c, doc)).map_err(|e| e.in_doc(doc)));
    r.or_raise()
}

fn create_doc_args<'a>(doc: Option<&'a str>, root_kind: Option<&'a str>, root_props: Option<&str>) -> Result<(&'a str, &'a str, Value)> {
    let doc = doc_arg(doc)?;
    let kind = root_kind.ok_or_else(|| Error::InvalidArgument("root_kind must not be NULL".into()))?;
    let props = root_props.ok_or_else(|| Error::InvalidArgument("root_props must not be NULL (use '{}')".into()))?;
    let props = json_arg("root_props", props).map_err(|e| e.in_doc(doc))?;
    Ok((doc, kind, props))
}

/// Helper for nodesync.create_doc(): creates a document with its root node; returns its gen, 1.
/// The document row is inserted as the caller, so INSERT policies on nodesync.documents apply.
#[pg_extern(name = "_create_doc")]
#[search_path(pg_catalog, pg_temp)]
fn _create_doc_as_caller(doc: Option<&str>, root_kind: Option<&str>, root_props: Option<&str>) -> i64 {
    let r: Result<i64> = create_doc_args(doc, root_kind, root_props).and_then(|(doc, kind, props)| {
        crate::refusals::check_writable(doc, "create");
        crate::sql::connect(|c| documents::create(c, doc, kind, &props, &limits()))
    });
    r.or_raise()
}

/// The C symbol `_create_doc_wrapper` that the 0.1.0 install script binds
/// `nodesync._create_doc` to: 0.1.0's creation (as the owner, no INSERT policy check), for
/// databases not yet updated. Not part of the 0.2.0 schema (`sql = false`).
#[pg_extern(sql = false)]
fn _create_doc(doc: Option<&str>, root_kind: Option<&str>, root_props: Option<&str>) -> i64 {
    let r: Result<i64> = create_doc_args(doc, root_kind, root_props).and_then(|(doc, kind, props)| {
        crate::refusals::check_writable(doc, "create");
        crate::sql::connect(|c| documents::create_0_1_0(c, doc, kind, &props, &limits()))
    });
    r.or_raise()
}

/// Drops a document and all its history. `expected_gen` NULL skips the gen check.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn drop_doc(doc: Option<&str>, expected_gen: Option<i64>) {
    on_doc(doc, |c, doc| {
        crate::refusals::check_writable(doc, "drop");
        documents::drop(c, doc, expected_gen)
    })
}

/// How the caller answers a refusal: apply_patch raises it (the transaction, or the
/// caller's subtransaction, is rolled back), try_apply_patch returns it.
#[derive(Clone, Copy, PartialEq)]
enum Refusals {
    Raised,
    Returned,
}

/// The shared body of apply_patch and try_apply_patch. `Err` is raised by the caller;
/// conflicts come back as `Ok(Err(..))` so try_apply_patch can return them.
fn apply(
    doc: Option<&str>,
    patch: Option<&str>,
    client: Option<&str>,
    seq: Option<i64>,
    refusals: Refusals,
) -> Result<std::result::Result<PatchResult, Error>> {
    let doc = doc_arg(doc)?;
    crate::refusals::check_writable(doc, "apply a patch to");
    apply_to(doc, patch, client, seq, refusals).map_err(|e| e.in_doc(doc))
}

fn apply_to(
    doc: &str,
    patch: Option<&str>,
    client: Option<&str>,
    seq: Option<i64>,
    refusals: Refusals,
) -> Result<std::result::Result<PatchResult, Error>> {
    let patch = json_arg("patch", patch.ok_or_else(|| Error::InvalidArgument("patch must not be NULL".into()))?)?;
    if seq.is_some() && client.is_none() {
        return Err(Error::InvalidArgument("seq given without client: (client, seq) go together".into()));
    }
    if let Some(c) = client {
        check_name("client", c).map_err(Error::InvalidArgument)?;
    }
    let limits = limits();
    let parsed = parse(&patch, &limits)?;
    crate::sql::connect(|c| {
        // an empty patch without a seq takes no lock
        if seq.is_none() && parsed.ops.is_empty() {
            let d = documents::get(c, doc)?;
            return before_evaluate(doc, &parsed, d.gen).map(|r| Ok(r.unwrap_or(PatchResult::unchanged(d.gen))));
        }
        // the caller's write access, and the per-document commit lock: taken by advancing the
        // gen as the owner where no policy applies (one write less per commit), else as the
        // caller (`SELECT ... FOR UPDATE` under the RLS policies). Only for a patch that either
        // commits or raises: a refusal try_apply_patch returns, and a duplicate (client, seq),
        // leave no trace, not even a row version (tests: reliability's fuzz-sql).
        let claimed = refusals == Refusals::Raised
            && seq.is_none()
            && !parsed.ops.is_empty()
            && crate::guc::DIRECT_COMMIT.get()
            && crate::access::writes_by_privilege();
        let (d, _owner) = if claimed {
            let owner = AsOwner::enter()?;
            (documents::claim(c, doc)?, owner)
        } else {
            let d = documents::lock(c, doc)?;
            (d, AsOwner::enter()?)
        };
        if let (Some(who), Some(seq)) = (client, seq) {
            if let Some(dup) = commit::duplicate(c, d.id, d.gen, who, seq)? {
                return Ok(Ok(dup));
            }
        }
        if let Some(r) = before_evaluate(doc, &parsed, d.gen)? {
            return Ok(Ok(r));
        }
        let mut store = SpiStore::new(c, d.id);
        match evaluate(&mut store, &parsed, limits)? {
            Outcome::Conflicts(conflicts) => Ok(Err(Error::Conflict { doc: doc.to_string(), gen: d.gen, conflicts })),
            Outcome::Plan(plan) => {
                check_growth(doc, d.live_nodes, &plan, &limits)?;
                let gen = d.gen + 1;
                commit::commit(c, doc, d.id, gen, &plan, &patch, &Origin { client, seq }, claimed, &limits)?;
                Ok(Ok(PatchResult::committed(gen, &plan)))
            }
        }
    })
}

/// `nodesync.apply_patch(doc, patch, client, seq)`: applies a patch atomically; raises 40001
/// with the conflicts as JSON DETAIL. The C function itself (0.4.0), no SQL wrapper.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn apply_patch(
    doc: Option<&str>,
    patch: Option<JsonbText>,
    client: default!(Option<&str>, "NULL"),
    seq: default!(Option<i64>, "NULL"),
) -> JsonB {
    JsonB(apply_result(apply(doc, patch.as_ref().map(|p| p.0.as_str()), client, seq, Refusals::Raised)))
}

/// `nodesync.try_apply_patch(doc, patch, client, seq)`: like apply_patch, but returns
/// conflicts as `{"ok": false, ...}` instead of raising.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn try_apply_patch(
    doc: Option<&str>,
    patch: Option<JsonbText>,
    client: default!(Option<&str>, "NULL"),
    seq: default!(Option<i64>, "NULL"),
) -> JsonB {
    JsonB(try_result(apply(doc, patch.as_ref().map(|p| p.0.as_str()), client, seq, Refusals::Returned)))
}

type Applied = Result<std::result::Result<PatchResult, Error>>;

fn apply_result(r: Applied) -> Value {
    match r {
        Ok(Ok(r)) => r.to_json(),
        Ok(Err(e)) | Err(e) => crate::errors::raise(e),
    }
}

fn try_result(r: Applied) -> Value {
    match r {
        Ok(Ok(r)) => r.to_try_json(),
        Ok(Err(Error::Conflict { gen, conflicts, .. })) => refusal_json(gen, &conflicts),
        Ok(Err(e)) | Err(e) => crate::errors::raise(e),
    }
}

/// The C symbols `_apply_patch_wrapper` and `_try_apply_patch_wrapper` that the install
/// scripts of 0.1.0–0.3.0 bind `nodesync._apply_patch` / `_try_apply_patch` to (the patch as
/// text, the result as text, behind SQL wrappers), for databases not yet updated. Not part of
/// the 0.4.0 schema (`sql = false`).
#[pg_extern(sql = false)]
fn _apply_patch(doc: Option<&str>, patch: Option<&str>, client: Option<&str>, seq: Option<i64>) -> String {
    apply_result(apply(doc, patch, client, seq, Refusals::Raised)).to_string()
}

#[pg_extern(sql = false)]
fn _try_apply_patch(doc: Option<&str>, patch: Option<&str>, client: Option<&str>, seq: Option<i64>) -> String {
    try_result(apply(doc, patch, client, seq, Refusals::Returned)).to_string()
}

/// Drops log and history at or below `upto_gen`; returns the new horizon.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn compact(doc: Option<&str>, upto_gen: Option<i64>) -> i64 {
    on_doc(doc, |c, doc| {
        crate::refusals::check_writable(doc, "compact");
        let upto = upto_gen.ok_or_else(|| Error::InvalidArgument("upto_gen must not be NULL".into()))?;
        let d = documents::lock(c, doc)?;
        let _owner = AsOwner::enter()?;
        if upto < 0 || upto > d.gen {
            return Err(Error::InvalidArgument(format!(
                "upto_gen {upto} is out of range: document \"{doc}\" is at gen {}",
                d.gen
            ))
            .names_doc());
        }
        if upto <= d.horizon {
            return Ok(d.horizon);
        }
        commit::compact(c, d.id, upto)?;
        Ok(upto)
    })
}

/// Helper for nodesync.snapshot(): the snapshot as JSON text.
#[pg_extern(stable)]
#[search_path(pg_catalog, pg_temp)]
fn _snapshot_text(doc: Option<&str>, at_gen: Option<i64>) -> String {
    on_doc(doc, |c, doc| read::snapshot(c, doc, at_gen))
}

/// Helper for nodesync.diff_since(): the diff as JSON text.
#[pg_extern(stable)]
#[search_path(pg_catalog, pg_temp)]
fn _diff_text(doc: Option<&str>, since: Option<i64>) -> String {
    on_doc(doc, |c, doc| read::diff(c, doc, since))
}

/// Helper for the SQL read functions: the document's internal id (42704 if unknown).
#[pg_extern(stable)]
#[search_path(pg_catalog, pg_temp)]
fn _doc_id(doc: Option<&str>) -> i64 {
    on_doc(doc, |c, doc| documents::get(c, doc).map(|d| d.id))
}

/// Helper for changes_since(): checks `since` against the document's gen and horizon.
#[pg_extern(stable)]
#[search_path(pg_catalog, pg_temp)]
fn _check_history(doc: Option<&str>, since: Option<i64>, what: Option<&str>) -> i64 {
    let what: &'static str = match what {
        Some("changes_since") => "changes_since",
        _ => "history",
    };
    on_doc(doc, |c, doc| read::check_history(c, doc, since, what))
}

/// Helper for nodesync.node_history(): one node's versions above the horizon, oldest first;
/// `state` is JSON text (NULL for the deletion).
#[pg_extern(stable)]
#[search_path(pg_catalog, pg_temp)]
fn _node_history(
    doc: Option<&str>,
    key: Option<&str>,
) -> TableIterator<'static, (name!(version, i64), name!(gen, i64), name!(client, Option<String>), name!(state, Option<String>))> {
    TableIterator::new(on_doc(doc, |c, doc| read::node_history(c, doc, key)))
}
