//! Workload 4: snapshot() vs a plain SELECT of the same rows, a SQL jsonb_agg of them and the
//! snapshot-rewrite baseline's read of its row (client wall time, whole result fetched); and
//! time travel: snapshot(doc, at_gen) of the 100k-node document 10,000 commits back (history
//! kept as undo entries: the current tree rewound through the commits after at_gen).

use std::time::Instant;

use serde_json::{json, Value};

use super::Docs;
use crate::cfg::Cfg;
use crate::charts;
use crate::db;
use crate::report::Report;
use crate::stats::{r3, r4, Hist};

/// Workload 4: snapshot vs a plain SELECT of the same rows (client wall time, text results).
pub fn w4(cfg: &Cfg, d: &Docs, rep: &mut Report) -> Value {
    rep.section("4. snapshot vs plain SELECT of the same rows (client wall time, whole result fetched)");
    rep.line(format!(
        "{:<18} {:>8} {:>14} {:>11} {:>16} {:>11} {:>9}",
        "document", "nodes", "snapshot() ms", "SELECT ms", "SQL jsonb_agg ms", "sr row ms", "×SELECT"
    ));
    let big = d.sizes.iter().find(|s| s.2 == cfg.snap_doc_big).unwrap().1.clone();
    let mut c = db::connect();
    let mut out = serde_json::Map::new();
    let mut groups = vec![];
    for (label, doc, reps) in [("1k", d.w1.clone(), 40usize), ("100k", big, if cfg.quick { 3 } else { 6 })] {
        let snap = c.prepare("SELECT nodesync.snapshot($1)::text").unwrap();
        let sel = c
            .prepare(
                "SELECT t.key, t.parent, t.pos::text, t.kind, t.props::text, t.version, t.gen FROM nodesync.tree t
                  WHERE t.doc_id = (SELECT id FROM nodesync.documents WHERE doc = $1) AND NOT t.deleted",
            )
            .unwrap();
        let sr = c.prepare("SELECT data::text FROM bench.sr_snapshot WHERE doc = $1").unwrap();
        // the same rows as one flat jsonb array built by Postgres: what JSON costs in plain SQL
        let agg = c
            .prepare(
                "SELECT jsonb_agg(x)::text FROM (SELECT t.key, t.parent, t.pos, t.kind, t.props, t.version, t.gen FROM nodesync.tree t
                  WHERE t.doc_id = (SELECT id FROM nodesync.documents WHERE doc = $1) AND NOT t.deleted) x",
            )
            .unwrap();
        let (mut ts, mut tq, mut tr, mut ta) = (Hist::default(), Hist::default(), Hist::default(), Hist::default());
        let mut nodes = 0;
        for i in 0..reps + 1 {
            let t0 = Instant::now();
            let s: String = c.query_one(&snap, &[&doc]).unwrap().get(0);
            let a = t0.elapsed();
            let t0 = Instant::now();
            let rows = c.query(&sel, &[&doc]).unwrap();
            let mut bytes = 0;
            for r in &rows {
                let k: &str = r.get(0);
                let p: Option<&str> = r.get(1);
                let pos: Option<&str> = r.get(2);
                let kind: &str = r.get(3);
                let props: &str = r.get(4);
                let v: i64 = r.get(5);
                let g: i64 = r.get(6);
                bytes += k.len() + p.map_or(0, str::len) + pos.map_or(0, str::len) + kind.len() + props.len() + (v + g) as usize % 2;
            }
            let b = t0.elapsed();
            let t0 = Instant::now();
            let x: String = c.query_one(&sr, &[&doc]).unwrap().get(0);
            let rr = t0.elapsed();
            let t0 = Instant::now();
            let y: String = c.query_one(&agg, &[&doc]).unwrap().get(0);
            let ag = t0.elapsed();
            nodes = rows.len();
            if i > 0 {
                ts.record(a);
                tq.record(b);
                tr.record(rr);
                ta.record(ag);
            }
            std::hint::black_box((s.len(), bytes, x.len(), y.len()));
        }
        let (a, b, rr, ag) = (ts.median_ms(), tq.median_ms(), tr.median_ms(), ta.median_ms());
        rep.line(format!(
            "{:<18} {:>8} {:>14.2} {:>11.2} {:>16.2} {:>11.2} {:>9.2}",
            format!("{label} ({doc})"),
            nodes,
            a,
            b,
            ag,
            rr,
            a / b
        ));
        out.insert(
            label.into(),
            json!({"doc": doc, "nodes": nodes, "reps": reps, "snapshot_ms": r4(a), "select_ms": r4(b),
                   "sql_jsonb_agg_ms": r4(ag), "snapshot_rewrite_read_ms": r4(rr), "snapshot_over_select": r3(a / b),
                   "snapshot_over_jsonb_agg": r3(a / ag)}),
        );
        groups.push((format!("{label} nodes"), vec![Some(a), Some(b), Some(ag), Some(rr)]));
    }
    out.insert("time_travel".into(), time_travel(cfg, &mut c, &d.sizes.iter().find(|s| s.2 == cfg.snap_doc_big).unwrap().1, rep));
    rep.chart(
        "w4_snapshot_vs_select.svg".into(),
        charts::bars(
            "snapshot() vs plain SELECT of the same rows",
            "client wall time, median; lower is better",
            "ms",
            &[
                "nodesync.snapshot()".into(),
                "plain SELECT (rows)".into(),
                "SQL jsonb_agg (flat)".into(),
                "snapshot-rewrite: read row".into(),
            ],
            &groups,
            true,
        ),
    );
    Value::Object(out)
}

