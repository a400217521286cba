//! Workload 3: diff_since after k changes, in the biggest document and in a 100× smaller one:
//! server time (clock_timestamp() around each call in a PL/pgSQL loop) and client round trip.

use std::time::Instant;

use fastrand::Rng;
use serde_json::{json, Value};

use super::Docs;
use crate::cfg::Cfg;
use crate::charts;
use crate::db::Sys;
use crate::report::Report;
use crate::runner::{edit_text, editor, Mode};
use crate::stats::{r3, Hist};

fn doc_gen(c: &mut postgres::Client, doc: &str) -> i64 {
    c.query_one("SELECT gen FROM nodesync.documents WHERE doc = $1", &[&doc]).unwrap().get(0)
}

/// Per document: (size label, nodes, (k, server p50 µs) points).
pub type DiffSeries = Vec<(String, usize, Vec<(usize, f64)>)>;

pub fn w3(cfg: &Cfg, d: &Docs, rep: &mut Report) -> (Value, DiffSeries) {
    rep.section("3. diff_since after k changes (server time: clock_timestamp() around each call in a PL/pgSQL loop)");
    rep.line(format!("{:<26} {:>6} {:>8} {:>12} {:>12} {:>14}", "document", "k", "nodes", "server p50 µs", "server p99 µs", "client p50 µs"));
    let big = d.sizes.last().unwrap().clone();
    // the comparison document: 100x smaller than the biggest (or the smallest there is)
    let small = d.sizes.iter().rfind(|s| s.2 * 100 <= big.2 + 1).or(d.sizes.first()).unwrap().clone();
    let mut all = vec![];
    let mut out = serde_json::Map::new();
    for (label, doc, n) in [small, big] {
        let sectioned = n == d.sizes.last().unwrap().2 && d.big_sections > 0;
        let mut ed = editor(Sys::Ext, Mode::Async);
        let g0 = doc_gen(&mut ed.c, &doc);
        let mut rng = Rng::with_seed(7);
        let mut used = std::collections::HashSet::new();
        let mut done = 0;
        let mut pts = vec![];
        let mut rows = vec![];
        for &k in &cfg.diff_ks {
            while done < k {
                let key = d.size_key(n, sectioned, &mut rng);
                // distinct nodes while the document has plenty of them
                if used.insert(key.clone()) || used.len() * 2 >= n {
                    ed.update(&doc, &key, &edit_text(&mut rng));
                    done += 1;
                }
            }
            let got: i32 = ed
                .c
                .query_one("SELECT jsonb_array_length(nodesync.diff_since($1, $2)->'nodes')", &[&doc, &g0])
                .unwrap()
                .get(0);
            let reps: i32 = if k >= 1000 { 20 } else if k >= 100 { 50 } else { 200 };
            let times: Vec<f64> = ed.c.query_one("SELECT bench.time_diff($1, $2, $3)", &[&doc, &g0, &reps]).unwrap().get(0);
            let mut server = Hist::default();
            times.iter().for_each(|us| server.record_us(*us));
            let mut client = Hist::default();
            for _ in 0..reps.min(50) {
                let t0 = Instant::now();
                let _: String = ed.c.query_one("SELECT nodesync.diff_since($1, $2)::text", &[&doc, &g0]).unwrap().get(0);
                client.record(t0.elapsed());
            }
            let (p50, p99, c50) = (server.median_us(), server.quantile_us(0.99), client.median_us());
            rep.line(format!("{:<26} {:>6} {:>8} {:>12.0} {:>12.0} {:>14.0}", format!("{label} nodes ({doc})"), k, got, p50, p99, c50));
            pts.push((k, p50));
            rows.push(json!({"k": k, "diff_nodes": got, "server_p50_us": r3(p50), "server_p99_us": r3(p99), "client_p50_us": r3(c50), "reps": reps}));
        }
        out.insert(label.clone(), json!({"doc": doc, "nodes": n, "points": rows}));
        all.push((label, n, pts));
    }
    let series: Vec<(String, Vec<(f64, f64)>)> =
        all.iter().map(|(l, _, p)| (format!("{l}-node document"), p.iter().map(|(k, t)| (*k as f64, *t)).collect())).collect();
    rep.chart(
        "w3_diff_since_vs_k.svg".into(),
        charts::lines("diff_since time vs changes k", "server time per call (p50)", "k changes since the given gen", "µs", &series, true),
    );
    (Value::Object(out), all)
}
