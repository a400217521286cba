//! Crash safety: concurrent writers with a ledger of every acknowledged result, the
//! postmaster (or one backend) killed with SIGKILL mid-load, crash recovery, then checks.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nodesync_core::reference::Rng;
use postgres::Client;
use serde_json::Value;

use crate::common::*;

const DB: &str = "nsrel_crash";

#[derive(Debug, Clone)]
struct Ack {
    doc: String,
    client: String,
    seq: i64,
    gen: i64,
    versions: Value,
    patch: Value,
    duplicate: bool,
}

#[derive(Debug, Default)]
struct Ledger {
    acks: Vec<Ack>,
    /// Patches whose ack was lost: (doc, client, seq, patch, outcome of the resend).
    in_doubt: Vec<(String, String, i64, Value, String)>,
    conflicts: u64,
    unexpected: Vec<String>,
}

/// `reliability crash`: the cluster to kill and restart.
#[derive(clap::Args, Debug)]
pub struct Opts {
    /// Concurrent writers (connections)
    #[arg(long, default_value_t = 8)]
    pub writers: usize,
    /// Documents the writers share
    #[arg(long, default_value_t = 2)]
    pub docs: usize,
    /// SIGKILLs (postmaster or one backend), each followed by recovery
    #[arg(long, default_value_t = 3)]
    pub kills: usize,
    /// The cluster's data directory (its postmaster.pid names the process to kill)
    #[arg(long, default_value = "")]
    pub pgdir: String,
    /// The cluster's port (for the cluster script)
    #[arg(long, default_value = "")]
    pub port: String,
    /// Script that restarts the cluster (`SCRIPT start` with NODESYNC_PORT and NODESYNC_PGDIR)
    #[arg(long, default_value = "scripts/cluster.sh")]
    pub cluster_script: String,
}

/// One patch with its `(client, seq)`: the commit's result, or how it failed.
fn send(c: &mut Client, doc: &str, patch: &Value, client: &str, seq: i64) -> Result<Value, Fail> {
    c.query_one("SELECT nodesync.apply_patch($1, $2, $3, $4)", &[&doc, patch, &client, &seq])
        .map(|r| r.get(0))
        .map_err(|e| classify(&e))
}

