//! The workloads of a full run, one module each, and the documents they share:
//!
//! | workload | module |
//! |---|---|
//! | 1. one-node edit at 1 and 8 clients; 2. edit vs document size, insert among siblings | [`edits`] |
//! | 3. diff_since after k changes | [`diffs`] |
//! | 4. snapshot() vs a plain SELECT | [`snapshots`] |
//! | 5. WAL bytes per edit | [`wal`] |
//! | 6. synthetic typing trace | [`typing`] |
//! | 7. real keystroke trace, text ops vs whole-value updates | [`crate::trace`] |
//! | 8. commits/s across 1-8 documents, with and without NOTIFY | [`scaling`] |
//! | 9. one-node edit as an ordinary role under RLS vs a superuser | [`roles`] |
//! | push latency: NOTIFY vs a logical replication slot (`push`, wal_level = logical) | [`crate::push`] |

pub mod diffs;
pub mod edits;
pub mod roles;
pub mod scaling;
pub mod snapshots;
pub mod typing;
pub mod wal;

use std::time::Instant;

use fastrand::Rng;

use crate::cfg::Cfg;
use crate::db::{self, flat_key, sec_key};

/// The documents loaded before the workloads run (in all three systems).
pub struct Docs {
    pub w1: String,
    pub w8: Vec<String>,
    /// (label, doc, nodes)
    pub sizes: Vec<(String, String, usize)>,
    pub big_sections: usize,
    pub big_per: usize,
    pub trace: String,
}

impl Docs {
    /// A random paragraph key of a size document.
    pub fn size_key(&self, doc_nodes: usize, sectioned: bool, rng: &mut Rng) -> String {
        if sectioned {
            sec_key(rng.usize(..self.big_sections), rng.usize(..self.big_per))
        } else {
            flat_key(rng.usize(..doc_nodes - 1))
        }
    }

    /// Whether size document `i` is the sectioned one (the last, in a full run).
    pub fn sectioned(&self, i: usize) -> bool {
        i + 1 == self.sizes.len() && self.big_sections > 0
    }
}

/// Creates the bench database and loads every document through `nodesync.apply_patch`, then
/// mirrors each into the baselines.
pub fn load(cfg: &Cfg) -> Docs {
    load_docs(cfg, true)
}

/// Like [`load`], but only the documents of workloads 1, 8 and 9 (`w1`, `w8-*`): the
/// `scaling` command.
pub fn load_edit_docs(cfg: &Cfg) -> Docs {
    load_docs(cfg, false)
}

fn load_docs(cfg: &Cfg, all: bool) -> Docs {
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
    for (i, (label, n)) in cfg.sizes.iter().enumerate().filter(|_| all) {
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
    if all {
        db::load_flat(&mut c, &trace, cfg.trace_paras + 1, true);
        db::mirror(&mut c, &trace, true);
    }
    eprintln!("VACUUM ANALYZE, CHECKPOINT ...");
    c.batch_execute("VACUUM ANALYZE").unwrap();
    c.batch_execute("CHECKPOINT").unwrap();
    eprintln!("loaded in {:.0}s", t0.elapsed().as_secs_f64());
    Docs { w1, w8, sizes, big_sections, big_per, trace }
}
