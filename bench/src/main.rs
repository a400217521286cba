//! `make bench`: pg_nodesync against two plain-SQL baselines measured in the same run on the
//! same cluster (see docs/performance.md). Prints a table with PASS/MISS per target and writes
//! `target/bench/results.json` and one SVG chart per figure. Never fails on a MISS.
//!
//!   pg_nodesync_bench              the benchmark (BENCH_QUICK=1: a smaller ~3-minute run)
//!   pg_nodesync_bench loop SECS [async]   one-node edits on an existing bench database for
//!                                  profiling; prints the backend pid first

mod db;
mod stats;
mod svg;
mod trace;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Barrier;
use std::time::Instant;

use serde_json::{json, Value};

use db::{flat_key, sec_key, Editor, Sys};
use stats::{median, r3, r4, Lat, Rng};

/// Sizes and durations of one run.
struct Cfg {
    quick: bool,
    /// Alternating measurement rounds per system, and seconds per round.
    rounds: usize,
    round_secs: f64,
    /// Nodes of the workload-1 documents.
    w1_nodes: usize,
    /// Workload 2 sizes: (label, nodes); the last one is sectioned when `big_sections` > 0.
    sizes: Vec<(String, usize)>,
    big_sections: usize,
    /// Largest size the snapshot-rewrite baseline is loaded at.
    snap_max: usize,
    /// Doc size for the "insert among siblings" figure (flat).
    siblings: usize,
    diff_ks: Vec<usize>,
    snap_doc_big: usize,
    wal_edits: usize,
    trace_edits: usize,
    trace_paras: usize,
    trace_floor_edits: usize,
    trace_durable_edits: usize,
    trace_snap_edits: usize,
}

impl Cfg {
    fn new(quick: bool) -> Cfg {
        if quick {
            Cfg {
                quick,
                rounds: 2,
                round_secs: 1.0,
                w1_nodes: 1_000,
                sizes: vec![("10".into(), 10), ("1k".into(), 1_000), ("10k".into(), 10_000), ("100k".into(), 100_000)],
                big_sections: 0,
                snap_max: 100_000,
                siblings: 100_000,
                diff_ks: vec![1, 10, 100, 1000],
                snap_doc_big: 100_000,
                wal_edits: 300,
                trace_edits: 20_000,
                trace_paras: 500,
                trace_floor_edits: 10_000,
                trace_durable_edits: 300,
                trace_snap_edits: 200,
            }
        } else {
            Cfg {
                quick,
                rounds: 3,
                round_secs: 2.0,
                w1_nodes: 1_000,
                sizes: vec![
                    ("10".into(), 10),
                    ("10k".into(), 10_000),
                    ("100k".into(), 100_000),
                    ("1M".into(), 1_000_001),
                ],
                big_sections: 1_000,
                snap_max: 100_000,
                siblings: 100_000,
                diff_ks: vec![1, 10, 100, 1000],
                snap_doc_big: 100_000,
                wal_edits: 1_000,
                trace_edits: 260_000,
                trace_paras: 2_000,
                trace_floor_edits: 52_000,
                trace_durable_edits: 2_000,
                trace_snap_edits: 1_000,
            }
        }
    }
}

