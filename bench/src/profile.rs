//! `pg_nodesync_bench loop SECS [async] [floor]`: one-node edits on document `w1` of an existing
//! bench database, for profiling. Prints the backend pid first (for `perf record -g -p PID`)
//! and the backend's CPU time per edit at the end.

use std::time::Instant;

use fastrand::Rng;

use crate::db::{self, flat_key, Sys};
use crate::runner::{edit_text, editor, Mode};

/// User + system CPU seconds of a local process (the backend), from /proc; 0 if unreadable.
pub fn proc_cpu_secs(pid: i32) -> f64 {
    stat_cpu_secs(&format!("/proc/{pid}/stat"))
}

/// User + system CPU seconds of the calling thread, from /proc; 0 if unreadable.
pub fn thread_cpu_secs() -> f64 {
    stat_cpu_secs("/proc/thread-self/stat")
}

/// utime + stime of a /proc `stat` file, in seconds (clock ticks of 1/100 s).
fn stat_cpu_secs(path: &str) -> f64 {
    let s = std::fs::read_to_string(path).unwrap_or_default();
    // fields after the parenthesised command name; utime and stime are fields 14 and 15
    let rest = s.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Edits for `secs` seconds; `session_sql` runs first in the session (e.g. "SET plan_cache_mode
/// = force_generic_plan", to try a fix without rebuilding).
pub fn run(secs: f64, mode: Mode, sys: Sys, session_sql: Option<&str>) {
    // (set up by workload 9; once there, left as it is, e.g. to try other policies)
    let mut admin = db::connect();
    if sys == Sys::ExtRole && !db::role_is_set_up(&mut admin) {
        db::setup_role(&mut admin, &["w1"]);
    }
    let mut ed = editor(sys, mode);
    if let Some(sql) = session_sql {
        ed.c.batch_execute(sql).unwrap();
    }
    db::preload_versions(&mut ed.c, sys, "w1");
    let pid: i32 = ed.c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    println!("{pid}");
    // (the ordinary role may not read the floor's tables; every system holds the same nodes)
    let nodes: i64 = ed.c.query_one("SELECT live_nodes FROM nodesync.documents WHERE doc = 'w1'", &[]).unwrap().get(0);
    let mut rng = Rng::with_seed(99);
    let cpu0 = proc_cpu_secs(pid);
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed().as_secs_f64() < secs {
        let text = edit_text(&mut rng);
        ed.update("w1", &flat_key(rng.usize(..nodes as usize - 1)), &text);
        n += 1;
    }
    let cpu = proc_cpu_secs(pid) - cpu0;
    eprintln!("{n} edits in {secs}s: {:.1}/s, backend CPU {:.1} µs/edit", n as f64 / secs, cpu / n as f64 * 1e6);
}
