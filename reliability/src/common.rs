//! Shared pieces: the server (from `nodesync_testkit`), check/figure reporting, error
//! classification, writers' patches, and `verify_doc`, the full consistency check of one document
//! (gap-free gens, complete change rows, node histories, replay of the log into the
//! reference model compared with `snapshot(doc, g)`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use nodesync_core::reference::{random_patch, Applied, Doc, Model, Rng};
pub use nodesync_core::patch::shorten_to;
use nodesync_core::patch::{parse, Limits};
pub use nodesync_testkit::model_doc;
use nodesync_testkit::{flatten_snapshot, Server};
use postgres::Client;
use serde_json::{Map, Value};

pub static FAILED: AtomicUsize = AtomicUsize::new(0);
pub static PASSED: AtomicUsize = AtomicUsize::new(0);

/// Prints one check result: `CHECK ok <name>: <detail>` or `CHECK FAIL <name>: <detail>`.
pub fn check(name: &str, ok: bool, detail: impl AsRef<str>) {
    if ok {
        PASSED.fetch_add(1, Ordering::SeqCst);
        println!("CHECK ok {name}: {}", detail.as_ref());
    } else {
        FAILED.fetch_add(1, Ordering::SeqCst);
        println!("CHECK FAIL {name}: {}", detail.as_ref());
    }
}

/// Prints a figure for the summary: `FIGURE <name>=<value>`.
pub fn figure(name: &str, value: impl std::fmt::Display) {
    println!("FIGURE {name}={value}");
}

/// The server of PGHOST, PGPORT and PGUSER (default `postgres`; scripts/reliability.sh sets
/// them), sessions giving up after 10 s.
pub fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let s = Server::from_env_or_user(Some("postgres")).unwrap_or_else(|e| panic!("{e}"));
        Server { connect_timeout: Some(10), ..s }
    })
}

/// A fresh database `db` with the extension created (waiting up to a minute for the server).
pub fn fresh_db(db: &str) {
    let mut admin = server().connect_retry("postgres", "nsrel-admin", Duration::from_secs(60)).expect("connect to postgres");
    server().fresh_database(&mut admin, db, "nsrel-admin");
}

/// How a failed call failed.
#[derive(Debug, Clone)]
pub enum Fail {
    /// 40001: the patch was refused (conflict).
    Conflict,
    /// The connection or server went away: the outcome is unknown.
    Lost(String),
    /// Any other server error: `(sqlstate, message)`.
    Other(String, String),
}

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fail::Conflict => write!(f, "40001 conflict"),
            Fail::Lost(m) => write!(f, "connection lost: {m}"),
            Fail::Other(code, m) => write!(f, "{code} {m}"),
        }
    }
}

pub fn classify(e: &postgres::Error) -> Fail {
    match e.as_db_error() {
        Some(d) => {
            let code = d.code().code().to_string();
            if code == "40001" {
                Fail::Conflict
            } else if code.starts_with("57P") || code.starts_with("08") {
                Fail::Lost(format!("{code} {}", d.message()))
            } else {
                Fail::Other(code, d.message().to_string())
            }
        }
        None => Fail::Lost(e.to_string()),
    }
}

/// Renames the keys created by a `random_patch` so that writers never collide: `n5` → `w3.n5`.
/// A writer's next patch: 1–3 random ops (valid or conflicting) against the document as `snap`
/// shows it, created keys prefixed with the writer's name; `None` if no op could be made.
pub fn writer_patch(snap: &Value, rng: &mut Rng, next_key: &mut u32, me: &str) -> Option<Value> {
    let d = model_doc(snap);
    // random_patch also makes text ops that do not fit (22023 by design); a writer sends
    // only patches that are valid against what it saw (they may still conflict)
    let mut patch = Value::Null;
    for _ in 0..16 {
        let nops = 1 + rng.below(3) as usize;
        let s = rng.seed(4 * nops);
        patch = random_patch(&d, &s, next_key);
        fit_text_ops(&mut patch, &d);
        // judged with every version made current: a stale version that conflicts on the
        // snapshot may be current on the server by the time the patch arrives
        let mut current = patch.clone();
        for op in current["ops"].as_array_mut().into_iter().flatten() {
            versions_as_seen(op, &d);
        }
        let valid = nodesync_core::patch::parse(&current, &nodesync_core::Limits::default())
            .map(|p| !matches!(Model { history: vec![d.clone()], deleted_at: BTreeMap::new() }.apply(&p), Applied::Invalid(_)))
            .unwrap_or(false);
        if valid {
            break;
        }
        patch = Value::Null;
    }
    prefix_created_keys(&mut patch, me);
    if patch["ops"].as_array().is_none_or(|a| a.is_empty()) {
        return None;
    }
    Some(patch)
}

