//! The targets of a full run, evaluated from the workloads' results: printed with PASS or MISS
//! (never a failure) and kept in results.txt and results.json.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::cfg::Cfg;
use crate::db::Sys;
use crate::report::Report;
use crate::runner::Mode;
use crate::workloads::diffs::DiffSeries;
use crate::workloads::roles::SCENARIOS;
use crate::workloads::Docs;

/// What the targets read: workloads 1, 2 and 9 per commit mode (their JSON), workload 3's
/// series, workload 5's (cold, warm) WAL bytes per edit per system.
pub struct Inputs<'a> {
    pub w1: &'a BTreeMap<&'static str, Value>,
    pub w2: &'a BTreeMap<&'static str, Value>,
    pub w9: &'a BTreeMap<&'static str, Value>,
    pub diffs: &'a DiffSeries,
    pub wal: &'a BTreeMap<Sys, (f64, f64)>,
}

pub fn evaluate(cfg: &Cfg, docs: &Docs, r: &Inputs<'_>, rep: &mut Report) {
    let (w1r, w2r, diffs, wal) = (r.w1, r.w2, r.diffs, r.wal);
    println!();
    println!("== targets");
    let big_label = docs.sizes.last().unwrap().0.clone();
    let small_label = docs.sizes.first().unwrap().0.clone();
    let snap_label = docs.sizes.iter().find(|s| s.2 == cfg.snap_max).unwrap().0.clone();
    for mode in [Mode::Durable, Mode::Async] {
        let m = mode.name();
        let w1m = &w1r[m];
        for sc in ["1 client", "8 clients, 1 doc", "8 clients, 8 docs"] {
            let r = w1m[sc]["ratio_to_floor"].as_f64().unwrap_or(0.0);
            rep.target(&format!("one-node edit, {sc} ({m}) >= 0.9x floor"), format!("{r:.2}x"), r >= 0.9);
        }
        let w2m = &w2r[m];
        let r = w2m[&snap_label]["results"]["ratio_to_snapshot_rewrite"].as_f64().unwrap_or(0.0);
        rep.target(&format!("one-node edit at {snap_label} nodes ({m}) >= 200x snapshot-rewrite"), format!("{r:.0}x"), r >= 200.0);
        let lb = w2m[&big_label]["results"]["nodesync"]["p50_ms"].as_f64().unwrap_or(0.0);
        let ls = w2m[&small_label]["results"]["nodesync"]["p50_ms"].as_f64().unwrap_or(1.0);
        rep.target(
            &format!("edit latency p50 at {big_label} nodes ({m}) <= 1.2x at {small_label} nodes"),
            format!("{:.3} ms / {:.3} ms = {:.2}x", lb, ls, lb / ls),
            lb / ls <= 1.2,
        );
    }
    {
        let (small, big) = (&diffs[0], &diffs[1]);
        let doc_ratio = small.2.iter().zip(big.2.iter()).map(|(a, b)| b.1 / a.1).fold(0.0, f64::max);
        let k_growth = big.2.last().unwrap().1 / big.2.first().unwrap().1;
        rep.target(
            &format!(
                "diff_since grows with k, not the document: {}-node/{}-node time <= 2x at every k, and k={}/k={} >= 5x",
                big.0,
                small.0,
                cfg.diff_ks.last().unwrap(),
                cfg.diff_ks[0]
            ),
            format!("doc-size ratio max {doc_ratio:.2}x, k growth {k_growth:.1}x"),
            doc_ratio <= 2.0 && k_growth >= 5.0,
        );
    }
    let wr = wal[&Sys::Ext].1 / wal[&Sys::Floor].1;
    rep.target(
        "WAL per edit (warm) <= 1.5x floor",
        format!("{:.0} B / {:.0} B = {wr:.2}x", wal[&Sys::Ext].1, wal[&Sys::Floor].1),
        wr <= 1.5,
    );
    let wc = wal[&Sys::Ext].0 / wal[&Sys::Floor].0;
    println!("info WAL per edit (cold, after CHECKPOINT): {:.0} B / {:.0} B = {wc:.2}x floor", wal[&Sys::Ext].0, wal[&Sys::Floor].0);
    role(r.w9, rep);
}

/// Workload 9's targets: an ordinary role under RLS edits at 0.9x the superuser's rate or better.
pub fn role(w9: &BTreeMap<&'static str, Value>, rep: &mut Report) {
    for mode in [Mode::Durable, Mode::Async] {
        let m = mode.name();
        for (sc, _, _) in SCENARIOS {
            let r = w9[m][sc]["ratio_to_superuser"].as_f64().unwrap_or(0.0);
            rep.target(&format!("non-superuser one-node edit, {sc} ({m}) >= 0.9x superuser"), format!("{r:.2}x"), r >= 0.9);
        }
    }
}
