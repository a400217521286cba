//! Workload 6: a synthetic typing trace (sessions of 1-50 keystrokes at a cursor, 15%
//! backspaces, mostly moving to the next paragraph). Each keystroke is one update of the
//! paragraph's whole text; every system replays a prefix of the same trace.

use std::time::Instant;

use fastrand::Rng;
use serde_json::{json, Value};

use super::Docs;
use crate::cfg::Cfg;
use crate::charts;
use crate::db::{self, flat_key, Sys};
use crate::report::Report;
use crate::runner::{editor, Mode};
use crate::stats::{r3, Hist, Lat};

/// A synthetic typing trace: sessions of keystrokes in one paragraph (insert a character at the
/// cursor, sometimes a backspace), moving mostly to the next paragraph, sometimes anywhere.
struct TypingTrace {
    rng: Rng,
    texts: Vec<String>,
    para: usize,
    cursor: usize,
    left: usize,
}

impl TypingTrace {
    fn new(paras: usize) -> TypingTrace {
        TypingTrace { rng: Rng::with_seed(2026), texts: vec![String::new(); paras], para: 0, cursor: 0, left: 0 }
    }
    /// The next keystroke: (paragraph index, its new text).
    fn next(&mut self) -> (usize, &str) {
        const CHARS: &[u8] = b"etaoinshrdlucmfwypvbgkjqxz      ,.";
        let n = self.texts.len();
        if self.left == 0 {
            let r = self.rng.u32(..100);
            self.para = if r < 60 {
                (self.para + 1) % n
            } else if r < 85 {
                (self.para + n - 2 + self.rng.usize(..5)) % n
            } else {
                self.rng.usize(..n)
            };
            let len = self.texts[self.para].len();
            self.cursor = if len == 0 || self.rng.f64() < 0.7 { len } else { self.rng.usize(..=len) };
            self.left = 1 + self.rng.usize(..50);
        }
        self.left -= 1;
        let t = &mut self.texts[self.para];
        if self.cursor > 0 && self.rng.f64() < 0.15 {
            t.remove(self.cursor - 1);
            self.cursor -= 1;
        } else {
            t.insert(self.cursor, CHARS[self.rng.usize(..CHARS.len())] as char);
            self.cursor += 1;
        }
        (self.para, t.as_str())
    }
}

/// Runs the first `n` keystrokes of the trace on one system; returns its latencies and the
/// edits/s of each window of `window` edits.
fn run_trace(sys: Sys, mode: Mode, doc: &str, paras: usize, n: usize, window: usize, label: &str) -> (Lat, Vec<(f64, f64)>) {
    let mut ed = editor(sys, mode);
    let mut tr = TypingTrace::new(paras);
    let mut lat = Hist::default();
    let mut windows = vec![];
    let start = Instant::now();
    let mut wstart = Instant::now();
    for i in 0..n {
        let (p, text) = tr.next();
        let t0 = Instant::now();
        ed.update(doc, &flat_key(p), text);
        lat.record(t0.elapsed());
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
    (Lat::from_hist(&lat, secs), windows)
}

/// Workload 6: the editing trace. The same keystrokes go to a fresh copy of the trace
/// document in each system; each system runs a prefix of it from the same initial state.
pub fn w6(cfg: &Cfg, d: &Docs, rep: &mut Report) -> Value {
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
    rep.chart(
        "w6_trace_edits_per_s.svg".into(),
        charts::lines(
            "Editing trace: sustained edits/s (async commits)",
            &format!("edits/s per window of {window} keystrokes, 1 client"),
            "keystrokes done",
            "edits/s",
            &chart,
            false,
        ),
    );
    Value::Object(out)
}