/// Sets an op's `version` (and a join's `next_version`) to the version its node has in `d`.
fn versions_as_seen(op: &mut Value, d: &Doc) {
    for (field, key) in [("version", "key"), ("next_version", "next")] {
        if let Some(n) = op[key].as_str().and_then(|k| d.nodes.get(k)) {
            if op.get(field).is_some() {
                op[field] = Value::from(n.version);
            }
        }
    }
}

/// Makes the text ops of a writer's patch fit what the writer saw, as a correct client's do
/// (the server may still refuse them for a version, but never as invalid): versions as seen
/// (a deliberately stale one could be current on the server with another text), the string
/// prop `t`, offsets clamped to the text, and no text op on a node an earlier op of the patch
/// touched (its text there is not the snapshot's).
pub fn fit_text_ops(patch: &mut Value, d: &Doc) {
    let Some(ops) = patch.get_mut("ops").and_then(Value::as_array_mut) else { return };
    let mut touched: BTreeSet<String> = BTreeSet::new();
    let text_of = |k: &str| -> Vec<char> {
        d.nodes.get(k).and_then(|n| n.props.get("t")).and_then(Value::as_str).unwrap_or("").chars().collect()
    };
    ops.retain_mut(|op| {
        let names: Vec<String> = ["key", "next", "new"].iter().filter_map(|f| op[*f].as_str().map(str::to_string)).collect();
        let is_text = matches!(op["op"].as_str(), Some("text" | "split" | "join"));
        let keep = !is_text
            || names.iter().all(|k| !touched.contains(k) && (op["new"].as_str() == Some(k.as_str()) || d.nodes.contains_key(k)));
        touched.extend(names);
        if !keep || !is_text {
            return keep;
        }
        versions_as_seen(op, d);
        op["prop"] = Value::from("t");
        let mut t = text_of(op["key"].as_str().unwrap_or_default());
        if let Some(at) = op.get("at").and_then(Value::as_u64) {
            op["at"] = Value::from((at as usize).min(t.len()));
        }
        if let Some(edits) = op.get_mut("edits").and_then(Value::as_array_mut) {
            for e in edits.iter_mut() {
                let at = e[0].as_u64().unwrap_or(0) as usize;
                let at = at.min(t.len());
                let del = (e[1].as_u64().unwrap_or(0) as usize).min(t.len() - at);
                let ins = e[2].as_str().unwrap_or("").to_string();
                t.splice(at..at + del, ins.chars());
                *e = serde_json::json!([at, del, ins]);
            }
        }
        true
    });
}

pub fn prefix_created_keys(patch: &mut Value, prefix: &str) {
    if let Some(ops) = patch.get_mut("ops").and_then(Value::as_array_mut) {
        for op in ops {
            if op["op"] == "create" {
                let k = op["key"].as_str().unwrap_or_default().to_string();
                op["key"] = Value::from(format!("{prefix}.{k}"));
            }
            // a split's new key is fresh unless it names an existing (prefixed) key
            if op["op"] == "split" {
                let k = op["new"].as_str().unwrap_or_default().to_string();
                if !k.contains('.') && k != "root" {
                    op["new"] = Value::from(format!("{prefix}.{k}"));
                }
            }
        }
    }
}

/// Which generations `verify_doc` compares with `snapshot(doc, g)`.
#[derive(Debug, Clone, Copy)]
pub enum Snaps {
    /// Every generation.
    All,
    /// About `n` generations spread over the log, and the last one.
    Sample(usize),
}