/// Commits `back` one-node edits to `doc` (server side, one apply_patch call per commit, each
/// its own gen), then times snapshot(doc, gen - back) against snapshot(doc), and checks that
/// the past is the past: the edited texts are the old ones again.
fn time_travel(cfg: &Cfg, c: &mut postgres::Client, doc: &str, rep: &mut Report) -> Value {
    let back: i64 = if cfg.quick { 2_000 } else { 10_000 };
    let g0: i64 = c.query_one("SELECT gen FROM nodesync.documents WHERE doc = $1", &[&doc]).unwrap().get(0);
    let before: String = c.query_one("SELECT nodesync.snapshot($1)::text", &[&doc]).unwrap().get(0);
    // DO takes no parameters: they go in as settings
    c.batch_execute(&format!("SET bench.doc = '{doc}'; SET bench.n = '{back}'")).unwrap();
    c.batch_execute(
        "DO $$
         DECLARE d text := current_setting('bench.doc'); n int := current_setting('bench.n')::int; k text; v bigint;
         BEGIN
           FOR i IN 1..n LOOP
             k := 'p' || ((i * 7919) % 1000);
             SELECT t.version INTO v FROM nodesync.tree t JOIN nodesync.documents x ON x.id = t.doc_id WHERE x.doc = d AND t.key = k;
             PERFORM nodesync.apply_patch(d, jsonb_build_object('ops', jsonb_build_array(jsonb_build_object(
                 'op', 'update', 'key', k, 'version', v, 'props', jsonb_build_object('text', 'travelled ' || i)))));
           END LOOP;
         END $$",
    )
    .unwrap();
    let g1: i64 = c.query_one("SELECT gen FROM nodesync.documents WHERE doc = $1", &[&doc]).unwrap().get(0);
    let at = g1 - back;
    assert!(at >= g0, "the time-travel edits landed ({g0} -> {g1})");
    let past = c.prepare("SELECT nodesync.snapshot($1, $2)::text").unwrap();
    let now = c.prepare("SELECT nodesync.snapshot($1)::text").unwrap();
    let (mut tp, mut tn) = (Hist::default(), Hist::default());
    let reps = if cfg.quick { 3 } else { 5 };
    let mut same = true;
    for i in 0..reps + 1 {
        let t0 = Instant::now();
        let s: String = c.query_one(&past, &[&doc, &at]).unwrap().get(0);
        let a = t0.elapsed();
        let t0 = Instant::now();
        let n: String = c.query_one(&now, &[&doc]).unwrap().get(0);
        let b = t0.elapsed();
        if i > 0 {
            tp.record(a);
            tn.record(b);
        }
        // at == g0 means the document as it was before the edits: compare it whole
        if at == g0 {
            let (x, y): (Value, Value) = (serde_json::from_str(&s).unwrap(), serde_json::from_str(&before).unwrap());
            same &= x == y;
        }
        std::hint::black_box(n.len());
    }
    let (a, b) = (tp.median_ms(), tn.median_ms());
    rep.line(format!(
        "time travel: snapshot(s100k, gen - {back}) {a:.2} ms, snapshot(s100k) {b:.2} ms: {:.2}x{}",
        a / b,
        if at == g0 { if same { " (equals the snapshot taken before the edits)" } else { " (DIFFERS from the snapshot before the edits)" } } else { "" }
    ));
    json!({"doc": doc, "commits_back": back, "at_gen": at, "snapshot_at_ms": r4(a), "snapshot_now_ms": r4(b),
           "at_over_now": r3(a / b), "equals_before": (at == g0).then_some(same)})
}
