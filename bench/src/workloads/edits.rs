//! Workloads 1 and 2: one-node prop updates at 1 and 8 clients, and the same edit at growing
//! document sizes plus an insert among many siblings. Each in both commit modes.

use std::sync::atomic::{AtomicUsize, Ordering};

use fastrand::Rng;
use serde_json::{json, Value};

use super::Docs;
use crate::cfg::Cfg;
use crate::charts;
use crate::db::{flat_key, Editor, Sys};
use crate::report::{lat_header, lat_line, lats_json, Report};
use crate::runner::{compare, edit_text, pool, Mode, Pool};

/// The edit of workload 1's scenario `si` by client thread `t` (workloads 8 and 9 use it too):
/// 0 = a random paragraph of w1; 1 = a random paragraph of w1 among those thread `t` owns (index
/// `t` mod 8); 2 = a random paragraph of the thread's own document `w8-t`.
pub fn w1_edit(d: &Docs, paras: usize, si: usize, ed: &mut Editor, t: usize, rng: &mut Rng) {
    let text = edit_text(rng);
    match si {
        0 => ed.update(&d.w1, &flat_key(rng.usize(..paras)), &text),
        1 => ed.update(&d.w1, &flat_key(rng.usize(..paras / 8) * 8 + t), &text),
        _ => ed.update(&d.w8[t], &flat_key(rng.usize(..paras)), &text),
    };
}

/// Workload 1: one-node prop update at 1 and 8 clients.
pub fn w1(cfg: &Cfg, d: &Docs, mode: Mode, rep: &mut Report) -> Value {
    rep.section(&format!("1. one-node prop update, {} nodes per document, {} commits", cfg.w1_nodes, mode.name()));
    rep.line(lat_header());
    let paras = cfg.w1_nodes - 1;
    let mut out = serde_json::Map::new();
    let scenarios: [(&str, &str, usize); 3] = [
        ("1 client", "1 client, 1 doc", 1),
        ("8 clients, 1 doc", "8 clients, one doc, own nodes", 8),
        ("8 clients, 8 docs", "8 clients, 8 docs", 8),
    ];
    let mut chart_groups = vec![];
    for (si, (short, label, clients)) in scenarios.iter().enumerate() {
        let mut pools: Vec<Pool> = [Sys::Ext, Sys::Floor, Sys::Snap].iter().map(|s| pool(*s, *clients, mode, usize::MAX)).collect();
        let op = |ed: &mut Editor, t: usize, rng: &mut Rng| w1_edit(d, paras, si, ed, t, rng);
        let m = compare(&mut pools, cfg.rounds, cfg.round_secs, &format!("{} {label}", mode.name()), &op);
        for (s, l) in &m {
            rep.line(lat_line(label, *s, l, &m));
        }
        chart_groups.push((short.to_string(), [Sys::Ext, Sys::Floor, Sys::Snap].iter().map(|s| m.get(s).map(|l| l.ops_s)).collect()));
        out.insert(short.to_string(), lats_json(&m));
    }
    let series: Vec<String> = [Sys::Ext, Sys::Floor, Sys::Snap].iter().map(|s| s.name().to_string()).collect();
    rep.chart(
        format!("w1_edit_throughput_{}.svg", mode.name()),
        charts::bars(
            &format!("One-node edit throughput ({} commits)", mode.name()),
            &format!("ops/s, higher is better; documents of {} nodes", cfg.w1_nodes),
            "ops/s",
            &series,
            &chart_groups,
            false,
        ),
    );
    Value::Object(out)
}

/// Workload 2: the same edit at growing document sizes, plus an insert among many siblings.
pub fn w2(cfg: &Cfg, d: &Docs, mode: Mode, rep: &mut Report) -> Value {
    rep.section(&format!("2. one-node edit vs document size, 1 client, {} commits", mode.name()));
    rep.line(lat_header());
    let mut out = serde_json::Map::new();
    let mut per_size = vec![];
    for (i, (label, doc, n)) in d.sizes.iter().enumerate() {
        let sectioned = d.sectioned(i);
        let mut pools = vec![pool(Sys::Ext, 1, mode, usize::MAX), pool(Sys::Floor, 1, mode, usize::MAX)];
        if *n <= cfg.snap_max {
            // a 100k-node snapshot is one multi-megabyte jsonb per op: measure few ops
            let cap = if *n >= 100_000 { 4 } else if *n >= 10_000 { 100 } else { usize::MAX };
            pools.push(pool(Sys::Snap, 1, mode, cap));
        }
        let op = |ed: &mut Editor, _t: usize, rng: &mut Rng| {
            let key = d.size_key(*n, sectioned, rng);
            ed.update(doc, &key, &edit_text(rng));
        };
        let m = compare(&mut pools, cfg.rounds, cfg.round_secs, &format!("{} {label} nodes", mode.name()), &op);
        for (s, l) in &m {
            rep.line(lat_line(&format!("{label} nodes"), *s, l, &m));
        }
        out.insert(label.clone(), json!({"nodes": n, "results": lats_json(&m)}));
        per_size.push((*n, m));
    }
    // insert among siblings (flat document of cfg.siblings nodes)
    let (_, sib_doc, sib_n) = d.sizes.iter().find(|s| s.2 == cfg.siblings).cloned().expect("sibling doc");
    let mut pools = vec![pool(Sys::Ext, 1, mode, usize::MAX), pool(Sys::Floor, 1, mode, usize::MAX)];
    static INS: AtomicUsize = AtomicUsize::new(0);
    let op = |ed: &mut Editor, _t: usize, rng: &mut Rng| {
        let k = format!("ins{}", INS.fetch_add(1, Ordering::Relaxed));
        let after = flat_key(rng.usize(..sib_n - 1));
        ed.insert(&sib_doc, &k, "root", &after, &edit_text(rng));
    };
    let label = format!("insert among {} siblings", sib_n - 1);
    let mi = compare(&mut pools, cfg.rounds, cfg.round_secs, &format!("{} {label}", mode.name()), &op);
    for (s, l) in &mi {
        rep.line(lat_line(&label, *s, l, &mi));
    }
    out.insert("insert_among_siblings".into(), json!({"siblings": sib_n - 1, "results": lats_json(&mi)}));
    let series: Vec<(String, Vec<(f64, f64)>)> = [Sys::Ext, Sys::Floor, Sys::Snap]
        .iter()
        .map(|s| (s.name().to_string(), per_size.iter().filter_map(|(n, m)| m.get(s).map(|l| (*n as f64, l.p50_ms))).collect()))
        .collect();
    rep.chart(
        format!("w2_edit_latency_vs_size_{}.svg", mode.name()),
        charts::lines(
            &format!("One-node edit latency vs document size ({} commits)", mode.name()),
            "p50 latency per edit, 1 client; lower is better",
            "nodes in the document",
            "p50 ms",
            &series,
            true,
        ),
    );
    rep.chart(
        format!("w2_insert_among_siblings_{}.svg", mode.name()),
        charts::bars(
            &format!("Insert among {} siblings ({} commits)", sib_n - 1, mode.name()),
            "ops/s, 1 client; the floor keeps no sibling order",
            "ops/s",
            &[Sys::Ext.name().to_string(), Sys::Floor.name().to_string()],
            &[("insert".to_string(), vec![mi.get(&Sys::Ext).map(|l| l.ops_s), mi.get(&Sys::Floor).map(|l| l.ops_s)])],
            false,
        ),
    );
    Value::Object(out)
}