fn writer(i: usize, doc: String, seed: u64, stop: Arc<AtomicBool>, ledger: Arc<Mutex<Ledger>>) {
    let me = format!("w{i}");
    let app = format!("nsrel-writer-{i}");
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(i as u64 + 1));
    let mut next_key = 0u32;
    let mut seq = 0i64;
    let mut conn: Option<Client> = None;
    let give_up = Duration::from_secs(180);
    while !stop.load(Ordering::SeqCst) {
        let c = match conn.as_mut() {
            Some(c) => c,
            None => {
                conn = server().connect_retry(DB, &app, give_up);
                if conn.is_none() {
                    ledger.lock().unwrap().unexpected.push(format!("{me}: cannot reconnect"));
                    return;
                }
                continue;
            }
        };
        let snap: Value = match c.query_one("SELECT nodesync.snapshot($1)", &[&doc]) {
            Ok(r) => r.get(0),
            Err(_) => {
                conn = None;
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        let Some(patch) = writer_patch(&snap, &mut rng, &mut next_key, &me) else {
            continue;
        };
        seq += 1;
        match send(c, &doc, &patch, &me, seq) {
            Ok(r) => record(&ledger, &doc, &me, seq, &patch, &r),
            Err(Fail::Conflict) => ledger.lock().unwrap().conflicts += 1,
            Err(e @ Fail::Other(..)) => ledger.lock().unwrap().unexpected.push(format!("{me} seq {seq}: {e} for {patch}")),
            Err(Fail::Lost(_)) => {
                // the ack is lost: resend the same (client, seq) until an answer comes
                conn = None;
                let t0 = Instant::now();
                let outcome = loop {
                    if t0.elapsed() > give_up {
                        break "unresolved".to_string();
                    }
                    let Some(mut c2) = server().connect_retry(DB, &app, give_up) else { break "unresolved".to_string() };
                    match send(&mut c2, &doc, &patch, &me, seq) {
                        Ok(r) => {
                            conn = Some(c2);
                            let dup = r["duplicate"] == Value::Bool(true);
                            record(&ledger, &doc, &me, seq, &patch, &r);
                            break if dup { "duplicate".into() } else { "applied".into() };
                        }
                        Err(Fail::Conflict) => {
                            conn = Some(c2);
                            break "conflict".into();
                        }
                        Err(e @ Fail::Other(..)) => {
                            conn = Some(c2);
                            break format!("error {e}");
                        }
                        Err(Fail::Lost(_)) => std::thread::sleep(Duration::from_millis(200)),
                    }
                };
                ledger.lock().unwrap().in_doubt.push((doc.clone(), me.clone(), seq, patch.clone(), outcome));
            }
        }
    }
}

fn record(ledger: &Arc<Mutex<Ledger>>, doc: &str, me: &str, seq: i64, patch: &Value, r: &Value) {
    let ack = Ack {
        doc: doc.to_string(),
        client: me.to_string(),
        seq,
        gen: r["gen"].as_i64().unwrap_or(-1),
        versions: r["versions"].clone(),
        patch: patch.clone(),
        duplicate: r["duplicate"] == Value::Bool(true),
    };
    ledger.lock().unwrap().acks.push(ack);
}

fn postmaster_pid(pgdir: &str) -> Option<i32> {
    let s = std::fs::read_to_string(format!("{pgdir}/data/postmaster.pid")).ok()?;
    s.lines().next()?.trim().parse().ok()
}

fn alive(pid: i32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && std::fs::read_to_string(format!("/proc/{pid}/stat")).map(|s| !s.contains(") Z ")).unwrap_or(false)
}

fn kill9(pid: i32) -> bool {
    // bash's builtin kill: no dependency on procps
    Command::new("bash").arg("-c").arg(format!("kill -9 {pid}")).status().map(|s| s.success()).unwrap_or(false)
}

/// Pids of processes whose parent is `ppid` (the postmaster's children).
fn children_of(ppid: i32) -> Vec<i32> {
    let mut out = vec![];
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
            if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
                if let Some(rest) = stat.rsplit_once(") ").map(|x| x.1) {
                    let f: Vec<&str> = rest.split_whitespace().collect();
                    if f.get(1).and_then(|p| p.parse::<i32>().ok()) == Some(ppid) {
                        out.push(pid);
                    }
                }
            }
        }
    }
    out
}

