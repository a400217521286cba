//! Workload 8: commits/s across documents, and what the push to readers costs (issue 13).
//!
//! One writer connection per document, each editing random paragraphs of its own document
//! (`w8-0` ..), for 1, 2, 4 and 8 documents: pg_nodesync with `nodesync.notify` on and off and
//! with `nodesync.push = message`, the floor with `pg_notify`, without a push, and with a transactional `pg_logical_emit_message`.
//! Every transaction that NOTIFYs takes PostgreSQL's one notify lock at commit (held through its
//! WAL flush), so notifying commits of all documents queue behind each other; the other
//! variants show what the same writes do without it.

use std::collections::BTreeMap;

use fastrand::Rng;
use serde_json::{json, Value};

use super::edits::w1_edit;
use super::Docs;
use crate::cfg::Cfg;
use crate::charts;
use crate::db::{Editor, Sys};
use crate::report::Report;
use crate::runner::{compare, pool, Mode, Pool};
use crate::stats::{r3, Lat};

/// The systems compared, in table order.
pub const SYSTEMS: [Sys; 6] = [Sys::Ext, Sys::ExtQuiet, Sys::ExtMessage, Sys::Floor, Sys::FloorQuiet, Sys::FloorWal];
/// Documents (= writers) per scenario.
pub const DOC_COUNTS: [usize; 4] = [1, 2, 4, 8];

fn docs_label(n: usize) -> String {
    format!("{n} doc{}", if n == 1 { "" } else { "s" })
}

/// Workload 8 in one commit mode.
pub fn w8(cfg: &Cfg, d: &Docs, mode: Mode, rep: &mut Report) -> Value {
    rep.section(&format!(
        "8. commits/s across documents: one writer per document ({} nodes each), one-node edits, {} commits",
        cfg.w1_nodes,
        mode.name()
    ));
    let paras = cfg.w1_nodes - 1;
    let mut per: BTreeMap<Sys, Vec<Lat>> = BTreeMap::new();
    for n in DOC_COUNTS {
        let mut pools: Vec<Pool> = SYSTEMS.iter().map(|s| pool(*s, n, mode, usize::MAX)).collect();
        // scenario 2 of workload 1: thread t edits its own document w8-t
        let op = |ed: &mut Editor, t: usize, rng: &mut Rng| w1_edit(d, paras, 2, ed, t, rng);
        let m = compare(&mut pools, cfg.scale_rounds, cfg.scale_secs, &format!("{} {}", mode.name(), docs_label(n)), &op);
        for (s, l) in m {
            per.entry(s).or_default().push(l);
        }
    }
    let mut head = format!("{:<22}", "commits/s");
    for n in DOC_COUNTS {
        head.push_str(&format!(" {:>9}", docs_label(n)));
    }
    rep.line(format!("{head} {:>8} {:>11} {:>11}", "8/1", "p50 ms @8", "×floor @8"));
    let floor8 = per[&Sys::Floor].last().map(|l| l.ops_s).unwrap_or(0.0);
    let mut systems = serde_json::Map::new();
    for s in SYSTEMS {
        let ls = &per[&s];
        let mut row = format!("{:<22}", s.name());
        for l in ls {
            row.push_str(&format!(" {:>9.1}", l.ops_s));
        }
        let (first, last) = (&ls[0], &ls[ls.len() - 1]);
        rep.line(format!("{row} {:>8.2} {:>11.3} {:>11.2}", last.ops_s / first.ops_s, last.p50_ms, last.ops_s / floor8));
        let runs: Vec<Value> = DOC_COUNTS
            .iter()
            .zip(ls)
            .map(|(n, l)| {
                let mut j = l.to_json();
                j["documents"] = json!(n);
                j
            })
            .collect();
        systems.insert(s.name().into(), Value::Array(runs));
    }
    let at8 = |a: Sys, b: Sys| {
        let (x, y) = (per[&a].last().unwrap().ops_s, per[&b].last().unwrap().ops_s);
        if y > 0.0 {
            x / y
        } else {
            0.0
        }
    };
    let ratios = [
        ("nodesync_notify_off_over_on", at8(Sys::ExtQuiet, Sys::Ext)),
        ("nodesync_push_message_over_notify", at8(Sys::ExtMessage, Sys::Ext)),
        ("floor_no_notify_over_pg_notify", at8(Sys::FloorQuiet, Sys::Floor)),
        ("floor_wal_message_over_pg_notify", at8(Sys::FloorWal, Sys::Floor)),
        ("floor_wal_message_over_no_notify", at8(Sys::FloorWal, Sys::FloorQuiet)),
        ("nodesync_over_floor", at8(Sys::Ext, Sys::Floor)),
        ("nodesync_notify_off_over_floor_no_notify", at8(Sys::ExtQuiet, Sys::FloorQuiet)),
    ];
    rep.line(format!(
        "at 8 documents: nodesync notify off / on = {:.2}x, push message / notify = {:.2}x; floor: no notify / pg_notify = {:.2}x, \
         WAL message / pg_notify = {:.2}x, WAL message / no notify = {:.2}x",
        ratios[0].1, ratios[1].1, ratios[2].1, ratios[3].1, ratios[4].1
    ));
    let groups: Vec<(String, Vec<Option<f64>>)> =
        DOC_COUNTS.iter().enumerate().map(|(i, n)| (docs_label(*n), SYSTEMS.iter().map(|s| Some(per[s][i].ops_s)).collect())).collect();
    let title = format!("Commits/s across documents ({} commits)", mode.name());
    let names: Vec<String> = SYSTEMS.iter().map(|s| s.name().to_string()).collect();
    let svg = charts::bars(&title, "one writer per document, one-node edits; higher is better", "commits/s", &names, &groups, false);
    rep.chart(format!("w8_commits_across_docs_{}.svg", mode.name()), svg);
    json!({
        "documents": DOC_COUNTS,
        "systems": Value::Object(systems),
        "ratios_at_8_documents": ratios.iter().map(|(k, v)| (k.to_string(), json!(r3(*v)))).collect::<serde_json::Map<_, _>>(),
    })
}