/// What verify_doc found.
#[derive(Debug, Default, Clone)]
pub struct DocStats {
    pub gen: i64,
    pub changes: usize,
    pub snapshots_compared: usize,
    pub keys: usize,
    pub history_rows: usize,
    /// Snapshots too deeply nested for serde_json (not compared).
    pub too_deep: usize,
    /// Logged patches serde_json cannot read: the replay of the document stops there.
    pub unreadable_patches: usize,
    /// (client, seq) -> (gen, versions, patch) of every logged change.
    pub log: BTreeMap<(String, i64), (i64, Value, Value)>,
    pub problems: Vec<String>,
}

/// Checks one document (no compaction expected: horizon 0):
/// - gens are gap-free: the log (`changes_since(doc, 0)`) has exactly gens 2..=gen;
/// - each (client, seq) appears at most once in the log;
/// - replaying the logged patches into the reference model commits each at its logged gen
///   with its logged `versions`;
/// - every change row is complete: its `versions` equal the `node_history` rows of that gen
///   (a version for live states, null for deletions), and no history row has a gen without a
///   change row;
/// - each key's versions in `node_history` are exactly 1..=its current version (so the version
///   equals the number of history rows, tombstones included);
/// - `snapshot(doc, g)` equals the model after gen g, for the chosen gens, and `snapshot(doc)`
///   equals the model's final state.
pub fn verify_doc(c: &mut Client, doc: &str, snaps: Snaps) -> DocStats {
    let mut st = DocStats::default();
    let bad = |st: &mut DocStats, m: String| {
        if st.problems.len() < 30 {
            st.problems.push(m);
        }
    };
    let row = match c.query_one("SELECT gen, horizon FROM nodesync.documents WHERE doc = $1", &[&doc]) {
        Ok(r) => r,
        Err(e) => {
            bad(&mut st, format!("{doc}: cannot read document row: {e}"));
            return st;
        }
    };
    let (gen, horizon): (i64, i64) = (row.get(0), row.get(1));
    st.gen = gen;
    if horizon != 0 {
        bad(&mut st, format!("{doc}: horizon {horizon}, expected 0 (no compaction here)"));
    }
    let rows = match c.query(
        "SELECT cs.gen, cs.client, cs.seq, cs.patch::text, c.versions::text
           FROM nodesync.changes_since($1, 0) cs
           LEFT JOIN nodesync.change c ON c.doc_id = nodesync._doc_id($1) AND c.gen = cs.gen
          ORDER BY cs.gen",
        &[&doc],
    ) {
        Ok(r) => r,
        Err(e) => {
            bad(&mut st, format!("{doc}: changes_since failed: {e}"));
            return st;
        }
    };
    st.changes = rows.len();
    // gap-free
    let gens: Vec<i64> = rows.iter().map(|r| r.get::<_, i64>(0)).collect();
    let want: Vec<i64> = (2..=gen).collect();
    if gens != want {
        let missing: Vec<i64> = want.iter().filter(|g| !gens.contains(g)).take(10).cloned().collect();
        bad(&mut st, format!("{doc}: log gens are not exactly 2..={gen}: {} rows, missing e.g. {missing:?}", gens.len()));
    }
    let mut versions_by_gen: BTreeMap<i64, Value> = BTreeMap::new();
    for r in &rows {
        let g: i64 = r.get(0);
        let client: Option<String> = r.get(1);
        let seq: Option<i64> = r.get(2);
        // (read as text: a patch serde_json cannot read, e.g. nested deeper than its limit, is
        // counted and ends the replay of this document, see below)
        let patch: Value = serde_json::from_str(r.get::<_, &str>(3)).unwrap_or(Value::Null);
        let versions: Option<&str> = r.get(4);
        let versions = versions.and_then(|v| serde_json::from_str(v).ok()).unwrap_or(Value::Null);
        if let (Some(cl), Some(s)) = (client, seq) {
            if st.log.insert((cl.clone(), s), (g, versions.clone(), patch)).is_some() {
                bad(&mut st, format!("{doc}: (client {cl}, seq {s}) is logged more than once"));
            }
        }
        versions_by_gen.insert(g, versions);
    }
    // which gens to compare with snapshot(doc, g)
    let chosen: BTreeSet<i64> = match snaps {
        Snaps::All => (1..=gen).collect(),
        Snaps::Sample(n) => {
            let step = ((gen as usize) / n.max(1)).max(1) as i64;
            let mut s: BTreeSet<i64> = (1..=gen).step_by(step as usize).collect();
            s.insert(gen);
            s.insert(1);
            s
        }
    };
    // replay
    let lim = Limits { max_ops: usize::MAX, max_props_bytes: usize::MAX, max_depth: usize::MAX, ..Limits::default() };
    let mut model = Model::new("doc", Map::new());
    let mut gone: BTreeSet<String> = BTreeSet::new();
    let compare = |c: &mut Client, st: &mut DocStats, g: i64, model: &Model| {
        match c.query_one("SELECT nodesync.snapshot($1, $2)::text", &[&doc, &g]) {
            Ok(r) => {
                // a document whose props nest deeper than serde_json's limit (128) cannot be
                // read here: such snapshots are counted, not compared
                let Ok(s) = serde_json::from_str::<Value>(r.get::<_, &str>(0)) else {
                    st.too_deep += 1;
                    return;
                };
                match flatten_snapshot(&s) {
                    Ok(flat) => {
                        let want = model.current().flat();
                        if flat != want {
                            let diff: Vec<&String> = flat
                                .keys()
                                .chain(want.keys())
                                .filter(|k| flat.get(*k) != want.get(*k))
                                .take(5)
                                .collect();
                            let k = diff.first().map(|k| k.to_string()).unwrap_or_default();
                            let m = format!(
                                "{doc}: snapshot at gen {g} differs from the replayed log at keys {diff:?}: server {:?} vs replay {:?}",
                                flat.get(&k),
                                want.get(&k)
                            );
                            if st.problems.len() < 30 {
                                st.problems.push(shorten_to(&m, 600));
                            }
                        }
                    }
                    Err(e) => st.problems.push(format!("{doc}: snapshot at gen {g} malformed: {e}")),
                }
                st.snapshots_compared += 1;
            }
            Err(e) => st.problems.push(format!("{doc}: snapshot({g}) failed: {e}")),
        }
    };
    if chosen.contains(&1) {
        compare(c, &mut st, 1, &model);
    }
    for r in &rows {
        let g: i64 = r.get(0);
        let Ok(patch) = serde_json::from_str::<Value>(r.get::<_, &str>(3)) else {
            st.unreadable_patches += 1;
            st.too_deep += 1;
            return st;
        };
        let want_versions = versions_by_gen.get(&g).cloned().unwrap_or(Value::Null);
        match parse(&patch, &lim) {
            Err(e) => bad(&mut st, format!("{doc}: logged patch of gen {g} does not parse: {e}")),
            Ok(p) => match {
                // keys are never reused: checked here against every key deleted so far, so
                // that the model's own set can stay empty (it is cloned on every apply)
                for op in &p.ops {
                    if let nodesync_core::Op::Create { key, .. } = op {
                        if gone.contains(key) {
                            bad(&mut st, format!("{doc}: gen {g} re-creates the deleted key {key:?}"));
                        }
                    }
                }
                let r = model.apply(&p);
                if let Some(last) = model.history.last_mut() {
                    // (not BTreeSet::append: that rebuilds the whole set every time)
                    for k in std::mem::take(&mut last.deleted) {
                        gone.insert(k);
                    }
                }
                r
            } {
                Applied::Committed { gen: mg, versions } => {
                    let vj: Map<String, Value> =
                        versions.iter().map(|(k, v)| (k.clone(), v.map_or(Value::Null, Value::from))).collect();
                    if mg != g {
                        bad(&mut st, format!("{doc}: replay committed gen {mg} for logged gen {g}"));
                    }
                    if Value::Object(vj.clone()) != want_versions {
                        bad(&mut st, format!("{doc}: gen {g}: logged versions {want_versions} but replay gives {}", Value::Object(vj)));
                    }
                }
                other => bad(&mut st, format!("{doc}: logged patch of gen {g} does not commit on replay: {other:?}")),
            },
        }
        // keep one copy of the document only (Model keeps one per gen)
        if model.history.len() > 2 {
            model.history.drain(..model.history.len() - 1);
        }
        if chosen.contains(&g) {
            compare(c, &mut st, g, &model);
        }
    }
    // current snapshot == final replay
    match c.query_one("SELECT nodesync.snapshot($1)::text", &[&doc]) {
        Ok(r) => match serde_json::from_str::<Value>(r.get::<_, &str>(0)) {
            Err(_) => st.too_deep += 1,
            Ok(s) => {
            let ok = flatten_snapshot(&s).map(|f| f == model.current().flat()).unwrap_or(false);
            if !ok {
                bad(&mut st, format!("{doc}: snapshot(doc) differs from the replayed log"));
            }
            if s["gen"].as_i64() != Some(gen) {
                bad(&mut st, format!("{doc}: snapshot gen {} but documents.gen {gen}", s["gen"]));
            }
            }
        },
        Err(e) => bad(&mut st, format!("{doc}: snapshot failed: {e}")),
    }
    // node histories, all keys (tombstones included)
    let hist = match c.query(
        "SELECT t.key, t.version, h.version, h.gen, h.state IS NULL
           FROM nodesync.tree t
           JOIN nodesync.documents d ON d.id = t.doc_id AND d.doc = $1
           LEFT JOIN LATERAL nodesync.node_history($1, t.key) h ON true
          ORDER BY t.key, h.version",
        &[&doc],
    ) {
        Ok(r) => r,
        Err(e) => {
            bad(&mut st, format!("{doc}: node_history failed: {e}"));
            return st;
        }
    };
    st.history_rows = hist.len();
    let mut per_key: BTreeMap<String, (i64, Vec<i64>)> = BTreeMap::new();
    let mut by_gen: BTreeMap<i64, Map<String, Value>> = BTreeMap::new();
    for r in &hist {
        let key: String = r.get(0);
        let cur: i64 = r.get(1);
        let hv: Option<i64> = r.get(2);
        let e = per_key.entry(key.clone()).or_insert((cur, vec![]));
        if let Some(v) = hv {
            e.1.push(v);
            let hg: i64 = r.get(3);
            let null: bool = r.get(4);
            by_gen.entry(hg).or_default().insert(key, if null { Value::Null } else { Value::from(v) });
        }
    }
    st.keys = per_key.len();
    for (k, (cur, vs)) in &per_key {
        let want: Vec<i64> = (1..=*cur).collect();
        if vs != &want {
            bad(&mut st, format!("{doc}: key {k:?} is at version {cur} but node_history has versions {:?}", shorten_to(&format!("{vs:?}"), 120)));
        }
    }
    for (g, m) in &by_gen {
        if *g == 1 {
            if m.len() != 1 || !m.contains_key("root") {
                bad(&mut st, format!("{doc}: history rows at gen 1 other than the root: {:?}", m.keys().take(5).collect::<Vec<_>>()));
            }
            continue;
        }
        match versions_by_gen.get(g) {
            None => bad(&mut st, format!("{doc}: node_history has rows at gen {g} but the log has no change {g}")),
            Some(v) => {
                if v != &Value::Object(m.clone()) {
                    bad(&mut st, format!("{doc}: change {g} is incomplete: versions {} but history rows {}", shorten_to(&v.to_string(), 200), shorten_to(&Value::Object(m.clone()).to_string(), 200)));
                }
            }
        }
    }
    for (g, v) in &versions_by_gen {
        if !by_gen.contains_key(g) && v.as_object().is_some_and(|m| !m.is_empty()) {
            bad(&mut st, format!("{doc}: change {g} has versions {v} but no node_history rows"));
        }
    }
    st
}

/// The server log from byte `from`, and lines matching crash patterns.
pub fn log_crash_lines(path: &str, from: u64) -> Vec<String> {
    let text = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&text[(from as usize).min(text.len())..]).to_string();
    text.lines()
        .filter(|l| {
            l.contains("PANIC")
                || l.contains("segmentation fault")
                || l.contains("terminated by signal")
                || l.contains("was terminated by")
                || l.contains("exited with exit code")
                || l.contains("server process") && l.contains("crash")
        })
        .map(|l| shorten_to(l, 300))
        .collect()
}

pub fn file_len(path: &str) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}
