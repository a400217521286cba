//! Workload 7: a real keystroke trace (`../shared/data/traces/*.json.gz`) replayed one patch per
//! trace edit, paragraphs as nodes (a newline is a `split`, deleting one a `join`), four times on
//! fresh documents: through plain `nodesync.apply_patch` calls with `text`/`split`/`join` ops and
//! with whole-value updates (`update` of the paragraph's text; create/delete for Enter and
//! Backspace), the same whole-value edits through the floor's functions (one row per paragraph,
//! `bench.floor_update/insert/delete`; all three in [`sql`]), and the text ops through the Rust
//! client's `Replica`, a local edit and a push per keystroke ([`replica`]). The four alternate in
//! chunks of 5,000 edits and are compared in one run: edits/s, WAL bytes per edit, the bytes the
//! document keeps (tree, history and log rows) per byte of final text, the backend's CPU per
//! edit. [`w7`] runs it and prints its targets.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::time::Instant;

use serde_json::{json, Value};

use crate::charts;
use crate::db;
use crate::report::Report;
use crate::stats::r3;

mod replica;
mod sql;
use replica::ReplicaReplay;
use sql::{Replay, Style};

/// The fourth replay's name in the table and in results.json.
const VIA_REPLICA: &str = "text ops via Replica";

/// A trace: start text, the edits `(at, delete, insert)` in code points of the whole text, and
/// the expected end text.
struct Trace {
    pub name: String,
    pub start: String,
    pub end: String,
    pub edits: Vec<(usize, usize, String)>,
}

fn load(path: &Path) -> Result<Trace, String> {
    let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut s = String::new();
    flate2::read::GzDecoder::new(f).read_to_string(&mut s).map_err(|e| format!("{}: {e}", path.display()))?;
    let v: Value = serde_json::from_str(&s).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut edits = vec![];
    for t in v["txns"].as_array().ok_or("no txns")? {
        for p in t["patches"].as_array().ok_or("txn without patches")? {
            let at = p[0].as_u64().ok_or("bad pos")? as usize;
            let del = p[1].as_u64().ok_or("bad ndel")? as usize;
            let ins = p[2].as_str().ok_or("bad insert")?.to_string();
            edits.push((at, del, ins));
        }
    }
    Ok(Trace {
        name: path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        start: v["startContent"].as_str().unwrap_or_default().to_string(),
        end: v["endContent"].as_str().ok_or("no endContent")?.to_string(),
        edits,
    })
}

struct Replayed {
    pub edits: usize,
    pub secs: f64,
    pub wal_bytes: f64,
    /// CPU seconds of the server backend that ran the edits, over `secs` (0 if /proc is not
    /// readable: a remote server).
    pub backend_cpu: f64,
    /// Bytes of the document's rows: tree, and log with its history (`pg_column_size`).
    pub row_bytes: f64,
    pub text_bytes: usize,
    /// The server's final text equals the trace's end text (only checked for a full replay).
    pub matches_end: Option<bool>,
}

/// One row of the table and of the JSON; returns (edits/s, WAL bytes per edit, stored bytes).
fn row(rep: &mut Report, out: &mut serde_json::Map<String, Value>, name: &str, r: &Replayed, extra: Value) -> (f64, f64, f64) {
    let per_byte = r.row_bytes / r.text_bytes.max(1) as f64;
    let end = match r.matches_end {
        Some(true) => "= endContent",
        Some(false) => "DIFFERS",
        None => "(prefix)",
    };
    let (speed, wal) = (r.edits as f64 / r.secs, r.wal_bytes / r.edits as f64);
    let backend_us = r.backend_cpu / r.edits.max(1) as f64 * 1e6;
    rep.line(format!("{name:<22} {speed:>10.0} {wal:>14.0} {per_byte:>18.1} {end:>14} {backend_us:>16.0}"));
    let mut o = json!({"edits": r.edits, "secs": r3(r.secs), "edits_per_s": r3(speed), "wal_bytes_per_edit": r3(wal), "backend_cpu_us_per_edit": r3(backend_us),
                       "row_bytes": r.row_bytes, "text_bytes": r.text_bytes, "row_bytes_per_text_byte": r3(per_byte), "matches_end": r.matches_end});
    if let (Some(o), Value::Object(x)) = (o.as_object_mut(), extra) {
        o.extend(x);
    }
    out.insert(name.into(), o);
    (speed, wal, r.row_bytes)
}

