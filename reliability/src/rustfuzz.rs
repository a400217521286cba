//! A bounded in-process fuzzer of the pure core (no Postgres): hostile texts (see
//! `hostile.rs`) and raw random bytes go through serde_json → `patch::parse` → the engine on a
//! `MemStore`, differentially against the reference `Model`. Fixed seed, N iterations.
//! Checks: no panic anywhere; parse and the engine never disagree with the model on what a
//! valid patch does (commit with the same versions, or the same conflicts), and the two
//! documents stay equal. The same target exists for cargo-fuzz in fuzz/.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use nodesync_core::engine::{evaluate, Outcome};
use nodesync_core::reference::{random_patch, Applied, Model, Rng};
use nodesync_core::patch::{parse, Limits};
use nodesync_core::memstore::MemStore;
use nodesync_core::{Error, Reason};
use serde_json::{Map, Value};

use crate::common::{check, figure, shorten_to};
use crate::hostile::hostile_patch;

/// One fuzz input through the whole core. `Err(description)` on a disagreement.
pub fn one(bytes: &[u8], limits: Limits, model: &mut Model, store: &mut MemStore, hist: &mut Vec<Value>) -> Result<&'static str, String> {
    let v: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(_) => return Ok("not-json"),
    };
    let patch = match parse(&v, &limits) {
        Ok(p) => p,
        Err(e) => {
            // every parse error is a 22023 with a message
            if e.sqlstate().code() != "22023" || e.to_string().is_empty() {
                return Err(format!("parse error with sqlstate {}: {e}", e.sqlstate().code()));
            }
            return Ok("invalid");
        }
    };
    // round trip: the parsed patch renders to JSON that parses to the same patch
    match parse(&patch.to_json(), &Limits { max_ops: usize::MAX, max_props_bytes: usize::MAX, max_depth: usize::MAX, ..Limits::default() }) {
        Ok(p2) if p2 == patch => {}
        other => return Err(format!("patch does not round-trip through to_json: {other:?}")),
    }
    if patch.base.is_some_and(|b| b > store.gen) {
        return Ok("base-after-gen");
    }
    if limits != Limits::default() {
        // tiny limits: the model knows no limits, so only "no panic, no other error" here
        let mut scratch = store.clone();
        return match evaluate(&mut scratch, &patch, limits) {
            // (and text ops that do not fit: the model knows no limits to compare with)
            Ok(_) | Err(Error::Limit { .. } | Error::InvalidPatch { op: Some(_), .. }) => Ok("tiny-limits"),
            Err(e) => Err(format!("engine error under limits {limits:?}: {e}")),
        };
    }
    let want = model.apply(&patch);
    let got = match evaluate(store, &patch, limits) {
        Ok(o) => o,
        Err(Error::Limit { .. }) => return Ok("limit"),
        // a text op that does not fit the current text: the model must agree on the op
        Err(Error::InvalidPatch { op: Some(i), .. }) if want == Applied::Invalid(i) => return Ok("invalid-text"),
        Err(e) => return Err(format!("engine error {e} (model: {want:?})")),
    };
    match (&want, got) {
        (Applied::Committed { versions, .. }, Outcome::Plan(plan)) => {
            let gv: BTreeMap<String, Option<i64>> = plan.versions.iter().map(|(k, v)| (k.clone(), v.as_i64())).collect();
            if versions != &gv {
                return Err(format!("versions: model {versions:?}, engine {gv:?}"));
            }
            store.apply(&plan);
            hist.push(patch.to_json());
            if model.history.len() > 2 {
                model.history.drain(..model.history.len() - 1);
            }
            let (a, b) = (model.current().flat(), store.flat());
            if a != b {
                return Err("documents differ after commit".into());
            }
            Ok("committed")
        }
        (Applied::Empty { .. }, Outcome::Plan(plan)) if plan.is_empty() => Ok("empty"),
        (Applied::Refused(w), Outcome::Conflicts(g)) => {
            let g: Vec<(usize, Reason)> = g.iter().map(|c| (c.op, c.reason)).collect();
            if w != &g {
                return Err(format!("conflicts: model {w:?}, engine {g:?}"));
            }
            Ok("conflict")
        }
        (w, g) => Err(format!("model {w:?}, engine {g:?}")),
    }
}