fn start_cluster(o: &Opts, old: Option<i32>) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(90) {
        let st = Command::new("bash")
            .arg(&o.cluster_script)
            .arg("start")
            .env("NODESYNC_PORT", &o.port)
            .env("NODESYNC_PGDIR", &o.pgdir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        let started = st.map(|s| s.success()).unwrap_or(false);
        let new_pid = postmaster_pid(&o.pgdir);
        if started && new_pid.is_some() && new_pid != old && new_pid.is_some_and(alive) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    false
}

pub fn run(o: Opts, seed: u64) {
    let t_start = Instant::now();
    fresh_db(DB);
    let docs: Vec<String> = (0..o.docs).map(|i| format!("crash-{i}")).collect();
    {
        let mut c = server().connect(DB, "nsrel-admin");
        for d in &docs {
            c.query_one("SELECT nodesync.create_doc($1)", &[d]).expect("create_doc");
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut handles = vec![];
    for i in 0..o.writers {
        let (doc, stop, ledger) = (docs[i % docs.len()].clone(), stop.clone(), ledger.clone());
        handles.push(std::thread::spawn(move || writer(i, doc, seed, stop, ledger)));
    }
    let mut rng = Rng(seed ^ 0xC0FFEE);
    let (mut pm_kills, mut be_kills, mut recoveries) = (0u64, 0u64, 0u64);
    let mut recovery_ms = vec![];
    for k in 0..o.kills {
        // let the writers run for 1.5..4.5 s, then kill
        std::thread::sleep(Duration::from_millis(1500 + rng.below(3000) as u64));
        let acked_before = ledger.lock().unwrap().acks.len();
        let backend = k % 3 == 2;
        let t0 = Instant::now();
        if backend {
            let Some(mut c) = server().connect_retry("postgres", "nsrel-killer", Duration::from_secs(60)) else {
                check("crash-kill", false, "cannot connect to pick a backend");
                break;
            };
            let rows = c
                .query(
                    "SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'nsrel-writer-%' ORDER BY state = 'active' DESC, random() LIMIT 1",
                    &[],
                )
                .unwrap_or_default();
            drop(c);
            let Some(pid) = rows.first().map(|r| r.get::<_, i32>(0)) else {
                check("crash-kill", false, "no writer backend to kill");
                continue;
            };
            let ok = kill9(pid);
            println!("kill {}: SIGKILL backend {pid} after {acked_before} acks ({ok})", k + 1);
            be_kills += 1;
            // the postmaster resets every backend and recovers by itself
            let Some(mut c) = server().connect_retry("postgres", "nsrel-killer", Duration::from_secs(90)) else {
                check("crash-recovery", false, "server did not come back after a backend kill");
                break;
            };
            let _ = c.query_one("SELECT 1", &[]);
        } else {
            let Some(pm) = postmaster_pid(&o.pgdir) else {
                check("crash-kill", false, "no postmaster.pid");
                break;
            };
            let kids = children_of(pm);
            let ok = kill9(pm);
            println!("kill {}: SIGKILL postmaster {pm} after {acked_before} acks ({ok})", k + 1);
            pm_kills += 1;
            // wait for the orphaned backends to notice and exit (they hold shared memory)
            let t = Instant::now();
            // (wait until the postmaster is reaped, not just a zombie: pg_ctl status counts zombies)
            while (std::path::Path::new(&format!("/proc/{pm}")).exists() || kids.iter().any(|p| alive(*p)))
                && t.elapsed() < Duration::from_secs(30)
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            for p in kids.iter().filter(|p| alive(**p)) {
                kill9(*p);
            }
            if !start_cluster(&o, Some(pm)) {
                check("crash-recovery", false, "pg_ctl start failed after a postmaster kill");
                break;
            }
        }
        recoveries += 1;
        recovery_ms.push(t0.elapsed().as_millis());
    }
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, Ordering::SeqCst);
    for h in handles {
        let _ = h.join();
    }
    let load_secs = t_start.elapsed().as_secs_f64();

    // ---- checks
    let ledger = Arc::try_unwrap(ledger).map(|m| m.into_inner().unwrap()).unwrap_or_default();
    let Some(mut c) = server().connect_retry(DB, "nsrel-verify", Duration::from_secs(60)) else {
        check("crash-verify", false, "cannot connect after the run");
        return;
    };
    let mut logs: BTreeMap<String, DocStats> = BTreeMap::new();
    let mut doc_problems = vec![];
    let mut snaps = 0;
    let mut commits = 0;
    for d in &docs {
        let st = verify_doc(&mut c, d, Snaps::All);
        snaps += st.snapshots_compared;
        commits += st.changes;
        doc_problems.extend(st.problems.iter().cloned());
        logs.insert(d.clone(), st);
    }
    check(
        "crash-log-consistent",
        doc_problems.is_empty(),
        if doc_problems.is_empty() {
            format!("{} docs: gens gap-free, every change row complete, node histories 1..=version, log replays; {snaps} snapshot(doc, g) equal the replay", docs.len())
        } else {
            doc_problems.iter().take(8).cloned().collect::<Vec<_>>().join(" | ")
        },
    );
    // every acked patch is in the log with its gen, versions and patch
    let mut lost = vec![];
    for a in &ledger.acks {
        match logs.get(&a.doc).and_then(|st| st.log.get(&(a.client.clone(), a.seq))) {
            None => lost.push(format!("{} {} seq {} acked at gen {} is not in changes_since", a.doc, a.client, a.seq, a.gen)),
            Some((g, v, p)) => {
                if *g != a.gen || v != &a.versions || p != &a.patch {
                    lost.push(format!(
                        "{} {} seq {}: acked gen {} versions {} (dup {}), logged gen {g} versions {v}{}",
                        a.doc, a.client, a.seq, a.gen, a.versions, a.duplicate,
                        if p != &a.patch { " and a different patch" } else { "" }
                    ));
                }
            }
        }
    }
    check(
        "crash-acked-durable",
        lost.is_empty(),
        if lost.is_empty() {
            format!("all {} acked patches are in changes_since with their gen, versions and patch", ledger.acks.len())
        } else {
            format!("{} acked patches lost or changed: {}", lost.len(), lost.iter().take(5).cloned().collect::<Vec<_>>().join(" | "))
        },
    );
    // every in-doubt patch: resend answered, and present exactly when it says so
    let mut bad_doubt = vec![];
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    for (doc, cl, seq, _patch, outcome) in &ledger.in_doubt {
        let key = if outcome.starts_with("error") { "error".to_string() } else { outcome.clone() };
        *outcomes.entry(key).or_default() += 1;
        let logged = logs.get(doc).and_then(|st| st.log.get(&(cl.clone(), *seq))).is_some();
        let ok = match outcome.as_str() {
            "duplicate" | "applied" => logged,
            "conflict" => !logged,
            _ => false,
        };
        if !ok {
            bad_doubt.push(format!("{doc} {cl} seq {seq}: resend said {outcome}, in log: {logged}"));
        }
    }
    check(
        "crash-in-doubt-resolved",
        bad_doubt.is_empty(),
        format!(
            "{} patches lost their ack; resent with the same (client, seq): {:?}{}",
            ledger.in_doubt.len(),
            outcomes,
            if bad_doubt.is_empty() { String::new() } else { format!("; BAD: {}", bad_doubt.join(" | ")) }
        ),
    );
    // no phantom: every logged (client, seq) is one the writers sent and know about
    let mut known: std::collections::BTreeSet<(String, String, i64)> =
        ledger.acks.iter().map(|a| (a.doc.clone(), a.client.clone(), a.seq)).collect();
    for (d, cl, s, _, _) in &ledger.in_doubt {
        known.insert((d.clone(), cl.clone(), *s));
    }
    let phantoms: Vec<String> = logs
        .iter()
        .flat_map(|(d, st)| st.log.keys().map(move |(cl, s)| (d.clone(), cl.clone(), *s)))
        .filter(|k| !known.contains(k))
        .map(|(d, cl, s)| format!("{d} {cl} seq {s}"))
        .collect();
    check(
        "crash-no-phantom-commits",
        phantoms.is_empty(),
        if phantoms.is_empty() {
            format!("all {commits} logged changes were acked or resolved by a resend")
        } else {
            format!("{} logged changes nobody was told about: {}", phantoms.len(), phantoms.iter().take(5).cloned().collect::<Vec<_>>().join(", "))
        },
    );
    check(
        "crash-writers-clean",
        ledger.unexpected.is_empty(),
        if ledger.unexpected.is_empty() {
            format!("{} writers: only acks, conflicts (40001) and lost connections", o.writers)
        } else {
            ledger.unexpected.iter().take(5).map(|s| shorten_to(s, 300)).collect::<Vec<_>>().join(" | ")
        },
    );
    check(
        "crash-kills",
        recoveries as usize == o.kills,
        format!("{recoveries} of {} kills recovered ({pm_kills} postmaster, {be_kills} backend); recovery ms {recovery_ms:?}", o.kills),
    );
    figure("crash_kills", pm_kills + be_kills);
    figure("crash_kills_postmaster", pm_kills);
    figure("crash_kills_backend", be_kills);
    figure("crash_acked", ledger.acks.len());
    figure("crash_acked_lost", lost.len());
    figure("crash_commits", commits);
    figure("crash_conflicts", ledger.conflicts);
    figure("crash_in_doubt", ledger.in_doubt.len());
    figure("crash_in_doubt_outcomes", format!("{outcomes:?}").replace(' ', ""));
    figure("crash_snapshots_compared", snaps);
    figure("crash_load_secs", format!("{load_secs:.1}"));
}