/// Workload 7: a real keystroke trace through plain SQL calls (text ops, whole-value updates,
/// the floor) and through the Rust client's Replica, in the same run. Quick runs replay its
/// first 20,000 edits, full runs all of it; `limit` (`--trace-edits`) replays that many instead.
/// The Replica replays the same edits (`replica_limit`, `--trace-replica-edits`: only that many).
pub fn w7(path: &Path, quick: bool, limit: Option<usize>, replica_limit: Option<usize>, rep: &mut Report) -> Value {
    let t = match load(path) {
        Ok(t) => t,
        Err(e) => {
            rep.section("7. real keystroke trace: skipped");
            rep.line(format!("cannot read the trace: {e} (set BENCH_TRACE or --trace-file)"));
            return json!({"skipped": e});
        }
    };
    let n = limit.unwrap_or(if quick { 20_000 } else { usize::MAX }).min(t.edits.len());
    let nr = replica_limit.unwrap_or(n).min(n);
    rep.section(&format!(
        "7. real keystroke trace {}: {n} of {} edits through apply_patch, one patch per edit, paragraphs as nodes, async commit",
        t.name,
        t.edits.len()
    ));
    rep.line(format!("{:<22} {:>10} {:>14} {:>18} {:>14} {:>16}", "style", "edits/s", "WAL B/edit", "doc rows B/text B", "end text", "backend us/edit"));
    let mut c = db::connect();
    c.batch_execute("SET synchronous_commit = off").expect("SET synchronous_commit");
    let mut out = serde_json::Map::new();
    let mut got = BTreeMap::new();
    // the four replays alternate in chunks of 5,000 edits, so machine noise hits all alike
    let styles = [(Style::TextOps, "real-trace-text"), (Style::WholeValue, "real-trace-whole"), (Style::Floor, "real-trace-floor")];
    let mut replays: Vec<Replay<'_>> = styles.iter().map(|(s, d)| Replay::new(&mut c, d, &t, *s)).collect();
    let mut via = ReplicaReplay::new(&mut c, "real-trace-replica", &t);
    // edits/s per chunk, per replay (the three plain-SQL ones, then the Replica's)
    let mut windows: Vec<Vec<(f64, f64)>> = vec![vec![]; styles.len() + 1];
    let t0 = Instant::now();
    let mut done = 0;
    // the floor's time over the Replica's edits (the first nr), for the Replica's ratio
    let mut floor_secs_replica = 0.0;
    while done < n {
        let chunk = 5_000.min(n - done);
        let mut secs: Vec<f64> = replays.iter_mut().map(|r| r.run(&mut c, chunk)).collect();
        let replica_chunk = chunk.min(nr.saturating_sub(done));
        if replica_chunk > 0 {
            let s = via.run(&mut c, replica_chunk);
            windows[styles.len()].push(((done + replica_chunk) as f64, replica_chunk as f64 / s));
            floor_secs_replica += secs[2] * replica_chunk as f64 / chunk as f64;
            secs.push(s * chunk as f64 / replica_chunk as f64);
        }
        done += chunk;
        for (w, s) in windows.iter_mut().zip(&secs).take(styles.len()) {
            w.push((done as f64, chunk as f64 / s));
        }
        let rates: Vec<String> = secs.iter().map(|s| format!("{:.0}", chunk as f64 / s)).collect();
        eprintln!("  trace {}: {done} / {n} edits in each style ({:.0} s; this chunk's edits/s: {})", t.name, t0.elapsed().as_secs_f64(), rates.join(", "));
    }
    let points = |w: &[(f64, f64)]| Value::from(w.iter().map(|(x, r)| json!([x, r3(*r)])).collect::<Vec<_>>());
    for (((style, _), replay), w) in styles.iter().zip(replays).zip(&windows) {
        let r = replay.finish(&mut c);
        got.insert(style.name(), row(rep, &mut out, style.name(), &r, json!({"windows": points(w)})));
    }
    let names: Vec<&str> = styles.iter().map(|(s, _)| s.name()).chain([VIA_REPLICA]).collect();
    let series: Vec<(String, Vec<(f64, f64)>)> = names.iter().map(|s| s.to_string()).zip(windows.iter().cloned()).collect();
    rep.chart(
        "w7_real_trace_edits_per_s.svg".into(),
        charts::lines(
            &format!("Real keystroke trace {}: edits/s (async commits)", t.name),
            "edits/s per chunk of 5,000 keystrokes, one patch per keystroke, the four replays interleaved",
            "keystrokes done",
            "edits/s",
            &series,
            false,
        ),
    );
    let (r, counts) = via.finish(&mut c);
    let per_edit = |x: f64| x / r.edits.max(1) as f64;
    let mut extra = json!({"commits": counts.commits, "conflicts": counts.conflicts, "log_fetches": counts.log_fetches,
                           "known_commits": counts.known_commits,
                           "push_secs": r3(counts.push_secs), "push_us_per_edit": r3(per_edit(counts.push_secs) * 1e6),
                           "client_cpu_us_per_edit": r3(per_edit(counts.client_cpu) * 1e6),
                           "local_us_per_edit": r3(per_edit(r.secs - counts.push_secs) * 1e6)});
    extra["windows"] = points(&windows[styles.len()]);
    got.insert(VIA_REPLICA, row(rep, &mut out, VIA_REPLICA, &r, extra));
    rep.line(format!(
        "  via Replica: {} commits ({} conflicts; {} known without a read, {} changes_since reads); per keystroke {:.0} us in push (building the patch, apply_patch, \
         the catch-up reads), {:.0} us in the local edits and the replayer; CPU per keystroke: {:.0} us in this client, {:.0} us in its backend",
        counts.commits,
        counts.conflicts,
        counts.known_commits,
        counts.log_fetches,
        per_edit(counts.push_secs) * 1e6,
        per_edit(r.secs - counts.push_secs) * 1e6,
        per_edit(counts.client_cpu) * 1e6,
        per_edit(r.backend_cpu) * 1e6
    ));
    let ratios = |a: (f64, f64, f64), b: (f64, f64, f64)| (a.0 / b.0, a.1 / b.1, a.2 / b.2);
    let (t_ops, whole, floor, replica) = (got["text ops"], got["whole-value updates"], got["floor, whole-value"], got[VIA_REPLICA]);
    for (label, key, (speed, wal, stored)) in [
        ("text ops / whole-value", "ratios_text_to_whole", ratios(t_ops, whole)),
        ("text ops / floor", "ratios_text_to_floor", ratios(t_ops, floor)),
        ("text ops via Replica / floor", "ratios_replica_to_floor", ratios(replica, floor)),
        ("text ops via Replica / text ops", "ratios_replica_to_text", ratios(replica, t_ops)),
    ] {
        let label = if nr < n && key.starts_with("ratios_replica") { format!("{label} (the Replica's first {nr} edits vs all {n})") } else { label.to_string() };
        rep.line(format!("{label}: {speed:.2}x edits/s, {wal:.2}x WAL per edit, {stored:.2}x stored bytes"));
        out.insert(key.into(), json!({"edits_per_s": r3(speed), "wal": r3(wal), "stored": r3(stored)}));
    }
    let (speed, wal, stored) = ratios(t_ops, floor);
    let what = if n == t.edits.len() { "the whole trace" } else { "a prefix of the trace" };
    rep.target(&format!("trace replay, text ops, {what} (async) >= 0.9x the floor's edits/s"), format!("{speed:.2}x"), speed >= 0.9);
    rep.target(&format!("trace replay, text ops, {what}: WAL per keystroke <= 0.8x the whole-value floor's"), format!("{wal:.2}x"), wal <= 0.8);
    rep.target(&format!("trace replay, text ops, {what}: storage <= 0.5x the whole-value floor's"), format!("{stored:.2}x"), stored <= 0.5);
    // against the floor over the same edits (the Replica may replay only a prefix)
    let floor_rate = if floor_secs_replica > 0.0 { nr as f64 / floor_secs_replica } else { floor.0 };
    let speed = replica.0 / floor_rate;
    let what_r = if nr == t.edits.len() { "the whole trace".to_string() } else { format!("the first {nr} edits") };
    if nr < n {
        rep.line(format!("  via Replica: the first {nr} of the {n} edits (--trace-replica-edits); its ratio to the floor is over those edits ({floor_rate:.0} edits/s)"));
    }
    rep.target(&format!("trace replay via Replica, a push per keystroke, {what_r} (async) >= 0.9x the floor's edits/s"), format!("{speed:.2}x"), speed >= 0.9);
    Value::Object(out)
}
