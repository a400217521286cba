//! pg_nodesync reliability checks (driven by scripts/reliability.sh):
//!
//!   reliability crash    --writers 8 --docs 2 --kills 3 --pgdir DIR --port P --cluster-script scripts/cluster.sh
//!   reliability sqlfuzz  --n 5000 --log DIR/server.log
//!   reliability rustfuzz --n 200000
//!   reliability soak     --clients 16 --patches 150
//!
//! The server comes from PGHOST/PGPORT/PGUSER. Each check prints `CHECK ok|FAIL name: ...`,
//! figures print `FIGURE name=value`; the exit code is 1 if any check failed.

mod common;
mod crash;
mod hostile;
mod rustfuzz;
mod soak;
mod sqlfuzz;

use std::collections::HashMap;
use std::sync::atomic::Ordering;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first().cloned() else {
        eprintln!("usage: reliability crash|sqlfuzz|rustfuzz|soak [--name value]...");
        std::process::exit(2);
    };
    let mut opts: HashMap<String, String> = HashMap::new();
    let mut it = args[1..].iter();
    while let Some(k) = it.next() {
        let v = it.next().cloned().unwrap_or_default();
        opts.insert(k.trim_start_matches("--").to_string(), v);
    }
    let num = |k: &str, d: u64| opts.get(k).and_then(|v| v.parse().ok()).unwrap_or(d);
    let s = |k: &str, d: &str| opts.get(k).cloned().unwrap_or_else(|| d.to_string());
    let seed = num("seed", 20261121);
    let out = s("out", "/tmp/nodesync-reliability-out");
    match cmd.as_str() {
        "crash" => crash::run(crash::Opts {
            writers: num("writers", 8) as usize,
            docs: num("docs", 2) as usize,
            kills: num("kills", 3) as usize,
            seed,
            pgdir: s("pgdir", ""),
            port: s("port", ""),
            cluster_script: s("cluster-script", "scripts/cluster.sh"),
        }),
        "sqlfuzz" => sqlfuzz::run(num("n", 5000), seed, num("rotate", 500), &s("log", ""), &out),
        "rustfuzz" => rustfuzz::run(num("n", 100_000), seed, &out),
        "soak" => soak::run(num("clients", 16) as usize, num("patches", 150) as usize, seed, num("snapshots", 300) as usize),
        "verify" => {
            // re-check one document of an earlier run: reliability verify --db nsrel_soak --doc soak
            let mut c = common::connect(&s("db", "nsrel_soak"), "nsrel-verify").expect("connect");
            let doc = s("doc", "soak");
            let t = std::time::Instant::now();
            let st = common::verify_doc(&mut c, &doc, common::Snaps::Sample(num("snapshots", 300) as usize));
            common::check(
                "verify",
                st.problems.is_empty(),
                format!(
                    "{doc}: gen {}, {} changes, {} keys, {} history rows, {} snapshots compared, {:.1}s {}",
                    st.gen, st.changes, st.keys, st.history_rows, st.snapshots_compared, t.elapsed().as_secs_f64(),
                    st.problems.join(" | ")
                ),
            );
        }
        other => {
            eprintln!("unknown command {other}");
            std::process::exit(2);
        }
    }
    let (p, f) = (common::PASSED.load(Ordering::SeqCst), common::FAILED.load(Ordering::SeqCst));
    println!("{cmd}: {p} checks passed, {f} failed");
    std::process::exit(if f > 0 { 1 } else { 0 });
}
