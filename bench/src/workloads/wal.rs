//! Workload 5: WAL bytes per one-node edit, each system alone: the first N edits after a
//! CHECKPOINT (cold, full-page images included), then N more (warm).

use std::collections::BTreeMap;

use fastrand::Rng;
use serde_json::{json, Value};

use super::Docs;
use crate::cfg::Cfg;
use crate::charts;
use crate::db::{self, flat_key, Sys};
use crate::report::Report;
use crate::runner::{edit_text, editor, Mode};
use crate::stats::r3;

/// Workload 5: WAL bytes per one-node edit, each system alone.
pub fn w5(cfg: &Cfg, d: &Docs, rep: &mut Report) -> (Value, BTreeMap<Sys, (f64, f64)>) {
    rep.section(&format!(
        "5. WAL bytes per one-node edit ({} edits after a CHECKPOINT = cold, then {} more = warm; each system alone)",
        cfg.wal_edits, cfg.wal_edits
    ));
    rep.line(format!("{:<18} {:>12} {:>12} {:>10} {:>10}", "system", "cold B/edit", "warm B/edit", "×floor", "×snapshot"));
    let paras = cfg.w1_nodes - 1;
    let mut res = BTreeMap::new();
    for sys in [Sys::Ext, Sys::Floor, Sys::Snap] {
        // WAL content does not depend on synchronous_commit; async only saves time here
        let mut ed = editor(sys, Mode::Async);
        let mut rng = Rng::with_seed(11);
        ed.c.batch_execute("CHECKPOINT").unwrap();
        let mut per = vec![];
        for _ in 0..2 {
            let lsn = db::wal_lsn(&mut ed.c);
            for _ in 0..cfg.wal_edits {
                let text = edit_text(&mut rng);
                ed.update(&d.w1, &flat_key(rng.usize(..paras)), &text);
            }
            per.push(db::wal_since(&mut ed.c, &lsn) / cfg.wal_edits as f64);
        }
        res.insert(sys, (per[0], per[1]));
    }
    let mut out = serde_json::Map::new();
    let (ff, sf) = (res[&Sys::Floor], res[&Sys::Snap]);
    for (s, (cold, warm)) in &res {
        rep.line(format!("{:<18} {:>12.0} {:>12.0} {:>10.2} {:>10.2}", s.name(), cold, warm, warm / ff.1, warm / sf.1));
        out.insert(s.name().into(), json!({"cold_bytes_per_edit": r3(*cold), "warm_bytes_per_edit": r3(*warm)}));
    }
    let series: Vec<String> = res.keys().map(|s| s.name().to_string()).collect();
    rep.chart(
        "w5_wal_per_edit.svg".into(),
        charts::bars(
            "WAL bytes per one-node edit",
            &format!("document of {} nodes; cold = first edits after a CHECKPOINT (full-page images)", cfg.w1_nodes),
            "bytes",
            &series,
            &[
                ("cold".into(), res.values().map(|v| Some(v.0)).collect()),
                ("warm".into(), res.values().map(|v| Some(v.1)).collect()),
            ],
            false,
        ),
    );
    (Value::Object(out), res)
}
