//! Running clients: commit modes, one thread per editor, and the alternating-rounds comparison
//! of the three systems.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::Instant;

use fastrand::Rng;

use crate::db::{Editor, Sys};
use crate::stats::{Hist, Lat};

/// Commit modes the edit workloads run in.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum Mode {
    /// fsync on, synchronous_commit on: every commit waits for its WAL flush.
    Durable,
    /// synchronous_commit = off (session): WAL is the same but flushed in the background, so
    /// the figure shows the CPU cost of the commit without the disk wait.
    Async,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Durable => "durable",
            Mode::Async => "async",
        }
    }
    pub fn set(self, ed: &mut Editor) {
        let v = if self == Mode::Durable { "on" } else { "off" };
        ed.c.batch_execute(&format!("SET synchronous_commit = {v}")).unwrap();
    }
}

/// One editor's connection in `mode`.
pub fn editor(sys: Sys, mode: Mode) -> Editor {
    let mut e = Editor::new(sys);
    mode.set(&mut e);
    e
}

/// The 60-byte text every edit sets.
pub fn edit_text(rng: &mut Rng) -> String {
    format!("edited {:08x}: the quick brown fox jumps over the lazy dog.", rng.u32(..))
}

#[derive(Default)]
struct RunOut {
    lat: Hist,
    secs: f64,
    retries: usize,
}

impl RunOut {
    fn add(&mut self, o: &RunOut) {
        self.lat.add(&o.lat);
        self.secs += o.secs;
        self.retries += o.retries;
    }
}

/// One operation: (editor, thread index, the thread's random stream).
pub type Op<'a> = dyn Fn(&mut Editor, usize, &mut Rng) + Sync + 'a;

static SEED: AtomicU64 = AtomicU64::new(1);

/// Runs `op` on every editor, each in its own thread, for `secs` or `max_ops` per thread,
/// whichever comes first. Latency per op; `secs` is the wall time of the whole run.
fn run(eds: &mut [Editor], secs: f64, max_ops: usize, op: &Op<'_>) -> RunOut {
    let barrier = Barrier::new(eds.len());
    let seed = SEED.fetch_add(1000, Ordering::Relaxed);
    let results: Vec<RunOut> = std::thread::scope(|s| {
        let hs: Vec<_> = eds
            .iter_mut()
            .enumerate()
            .map(|(t, ed)| {
                let barrier = &barrier;
                s.spawn(move || {
                    let mut rng = Rng::with_seed(seed + t as u64);
                    let before = ed.retries;
                    let mut lat = Hist::default();
                    barrier.wait();
                    let start = Instant::now();
                    while (lat.len() as usize) < max_ops && start.elapsed().as_secs_f64() < secs {
                        let t0 = Instant::now();
                        op(ed, t, &mut rng);
                        lat.record(t0.elapsed());
                    }
                    RunOut { lat, secs: start.elapsed().as_secs_f64(), retries: ed.retries - before }
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut out = RunOut::default();
    for r in results {
        out.lat.add(&r.lat);
        out.secs = out.secs.max(r.secs);
        out.retries += r.retries;
    }
    out
}

/// The editors of one system in one comparison.
pub struct Pool {
    sys: Sys,
    eds: Vec<Editor>,
    /// Ops per thread per round (the slow baseline at large sizes is bounded by count).
    cap: usize,
}

pub fn pool(sys: Sys, clients: usize, mode: Mode, cap: usize) -> Pool {
    Pool { sys, eds: (0..clients).map(|_| editor(sys, mode)).collect(), cap }
}

/// Alternates the systems round by round (so machine noise hits all of them alike), after one
/// short unmeasured warm-up each; returns one `Lat` per system.
pub fn compare(pools: &mut [Pool], rounds: usize, secs: f64, label: &str, op: &Op<'_>) -> BTreeMap<Sys, Lat> {
    for p in pools.iter_mut() {
        run(&mut p.eds, (secs / 4.0).min(0.5), p.cap.clamp(1, 50), op);
    }
    let mut acc: BTreeMap<Sys, RunOut> = BTreeMap::new();
    for _ in 0..rounds {
        for p in pools.iter_mut() {
            let o = run(&mut p.eds, secs, p.cap, op);
            acc.entry(p.sys).or_default().add(&o);
        }
    }
    eprintln!("  measured: {label} ({rounds} rounds of {secs}s per system)");
    acc.into_iter()
        .map(|(s, o)| {
            let mut l = Lat::from_hist(&o.lat, o.secs);
            l.retries = o.retries;
            (s, l)
        })
        .collect()
}
