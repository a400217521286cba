//! Soak: many clients commit random patches with conflicts on one document; then the document
//! is checked (gap-free gens, versions = history rows, the log replays to the current state).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nodesync_core::reference::Rng;
use serde_json::Value;

use crate::common::*;

const DB: &str = "nsrel_soak";

pub fn run(clients: usize, patches: usize, seed: u64, snap_samples: usize) {
    let t0 = Instant::now();
    fresh_db(DB);
    let doc = "soak".to_string();
    server().connect(DB, "nsrel-admin").query_one("SELECT nodesync.create_doc($1)", &[&doc]).expect("create_doc");
    let commits = Arc::new(AtomicU64::new(0));
    let conflicts = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut hs = vec![];
    for i in 0..clients {
        let (doc, commits, conflicts, errors) = (doc.clone(), commits.clone(), conflicts.clone(), errors.clone());
        hs.push(std::thread::spawn(move || {
            let me = format!("s{i}");
            let mut c = match server().connect_retry(DB, &format!("nsrel-soak-{i}"), Duration::from_secs(30)) {
                Some(c) => c,
                None => {
                    errors.lock().unwrap().push(format!("{me}: cannot connect"));
                    return;
                }
            };
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1000 + i as u64));
            let (mut next_key, mut seq, mut done) = (0u32, 0i64, 0usize);
            let mut last_err = 0usize;
            while done < patches {
                let snap: Value = match c.query_one("SELECT nodesync.snapshot($1)", &[&doc]) {
                    Ok(r) => r.get(0),
                    Err(e) => {
                        errors.lock().unwrap().push(format!("{me}: snapshot: {e}"));
                        return;
                    }
                };
                let Some(patch) = writer_patch(&snap, &mut rng, &mut next_key, &me) else {
                    continue;
                };
                seq += 1;
                match c.query_one("SELECT nodesync.apply_patch($1, $2, $3, $4)", &[&doc, &patch, &me, &seq]) {
                    Ok(_) => {
                        done += 1;
                        commits.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => match classify(&e) {
                        Fail::Conflict => {
                            conflicts.fetch_add(1, Ordering::Relaxed);
                        }
                        other => {
                            let mut es = errors.lock().unwrap();
                            es.push(format!("{me} seq {seq}: {other} for {}", shorten_to(&patch.to_string(), 300)));
                            last_err += 1;
                            if last_err > 20 {
                                return;
                            }
                        }
                    },
                }
            }
        }));
    }
    for h in hs {
        let _ = h.join();
    }
    let load = t0.elapsed().as_secs_f64();
    let errs = errors.lock().unwrap().clone();
    let n = commits.load(Ordering::SeqCst);
    check(
        "soak-load",
        errs.is_empty() && n == (clients * patches) as u64,
        format!(
            "{clients} clients committed {n} of {} patches, {} conflicts refused, in {load:.1}s{}",
            clients * patches,
            conflicts.load(Ordering::SeqCst),
            if errs.is_empty() { String::new() } else { format!("; errors: {}", errs.iter().take(5).cloned().collect::<Vec<_>>().join(" | ")) }
        ),
    );
    let t1 = Instant::now();
    let mut c = server().connect(DB, "nsrel-verify");
    let st = verify_doc(&mut c, &doc, Snaps::Sample(snap_samples));
    check(
        "soak-consistent",
        st.problems.is_empty() && st.gen == n as i64 + 1,
        if st.problems.is_empty() {
            format!(
                "gen {} (gap-free, {} changes); {} keys: version = node_history rows for each; log replays to the current state; {} snapshot(doc, g) compared; verify {:.1}s",
                st.gen, st.changes, st.keys, st.snapshots_compared, t1.elapsed().as_secs_f64()
            )
        } else {
            st.problems.iter().take(8).cloned().collect::<Vec<_>>().join(" | ")
        },
    );
    figure("soak_clients", clients);
    figure("soak_patches_per_client", patches);
    figure("soak_commits", n);
    figure("soak_conflicts", conflicts.load(Ordering::SeqCst));
    figure("soak_keys", st.keys);
    figure("soak_history_rows", st.history_rows);
    figure("soak_load_secs", format!("{load:.1}"));
    figure("soak_verify_secs", format!("{:.1}", t1.elapsed().as_secs_f64()));
}
