//! `nodesync.wait_gen(doc, gen, timeout_ms)` on the primary (docs/replicas.md; the standby side is in
//! tests/tests/standby.rs): returns at once when the gen is there, wakes when another session
//! commits, returns the smaller gen at the timeout, sleeps instead of spinning, can be
//! cancelled, blocks no writer, and refuses what it cannot do.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use pg_nodesync_tests::*;
use postgres::Client;
use serde_json::json;

fn wait_gen(c: &mut Client, doc: &str, gen: i64, timeout_ms: i32) -> Result<i64, DbErr> {
    c.query_one("SELECT nodesync.wait_gen($1, $2, $3)", &[&doc, &gen, &timeout_ms]).map(|r| r.get(0)).map_err(db_err)
}

fn bump(c: &mut Client, doc: &str, key: &str) {
    apply_ok(c, doc, &json!({"ops": [{"op": "create", "key": key, "kind": "p", "parent": "root"}]}));
}

/// CPU time (user + system, in clock ticks) the server process `pid` has used so far.
fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the server runs on this machine");
    let after = &stat[stat.rfind(')').expect("stat format") + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

#[test]
fn returns_at_once_when_the_gen_is_there() {
    let mut c = connect();
    let doc = new_doc(&mut c, "wait-now");
    let t0 = Instant::now();
    assert_eq!(wait_gen(&mut c, &doc, 1, 10_000).unwrap(), 1);
    assert_eq!(wait_gen(&mut c, &doc, 0, 10_000).unwrap(), 1);
    bump(&mut c, &doc, "a");
    assert_eq!(wait_gen(&mut c, &doc, 1, 10_000).unwrap(), 2, "returns the current gen, not the asked one");
    // the default timeout is 10 s; none of these waited
    assert_eq!(c.query_one("SELECT nodesync.wait_gen($1, 2)", &[&doc]).unwrap().get::<_, i64>(0), 2);
    assert!(t0.elapsed() < Duration::from_secs(2), "took {:?}", t0.elapsed());
}

#[test]
fn wakes_when_another_session_commits() {
    let mut w = connect();
    let doc = new_doc(&mut w, "wait-wake");
    let mut lags = vec![];
    for i in 0..20 {
        let (tx, rx) = mpsc::channel();
        let d = doc.clone();
        let waiter = thread::spawn(move || {
            let mut r = connect();
            tx.send(()).unwrap();
            let g = wait_gen(&mut r, &d, i + 2, 10_000);
            (g, Instant::now())
        });
        rx.recv().unwrap();
        thread::sleep(Duration::from_millis(60)); // the waiter is inside wait_gen by now
        bump(&mut w, &doc, &format!("k{i}"));
        let committed = Instant::now();
        let (g, returned) = waiter.join().unwrap();
        assert_eq!(g.unwrap(), i + 2);
        lags.push(returned.saturating_duration_since(committed));
    }
    lags.sort();
    println!(
        "wait_gen on the primary, commit returned -> wait_gen returned, 20 commits: min {:?} median {:?} max {:?}",
        lags[0], lags[10], lags[19]
    );
    assert!(lags[10] < Duration::from_millis(50), "median wake-up {:?}", lags[10]);
}

#[test]
fn sees_commits_inside_a_read_committed_transaction_block() {
    let mut r = connect();
    let mut w = connect();
    let doc = new_doc(&mut w, "wait-rc");
    r.batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED").unwrap();
    assert_eq!(gen(&mut r, &doc), 1);
    let d = doc.clone();
    let writer = thread::spawn(move || {
        thread::sleep(Duration::from_millis(200));
        bump(&mut w, &d, "a");
    });
    assert_eq!(wait_gen(&mut r, &doc, 2, 10_000).unwrap(), 2);
    writer.join().unwrap();
    r.batch_execute("COMMIT").unwrap();
}

#[test]
fn times_out_with_the_smaller_gen() {
    let mut c = connect();
    let doc = new_doc(&mut c, "wait-timeout");
    for ms in [0, 300, 1000] {
        let t0 = Instant::now();
        assert_eq!(wait_gen(&mut c, &doc, 5, ms).unwrap(), 1, "a timeout is not an error");
        let took = t0.elapsed();
        assert!(took >= Duration::from_millis(ms as u64), "returned after {took:?}, before its {ms} ms");
        assert!(took < Duration::from_millis(ms as u64 + 500), "returned {took:?} after a {ms} ms timeout");
    }
}

#[test]
fn sleeps_instead_of_spinning() {
    let mut c = connect();
    let mut w = connect();
    let doc = new_doc(&mut c, "wait-cpu");
    let pid = backend_pid(&mut c);
    // commits on other documents keep the completion counter moving: each one costs a look
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s = stop.clone();
    let other = new_doc(&mut w, "wait-cpu-other");
    let churn = thread::spawn(move || {
        let mut i = 0;
        while !s.load(std::sync::atomic::Ordering::SeqCst) {
            bump(&mut w, &other, &format!("n{i}"));
            i += 1;
            thread::sleep(Duration::from_millis(20));
        }
        i
    });
    let before = cpu_ticks(pid);
    let t0 = Instant::now();
    assert_eq!(wait_gen(&mut c, &doc, 2, 2000).unwrap(), 1);
    let wall = t0.elapsed();
    let used = cpu_ticks(pid) - before;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let commits = churn.join().unwrap();
    let hz = 100.0; // USER_HZ on Linux
    let share = used as f64 / hz / wall.as_secs_f64();
    println!("wait_gen for {wall:?} with {commits} commits elsewhere used {used} ticks of CPU ({:.1}% of one core)", share * 100.0);
    assert!(share < 0.15, "wait_gen used {:.0}% of a core while waiting", share * 100.0);
}

#[test]
fn can_be_cancelled_and_times_out_with_the_statement() {
    let mut c = connect();
    let mut m = connect();
    let doc = new_doc(&mut c, "wait-cancel");
    let pid = backend_pid(&mut c);
    let d = doc.clone();
    let waiter = thread::spawn(move || {
        let t0 = Instant::now();
        (wait_gen(&mut c, &d, 9, 30_000), t0.elapsed(), c)
    });
    thread::sleep(Duration::from_millis(300));
    let cancelled: bool = m.query_one("SELECT pg_cancel_backend($1)", &[&pid]).unwrap().get(0);
    assert!(cancelled);
    let (r, took, mut c) = waiter.join().unwrap();
    assert_eq!(r.expect_err("cancelled").code, "57014");
    assert!(took < Duration::from_secs(3), "the cancel took {took:?}");

    c.batch_execute("SET statement_timeout = 250").unwrap();
    let t0 = Instant::now();
    assert_eq!(wait_gen(&mut c, &doc, 9, 30_000).expect_err("statement timeout").code, "57014");
    assert!(t0.elapsed() < Duration::from_secs(3), "statement_timeout took {:?}", t0.elapsed());
    c.batch_execute("RESET statement_timeout").unwrap();
    assert_eq!(wait_gen(&mut c, &doc, 1, 0).unwrap(), 1, "the session is usable afterwards");
}

#[test]
fn holds_no_lock_that_blocks_a_writer() {
    let mut c = connect();
    let mut w = connect();
    let mut m = connect();
    let doc = new_doc(&mut c, "wait-locks");
    let pid = backend_pid(&mut c);
    let d = doc.clone();
    let waiter = thread::spawn(move || wait_gen(&mut c, &d, 3, 10_000));
    thread::sleep(Duration::from_millis(200));
    // only relation-level AccessShareLocks (what any SELECT holds), no row, tuple or xid locks
    let locks: Vec<(String, String)> = m
        .query("SELECT locktype, mode FROM pg_locks WHERE pid = $1 AND granted ORDER BY 1, 2", &[&pid])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert!(
        locks.iter().all(|(t, mode)| (t == "relation" && mode == "AccessShareLock") || t == "virtualxid"),
        "wait_gen holds {locks:?}"
    );
    let wait_event: Option<String> = m.query_one("SELECT wait_event FROM pg_stat_activity WHERE pid = $1", &[&pid]).unwrap().get(0);
    assert_eq!(wait_event.as_deref(), Some("Extension"), "it sleeps on its latch");
    // two writers commit while it waits, without waiting themselves
    let t0 = Instant::now();
    bump(&mut w, &doc, "a");
    bump(&mut w, &doc, "b");
    assert!(t0.elapsed() < Duration::from_secs(1), "the writers waited {:?}", t0.elapsed());
    assert_eq!(waiter.join().unwrap().unwrap(), 3);
    // compact and drop_doc (which lock the document row) do not wait for a waiter either
    let mut c = connect();
    let d = doc.clone();
    let waiter = thread::spawn(move || wait_gen(&mut c, &d, 99, 5_000));
    thread::sleep(Duration::from_millis(200));
    let t0 = Instant::now();
    w.query_one("SELECT nodesync.compact($1, 2)", &[&doc]).unwrap();
    w.query_one("SELECT nodesync.drop_doc($1, NULL)", &[&doc]).unwrap();
    assert!(t0.elapsed() < Duration::from_secs(1));
    // ... and a document dropped during the wait ends it with 42704
    let e = waiter.join().unwrap().expect_err("the document was dropped");
    assert_eq!(e.code, "42704", "{e:?}");
}

#[test]
fn refuses_what_it_cannot_do() {
    let mut c = connect();
    let doc = new_doc(&mut c, "wait-errors");
    for iso in ["REPEATABLE READ", "SERIALIZABLE"] {
        c.batch_execute(&format!("BEGIN ISOLATION LEVEL {iso}")).unwrap();
        let e = wait_gen(&mut c, &doc, 1, 0).expect_err(iso);
        assert_eq!(e.code, "25001", "{iso}: {e:?}");
        assert!(e.message.contains(&format!("document \"{doc}\"")) && e.message.contains("REPEATABLE READ"), "{}", e.message);
        c.batch_execute("ROLLBACK").unwrap();
    }
    // a single statement at REPEATABLE READ cannot see new commits either
    c.batch_execute("SET default_transaction_isolation = 'repeatable read'").unwrap();
    assert_eq!(wait_gen(&mut c, &doc, 1, 0).expect_err("implicit RR").code, "25001");
    c.batch_execute("RESET default_transaction_isolation").unwrap();

    let e = wait_gen(&mut c, "no-such-doc", 1, 0).expect_err("unknown");
    assert_eq!((e.code.as_str(), e.message.as_str()), ("42704", "document \"no-such-doc\" does not exist"));
    for (sql, what) in [
        ("SELECT nodesync.wait_gen(NULL, 1, 0)", "document id must not be NULL"),
        ("SELECT nodesync.wait_gen($1, NULL, 0)", "gen must not be NULL"),
        ("SELECT nodesync.wait_gen($1, 1, NULL)", "timeout_ms must not be NULL"),
        ("SELECT nodesync.wait_gen($1, -1, 0)", "gen must be >= 0"),
        ("SELECT nodesync.wait_gen($1, 1, -5)", "timeout_ms must be >= 0"),
        ("SELECT nodesync.wait_gen('', 1, 0)", "document id is empty"),
    ] {
        let r = if sql.contains("$1") { c.query_one(sql, &[&doc]) } else { c.query_one(sql, &[]) };
        let e = r.map_err(db_err).expect_err(sql);
        assert_eq!(e.code, "22023", "{sql}: {e:?}");
        assert!(e.message.contains(what), "{sql}: {}", e.message);
    }
}
