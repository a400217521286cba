//! pg_nodesync reliability checks (driven by scripts/reliability.sh):
//!
//!   reliability crash    --writers 8 --docs 2 --kills 3 --pgdir DIR --port P --cluster-script scripts/cluster.sh
//!   reliability sqlfuzz  --n 5000 --log DIR/server.log
//!   reliability rustfuzz --n 200000
//!   reliability soak     --clients 16 --patches 150
//!
//! The server comes from PGHOST/PGPORT/PGUSER. Each check prints `CHECK ok|FAIL name: ...`,
//! figures print `FIGURE name=value`; the exit code is 1 if any check failed.
//! `pg_nodesync_reliability --help` lists the options.

mod common;
mod crash;
mod hostile;
mod rustfuzz;
mod soak;
mod sqlfuzz;

use std::sync::atomic::Ordering;

use clap::{Parser, Subcommand};

/// pg_nodesync reliability checks: crash safety, hostile input, soak.
///
/// The server comes from PGHOST, PGPORT and PGUSER. Each check prints `CHECK ok|FAIL name: ...`,
/// figures print `FIGURE name=value`; the exit status is 1 if any check failed.
#[derive(Parser)]
#[command(name = "pg_nodesync_reliability")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Seed of every random choice (the same seed replays the same run)
    #[arg(long, default_value_t = 20261121, global = true)]
    seed: u64,
    /// Directory for reproducers and other files a check leaves
    #[arg(long, default_value = "/tmp/nodesync-reliability-out", global = true)]
    out: String,
}

#[derive(Subcommand)]
enum Command {
    /// Crash safety: concurrent writers, SIGKILL of the postmaster or a backend, recovery, checks
    Crash(crash::Opts),
    /// Hostile input over SQL: hostile patches and arguments to every function
    Sqlfuzz {
        /// Calls to make
        #[arg(long, default_value_t = 5000)]
        n: u64,
        /// Start a fresh document (and verify the last one) every this many calls
        #[arg(long, default_value_t = 500)]
        rotate: u64,
        /// The server's log file, checked for crashes at the end
        #[arg(long, default_value = "")]
        log: String,
    },
    /// Hostile input in pure Rust (no server): parse and the engine against the reference model
    Rustfuzz {
        /// Inputs to try
        #[arg(long, default_value_t = 100_000)]
        n: u64,
    },
    /// Soak: many clients commit random patches to one document, which is then verified
    Soak {
        /// Concurrent clients
        #[arg(long, default_value_t = 16)]
        clients: usize,
        /// Patches each client commits
        #[arg(long, default_value_t = 150)]
        patches: usize,
        /// Historical snapshots to compare in the verification
        #[arg(long, default_value_t = 300)]
        snapshots: usize,
    },
    /// Re-check one document of an earlier run
    Verify {
        /// Database of the document
        #[arg(long, default_value = "nsrel_soak")]
        db: String,
        /// The document
        #[arg(long, default_value = "soak")]
        doc: String,
        /// Historical snapshots to compare
        #[arg(long, default_value_t = 300)]
        snapshots: usize,
    },
}

fn main() {
    let cli = Cli::parse();
    let (seed, out) = (cli.seed, cli.out.as_str());
    let name = match cli.command {
        Command::Crash(o) => {
            crash::run(o, seed);
            "crash"
        }
        Command::Sqlfuzz { n, rotate, log } => {
            sqlfuzz::run(n, seed, rotate, &log, out);
            "sqlfuzz"
        }
        Command::Rustfuzz { n } => {
            rustfuzz::run(n, seed, out);
            "rustfuzz"
        }
        Command::Soak { clients, patches, snapshots } => {
            soak::run(clients, patches, seed, snapshots);
            "soak"
        }
        Command::Verify { db, doc, snapshots } => {
            verify(&db, &doc, snapshots);
            "verify"
        }
    };
    let (p, f) = (common::PASSED.load(Ordering::SeqCst), common::FAILED.load(Ordering::SeqCst));
    println!("{name}: {p} checks passed, {f} failed");
    std::process::exit(if f > 0 { 1 } else { 0 });
}

/// `reliability verify --db nsrel_soak --doc soak`: the soak's verification of one document.
fn verify(db: &str, doc: &str, snapshots: usize) {
    let mut c = common::server().connect(db, "nsrel-verify");
    let t = std::time::Instant::now();
    let st = common::verify_doc(&mut c, doc, common::Snaps::Sample(snapshots));
    common::check(
        "verify",
        st.problems.is_empty(),
        format!(
            "{doc}: gen {}, {} changes, {} keys, {} history rows, {} snapshots compared, {:.1}s {}",
            st.gen,
            st.changes,
            st.keys,
            st.history_rows,
            st.snapshots_compared,
            t.elapsed().as_secs_f64(),
            st.problems.join(" | ")
        ),
    );
}
