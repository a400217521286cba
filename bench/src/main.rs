//! `make bench`: pg_nodesync against two plain-SQL baselines measured in the same run on the
//! same cluster (see docs/performance.md). Prints a table with PASS/MISS per target and writes
//! `target/bench/results.json` and one SVG chart per figure. Never fails on a MISS.
//! `pg_nodesync_bench --help` lists the commands and options.

mod cfg;
mod charts;
mod db;
mod profile;
mod push;
mod report;
mod runner;
mod stats;
mod targets;
mod trace;
mod workloads;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::builder::FalseyValueParser;
use clap::{Parser, Subcommand};
use serde_json::json;

use cfg::Cfg;
use db::Sys;
use report::Report;
use runner::Mode;
use stats::r3;
use workloads::{diffs, edits, roles, scaling, snapshots, typing, wal, Docs};

/// pg_nodesync against two plain-SQL baselines (a "floor" and ShareDB's snapshot-rewrite
/// pattern), measured in alternating rounds of the same run on the same cluster.
///
/// Without a command: the whole benchmark (workloads 1-9), results in --out. Expects a
/// cluster with the extension installed (scripts/bench.sh sets one up).
#[derive(Parser)]
#[command(name = "pg_nodesync_bench")]
struct Cli {
    /// Smaller sizes and shorter rounds (about 4 minutes); 0, false, no or off mean a full run
    #[arg(long, env = "BENCH_QUICK", value_parser = FalseyValueParser::new())]
    quick: bool,
    /// Output directory: results.txt, results.json, one SVG per figure
    #[arg(long, env = "BENCH_OUT", default_value = "target/bench")]
    out: PathBuf,
    /// The real keystroke trace workload 7 replays
    #[arg(long, env = "BENCH_TRACE", default_value = "../shared/data/traces/automerge-paper.json.gz")]
    trace_file: PathBuf,
    /// Workload 7 replays only the trace's first N edits (default: 20,000 with --quick or
    /// `trace quick`, all of them otherwise)
    #[arg(long, env = "BENCH_TRACE_EDITS", value_name = "N")]
    trace_edits: Option<usize>,
    /// The Replica's replay in workload 7 stops after the first N of those edits (default: all
    /// of them)
    #[arg(long, env = "BENCH_TRACE_REPLICA_EDITS", value_name = "N")]
    trace_replica_edits: Option<usize>,
    /// What is measured, recorded in results.json (scripts/bench.sh: commit and local changes)
    #[arg(long, env = "BENCH_SOURCE", default_value = "")]
    source: String,
    #[command(flatten)]
    server: db::Server,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// One-node edits on an existing bench database, for profiling
    ///
    /// Edits random paragraphs of document w1 (a bench database left by BENCH_KEEP_CLUSTER=1)
    /// in one session; prints the backend pid first (for `perf record -g -p PID`) and the
    /// backend's CPU time per edit at the end.
    Loop {
        /// Seconds to run
        #[arg(default_value_t = 30.0)]
        secs: f64,
        /// Commit mode
        #[arg(value_enum, default_value_t = Mode::Durable)]
        mode: Mode,
        /// System to edit
        #[arg(value_enum, default_value_t = Sys::Ext)]
        system: Sys,
        /// A statement to run in the session first, e.g. 'SET plan_cache_mode = force_generic_plan'
        #[arg(long, env = "BENCH_SESSION_SQL")]
        session_sql: Option<String>,
    },
    /// Workload 7 alone (the real keystroke trace) on a fresh bench database; prints its JSON
    /// and writes its chart to --out
    Trace {
        /// `quick`: only the first 20,000 edits (as `--quick trace` does)
        #[arg(value_name = "quick", value_parser = ["quick"])]
        size: Option<String>,
    },
    /// Workloads 8 and 9 alone (commits/s across documents with and without NOTIFY; an ordinary
    /// role under RLS vs a superuser) on a fresh bench database holding only their documents;
    /// results, charts and the role targets in --out, like a full run
    Scaling,
    /// Push latency: NOTIFY vs a logical replication slot (walsender stream and SQL polling),
    /// slot creation, WAL kept for a reader that is gone. Needs wal_level = logical and the bench
    /// database of a run before (scripts/bench.sh restarts the cluster for it); adds its section
    /// to results.txt and results.json in --out
    Push,
}

fn main() {
    let cli = Cli::parse();
    db::use_server(cli.server.clone());
    match &cli.command {
        Some(Command::Loop { secs, mode, system, session_sql }) => profile::run(*secs, *mode, *system, session_sql.as_deref()),
        Some(Command::Trace { size }) => {
            db::create_database();
            let mut rep = Report::default();
            let r = trace::w7(&cli.trace_file, cli.quick || size.is_some(), cli.trace_edits, cli.trace_replica_edits, &mut rep);
            println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
            std::fs::create_dir_all(&cli.out).expect("create the output directory");
            for (name, svg) in &rep.charts {
                let path = cli.out.join(name);
                std::fs::write(&path, svg).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
                eprintln!("wrote {}", path.display());
            }
        }
        Some(Command::Scaling) => scaling_run(&cli),
        Some(Command::Push) => push::run(&Cfg::new(cli.quick), &cli.out),
        None => full_run(&cli),
    }
}

