//! `pg_nodesync_bench push`: how fast a commit's `{"doc", "gen"}` reaches a reader, by NOTIFY
//! (one LISTEN connection) and by a logical replication slot read two ways: streamed by a
//! walsender (`pg_recvlogical`, plugin pgoutput with an empty publication and `messages`, so
//! only the messages are sent) and polled with `pg_logical_slot_get_changes` (test_decoding)
//! every 10 ms. The writers are the floor's: `floor_update` (pg_notify) for NOTIFY,
//! `floor_update_wal` (a transactional `pg_logical_emit_message`) for the slot. Also: how long
//! creating a slot takes, and how much WAL a slot keeps for a reader that is gone.
//!
//! Needs `wal_level = logical` and the bench database of an earlier run (scripts/bench.sh
//! restarts its cluster with `NODESYNC_WAL_LEVEL=logical` after the main run). Adds its
//! section to results.txt and results.json.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use fastrand::Rng;
use postgres::fallible_iterator::FallibleIterator;
use postgres::Client;
use serde_json::{json, Value};

use crate::cfg::Cfg;
use crate::db::{self, flat_key, Editor, Sys};
use crate::report::Report;
use crate::runner::{edit_text, editor, Mode};
use crate::stats::{r3, Hist, Lat};

/// How the reader learns of commits.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mech {
    Notify,
    Stream,
    Poll,
}

impl Mech {
    fn name(self) -> &'static str {
        match self {
            Mech::Notify => "NOTIFY (LISTEN connection)",
            Mech::Stream => "slot, walsender stream (pgoutput)",
            Mech::Poll => "slot, SQL poll 10 ms (test_decoding)",
        }
    }
    fn writer(self) -> Sys {
        if self == Mech::Notify {
            Sys::Floor
        } else {
            Sys::FloorWal
        }
    }
}

/// (label, writers on documents w8-0.., pause between one writer's commits: None = flat out)
const LOADS: [(&str, usize, Option<u64>); 2] = [("1 writer, 100 commits/s", 1, Some(10)), ("8 writers, 8 docs, flat out", 8, None)];
const PUBLICATION: &str = "bench_push";
const POLL_MS: u64 = 10;

/// (writer index = document w8-i, gen) of a payload `{"doc" : "w8-i", "gen" : g}`.
fn parse_payload(s: &str) -> Option<(usize, i64)> {
    let v: Value = serde_json::from_str(s).ok()?;
    let i = v["doc"].as_str()?.strip_prefix("w8-")?.parse().ok()?;
    Some((i, v["gen"].as_i64()?))
}

/// The payloads in a byte stream of pgoutput messages (binary framing around the JSON text),
/// removed from `buf`; an incomplete one at the end stays.
fn take_payloads(buf: &mut Vec<u8>) -> Vec<(usize, i64)> {
    const START: &[u8] = b"{\"doc\"";
    let mut out = vec![];
    let mut keep_from = buf.len().saturating_sub(START.len());
    let mut i = 0;
    while let Some(s) = buf[i..].windows(START.len()).position(|w| w == START).map(|p| p + i) {
        match buf[s..].iter().position(|b| *b == b'}') {
            Some(e) => {
                if let Some(p) = std::str::from_utf8(&buf[s..=s + e]).ok().and_then(parse_payload) {
                    out.push(p);
                }
                i = s + e + 1;
                keep_from = i.max(buf.len().saturating_sub(START.len()));
            }
            None => {
                keep_from = s;
                break;
            }
        }
    }
    buf.drain(..keep_from.min(buf.len()));
    out
}

fn query_f64(c: &mut Client, sql: &str, slot: &str) -> Option<f64> {
    c.query_opt(sql, &[&slot]).unwrap().and_then(|r| r.get(0))
}

/// Creates logical slot `slot` with `plugin`; returns the milliseconds it took.
fn create_slot(c: &mut Client, slot: &str, plugin: &str) -> f64 {
    drop_slot(c, slot);
    let t0 = Instant::now();
    c.execute("SELECT pg_create_logical_replication_slot($1, $2)", &[&slot, &plugin]).unwrap();
    t0.elapsed().as_secs_f64() * 1e3
}