/// Commit modes the edit workloads run in.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// fsync on, synchronous_commit on: every commit waits for its WAL flush.
    Durable,
    /// synchronous_commit = off (session): WAL is the same but flushed in the background, so
    /// the figure shows the CPU cost of the commit without the disk wait.
    Async,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Durable => "durable",
            Mode::Async => "async",
        }
    }
    fn set(self, ed: &mut Editor) {
        let v = if self == Mode::Durable { "on" } else { "off" };
        ed.c.batch_execute(&format!("SET synchronous_commit = {v}")).unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// Running clients

struct RunOut {
    lat_us: Vec<f64>,
    secs: f64,
    retries: usize,
}

type Op<'a> = dyn Fn(&mut Editor, usize, &mut Rng) + Sync + 'a;

static SEED: AtomicUsize = AtomicUsize::new(1);

/// Runs `op` on every editor, each in its own thread, for `secs` or `max_ops` per thread,
/// whichever comes first. Latency per op; `secs` is the wall time of the whole run.
fn run(eds: &mut [Editor], secs: f64, max_ops: usize, op: &Op<'_>) -> RunOut {
    let barrier = Barrier::new(eds.len());
    let seed = SEED.fetch_add(1000, Ordering::Relaxed) as u64;
    let results: Vec<(Vec<f64>, f64, usize)> = std::thread::scope(|s| {
        let hs: Vec<_> = eds
            .iter_mut()
            .enumerate()
            .map(|(t, ed)| {
                let barrier = &barrier;
                s.spawn(move || {
                    let mut rng = Rng::new(seed + t as u64);
                    let before = ed.retries;
                    let mut lat = Vec::new();
                    barrier.wait();
                    let start = Instant::now();
                    while lat.len() < max_ops && start.elapsed().as_secs_f64() < secs {
                        let t0 = Instant::now();
                        op(ed, t, &mut rng);
                        lat.push(t0.elapsed().as_secs_f64() * 1e6);
                    }
                    (lat, start.elapsed().as_secs_f64(), ed.retries - before)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut out = RunOut { lat_us: vec![], secs: 0.0, retries: 0 };
    for (l, s, r) in results {
        out.lat_us.extend(l);
        out.secs = out.secs.max(s);
        out.retries += r;
    }
    out
}

struct Pool {
    sys: Sys,
    eds: Vec<Editor>,
    /// Ops per thread per round (the slow baseline at large sizes is bounded by count).
    cap: usize,
}

fn pool(sys: Sys, clients: usize, mode: Mode, cap: usize) -> Pool {
    let eds = (0..clients)
        .map(|_| {
            let mut e = Editor::new(sys);
            mode.set(&mut e);
            e
        })
        .collect();
    Pool { sys, eds, cap }
}

/// Alternates the systems round by round (so machine noise hits all of them alike), after one
/// short unmeasured warm-up each; returns one `Lat` per system.
fn compare(pools: &mut [Pool], rounds: usize, secs: f64, label: &str, op: &Op<'_>) -> BTreeMap<Sys, Lat> {
    for p in pools.iter_mut() {
        run(&mut p.eds, (secs / 4.0).min(0.5), p.cap.clamp(1, 50), op);
    }
    let mut acc: BTreeMap<Sys, RunOut> = BTreeMap::new();
    for _ in 0..rounds {
        for p in pools.iter_mut() {
            let o = run(&mut p.eds, secs, p.cap, op);
            let a = acc.entry(p.sys).or_insert(RunOut { lat_us: vec![], secs: 0.0, retries: 0 });
            a.lat_us.extend(o.lat_us);
            a.secs += o.secs;
            a.retries += o.retries;
        }
    }
    eprintln!("  measured: {label} ({rounds} rounds of {secs}s per system)");
    acc.into_iter()
        .map(|(s, mut o)| {
            let mut l = Lat::from_us(&mut o.lat_us, o.secs);
            l.retries = o.retries;
            (s, l)
        })
        .collect()
}

fn edit_text(rng: &mut Rng) -> String {
    format!("edited {:08x}: the quick brown fox jumps over the lazy dog.", rng.next_u64() as u32)
}

// ---------------------------------------------------------------------------------------------
// Report

struct Report {
    rows: Vec<String>,
    targets: Vec<(String, String, bool)>,
    json: serde_json::Map<String, Value>,
    charts: Vec<(String, String)>,
}

impl Report {
    fn section(&mut self, title: &str) {
        println!("\n== {title}");
        self.rows.push(String::new());
        self.rows.push(format!("== {title}"));
    }
    fn line(&mut self, s: String) {
        println!("{s}");
        self.rows.push(s);
    }
    fn target(&mut self, what: &str, value: String, pass: bool) {
        let s = format!("{:<4} {what}: {value}", if pass { "PASS" } else { "MISS" });
        println!("{s}");
        self.targets.push((what.to_string(), value, pass));
    }
}

fn lat_header() -> String {
    format!("{:<34} {:<17} {:>9} {:>8} {:>8} {:>8} {:>9}", "workload", "system", "ops/s", "p50 ms", "p99 ms", "×floor", "×snapshot")
}

fn lat_line(label: &str, sys: Sys, l: &Lat, all: &BTreeMap<Sys, Lat>) -> String {
    let ratio = |b: Sys| match all.get(&b) {
        Some(x) if b != sys && x.ops_s > 0.0 => format!("{:.2}", l.ops_s / x.ops_s),
        _ => "-".into(),
    };
    format!(
        "{:<34} {:<17} {:>9.1} {:>8.3} {:>8.3} {:>8} {:>9}{}",
        label,
        sys.name(),
        l.ops_s,
        l.p50_ms,
        l.p99_ms,
        ratio(Sys::Floor),
        ratio(Sys::Snap),
        if l.retries > 0 { format!("  ({} retries)", l.retries) } else { String::new() }
    )
}

fn lats_json(m: &BTreeMap<Sys, Lat>) -> Value {
    let mut o = serde_json::Map::new();
    for (s, l) in m {
        o.insert(s.name().into(), l.to_json());
    }
    if let (Some(e), Some(f)) = (m.get(&Sys::Ext), m.get(&Sys::Floor)) {
        o.insert("ratio_to_floor".into(), json!(r3(e.ops_s / f.ops_s)));
    }
    if let (Some(e), Some(f)) = (m.get(&Sys::Ext), m.get(&Sys::Snap)) {
        o.insert("ratio_to_snapshot_rewrite".into(), json!(r3(e.ops_s / f.ops_s)));
    }
    Value::Object(o)
}

// ---------------------------------------------------------------------------------------------
// Workloads

struct Docs {
    w1: String,
    w8: Vec<String>,
    /// (label, doc, nodes, paragraph keys as a function of index)
    sizes: Vec<(String, String, usize)>,
    big_sections: usize,
    big_per: usize,
    trace: String,
}

impl Docs {
    /// A random paragraph key of a size document.
    fn size_key(&self, doc_nodes: usize, sectioned: bool, rng: &mut Rng) -> String {
        if sectioned {
            sec_key(rng.below(self.big_sections as u64) as usize, rng.below(self.big_per as u64) as usize)
        } else {
            flat_key(rng.below(doc_nodes as u64 - 1) as usize)
        }
    }
}

fn load(cfg: &Cfg) -> Docs {
    let t0 = Instant::now();
    let mut c = db::create_database();
    c.batch_execute("SET nodesync.max_ops_per_patch = 100000; SET synchronous_commit = off").unwrap();
    eprintln!("loading documents through nodesync.apply_patch (batches of 10,000 creates) ...");
    let w1 = "w1".to_string();
    db::load_flat(&mut c, &w1, cfg.w1_nodes, false);
    db::mirror(&mut c, &w1, true);
    let w8: Vec<String> = (0..8).map(|i| format!("w8-{i}")).collect();
    for d in &w8 {
        db::load_flat(&mut c, d, cfg.w1_nodes, false);
        db::mirror(&mut c, d, true);
    }
    let mut sizes = vec![];
    let (mut big_sections, mut big_per) = (0, 0);
    for (i, (label, n)) in cfg.sizes.iter().enumerate() {
        let doc = format!("s{label}");
        let last = i + 1 == cfg.sizes.len();
        if last && cfg.big_sections > 0 {
            big_sections = cfg.big_sections;
            big_per = (n - 1 - big_sections) / big_sections;
            db::load_sections(&mut c, &doc, big_sections, big_per);
        } else {
            db::load_flat(&mut c, &doc, *n, false);
        }
        db::mirror(&mut c, &doc, *n <= cfg.snap_max);
        eprintln!("  {doc}: {n} nodes ({:.0}s)", t0.elapsed().as_secs_f64());
        sizes.push((label.clone(), doc, *n));
    }
    let trace = "trace".to_string();
    db::load_flat(&mut c, &trace, cfg.trace_paras + 1, true);
    db::mirror(&mut c, &trace, true);
    eprintln!("VACUUM ANALYZE, CHECKPOINT ...");
    c.batch_execute("VACUUM ANALYZE").unwrap();
    c.batch_execute("CHECKPOINT").unwrap();
    eprintln!("loaded in {:.0}s", t0.elapsed().as_secs_f64());
    Docs { w1, w8, sizes, big_sections, big_per, trace }
}

/// Workload 1: one-node prop update at 1 and 8 clients.
fn w1(cfg: &Cfg, d: &Docs, mode: Mode, rep: &mut Report) -> Value {
    rep.section(&format!("1. one-node prop update, {} nodes per document, {} commits", cfg.w1_nodes, mode.name()));
    rep.line(lat_header());
    let paras = (cfg.w1_nodes - 1) as u64;
    let mut out = serde_json::Map::new();
    let scenarios: [(&str, &str, usize); 3] = [
        ("1 client", "1 client, 1 doc", 1),
        ("8 clients, 1 doc", "8 clients, one doc, own nodes", 8),
        ("8 clients, 8 docs", "8 clients, 8 docs", 8),
    ];
    let mut chart_groups = vec![];
    for (si, (short, label, clients)) in scenarios.iter().enumerate() {
        let mut pools: Vec<Pool> = [Sys::Ext, Sys::Floor, Sys::Snap].iter().map(|s| pool(*s, *clients, mode, usize::MAX)).collect();
        let op = |ed: &mut Editor, t: usize, rng: &mut Rng| {
            let text = edit_text(rng);
            match si {
                0 => ed.update(&d.w1, &flat_key(rng.below(paras) as usize), &text),
                1 => {
                    // thread t owns the paragraphs whose index is t mod 8
                    let i = (rng.below(paras / 8) * 8 + t as u64) as usize;
                    ed.update(&d.w1, &flat_key(i), &text)
                }
                _ => ed.update(&d.w8[t], &flat_key(rng.below(paras) as usize), &text),
            }
        };
        let m = compare(&mut pools, cfg.rounds, cfg.round_secs, &format!("{} {label}", mode.name()), &op);
        for (s, l) in &m {
            rep.line(lat_line(label, *s, l, &m));
        }
        chart_groups.push((short.to_string(), [Sys::Ext, Sys::Floor, Sys::Snap].iter().map(|s| m.get(s).map(|l| l.ops_s)).collect()));
        out.insert(short.to_string(), lats_json(&m));
    }
    let series: Vec<String> = [Sys::Ext, Sys::Floor, Sys::Snap].iter().map(|s| s.name().to_string()).collect();
    rep.charts.push((
        format!("w1_edit_throughput_{}.svg", mode.name()),
        svg::bars(
            &format!("One-node edit throughput ({} commits)", mode.name()),
            &format!("ops/s, higher is better; documents of {} nodes", cfg.w1_nodes),
            "ops/s",
            &series,
            &chart_groups,
            false,
        ),
    ));
    Value::Object(out)
}

/// Workload 2: the same edit at growing document sizes, plus an insert among many siblings.
fn w2(cfg: &Cfg, d: &Docs, mode: Mode, rep: &mut Report) -> Value {
    rep.section(&format!("2. one-node edit vs document size, 1 client, {} commits", mode.name()));
    rep.line(lat_header());
    let mut out = serde_json::Map::new();
    let mut per_size = vec![];
    let nsizes = d.sizes.len();
    for (i, (label, doc, n)) in d.sizes.iter().enumerate() {
        let sectioned = i + 1 == nsizes && d.big_sections > 0;
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
        let after = flat_key(rng.below(sib_n as u64 - 1) as usize);
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
    rep.charts.push((
        format!("w2_edit_latency_vs_size_{}.svg", mode.name()),
        svg::lines(
            &format!("One-node edit latency vs document size ({} commits)", mode.name()),
            "p50 latency per edit, 1 client; lower is better",
            "nodes in the document",
            "p50 ms",
            &series,
            true,
            true,
        ),
    ));
    rep.charts.push((
        format!("w2_insert_among_siblings_{}.svg", mode.name()),
        svg::bars(
            &format!("Insert among {} siblings ({} commits)", sib_n - 1, mode.name()),
            "ops/s, 1 client; the floor keeps no sibling order",
            "ops/s",
            &[Sys::Ext.name().to_string(), Sys::Floor.name().to_string()],
            &[("insert".to_string(), vec![mi.get(&Sys::Ext).map(|l| l.ops_s), mi.get(&Sys::Floor).map(|l| l.ops_s)])],
            false,
        ),
    ));
    Value::Object(out)
}

fn doc_gen(c: &mut postgres::Client, doc: &str) -> i64 {
    c.query_one("SELECT gen FROM nodesync.documents WHERE doc = $1", &[&doc]).unwrap().get(0)
}

/// Workload 3: diff_since after k changes, in the biggest document and in a 100× smaller one.
/// Per document: (size label, nodes, (k, server p50 µs) points).
type DiffSeries = Vec<(String, usize, Vec<(usize, f64)>)>;

fn w3(cfg: &Cfg, d: &Docs, rep: &mut Report) -> (Value, DiffSeries) {
    rep.section("3. diff_since after k changes (server time: clock_timestamp() around each call in a PL/pgSQL loop)");
    rep.line(format!("{:<26} {:>6} {:>8} {:>12} {:>12} {:>14}", "document", "k", "nodes", "server p50 µs", "server p99 µs", "client p50 µs"));
    let big = d.sizes.last().unwrap().clone();
    // the comparison document: 100x smaller than the biggest (or the smallest there is)
    let small = d.sizes.iter().rfind(|s| s.2 * 100 <= big.2 + 1).or(d.sizes.first()).unwrap().clone();
    let mut all = vec![];
    let mut out = serde_json::Map::new();
    for (label, doc, n) in [small, big] {
        let sectioned = n == d.sizes.last().unwrap().2 && d.big_sections > 0;
        let mut ed = Editor::new(Sys::Ext);
        Mode::Async.set(&mut ed);
        let g0 = doc_gen(&mut ed.c, &doc);
        let mut rng = Rng::new(7);
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
            let mut server: Vec<f64> = ed.c.query_one("SELECT bench.time_diff($1, $2, $3)", &[&doc, &g0, &reps]).unwrap().get(0);
            server.sort_by(|a, b| a.partial_cmp(b).unwrap());
            let mut client = vec![];
            for _ in 0..reps.min(50) {
                let t0 = Instant::now();
                let _: String = ed.c.query_one("SELECT nodesync.diff_since($1, $2)::text", &[&doc, &g0]).unwrap().get(0);
                client.push(t0.elapsed().as_secs_f64() * 1e6);
            }
            let (p50, p99, c50) = (stats::pct(&server, 0.5), stats::pct(&server, 0.99), median(&client));
            rep.line(format!("{:<26} {:>6} {:>8} {:>12.0} {:>12.0} {:>14.0}", format!("{label} nodes ({doc})"), k, got, p50, p99, c50));
            pts.push((k, p50));
            rows.push(json!({"k": k, "diff_nodes": got, "server_p50_us": r3(p50), "server_p99_us": r3(p99), "client_p50_us": r3(c50), "reps": reps}));
        }
        out.insert(label.clone(), json!({"doc": doc, "nodes": n, "points": rows}));
        all.push((label, n, pts));
    }
    let series: Vec<(String, Vec<(f64, f64)>)> =
        all.iter().map(|(l, _, p)| (format!("{l}-node document"), p.iter().map(|(k, t)| (*k as f64, *t)).collect())).collect();
    rep.charts.push((
        "w3_diff_since_vs_k.svg".into(),
        svg::lines("diff_since time vs changes k", "server time per call (p50)", "k changes since the given gen", "µs", &series, true, true),
    ));
    (Value::Object(out), all)
}

/// Workload 4: snapshot vs a plain SELECT of the same rows (client wall time, text results).
fn w4(cfg: &Cfg, d: &Docs, rep: &mut Report) -> Value {
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
        let (mut ts, mut tq, mut tr, mut ta) = (vec![], vec![], vec![], vec![]);
        let mut nodes = 0;
        for i in 0..reps + 1 {
            let t0 = Instant::now();
            let s: String = c.query_one(&snap, &[&doc]).unwrap().get(0);
            let a = t0.elapsed().as_secs_f64() * 1e3;
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
            let b = t0.elapsed().as_secs_f64() * 1e3;
            let t0 = Instant::now();
            let x: String = c.query_one(&sr, &[&doc]).unwrap().get(0);
            let rr = t0.elapsed().as_secs_f64() * 1e3;
            let t0 = Instant::now();
            let y: String = c.query_one(&agg, &[&doc]).unwrap().get(0);
            let ag = t0.elapsed().as_secs_f64() * 1e3;
            nodes = rows.len();
            if i > 0 {
                ts.push(a);
                tq.push(b);
                tr.push(rr);
                ta.push(ag);
            }
            std::hint::black_box((s.len(), bytes, x.len(), y.len()));
        }
        let (a, b, rr, ag) = (median(&ts), median(&tq), median(&tr), median(&ta));
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
    rep.charts.push((
        "w4_snapshot_vs_select.svg".into(),
        svg::bars(
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
    ));
    Value::Object(out)
}

/// Workload 5: WAL bytes per one-node edit, each system alone.
fn w5(cfg: &Cfg, d: &Docs, rep: &mut Report) -> (Value, BTreeMap<Sys, (f64, f64)>) {
    rep.section(&format!(
        "5. WAL bytes per one-node edit ({} edits after a CHECKPOINT = cold, then {} more = warm; each system alone)",
        cfg.wal_edits, cfg.wal_edits
    ));
    rep.line(format!("{:<18} {:>12} {:>12} {:>10} {:>10}", "system", "cold B/edit", "warm B/edit", "×floor", "×snapshot"));
    let paras = (cfg.w1_nodes - 1) as u64;
    let mut res = BTreeMap::new();
    for sys in [Sys::Ext, Sys::Floor, Sys::Snap] {
        let mut ed = Editor::new(sys);
        // WAL content does not depend on synchronous_commit; async only saves time here
        Mode::Async.set(&mut ed);
        let mut rng = Rng::new(11);
        ed.c.batch_execute("CHECKPOINT").unwrap();
        let mut per = vec![];
        for _ in 0..2 {
            let lsn = db::wal_lsn(&mut ed.c);
            for _ in 0..cfg.wal_edits {
                let text = edit_text(&mut rng);
                ed.update(&d.w1, &flat_key(rng.below(paras) as usize), &text);
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
    rep.charts.push((
        "w5_wal_per_edit.svg".into(),
        svg::bars(
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
    ));
    (Value::Object(out), res)
}

/// A synthetic typing trace: sessions of keystrokes in one paragraph (insert a character at the
/// cursor, sometimes a backspace), moving mostly to the next paragraph, sometimes anywhere.
struct Trace {
    rng: Rng,
    texts: Vec<String>,
    para: usize,
    cursor: usize,
    left: usize,
}

impl Trace {
    fn new(paras: usize) -> Trace {
        Trace { rng: Rng::new(2026), texts: vec![String::new(); paras], para: 0, cursor: 0, left: 0 }
    }
    /// The next keystroke: (paragraph index, its new text).
    fn next(&mut self) -> (usize, &str) {
        const CHARS: &[u8] = b"etaoinshrdlucmfwypvbgkjqxz      ,.";
        let n = self.texts.len();
        if self.left == 0 {
            let r = self.rng.below(100);
            self.para = if r < 60 {
                (self.para + 1) % n
            } else if r < 85 {
                (self.para + n - 2 + self.rng.below(5) as usize) % n
            } else {
                self.rng.below(n as u64) as usize
            };
            let len = self.texts[self.para].len();
            self.cursor = if len == 0 || self.rng.chance(0.7) { len } else { self.rng.below(len as u64 + 1) as usize };
            self.left = 1 + self.rng.below(50) as usize;
        }
        self.left -= 1;
        let t = &mut self.texts[self.para];
        if self.cursor > 0 && self.rng.chance(0.15) {
            t.remove(self.cursor - 1);
            self.cursor -= 1;
        } else {
            t.insert(self.cursor, CHARS[self.rng.below(CHARS.len() as u64) as usize] as char);
            self.cursor += 1;
        }
        (self.para, t.as_str())
    }
}

/// Runs the first `n` keystrokes of the trace on one system; returns latencies (µs), total
/// seconds and the edits/s of each window of `window` edits.
fn run_trace(sys: Sys, mode: Mode, doc: &str, paras: usize, n: usize, window: usize, label: &str) -> (Lat, Vec<(f64, f64)>) {
    let mut ed = Editor::new(sys);
    mode.set(&mut ed);
    let mut tr = Trace::new(paras);
    let mut lat = Vec::with_capacity(n);
    let mut windows = vec![];
    let start = Instant::now();
    let mut wstart = Instant::now();
    for i in 0..n {
        let (p, text) = tr.next();
        let t0 = Instant::now();
        ed.update(doc, &flat_key(p), text);
        lat.push(t0.elapsed().as_secs_f64() * 1e6);
        if (i + 1) % window == 0 || i + 1 == n {
            let w = (i % window + 1) as f64;
            windows.push(((i + 1) as f64, w / wstart.elapsed().as_secs_f64()));
            wstart = Instant::now();
            if (i + 1) % (window * 5) == 0 || i + 1 == n {
                eprintln!("  trace {label}: {} / {n} edits, {:.0} edits/s", i + 1, (i + 1) as f64 / start.elapsed().as_secs_f64());
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    (Lat::from_us(&mut lat, secs), windows)
}

/// Workload 7: a real keystroke trace through plain SQL calls, text ops vs whole-value updates
/// (bench/src/trace.rs). Quick runs replay its first 20,000 edits, full runs all of it.
fn w7(quick: bool, rep: &mut Report) -> Value {
    let path = std::path::PathBuf::from(db::env("BENCH_TRACE", "../shared/data/traces/automerge-paper.json.gz"));
    let t = match trace::load(&path) {
        Ok(t) => t,
        Err(e) => {
            rep.section("7. real keystroke trace: skipped");
            rep.line(format!("cannot read the trace: {e} (set BENCH_TRACE)"));
            return json!({"skipped": e});
        }
    };
    let n = if quick { 20_000.min(t.edits.len()) } else { t.edits.len() };
    rep.section(&format!(
        "7. real keystroke trace {}: {n} of {} edits through apply_patch, one patch per edit, paragraphs as nodes, async commit",
        t.name,
        t.edits.len()
    ));
    rep.line(format!("{:<22} {:>10} {:>14} {:>18} {:>14}", "style", "edits/s", "WAL B/edit", "doc rows B/text B", "end text"));
    let mut c = db::connect();
    c.batch_execute("SET synchronous_commit = off").unwrap();
    let mut out = serde_json::Map::new();
    let mut got = BTreeMap::new();
    // the two styles alternate in chunks of 5,000 edits, so machine noise hits both alike
    let styles = [(trace::Style::TextOps, "real-trace-text"), (trace::Style::WholeValue, "real-trace-whole")];
    let mut replays: Vec<trace::Replay<'_>> = styles.iter().map(|(s, d)| trace::Replay::new(&mut c, d, &t, *s)).collect();
    let t0 = Instant::now();
    let mut done = 0;
    while done < n {
        let chunk = 5_000.min(n - done);
        for r in replays.iter_mut() {
            r.run(&mut c, chunk);
        }
        done += chunk;
        eprintln!("  trace {}: {done} / {n} edits in each style ({:.0} s)", t.name, t0.elapsed().as_secs_f64());
    }
    for ((style, _), replay) in styles.iter().zip(replays) {
        let style = *style;
        let r = replay.finish(&mut c);
        let per_byte = r.row_bytes / r.text_bytes.max(1) as f64;
        let end = match r.matches_end {
            Some(true) => "= endContent",
            Some(false) => "DIFFERS",
            None => "(prefix)",
        };
        rep.line(format!(
            "{:<22} {:>10.0} {:>14.0} {:>18.1} {:>14}",
            style.name(),
            r.edits as f64 / r.secs,
            r.wal_bytes / r.edits as f64,
            per_byte,
            end
        ));
        out.insert(
            style.name().into(),
            json!({"edits": r.edits, "secs": r3(r.secs), "edits_per_s": r3(r.edits as f64 / r.secs), "wal_bytes_per_edit": r3(r.wal_bytes / r.edits as f64),
                   "row_bytes": r.row_bytes, "text_bytes": r.text_bytes, "row_bytes_per_text_byte": r3(per_byte), "matches_end": r.matches_end}),
        );
        got.insert(style.name(), (r.edits as f64 / r.secs, r.wal_bytes / r.edits as f64, r.row_bytes));
    }
    let (t_ops, whole) = (got["text ops"], got["whole-value updates"]);
    rep.line(format!(
        "text ops / whole-value: {:.2}x edits/s, {:.2}x WAL per edit, {:.2}x stored bytes",
        t_ops.0 / whole.0,
        t_ops.1 / whole.1,
        t_ops.2 / whole.2
    ));
    out.insert("ratios_text_to_whole".into(), json!({"edits_per_s": r3(t_ops.0 / whole.0), "wal": r3(t_ops.1 / whole.1), "stored": r3(t_ops.2 / whole.2)}));
    Value::Object(out)
}

/// Workload 6: the editing trace. The same keystrokes go to a fresh copy of the trace
/// document in each system; each system runs a prefix of it from the same initial state.
fn w6(cfg: &Cfg, d: &Docs, rep: &mut Report) -> Value {
    rep.section(&format!(
        "6. editing trace: {} single-character edits over {} paragraphs, 1 client, each keystroke = one update of the paragraph's text",
        cfg.trace_edits, cfg.trace_paras
    ));
    rep.line(format!("{:<34} {:<17} {:>9} {:>8} {:>8} {:>12}", "run", "system", "edits/s", "p50 ms", "p99 ms", "min window/s"));
    let window = (cfg.trace_edits / 26).max(500);
    let mut out = serde_json::Map::new();
    let mut chart = vec![];
    // Each system runs the trace from the start on its own copy of the document: the durable
    // sample, the async full trace (nodesync) or prefix (baselines) continue the same document,
    // so the durable sample runs on a separate document copy created here.
    let mut c = db::connect();
    c.batch_execute("SET synchronous_commit = off").unwrap();
    let durable_doc = "trace-durable";
    db::load_flat(&mut c, durable_doc, cfg.trace_paras + 1, true);
    db::mirror(&mut c, durable_doc, false);
    let runs: Vec<(Sys, Mode, &str, usize)> = vec![
        (Sys::Ext, Mode::Durable, durable_doc, cfg.trace_durable_edits),
        (Sys::Floor, Mode::Durable, durable_doc, cfg.trace_durable_edits),
        (Sys::Floor, Mode::Async, d.trace.as_str(), cfg.trace_floor_edits),
        (Sys::Snap, Mode::Async, d.trace.as_str(), cfg.trace_snap_edits),
        (Sys::Ext, Mode::Async, d.trace.as_str(), cfg.trace_edits),
    ];
    let mut ext_async_prefix = None;
    for (sys, mode, doc, n) in runs {
        let label = format!("{} {}", sys.name(), mode.name());
        let (l, w) = run_trace(sys, mode, doc, cfg.trace_paras, n, window.min(n), &label);
        let minw = w.iter().map(|x| x.1).fold(f64::MAX, f64::min);
        rep.line(format!(
            "{:<34} {:<17} {:>9.1} {:>8.3} {:>8.3} {:>12.1}",
            format!("{} edits, {} commits", n, mode.name()),
            sys.name(),
            l.ops_s,
            l.p50_ms,
            l.p99_ms,
            minw
        ));
        if sys == Sys::Ext && mode == Mode::Async {
            // nodesync over the same prefix the floor ran, for a like-for-like ratio
            let upto = cfg.trace_floor_edits as f64;
            let (mut e, mut t) = (0.0, 0.0);
            let mut prev = 0.0;
            for (x, r) in &w {
                if *x <= upto {
                    e += x - prev;
                    t += (x - prev) / r;
                }
                prev = *x;
            }
            ext_async_prefix = Some(e / t);
            chart.push((label.clone(), w.clone()));
        } else if mode == Mode::Async && sys == Sys::Floor {
            chart.push((label.clone(), w.clone()));
        }
        out.insert(
            format!("{}_{}", sys.name(), mode.name()),
            json!({"edits": n, "doc": doc, "result": l.to_json(), "min_window_edits_per_s": r3(minw),
                   "windows": w.iter().map(|(x, r)| json!([x, r3(*r)])).collect::<Vec<_>>()}),
        );
    }
    if let Some(r) = ext_async_prefix {
        let f = out["floor_async"]["result"]["ops_per_s"].as_f64().unwrap_or(0.0);
        rep.line(format!(
            "nodesync async over the floor's {}-edit prefix: {:.1} edits/s = {:.2}× floor",
            cfg.trace_floor_edits,
            r,
            r / f
        ));
        out.insert("nodesync_async_on_floor_prefix_edits_per_s".into(), json!(r3(r)));
    }
    rep.charts.push((
        "w6_trace_edits_per_s.svg".into(),
        svg::lines(
            "Editing trace: sustained edits/s (async commits)",
            &format!("edits/s per window of {window} keystrokes, 1 client"),
            "keystrokes done",
            "edits/s",
            &chart,
            false,
            false,
        ),
    ));
    Value::Object(out)
}

// ---------------------------------------------------------------------------------------------

fn machine(c: &mut postgres::Client) -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).unwrap_or("?").trim().to_string();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kb: f64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|x| x.parse().ok())
        .unwrap_or(0.0);
    let ncpu = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let pkglib: String = c.query_one("SELECT setting FROM pg_config WHERE name = 'PKGLIBDIR'", &[]).unwrap().get(0);
    let mut show = |s: &str| -> String { c.query_one(&format!("SHOW {s}"), &[]).unwrap().get(0) };
    json!({
        "cpu_model": model, "nproc": ncpu, "memory_gib": r3(mem_kb / 1048576.0),
        "postgres": show("server_version"), "fsync": show("fsync"), "synchronous_commit": show("synchronous_commit"),
        "shared_buffers": show("shared_buffers"), "wal_level": show("wal_level"), "full_page_writes": show("full_page_writes"),
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
        "extension_library_dir": pkglib,
        "loadavg": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim(),
        "source": std::env::var("BENCH_SOURCE").unwrap_or_default(),
    })
}

/// User + system CPU seconds of a local process (the backend), from /proc; 0 if unreadable.
fn proc_cpu_secs(pid: i32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // fields after the parenthesised command name; utime and stime are fields 14 and 15
    let rest = s.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn profile_loop(args: &[String]) {
    let secs: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(30.0);
    let mode = if args.get(3).map(String::as_str) == Some("async") { Mode::Async } else { Mode::Durable };
    let sys = if args.get(4).map(String::as_str) == Some("floor") { Sys::Floor } else { Sys::Ext };
    let mut ed = Editor::new(sys);
    mode.set(&mut ed);
    if let Ok(sql) = std::env::var("BENCH_SESSION_SQL") {
        // e.g. "SET plan_cache_mode = force_generic_plan", to try a fix without rebuilding
        ed.c.batch_execute(&sql).unwrap();
    }
    db::preload_versions(&mut ed.c, sys, "w1");
    let pid: i32 = ed.c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    println!("{pid}");
    let nodes: i64 = ed.c.query_one("SELECT count(*) FROM bench.floor_node WHERE doc = 'w1'", &[]).unwrap().get(0);
    let mut rng = Rng::new(99);
    let cpu0 = proc_cpu_secs(pid);
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed().as_secs_f64() < secs {
        let text = edit_text(&mut rng);
        ed.update("w1", &flat_key(rng.below(nodes as u64 - 1) as usize), &text);
        n += 1;
    }
    let cpu = proc_cpu_secs(pid) - cpu0;
    eprintln!("{n} edits in {secs}s: {:.1}/s, backend CPU {:.1} µs/edit", n as f64 / secs, cpu / n as f64 * 1e6);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("loop") {
        return profile_loop(&args);
    }
    if args.get(1).map(String::as_str) == Some("trace") {
        // workload 7 alone: `pg_nodesync_bench trace [quick]`
        db::create_database();
        let mut rep = Report { rows: vec![], targets: vec![], json: serde_json::Map::new(), charts: vec![] };
        let r = w7(args.get(2).map(String::as_str) == Some("quick"), &mut rep);
        println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
        return;
    }
    let t_start = Instant::now();
    let quick = std::env::var("BENCH_QUICK").map(|v| !v.is_empty() && v != "0").unwrap_or(false);
    let cfg = Cfg::new(quick);
    let out_dir = std::path::PathBuf::from(db::env("BENCH_OUT", "target/bench"));
    std::fs::create_dir_all(&out_dir).expect("create the output directory");
    eprintln!("pg_nodesync bench ({}), results in {}", if quick { "quick" } else { "full" }, out_dir.display());

    let docs = load(&cfg);
    let mut c = db::connect();
    let mach = machine(&mut c);
    let ext_version: String = c.query_one("SELECT extversion FROM pg_extension WHERE extname = 'pg_nodesync'", &[]).unwrap().get(0);
    let mut rep = Report { rows: vec![], targets: vec![], json: serde_json::Map::new(), charts: vec![] };
    println!("machine: {mach}");

    let mut w1r = BTreeMap::new();
    let mut w2r = BTreeMap::new();
    for mode in [Mode::Durable, Mode::Async] {
        w1r.insert(mode.name(), w1(&cfg, &docs, mode, &mut rep));
        w2r.insert(mode.name(), w2(&cfg, &docs, mode, &mut rep));
    }
    let (w3r, diffs) = w3(&cfg, &docs, &mut rep);
    let w4r = w4(&cfg, &docs, &mut rep);
    let (w5r, wal) = w5(&cfg, &docs, &mut rep);
    let w6r = w6(&cfg, &docs, &mut rep);
    let w7r = w7(quick, &mut rep);

    // Targets
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

    let elapsed = t_start.elapsed().as_secs_f64();
    println!("\nbench finished in {:.0}s ({})", elapsed, if quick { "BENCH_QUICK" } else { "full" });

    // Files
    rep.json.insert("machine".into(), mach);
    rep.json.insert("extension_version".into(), json!(ext_version));
    rep.json.insert("mode".into(), json!(if quick { "quick" } else { "full" }));
    rep.json.insert("seconds".into(), json!(r3(elapsed)));
    rep.json.insert("loadavg_at_end".into(), json!(std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim()));
    rep.json.insert("w1_one_node_edit".into(), json!(w1r));
    rep.json.insert("w2_edit_vs_size".into(), json!(w2r));
    rep.json.insert("w3_diff_since".into(), w3r);
    rep.json.insert("w4_snapshot".into(), w4r);
    rep.json.insert("w5_wal".into(), w5r);
    rep.json.insert("w6_trace".into(), w6r);
    rep.json.insert("w7_real_trace".into(), w7r);
    rep.json.insert(
        "targets".into(),
        Value::Array(rep.targets.iter().map(|(w, v, p)| json!({"target": w, "value": v, "pass": p})).collect()),
    );
    std::fs::write(out_dir.join("results.json"), serde_json::to_string_pretty(&Value::Object(rep.json.clone())).unwrap()).unwrap();
    let mut table = rep.rows.join("\n");
    table.push_str("\n\n== targets\n");
    for (w, v, p) in &rep.targets {
        table.push_str(&format!("{:<4} {w}: {v}\n", if *p { "PASS" } else { "MISS" }));
    }
    std::fs::write(out_dir.join("results.txt"), table).unwrap();
    for (name, body) in &rep.charts {
        std::fs::write(out_dir.join(name), body).unwrap();
    }
    println!("wrote {}/results.json, results.txt and {} charts", out_dir.display(), rep.charts.len());
}
