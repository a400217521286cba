//! The main job: N simulated editors on one shared document for a fixed time, each a
//! [`Replica`] on its own connection (edit locally, push, rebase on 40001, pull on NOTIFY), with
//! a live progress line; then quiescence, a convergence check against `snapshot()` and the
//! change log, a summary table and the final document's outline.
//!
//! Besides their random structural edits, the editors type into shared paragraphs (the section
//! `shared`, `--shared P` paragraphs, editor i in paragraph i mod P): unique words at their own
//! caret, sometimes erasing one of their own words, pressing Enter or Backspace at a block's
//! start. The summary counts keystrokes typed (and not erased by their author) against
//! keystrokes present in the final document: they must be equal.
//!
//!   nodesync-demo [--editors 8] [--seconds 20] [--nodes 200] [--seed N] [--think-ms 0]
//!                 [--local-wins K] [--shared 2] [--outline 40] [--doc ID]
//!
//! Connection from PGHOST/PGPORT/PGUSER/PGDATABASE (see scripts/demo.sh).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use indicatif::{ProgressBar, ProgressStyle};
use nodesync_core::reference::Rng;
use pg_nodesync_client::sim::{blocks_text, check_words, count, random_edit, seed_patch, shared_patch, Stroke, Typist, SHARED};
use pg_nodesync_client::{connect_env, ensure_doc, fetch_snapshot, Config, Error, Policy, Replica};
use serde_json::Value;

struct Opts {
    editors: usize,
    seconds: f64,
    nodes: usize,
    seed: u64,
    think_ms: u64,
    local_wins: usize,
    shared: usize,
    outline: usize,
    doc: Option<String>,
}

fn usage() -> ! {
    eprintln!(
        "usage: nodesync-demo [--editors N] [--seconds S] [--nodes N] [--seed N] [--think-ms MS] [--local-wins K] [--shared P] [--outline LINES] [--doc ID]"
    );
    std::process::exit(2)
}

fn parse_opts() -> Opts {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut o = Opts { editors: 8, seconds: 20.0, nodes: 200, seed: now.as_secs() % 100_000, think_ms: 0, local_wins: 0, shared: 2, outline: 40, doc: None };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        if flag == "-h" || flag == "--help" {
            usage();
        }
        let (name, val) = match flag.split_once('=') {
            Some((n, v)) => (n.to_string(), v.to_string()),
            None => {
                i += 1;
                (flag.to_string(), args.get(i).cloned().unwrap_or_else(|| usage()))
            }
        };
        let num = |v: &str| -> u64 { v.parse().unwrap_or_else(|_| usage()) };
        match name.as_str() {
            "--editors" => o.editors = (num(&val) as usize).clamp(1, 50),
            "--seconds" => o.seconds = val.parse().unwrap_or_else(|_| usage()),
            "--nodes" => o.nodes = (num(&val) as usize).max(2),
            "--seed" => o.seed = num(&val),
            "--think-ms" => o.think_ms = num(&val),
            "--local-wins" => o.local_wins = num(&val) as usize,
            "--shared" => o.shared = (num(&val) as usize).clamp(1, 20),
            "--outline" => o.outline = num(&val) as usize,
            "--doc" => o.doc = Some(val),
            _ => usage(),
        }
        i += 1;
    }
    o
}

#[derive(Default)]
struct Shared {
    commits: AtomicU64,
    conflicts: AtomicU64,
    rebases: AtomicU64,
    dropped: AtomicU64,
    gave_up: AtomicU64,
    edits: AtomicU64,
    keystrokes: AtomicU64,
    nodes: AtomicUsize,
    latencies: Mutex<Vec<u64>>,
}

struct EditorResult {
    replica: Replica,
    typist: Typist,
    edits: u64,
    gave_up: u64,
    dropped_by_rule: BTreeMap<&'static str, u64>,
}

fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

fn die(msg: String) -> ! {
    eprintln!("nodesync-demo: {msg}");
    std::process::exit(1)
}