/// Workloads 8 (both commit modes) and 9 (both commit modes, after setting up the role).
fn w8_w9(cfg: &Cfg, docs: &Docs, rep: &mut Report) -> (BTreeMap<&'static str, serde_json::Value>, BTreeMap<&'static str, serde_json::Value>) {
    let mut w8r = BTreeMap::new();
    for mode in [Mode::Durable, Mode::Async] {
        w8r.insert(mode.name(), scaling::w8(cfg, docs, mode, rep));
    }
    roles::check_role(docs);
    let mut w9r = BTreeMap::new();
    for mode in [Mode::Durable, Mode::Async] {
        w9r.insert(mode.name(), roles::w9(cfg, docs, mode, rep));
    }
    (w8r, w9r)
}

/// `scaling`: workloads 8 and 9 on their documents only, with the role targets.
fn scaling_run(cli: &Cli) {
    let t_start = Instant::now();
    let cfg = Cfg::new(cli.quick);
    std::fs::create_dir_all(&cli.out).expect("create the output directory");
    let docs = workloads::load_edit_docs(&cfg);
    let mut c = db::connect();
    let mut rep = Report::default();
    let mach = report::machine(&mut c, &cli.source);
    println!("machine: {mach}");
    let (w8r, w9r) = w8_w9(&cfg, &docs, &mut rep);
    println!("\n== targets");
    targets::role(&w9r, &mut rep);
    let elapsed = t_start.elapsed().as_secs_f64();
    println!("\nscaling finished in {elapsed:.0}s ({})", if cli.quick { "BENCH_QUICK" } else { "full" });
    for (k, v) in [
        ("machine", mach),
        ("mode", json!(if cli.quick { "quick scaling" } else { "scaling" })),
        ("seconds", json!(r3(elapsed))),
        ("w8_commits_across_documents", json!(w8r)),
        ("w9_ordinary_role", json!(w9r)),
    ] {
        rep.json.insert(k.into(), v);
    }
    rep.write(&cli.out).expect("write the results");
}

/// Workloads 1-9, the targets, and the files.
fn full_run(cli: &Cli) {
    let t_start = Instant::now();
    let quick = cli.quick;
    let cfg = Cfg::new(quick);
    let out_dir: &Path = &cli.out;
    std::fs::create_dir_all(out_dir).expect("create the output directory");
    eprintln!("pg_nodesync bench ({}), results in {}", if quick { "quick" } else { "full" }, out_dir.display());

    let docs = workloads::load(&cfg);
    let mut c = db::connect();
    let mach = report::machine(&mut c, &cli.source);
    let ext_version: String = c.query_one("SELECT extversion FROM pg_extension WHERE extname = 'pg_nodesync'", &[]).unwrap().get(0);
    let mut rep = Report::default();
    println!("machine: {mach}");

    let mut w1r = BTreeMap::new();
    let mut w2r = BTreeMap::new();
    for mode in [Mode::Durable, Mode::Async] {
        w1r.insert(mode.name(), edits::w1(&cfg, &docs, mode, &mut rep));
        w2r.insert(mode.name(), edits::w2(&cfg, &docs, mode, &mut rep));
    }
    let (w3r, diffs) = diffs::w3(&cfg, &docs, &mut rep);
    let w4r = snapshots::w4(&cfg, &docs, &mut rep);
    let (w5r, wal) = wal::w5(&cfg, &docs, &mut rep);
    let w6r = typing::w6(&cfg, &docs, &mut rep);
    let w7r = trace::w7(&cli.trace_file, quick, cli.trace_edits, cli.trace_replica_edits, &mut rep);
    let (w8r, w9r) = w8_w9(&cfg, &docs, &mut rep);

    let inputs = targets::Inputs { w1: &w1r, w2: &w2r, w9: &w9r, diffs: &diffs, wal: &wal };
    targets::evaluate(&cfg, &docs, &inputs, &mut rep);

    let elapsed = t_start.elapsed().as_secs_f64();
    println!("\nbench finished in {:.0}s ({})", elapsed, if quick { "BENCH_QUICK" } else { "full" });

    for (k, v) in [
        ("machine", mach),
        ("extension_version", json!(ext_version)),
        ("mode", json!(if quick { "quick" } else { "full" })),
        ("seconds", json!(r3(elapsed))),
        ("loadavg_at_end", json!(report::loadavg())),
        ("w1_one_node_edit", json!(w1r)),
        ("w2_edit_vs_size", json!(w2r)),
        ("w3_diff_since", w3r),
        ("w4_snapshot", w4r),
        ("w5_wal", w5r),
        ("w6_trace", w6r),
        ("w7_real_trace", w7r),
        ("w8_commits_across_documents", json!(w8r)),
        ("w9_ordinary_role", json!(w9r)),
    ] {
        rep.json.insert(k.into(), v);
    }
    rep.write(out_dir).expect("write the results");
}