pub fn run(n: u64, seed: u64, outdir: &str) {
    let t0 = Instant::now();
    let _ = std::fs::create_dir_all(outdir);
    let mut rng = Rng(seed | 1);
    crate::hostile::HEAVY.store(5, std::sync::atomic::Ordering::Relaxed);
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    let mut failures: Vec<String> = vec![];
    let mut model = Model::new("doc", Map::new());
    let mut store = MemStore::new("doc", Map::new());
    let mut next_key = 0u32;
    let mut hist: Vec<Value> = vec![];
    // silence the default panic output: panics are reported as failures below
    let prev = std::panic::take_hook();
    if std::env::var("RELIABILITY_SHOW_PANICS").is_err() {
        std::panic::set_hook(Box::new(|_| {}));
    }
    for i in 0..n {
        if i % 2000 == 0 {
            model = Model::new("doc", Map::new());
            store = MemStore::new("doc", Map::new());
            hist.clear();
        }
        let bytes: Vec<u8> = match rng.below(20) {
            0 => {
                let len = rng.below(64);
                (0..len).map(|_| rng.below(256) as u8).collect()
            }
            1..=4 => {
                // grow the document with valid patches
                let k = 4 * (1 + rng.below(4) as usize);
                let s = rng.seed(k);
                random_patch(model.current(), &s, &mut next_key).to_string().into_bytes()
            }
            _ => hostile_patch(&mut rng, model.current(), &mut next_key, 5).1.into_bytes(),
        };
        let limits = if rng.below(10) == 0 {
            Limits { max_ops: rng.below(5) as usize, max_props_bytes: rng.below(64) as usize, max_key_bytes: 1 + rng.below(8) as usize, max_depth: rng.below(4) as usize, max_nodes: usize::MAX }
        } else {
            Limits::default()
        };
        let r = catch_unwind(AssertUnwindSafe(|| one(&bytes, limits, &mut model, &mut store, &mut hist)));
        let (tag, err) = match r {
            Ok(Ok(t)) => (t.to_string(), None),
            Ok(Err(e)) => ("disagreement".to_string(), Some(e)),
            Err(p) => {
                let m = p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default();
                ("panic".to_string(), Some(format!("panic: {m}")))
            }
        };
        *outcomes.entry(tag).or_default() += 1;
        if let Some(e) = err {
            let f = format!("{outdir}/rustfuzz-{i}.json");
            // the input, and the patches committed before it on a fresh document: a full repro
            let input = String::from_utf8_lossy(&bytes).into_owned();
            let repro = serde_json::json!({"history": hist, "input": input, "limits": format!("{limits:?}")});
            let _ = std::fs::write(&f, repro.to_string());
            if failures.len() < 20 {
                failures.push(format!("input {i} ({f}): {}", shorten_to(&e, 300)));
            }
            // start over from a clean document: the two may have diverged
            model = Model::new("doc", Map::new());
            store = MemStore::new("doc", Map::new());
            hist.clear();
        }
    }
    std::panic::set_hook(prev);
    check(
        "fuzz-rust-core",
        failures.is_empty(),
        if failures.is_empty() {
            format!("{n} inputs through serde_json → parse → engine on MemStore vs the model: no panic, no disagreement; {outcomes:?}")
        } else {
            format!("{} failing inputs: {}", failures.len(), failures.iter().take(5).cloned().collect::<Vec<_>>().join(" | "))
        },
    );
    figure("fuzz_rust_inputs", n);
    figure("fuzz_rust_outcomes", format!("{outcomes:?}").replace(' ', ""));
    figure("fuzz_rust_secs", format!("{:.1}", t0.elapsed().as_secs_f64()));
}