fn main() {
    let o = parse_opts();
    let mut admin = connect_env("nodesync-demo").unwrap_or_else(|e| die(format!("cannot connect (PGHOST/PGPORT/PGUSER): {e}")));
    admin.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_nodesync").unwrap_or_else(|e| die(format!("CREATE EXTENSION: {e}")));
    let run = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() % 1_000_000;
    let doc = o.doc.clone().unwrap_or_else(|| format!("demo-{}-{run}", o.seed));
    if !ensure_doc(&mut admin, &doc, "doc").unwrap_or_else(|e| die(e.to_string())) {
        die(format!("document {doc:?} exists already; pick another --doc"));
    }
    admin.execute("SELECT nodesync.apply_patch($1, $2)", &[&doc, &seed_patch(o.nodes)]).unwrap_or_else(|e| die(e.to_string()));
    admin
        .execute("SELECT nodesync.apply_patch($1, $2)", &[&doc, &shared_patch(o.shared, "Shared text.")])
        .unwrap_or_else(|e| die(e.to_string()));
    println!(
        "document {doc:?}: {} nodes; {} editors for {}s (seed {}, think {} ms, {} local-wins), typing into {} shared paragraphs",
        o.nodes, o.editors, o.seconds, o.seed, o.think_ms, o.local_wins.min(o.editors), o.shared
    );

    let shared = Arc::new(Shared::default());
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(o.seconds);
    let handles: Vec<_> = (0..o.editors)
        .map(|i| {
            let shared = shared.clone();
            let doc = doc.clone();
            let (seed, think, nodes, local_wins, paras) = (o.seed, o.think_ms, o.nodes, i < o.local_wins, o.shared);
            std::thread::spawn(move || -> Result<EditorResult, String> {
                let conn = connect_env(&format!("nodesync-demo-e{i}")).map_err(|e| e.to_string())?;
                let mut cfg = Config::new(&doc, &format!("e{i}-{run}"));
                cfg.key_prefix = Some(format!("e{i}."));
                cfg.seed = seed * 1000 + i as u64;
                cfg.policy = if local_wins { Policy::LocalWins } else { Policy::ServerWins };
                let mut r = Replica::open(conn, cfg).map_err(|e| e.to_string())?;
                r.listen().map_err(|e| e.to_string())?;
                let mut rng = Rng((seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (i as u64 + 1).wrapping_mul(7919)) | 1);
                // editor i types at the end of shared paragraph i mod P (splices, or whole-value
                // updates for every third editor)
                let para = format!("{SHARED}.{}", i % paras);
                let end = r.text(&para, "text").map_or(0, |t| t.chars().count());
                let mut typist = Typist::new(r.workspace_mut(), &format!("e{i}"), SHARED, &para, end, i % 3 == 2);
                let (mut edits, mut gave_up, mut n) = (0u64, 0u64, 0u64);
                let mut by_rule: BTreeMap<&'static str, u64> = BTreeMap::new();
                let mut seen = (0u64, 0u64, 0u64, 0usize);
                let mut dropped_seen = 0u64;
                let mut typed_seen = 0u64;
                while Instant::now() < deadline {
                    for _ in 0..1 + rng.below(3) {
                        n += 1;
                        if random_edit(r.workspace_mut(), &mut rng, &format!("e{i}#{n}"), nodes).is_some() {
                            edits += 1;
                        }
                    }
                    for _ in 0..1 + rng.below(2) {
                        let stroke = match rng.below(20) {
                            0 | 1 => Stroke::Erase,
                            2 => Stroke::Enter,
                            3 => Stroke::JoinUp,
                            _ => Stroke::Word,
                        };
                        if typist.stroke(r.workspace_mut(), &mut rng, stroke) {
                            edits += 1;
                        }
                    }
                    shared.keystrokes.fetch_add(typist.keystrokes - typed_seen, Relaxed);
                    typed_seen = typist.keystrokes;
                    match r.push() {
                        Ok(_) => {}
                        Err(Error::Contention { .. }) => gave_up += 1, // edits stay local; next push
                        Err(e) => return Err(format!("editor {i}: {e}")),
                    }
                    r.wait(Duration::ZERO).map_err(|e| format!("editor {i}: {e}"))?;
                    for d in r.take_dropped() {
                        *by_rule.entry(d.rule.name()).or_default() += 1;
                    }
                    r.take_committed();
                    let s = &r.stats;
                    shared.commits.fetch_add(s.commits - seen.0, Relaxed);
                    shared.conflicts.fetch_add(s.conflicts - seen.1, Relaxed);
                    shared.rebases.fetch_add(s.rebases - seen.2, Relaxed);
                    let dropped: u64 = by_rule.values().sum();
                    shared.dropped.fetch_add(dropped - dropped_seen, Relaxed);
                    dropped_seen = dropped;
                    if s.latencies_us.len() > seen.3 {
                        shared.latencies.lock().unwrap().extend_from_slice(&s.latencies_us[seen.3..]);
                    }
                    seen = (s.commits, s.conflicts, s.rebases, s.latencies_us.len());
                    if i == 0 {
                        shared.nodes.store(r.tree().len(), Relaxed);
                    }
                    if think > 0 {
                        std::thread::sleep(Duration::from_millis(rng.below(2 * think as u32 + 1) as u64));
                    }
                }
                shared.gave_up.fetch_add(gave_up, Relaxed);
                shared.edits.fetch_add(edits, Relaxed);
                Ok(EditorResult { replica: r, typist, edits, gave_up, dropped_by_rule: by_rule })
            })
        })
        .collect();

    // live progress line, cut to the terminal's width; where stderr is no terminal (CI logs)
    // the bar is hidden and a line is printed every 5 s instead
    let bar = ProgressBar::new_spinner().with_style(ProgressStyle::with_template("{wide_msg}").expect("a template"));
    let every = if bar.is_hidden() { Duration::from_secs(5) } else { Duration::from_millis(500) };
    let mut last_print = Instant::now() - Duration::from_secs(10);
    while Instant::now() < deadline + Duration::from_millis(100) && !handles.iter().all(|h| h.is_finished()) {
        std::thread::sleep(Duration::from_millis(250));
        if last_print.elapsed() < every {
            continue;
        }
        last_print = Instant::now();
        let t = started.elapsed().as_secs_f64();
        let commits = shared.commits.load(Relaxed);
        let conflicts = shared.conflicts.load(Relaxed);
        let mut lat = shared.latencies.lock().unwrap().clone();
        lat.sort_unstable();
        let line = format!(
            "[{t:5.1}s] commits {commits} ({:.0}/s)  conflicts {conflicts} ({:.1}%)  rebases {}  dropped {}  p50 {:.1} ms  p99 {:.1} ms  nodes {}  typed {}",
            commits as f64 / t.max(0.001),
            100.0 * conflicts as f64 / (commits + conflicts).max(1) as f64,
            shared.rebases.load(Relaxed),
            shared.dropped.load(Relaxed),
            pct(&lat, 0.50),
            pct(&lat, 0.99),
            shared.nodes.load(Relaxed),
            shared.keystrokes.load(Relaxed),
        );
        if bar.is_hidden() {
            eprintln!("{line}");
        } else {
            bar.set_message(line);
        }
    }
    // the last line stays on the terminal
    bar.abandon();
    let mut results = vec![];
    for h in handles {
        match h.join() {
            Ok(Ok(r)) => results.push(r),
            Ok(Err(e)) => die(e),
            Err(_) => die("an editor thread panicked".into()),
        }
    }
    let elapsed = started.elapsed().as_secs_f64().min(o.seconds.max(0.001));

    // quiescence: everyone pushes what is left, then everyone pulls
    let tq = Instant::now();
    for round in 0.. {
        if round == 20 {
            die("no quiescence after 20 rounds".into());
        }
        for r in results.iter_mut() {
            if let Err(e) = r.replica.push() {
                if !matches!(e, Error::Contention { .. }) {
                    die(format!("push at quiescence: {e}"));
                }
            }
        }
        for r in results.iter_mut() {
            r.replica.pull().unwrap_or_else(|e| die(format!("pull at quiescence: {e}")));
            for d in r.replica.take_dropped() {
                *r.dropped_by_rule.entry(d.rule.name()).or_default() += 1;
            }
        }
        let gen = results[0].replica.gen();
        if results.iter().all(|r| !r.replica.has_local_edits() && r.replica.gen() == gen) {
            break;
        }
    }
    let quiesce_ms = tq.elapsed().as_secs_f64() * 1000.0;

    // convergence
    let server = fetch_snapshot(&mut admin, &doc).unwrap_or_else(|e| die(e.to_string()));
    let flat = server.flat();
    let converged = results.iter().filter(|r| r.replica.tree().flat() == flat && r.replica.shadow() == &server).count();
    let rows = admin.query("SELECT client, seq FROM nodesync.changes_since($1, 0)", &[&doc]).unwrap_or_else(|e| die(e.to_string()));
    let mut pairs = BTreeSet::new();
    let mut twice = 0;
    let mut per_client: BTreeMap<String, u64> = BTreeMap::new();
    for row in &rows {
        let client: Option<String> = row.get(0);
        let seq: Option<i64> = row.get(1);
        if let Some(c) = client {
            if !pairs.insert((c.clone(), seq)) {
                twice += 1;
            }
            *per_client.entry(c).or_default() += 1;
        }
    }
    let counted_ok = results.iter().all(|r| per_client.get(&r.replica.config().client).copied().unwrap_or(0) == r.replica.stats.commits);

    // the shared paragraphs: every keystroke typed (and not erased by its author) is there
    let text = blocks_text(&server, SHARED);
    let typists: Vec<Typist> = results.iter().map(|r| r.typist.clone()).collect();
    let words_ok = check_words(&text, &typists);
    let present_of = |t: &Typist| -> u64 { t.kept().iter().filter(|w| count(&text, w) == 1).map(|w| w.chars().count() as u64 + 1).sum() };

    // summary table
    println!();
    println!(
        "{:<8} {:>7} {:>8} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "editor", "edits", "commits", "conflicts", "rebases", "dropped", "gave-up", "p50 ms", "p99 ms", "typed", "present"
    );
    let mut all_lat = vec![];
    let (mut te, mut tc, mut tf, mut tr, mut td, mut tg) = (0, 0, 0, 0, 0, 0);
    let (mut tt, mut tp) = (0u64, 0u64);
    let mut by_rule: BTreeMap<&str, u64> = BTreeMap::new();
    for (i, r) in results.iter().enumerate() {
        let s = &r.replica.stats;
        let mut lat = s.latencies_us.clone();
        lat.sort_unstable();
        all_lat.extend_from_slice(&lat);
        // warnings (a delete sent over a server change) are listed below, not counted here
        let dropped: u64 = r.dropped_by_rule.iter().filter(|(k, _)| **k != "delete-over-server-edit").map(|(_, v)| v).sum();
        for (k, v) in &r.dropped_by_rule {
            *by_rule.entry(k).or_default() += v;
        }
        let typed = r.typist.keystrokes - r.typist.erased_keystrokes;
        let present = present_of(&r.typist);
        tt += typed;
        tp += present;
        println!(
            "{:<8} {:>7} {:>8} {:>9} {:>8} {:>8} {:>8} {:>8.1} {:>8.1} {:>8} {:>8}",
            format!("e{i}"),
            r.edits,
            s.commits,
            s.conflicts,
            s.rebases,
            dropped,
            r.gave_up,
            pct(&lat, 0.5),
            pct(&lat, 0.99),
            typed,
            present
        );
        te += r.edits;
        tc += s.commits;
        tf += s.conflicts;
        tr += s.rebases;
        td += dropped;
        tg += r.gave_up;
    }
    all_lat.sort_unstable();
    println!(
        "{:<8} {:>7} {:>8} {:>9} {:>8} {:>8} {:>8} {:>8.1} {:>8.1} {:>8} {:>8}",
        "all",
        te,
        tc,
        tf,
        tr,
        td,
        tg,
        pct(&all_lat, 0.5),
        pct(&all_lat, 0.99),
        tt,
        tp
    );
    println!();
    println!(
        "throughput   {:.0} commits/s over {:.1}s ({} edits, {:.0} edits/s); conflict rate {:.1}% of sends",
        tc as f64 / elapsed,
        elapsed,
        te,
        te as f64 / elapsed,
        100.0 * tf as f64 / (tc + tf).max(1) as f64
    );
    println!(
        "dropped      {}",
        if by_rule.is_empty() { "none".to_string() } else { by_rule.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ") }
    );
    println!(
        "convergence  {converged}/{} replicas equal snapshot() at gen {} ({} nodes, depth {}) after {quiesce_ms:.0} ms of quiescence",
        results.len(),
        server.gen,
        server.len(),
        server.depth()
    );
    println!(
        "change log   {} changes; (client, seq) applied twice: {twice}; per-editor commit counts match the log: {}",
        rows.len(),
        if counted_ok { "yes" } else { "NO" }
    );
    let (enters, backs) = typists.iter().fold((0, 0), |a, t| (a.0 + t.splits, a.1 + t.joins));
    println!(
        "keystrokes   {tt} typed into the shared paragraphs (not erased by their author), {tp} present: {}; every word once, in its typist's order: {} \
         ({enters} Enter, {backs} Backspace; {} shared blocks now)",
        if tt == tp { "equal" } else { "NOT EQUAL" },
        match &words_ok {
            Ok(()) => "yes".to_string(),
            Err(e) => format!("NO ({e})"),
        },
        server.children(SHARED).len()
    );
    let root_props: Value = Value::Object(server.get("root").map(|n| n.props.clone()).unwrap_or_default());
    println!();
    println!("final document (root props {root_props}):");
    print!("{}", server.outline(o.outline));
    if converged != results.len() || twice > 0 || !counted_ok || tt != tp || words_ok.is_err() {
        die("convergence check FAILED".into());
    }
}