/// Whether `slot` is in use by a walsender; None if there is no such slot.
fn slot_active(c: &mut Client, slot: &str) -> Option<bool> {
    c.query_opt("SELECT active FROM pg_replication_slots WHERE slot_name = $1", &[&slot]).unwrap().map(|r| r.get(0))
}

/// Drops `slot` if it exists, once no walsender uses it.
fn drop_slot(c: &mut Client, slot: &str) {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(10) {
        match slot_active(c, slot) {
            None => return,
            Some(false) => {
                c.execute("SELECT pg_drop_replication_slot($1)", &[&slot]).unwrap();
                return;
            }
            Some(true) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    panic!("slot {slot} still in use after 10 s");
}

/// A running reader: its thread (which returns the durations of its SQL polls) and, for the
/// stream, the pg_recvlogical process.
struct Reader {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Hist>,
    child: Option<std::process::Child>,
    slot: Option<&'static str>,
    create_ms: Option<f64>,
}

fn pg_recvlogical() -> String {
    match std::env::var("PGBIN") {
        Ok(b) => format!("{b}/pg_recvlogical"),
        Err(_) => nodesync_testkit::pg_bin("pg_recvlogical"),
    }
}

/// Starts the reader of `mech`; it sends (writer, gen, arrival) for every payload it sees.
fn start_reader(mech: Mech, admin: &mut Client, tx: mpsc::Sender<(usize, i64, Instant)>) -> Result<Reader, String> {
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    match mech {
        Mech::Notify => {
            let mut c = db::connect();
            c.batch_execute("LISTEN bench").unwrap();
            let thread = std::thread::spawn(move || {
                let mut n = c.notifications();
                while !stopped.load(Ordering::Relaxed) {
                    let mut it = n.timeout_iter(Duration::from_millis(50));
                    while let Ok(Some(m)) = it.next() {
                        if let Some((i, g)) = parse_payload(m.payload()) {
                            let _ = tx.send((i, g, Instant::now()));
                        }
                    }
                }
                Hist::default()
            });
            Ok(Reader { stop, thread, child: None, slot: None, create_ms: None })
        }
        Mech::Stream => {
            let slot = "bench_stream";
            let create_ms = create_slot(admin, slot, "pgoutput");
            let s = db::server();
            let mut child = Command::new(pg_recvlogical())
                .args(["-h", &s.host, "-p", &s.port, "-U", &s.user, "-d", db::DB, "-S", slot, "--start", "-f", "-", "-s", "1"])
                .args(["-o", "proto_version=1", "-o", &format!("publication_names={PUBLICATION}"), "-o", "messages=true"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| format!("cannot start {}: {e}", pg_recvlogical()))?;
            let mut out = child.stdout.take().unwrap();
            let thread = std::thread::spawn(move || {
                let (mut buf, mut chunk) = (Vec::new(), [0u8; 8192]);
                while let Ok(n) = out.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    let at = Instant::now();
                    buf.extend_from_slice(&chunk[..n]);
                    for (i, g) in take_payloads(&mut buf) {
                        let _ = tx.send((i, g, at));
                    }
                }
                Hist::default()
            });
            // streaming once the walsender holds the slot
            let t0 = Instant::now();
            while slot_active(admin, slot) != Some(true) {
                if t0.elapsed() > Duration::from_secs(10) || child.try_wait().ok().flatten().is_some() {
                    let _ = child.kill();
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        let _ = e.read_to_string(&mut err);
                    }
                    return Err(format!("pg_recvlogical did not start streaming: {}", err.trim()));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok(Reader { stop, thread, child: Some(child), slot: Some(slot), create_ms: Some(create_ms) })
        }
        Mech::Poll => {
            let slot = "bench_poll";
            let create_ms = create_slot(admin, slot, "test_decoding");
            let mut c = db::connect();
            let q = c
                .prepare(
                    "SELECT substr(data, strpos(data, 'content:') + 8) FROM pg_logical_slot_get_changes($1, NULL, NULL,
                        'skip-empty-xacts', '1', 'include-xids', '0') WHERE data LIKE 'message:%'",
                )
                .unwrap();
            let thread = std::thread::spawn(move || {
                let mut calls = Hist::default();
                let mut next = Instant::now();
                while !stopped.load(Ordering::Relaxed) {
                    next += Duration::from_millis(POLL_MS);
                    if let Some(d) = next.checked_duration_since(Instant::now()) {
                        std::thread::sleep(d);
                    }
                    let t0 = Instant::now();
                    let rows = c.query(&q, &[&slot]).unwrap();
                    let at = Instant::now();
                    calls.record(at - t0);
                    for r in rows {
                        if let Some((i, g)) = parse_payload(r.get(0)) {
                            let _ = tx.send((i, g, at));
                        }
                    }
                }
                calls
            });
            Ok(Reader { stop, thread, child: None, slot: Some(slot), create_ms: Some(create_ms) })
        }
    }
}

impl Reader {
    /// Stops the reader and drops its slot; returns the durations of its SQL polls.
    fn stop(mut self, admin: &mut Client) -> Hist {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let calls = self.thread.join().expect("reader thread");
        if let Some(s) = self.slot {
            drop_slot(admin, s);
        }
        calls
    }
}

/// What one measurement saw.
struct Seen {
    commits: usize,
    secs: f64,
    writer: Hist,
    /// Per delivered payload: arrival at the reader minus the start of the writer's call.
    push: Hist,
    delivered: usize,
    polls: Hist,
    create_ms: Option<f64>,
}

/// `writers` editors (document w8-i each) for `secs`, pausing `pace` between one writer's
/// commits; the start of each call is recorded in `sent` under (writer, expected gen).
fn write_for(eds: &mut [Editor], secs: f64, pace: Option<Duration>, paras: usize, sent: &Mutex<HashMap<(usize, i64), Instant>>) -> (usize, f64, Hist) {
    let t0 = Instant::now();
    let hs: Vec<Hist> = std::thread::scope(|s| {
        let hs: Vec<_> = eds
            .iter_mut()
            .enumerate()
            .map(|(i, ed)| {
                s.spawn(move || {
                    let doc = format!("w8-{i}");
                    let mut gen: i64 = ed.c.query_one("SELECT gen FROM bench.floor_doc WHERE doc = $1", &[&doc]).unwrap().get(0);
                    let mut rng = Rng::with_seed(7 + i as u64);
                    let mut lat = Hist::default();
                    let mut next = Instant::now();
                    while t0.elapsed().as_secs_f64() < secs {
                        let text = edit_text(&mut rng);
                        let key = flat_key(rng.usize(..paras));
                        let start = Instant::now();
                        sent.lock().unwrap().insert((i, gen + 1), start);
                        gen = ed.update(&doc, &key, &text);
                        lat.record(start.elapsed());
                        if let Some(p) = pace {
                            next += p;
                            if let Some(d) = next.checked_duration_since(Instant::now()) {
                                std::thread::sleep(d);
                            }
                        }
                    }
                    lat
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let secs = t0.elapsed().as_secs_f64();
    let mut all = Hist::default();
    for h in &hs {
        all.add(h);
    }
    (all.len() as usize, secs, all)
}

fn measure(cfg: &Cfg, admin: &mut Client, mech: Mech, mode: Mode, writers: usize, pace: Option<Duration>) -> Result<Seen, String> {
    let mut eds: Vec<Editor> = (0..writers).map(|_| editor(mech.writer(), mode)).collect();
    let (tx, rx) = mpsc::channel();
    let reader = start_reader(mech, admin, tx)?;
    let sent = Mutex::new(HashMap::new());
    let (commits, secs, writer) = write_for(&mut eds, cfg.push_secs, pace, cfg.w1_nodes - 1, &sent);
    let sent = sent.into_inner().unwrap();
    // wait for the rest: up to 3 s after the last commit (async commits reach a slot only once
    // the WAL writer has flushed them)
    let deadline = Instant::now() + Duration::from_secs(3);
    let (mut push, mut delivered) = (Hist::default(), 0);
    while delivered < sent.len() {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else { break };
        match rx.recv_timeout(left) {
            Ok((i, g, at)) => {
                if let Some(t) = sent.get(&(i, g)) {
                    push.record(at.saturating_duration_since(*t));
                    delivered += 1;
                }
            }
            Err(_) => break,
        }
    }
    let create_ms = reader.create_ms;
    let polls = reader.stop(admin);
    Ok(Seen { commits, secs, writer, push, delivered, polls, create_ms })
}

/// WAL a slot keeps while its reader is gone: a slot nobody reads, 8 flat-out writers (async).
fn retention(cfg: &Cfg, admin: &mut Client, rep: &mut Report) -> Value {
    let slot = "bench_gone";
    create_slot(admin, slot, "pgoutput");
    let kept = "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::float8 FROM pg_replication_slots WHERE slot_name = $1";
    let before = query_f64(admin, kept, slot).unwrap_or(0.0);
    let mut eds: Vec<Editor> = (0..8).map(|_| editor(Sys::FloorWal, Mode::Async)).collect();
    let (commits, secs, _) = write_for(&mut eds, cfg.push_secs, None, cfg.w1_nodes - 1, &Mutex::new(HashMap::new()));
    let after = query_f64(admin, kept, slot).unwrap_or(0.0);
    let status: Option<String> = admin.query_one("SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1", &[&slot]).unwrap().get(0);
    let keep_size: String = admin.query_one("SHOW max_slot_wal_keep_size", &[]).unwrap().get(0);
    drop_slot(admin, slot);
    let per = (after - before) / commits.max(1) as f64;
    let per_hour = per * commits as f64 / secs * 3600.0;
    rep.line(format!(
        "a slot whose reader is gone keeps every WAL byte written after it: {:.0} B per commit here ({commits} commits in {secs:.1} s, \
         {:.1} MB kept; at that rate {:.1} GB per hour); wal_status {}, max_slot_wal_keep_size {keep_size}",
        per,
        (after - before) / 1e6,
        per_hour / 1e9,
        status.as_deref().unwrap_or("?")
    ));
    json!({"commits": commits, "seconds": r3(secs), "wal_kept_bytes": r3(after - before), "bytes_per_commit": r3(per),
           "gb_per_hour_at_this_rate": r3(per_hour / 1e9), "wal_status": status, "max_slot_wal_keep_size": keep_size})
}

pub fn run(cfg: &Cfg, out: &Path) {
    let mut admin = db::connect();
    let mut rep = Report::default();
    rep.section("10. push latency: from a writer's call to a reader holding {\"doc\", \"gen\"} (floor writers on w8-*)");
    let wal_level: String = admin.query_one("SHOW wal_level", &[]).unwrap().get(0);
    if wal_level != "logical" {
        rep.line(format!("skipped: wal_level is {wal_level}; a logical slot needs logical (scripts/bench.sh restarts the cluster with it)"));
        rep.json.insert("push_latency".into(), json!({"skipped": format!("wal_level = {wal_level}")}));
        rep.append(out).expect("write the results");
        return;
    }
    admin
        .batch_execute(&format!(
            "DROP PUBLICATION IF EXISTS {PUBLICATION}; CREATE PUBLICATION {PUBLICATION}; -- no tables: only the messages"
        ))
        .unwrap();
    rep.line(format!(
        "{:<38} {:<8} {:<28} {:>9} {:>9} {:>8} {:>8} {:>8} {:>9}",
        "mechanism", "commits", "load", "commits/s", "delivered", "p50 ms", "p99 ms", "max ms", "commit p50"
    ));
    let mut runs = vec![];
    let mut creates = vec![];
    for mode in [Mode::Durable, Mode::Async] {
        for (load, writers, pace) in LOADS {
            for mech in [Mech::Notify, Mech::Stream, Mech::Poll] {
                match measure(cfg, &mut admin, mech, mode, writers, pace.map(Duration::from_millis)) {
                    Ok(s) => {
                        let p = Lat::from_hist(&s.push, s.secs);
                        let max_ms = s.push.quantile_us(1.0) / 1e3;
                        let w = Lat::from_hist(&s.writer, s.secs);
                        rep.line(format!(
                            "{:<38} {:<8} {:<28} {:>9.0} {:>9} {:>8.3} {:>8.3} {:>8.1} {:>9.3}",
                            mech.name(),
                            mode.name(),
                            load,
                            s.commits as f64 / s.secs,
                            format!("{}/{}", s.delivered, s.commits),
                            p.p50_ms,
                            p.p99_ms,
                            max_ms,
                            w.p50_ms
                        ));
                        creates.extend(s.create_ms);
                        let mut j = json!({
                            "mechanism": mech.name(), "commits": mode.name(), "load": load,
                            "commits_per_s": r3(s.commits as f64 / s.secs), "committed": s.commits, "delivered": s.delivered,
                            "push_p50_ms": r3(p.p50_ms), "push_p99_ms": r3(p.p99_ms), "push_max_ms": r3(max_ms),
                            "commit_p50_ms": r3(w.p50_ms), "slot_create_ms": s.create_ms.map(r3),
                        });
                        if s.polls.len() > 0 {
                            j["poll_calls"] = json!(s.polls.len());
                            j["poll_call_p50_ms"] = json!(r3(s.polls.median_ms()));
                            j["poll_call_p99_ms"] = json!(r3(s.polls.quantile_us(0.99) / 1e3));
                        }
                        if s.polls.len() > 0 {
                            rep.line(format!(
                                "{:<38} {:<8} {:<28} poll calls: {}, p50 {:.3} ms, p99 {:.3} ms",
                                "",
                                "",
                                "",
                                s.polls.len(),
                                s.polls.median_ms(),
                                s.polls.quantile_us(0.99) / 1e3
                            ));
                        }
                        runs.push(j);
                    }
                    Err(e) => {
                        rep.line(format!("{:<38} {:<8} {:<28} failed: {e}", mech.name(), mode.name(), load));
                        runs.push(json!({"mechanism": mech.name(), "commits": mode.name(), "load": load, "error": e}));
                    }
                }
            }
        }
    }
    creates.sort_by(f64::total_cmp);
    if let (Some(lo), Some(hi)) = (creates.first(), creates.last()) {
        rep.line(format!("creating a logical slot (no other transaction running): {lo:.1}-{hi:.1} ms over {} slots", creates.len()));
    }
    // a slot starts at a consistent point: it waits for the transactions running when it is created
    let mut other = db::connect();
    other.batch_execute("BEGIN; SELECT txid_current()").unwrap();
    let ender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(1));
        other.batch_execute("COMMIT").unwrap();
    });
    let waited = create_slot(&mut admin, "bench_wait", "pgoutput");
    ender.join().unwrap();
    drop_slot(&mut admin, "bench_wait");
    rep.line(format!("creating one while another transaction (with an xid) stays open for 1 s more: {waited:.0} ms"));
    let gone = retention(cfg, &mut admin, &mut rep);
    let settings: Vec<(String, String)> = ["wal_writer_delay", "wal_writer_flush_after", "max_replication_slots", "max_wal_senders"]
        .iter()
        .map(|s| (s.to_string(), admin.query_one(&format!("SHOW {s}"), &[]).unwrap().get(0)))
        .collect();
    rep.line(format!("settings: {}", settings.iter().map(|(k, v)| format!("{k} = {v}")).collect::<Vec<_>>().join(", ")));
    admin.batch_execute(&format!("DROP PUBLICATION IF EXISTS {PUBLICATION}")).unwrap();
    rep.json.insert(
        "push_latency".into(),
        json!({"runs": runs, "slot_create_ms": creates.iter().map(|x| r3(*x)).collect::<Vec<_>>(), "reader_gone": gone,
               "slot_create_waiting_for_a_1s_transaction_ms": r3(waited), "settings": settings.into_iter().map(|(k, v)| (k, json!(v))).collect::<serde_json::Map<String, Value>>(), "seconds_per_run": cfg.push_secs}),
    );
    rep.append(out).expect("write the results");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_found_in_a_binary_stream() {
        let mut buf = b"M\x00\x00\x01nodesync\x00\x00\x00\x00\x1c{\"doc\" : \"w8-3\", \"gen\" : 17}\nB\x0a{\"doc\" : \"w8-1\", \"g".to_vec();
        assert_eq!(take_payloads(&mut buf), vec![(3, 17)]);
        assert!(buf.starts_with(b"{\"doc\" : \"w8-1\""), "the incomplete payload stays");
        buf.extend_from_slice(b"en\" : 5}\n\x00{\"do");
        assert_eq!(take_payloads(&mut buf), vec![(1, 5)]);
        assert_eq!(buf, b"\n\x00{\"do".to_vec(), "a payload may start in the last bytes");
        assert_eq!(parse_payload("{\"doc\": \"x\", \"gen\": 1}"), None);
    }
}
