//! One typist on a live document, for mixed runs with other clients (the TypeScript client's
//! `typists_mixed` test): a [`Replica`] on its own connection types unique words `[<id>.<n>]`
//! at its own caret, erases some of its own earlier words, presses Enter and Backspace at a
//! block start, with random push / pull / live interleavings and small delays; then pushes until
//! nothing is left, pulls until the document's gen has stood still for `--settle-ms`, compares
//! its tree with `snapshot()` and prints one JSON line:
//!
//!   {"id": "rs1", "typed": ["[rs1.1]", ...], "erased": [...], "keystrokes": n, "commits": n,
//!    "conflicts": n, "dropped": [...], "equal_snapshot": true, "gen": g}
//!
//!   nodesync-typist --doc D --id ID [--parent sec] [--key b0] [--at 0] [--strokes 40]
//!                   [--seed N] [--settle-ms 1500] [--max-delay-us 3000]
//!
//! Connection from PGHOST/PGPORT/PGUSER/PGDATABASE. Exits 1 (with the reason on stderr) if the
//! replica could not push, or a rebase dropped an edit.

use std::time::{Duration, Instant};

use nodesync_core::reference::Rng;
use pg_nodesync_client::sim::{push_hard, Stroke, Typist};
use pg_nodesync_client::{connect_env, fetch_snapshot, Config, Error, Replica};
use serde_json::json;

struct Opts {
    doc: String,
    id: String,
    parent: String,
    key: String,
    at: usize,
    strokes: usize,
    seed: u64,
    settle_ms: u64,
    max_delay_us: u64,
}

fn usage() -> ! {
    eprintln!("usage: nodesync-typist --doc D --id ID [--parent sec] [--key b0] [--at 0] [--strokes 40] [--seed N] [--settle-ms 1500] [--max-delay-us 3000]");
    std::process::exit(2)
}

fn parse_opts() -> Opts {
    let mut o = Opts { doc: String::new(), id: String::new(), parent: "sec".into(), key: "b0".into(), at: 0, strokes: 40, seed: 1, settle_ms: 1500, max_delay_us: 3000 };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let Some(val) = it.next() else { usage() };
        let num = |v: &str| v.parse::<u64>().unwrap_or_else(|_| usage());
        match flag.as_str() {
            "--doc" => o.doc = val.clone(),
            "--id" => o.id = val.clone(),
            "--parent" => o.parent = val.clone(),
            "--key" => o.key = val.clone(),
            "--at" => o.at = num(val) as usize,
            "--strokes" => o.strokes = num(val) as usize,
            "--seed" => o.seed = num(val),
            "--settle-ms" => o.settle_ms = num(val),
            "--max-delay-us" => o.max_delay_us = num(val),
            _ => usage(),
        }
    }
    if o.doc.is_empty() || o.id.is_empty() {
        usage()
    }
    o
}

fn pick(rng: &mut Rng) -> Stroke {
    match rng.below(20) {
        0..=13 => Stroke::Word,
        14..=16 => Stroke::Erase,
        17..=18 => Stroke::Enter,
        _ => Stroke::JoinUp,
    }
}

fn run(o: &Opts) -> Result<serde_json::Value, String> {
    let conn = connect_env(&format!("nodesync-typist {}", o.id)).map_err(|e| format!("connect: {e}"))?;
    let mut cfg = Config::new(&o.doc, &o.id);
    cfg.key_prefix = Some(format!("{}.", o.id));
    cfg.max_attempts = 60;
    cfg.seed = o.seed;
    let mut r = Replica::open(conn, cfg).map_err(|e| format!("open: {e}"))?;
    r.listen().map_err(|e| format!("listen: {e}"))?;
    let len = r.text(&o.key, "text").ok_or_else(|| format!("no text block {:?}", o.key))?.chars().count();
    let mut t = Typist::new(r.workspace_mut(), &o.id, &o.parent, &o.key, o.at.min(len), false);
    let mut rng = Rng((o.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5EED) | 1);
    let mut dropped = vec![];
    for _ in 0..o.strokes {
        let s = pick(&mut rng);
        t.stroke(r.workspace_mut(), &mut rng, s);
        match rng.below(10) {
            0..=3 => match r.push() {
                Ok(_) | Err(Error::Contention { .. }) => {}
                Err(e) => return Err(format!("push: {e}")),
            },
            4..=5 => {
                r.wait(Duration::ZERO).map_err(|e| format!("wait: {e}"))?;
            }
            6 => {
                r.pull().map_err(|e| format!("pull: {e}"))?;
            }
            _ => {}
        }
        if o.max_delay_us > 0 {
            std::thread::sleep(Duration::from_micros(rng.below(o.max_delay_us.min(1_000_000) as u32 + 1) as u64));
        }
        dropped.extend(r.take_dropped().into_iter().map(|d| json!({"key": d.key, "rule": d.rule.name(), "gen": d.gen})));
    }
    push_hard(&mut r)?;
    // settle: pull (and push what a rebase left) until the gen stands still
    let mut last = (r.gen(), Instant::now());
    loop {
        r.wait(Duration::from_millis(100)).map_err(|e| format!("wait: {e}"))?;
        r.pull().map_err(|e| format!("pull: {e}"))?;
        if r.has_local_edits() {
            push_hard(&mut r)?;
        }
        dropped.extend(r.take_dropped().into_iter().map(|d| json!({"key": d.key, "rule": d.rule.name(), "gen": d.gen})));
        if r.gen() != last.0 {
            last = (r.gen(), Instant::now());
        } else if last.1.elapsed() >= Duration::from_millis(o.settle_ms) {
            break;
        }
    }
    let server = fetch_snapshot(r.conn(), &o.doc).map_err(|e| format!("snapshot: {e}"))?;
    let stats = r.stats.clone();
    Ok(json!({
        "id": o.id,
        "typed": t.typed,
        "erased": t.erased,
        "keystrokes": t.keystrokes,
        "commits": stats.commits,
        "conflicts": stats.conflicts,
        "dropped": dropped,
        "equal_snapshot": server.gen == r.gen() && server.flat() == r.tree().flat(),
        "gen": r.gen(),
    }))
}

fn main() {
    let o = parse_opts();
    match run(&o) {
        Ok(v) => {
            let bad = v["dropped"].as_array().is_some_and(|d| !d.is_empty());
            println!("{v}");
            if bad {
                eprintln!("nodesync-typist {}: a rebase dropped edits", o.id);
                std::process::exit(1);
            }
        }
        Err(e) => {
            eprintln!("nodesync-typist {}: {e}", o.id);
            std::process::exit(1);
        }
    }
}
