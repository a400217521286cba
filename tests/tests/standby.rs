//! A real physical replica (issue 9, part 2; docs/replicas.md). These tests need a primary and a
//! streaming hot standby made with `pg_basebackup -R`: `scripts/standby.sh` starts the pair on
//! loopback, runs them with `--ignored` and stops the pair (test layer `standby`). They are
//! `#[ignore]`d so that the plain client layer, which has no standby, skips them.
//!
//! - every read function on the standby returns what the primary returns, at every gen
//! - `wait_gen` on the standby returns once a commit on the primary has replayed (replay lag
//!   printed: min / median / p90 / max over the commits)
//! - writes on the standby fail with 25006 and a message saying why

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use nodesync_testkit::{connect, fresh_replicated_database};
use pg_nodesync_tests::{all_reads, db_err, DbErr};
use postgres::Client;
use serde_json::{json, Value};

fn server(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| panic!("{var} is not set: run these tests with scripts/standby.sh"))
}

fn db() -> String {
    format!("nodesync_standby_{}", std::process::id())
}

static SETUP: OnceLock<()> = OnceLock::new();

/// The test database on the primary, with the extension; waits until the standby has it too.
fn setup() {
    SETUP.get_or_init(|| {
        fresh_replicated_database(&server("NODESYNC_PRIMARY"), &server("NODESYNC_STANDBY"), &db(), Duration::from_secs(30));
    });
}

fn primary() -> Client {
    setup();
    connect(&format!("{} dbname={} application_name=primary_test", server("NODESYNC_PRIMARY"), db()))
}

fn standby() -> Client {
    setup();
    connect(&format!("{} dbname={} application_name=standby_test", server("NODESYNC_STANDBY"), db()))
}

fn doc_id(name: &str) -> String {
    format!("{name}-{}", std::process::id())
}

fn patch(c: &mut Client, doc: &str, p: Value, client: Option<&str>, seq: Option<i64>) -> i64 {
    let r: Value = c
        .query_one("SELECT nodesync.apply_patch($1, $2, $3, $4)", &[&doc, &p, &client, &seq])
        .unwrap_or_else(|e| panic!("patch {p} on {doc}: {e}"))
        .get(0);
    r["gen"].as_i64().unwrap()
}

/// `nodesync.wait_gen` on `c`. A document created on the primary is unknown (42704) on the
/// standby until its creation has replayed: within `timeout_ms` that is retried.
fn wait_gen(c: &mut Client, doc: &str, gen: i64, timeout_ms: i32) -> Result<i64, DbErr> {
    let t0 = Instant::now();
    loop {
        match c.query_one("SELECT nodesync.wait_gen($1, $2, $3)", &[&doc, &gen, &timeout_ms]).map(|r| r.get(0)).map_err(db_err) {
            Err(e) if e.code == "42704" && t0.elapsed() < Duration::from_millis(timeout_ms.max(0) as u64) => thread::sleep(Duration::from_millis(5)),
            r => return r,
        }
    }
}

#[test]
#[ignore = "needs a hot standby: run scripts/standby.sh"]
fn every_read_on_the_standby_equals_the_primary_at_the_same_gen() {
    let mut p = primary();
    let mut s = standby();
    let doc = doc_id("reads");
    p.query_one("SELECT nodesync.create_doc($1, 'doc', '{\"title\": \"on both\"}')", &[&doc]).unwrap();
    let steps: Vec<(Value, Option<&str>, Option<i64>)> = vec![
        (json!({"ops": [
            {"op": "create", "key": "h", "kind": "heading", "parent": "root", "props": {"text": "Replicas"}},
            {"op": "create", "key": "p1", "kind": "paragraph", "parent": "root", "props": {"text": "Hello world", "n": 12345678901234567890_u64.to_string()}},
            {"op": "create", "key": "l", "kind": "list", "parent": "root"},
            {"op": "create", "key": "i1", "kind": "item", "parent": "l", "props": {"text": "one"}},
            {"op": "create", "key": "i2", "kind": "item", "parent": "l", "after": null, "props": {"text": "two"}}]}), Some("alice"), Some(1)),
        (json!({"ops": [{"op": "update", "key": "p1", "version": 1, "props": {"bold": true, "n": null}}]}), Some("alice"), Some(2)),
        (json!({"ops": [{"op": "text", "key": "p1", "version": 2, "prop": "text", "edits": [[5, 6, ", standby"], [0, 0, "»"]]}]}), Some("bob"), Some(1)),
        (json!({"ops": [{"op": "move", "key": "i1", "version": 1, "parent": "root", "after": "h"}]}), None, None),
        (json!({"ops": [{"op": "split", "key": "p1", "version": 3, "prop": "text", "at": 6, "new": "p2"}]}), Some("bob"), Some(2)),
        (json!({"ops": [{"op": "delete", "key": "l", "version": 1}]}), None, None),
        (json!({"ops": [{"op": "join", "key": "p1", "version": 4, "next": "p2", "next_version": 1, "prop": "text"}]}), Some("alice"), Some(3)),
    ];
    let mut gen = 1;
    let mut compared = 0;
    let check = |p: &mut Client, s: &mut Client, gen: i64, compared: &mut usize| {
        assert_eq!(wait_gen(s, &doc, gen, 10_000).unwrap(), gen, "the standby replays gen {gen}");
        let (a, b) = (all_reads(p, &doc, gen), all_reads(s, &doc, gen));
        for (k, v) in a.as_object().unwrap() {
            assert_eq!(Some(v), b.get(k), "{k} at gen {gen}: primary vs standby");
        }
        assert_eq!(a, b);
        *compared += a.as_object().unwrap().len();
    };
    check(&mut p, &mut s, gen, &mut compared);
    for (pt, client, seq) in steps {
        gen = patch(&mut p, &doc, pt, client, seq);
        check(&mut p, &mut s, gen, &mut compared);
    }
    // a compacted history, and a dropped document, read the same way (55000 / 42704 alike)
    p.query_one("SELECT nodesync.compact($1, 4)", &[&doc]).unwrap();
    gen = patch(&mut p, &doc, json!({"ops": [{"op": "update", "key": "h", "version": 1, "kind": "title"}]}), Some("alice"), Some(4));
    check(&mut p, &mut s, gen, &mut compared);
    let gone = doc_id("dropped");
    p.query_one("SELECT nodesync.create_doc($1)", &[&gone]).unwrap();
    p.query_one("SELECT nodesync.drop_doc($1, 1)", &[&gone]).unwrap();
    assert_eq!(wait_gen(&mut s, &doc, gen, 10_000).unwrap(), gen);
    let t0 = Instant::now();
    while all_reads(&mut s, &gone, 1) != all_reads(&mut p, &gone, 1) {
        assert!(t0.elapsed() < Duration::from_secs(10), "the drop never replayed");
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(all_reads(&mut s, &gone, 1)["snapshot"]["error"], "42704");
    println!("standby reads: {compared} reads compared at {} gens, all equal to the primary's", gen);
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[test]
#[ignore = "needs a hot standby: run scripts/standby.sh"]
fn wait_gen_on_the_standby_returns_once_the_commit_has_replayed() {
    let mut p = primary();
    let doc = doc_id("lag");
    p.query_one("SELECT nodesync.create_doc($1)", &[&doc]).unwrap();
    let mut s = standby();
    assert_eq!(wait_gen(&mut s, &doc, 1, 10_000).unwrap(), 1);

    // a wait that nothing satisfies returns the standby's gen at its timeout
    let t0 = Instant::now();
    assert_eq!(wait_gen(&mut s, &doc, 2, 400).unwrap(), 1);
    assert!(t0.elapsed() >= Duration::from_millis(400) && t0.elapsed() < Duration::from_millis(900), "{:?}", t0.elapsed());

    const N: i64 = 60;
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let d = doc.clone();
    let waiter = thread::spawn(move || {
        let mut s = standby();
        let mut returned = vec![];
        for g in 2..=N + 1 {
            ready_tx.send(()).unwrap();
            let got = wait_gen(&mut s, &d, g, 10_000).unwrap();
            returned.push((Instant::now(), got));
        }
        returned
    });
    let mut committed = vec![];
    for i in 0..N {
        ready_rx.recv().unwrap();
        thread::sleep(Duration::from_millis(15 + (i % 4) as u64 * 5)); // the waiter is in wait_gen by now
        let g = patch(&mut p, &doc, json!({"ops": [{"op": "create", "key": format!("n{i}"), "kind": "p", "parent": "root"}]}), None, None);
        committed.push((Instant::now(), g));
    }
    let returned = waiter.join().unwrap();
    let mut lags = vec![];
    for ((c_at, g), (r_at, got)) in committed.iter().zip(&returned) {
        assert_eq!(got, g, "wait_gen returned another gen");
        lags.push(r_at.saturating_duration_since(*c_at));
    }
    lags.sort();
    println!(
        "wait_gen replay lag on the standby (primary's COMMIT returned -> standby's wait_gen returned), {N} commits: min {} median {} p90 {} max {}",
        ms(lags[0]),
        ms(percentile(&lags, 0.5)),
        ms(percentile(&lags, 0.9)),
        ms(lags[lags.len() - 1])
    );
    assert!(percentile(&lags, 0.5) < Duration::from_millis(100), "median replay lag {:?}", percentile(&lags, 0.5));
    // what wait_gen saw is what the standby reads
    let snap: Value = s.query_one("SELECT nodesync.snapshot($1)", &[&doc]).unwrap().get(0);
    assert_eq!(snap["gen"], json!(N + 1));
    assert_eq!(snap["root"]["children"].as_array().unwrap().len(), N as usize);
}

/// `writers` sessions on the primary, each updating one node of its own document
/// (`<name><w>`) until `stop`; each returns how many updates it made. `async_commit`:
/// `synchronous_commit = off`, for more churn.
fn churn(writers: usize, name: &str, async_commit: bool, stop: &Arc<AtomicBool>) -> Vec<thread::JoinHandle<i64>> {
    (0..writers)
        .map(|w| {
            let (stop, other) = (stop.clone(), doc_id(&format!("{name}{w}")));
            thread::spawn(move || {
                let mut c = primary();
                if async_commit {
                    c.batch_execute("SET synchronous_commit = off").unwrap();
                }
                c.query_one("SELECT nodesync.create_doc($1)", &[&other]).unwrap();
                patch(&mut c, &other, json!({"ops": [{"op": "create", "key": "x", "kind": "p", "parent": "root", "props": {"n": 0}}]}), None, None);
                let mut v = 1;
                while !stop.load(Ordering::SeqCst) {
                    patch(&mut c, &other, json!({"ops": [{"op": "update", "key": "x", "version": v, "props": {"n": v}}]}), None, None);
                    v += 1;
                }
                v
            })
        })
        .collect()
}

#[test]
#[ignore = "needs a hot standby: run scripts/standby.sh"]
fn read_your_writes_across_primary_and_standby_under_load() {
    // writers on other documents keep the primary busy (and its pages pruned, which replay
    // must apply while waiters hold snapshots); the reader still sees each of its own commits
    let mut p = primary();
    let doc = doc_id("ryw");
    p.query_one("SELECT nodesync.create_doc($1)", &[&doc]).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let churn = churn(2, "churn", false, &stop);
    let mut s = standby();
    let mut lags = vec![];
    let mut timeouts = 0;
    for i in 0..40 {
        let g = patch(&mut p, &doc, json!({"ops": [{"op": "create", "key": format!("k{i}"), "kind": "p", "parent": "root", "props": {"i": i}}]}), None, None);
        let t0 = Instant::now();
        let seen = wait_gen(&mut s, &doc, g, 5_000).unwrap();
        if seen < g {
            timeouts += 1;
            continue;
        }
        lags.push(t0.elapsed());
        // read your write: the standby now shows it
        let n: i64 = s.query_one("SELECT count(*) FROM nodesync.nodes($1) WHERE key = $2", &[&doc, &format!("k{i}")]).unwrap().get(0);
        assert_eq!(n, 1, "wait_gen returned gen {g} but the node is not there");
    }
    stop.store(true, Ordering::SeqCst);
    let other_commits: i64 = churn.into_iter().map(|t| t.join().unwrap()).sum();
    lags.sort();
    println!(
        "read-your-writes under load ({other_commits} commits on other documents meanwhile): 40 waits, {timeouts} timed out; lag min {} median {} p90 {} max {}",
        ms(lags[0]),
        ms(percentile(&lags, 0.5)),
        ms(percentile(&lags, 0.9)),
        ms(lags[lags.len() - 1])
    );
    assert_eq!(timeouts, 0, "wait_gen timed out on the standby");
}

#[test]
#[ignore = "needs a hot standby: run scripts/standby.sh"]
fn writes_on_the_standby_fail_with_25006() {
    let mut p = primary();
    let doc = doc_id("writes");
    p.query_one("SELECT nodesync.create_doc($1)", &[&doc]).unwrap();
    let mut s = standby();
    assert_eq!(wait_gen(&mut s, &doc, 1, 10_000).unwrap(), 1);
    let before: Value = s.query_one("SELECT nodesync.snapshot($1)", &[&doc]).unwrap().get(0);
    for (sql, what) in [
        ("SELECT nodesync.create_doc($1 || '-new')", "create document"),
        ("SELECT nodesync.apply_patch($1, '{\"ops\": [{\"op\": \"create\", \"key\": \"a\", \"kind\": \"p\", \"parent\": \"root\"}]}')", "apply a patch to document"),
        ("SELECT nodesync.try_apply_patch($1, '{\"ops\": []}')", "apply a patch to document"),
        ("SELECT nodesync.compact($1, 1)", "compact document"),
        ("SELECT nodesync.drop_doc($1, NULL)", "drop document"),
    ] {
        let e = s.query_one(sql, &[&doc]).map_err(db_err).expect_err(sql);
        assert_eq!(e.code, "25006", "{sql}: {e:?}");
        assert!(e.message.contains(what) && e.message.contains(&doc) && e.message.contains("hot standby"), "{sql}: {}", e.message);
    }
    // Postgres's own refusals on a standby: direct writes, and LISTEN (which is why wait_gen exists)
    for sql in ["UPDATE nodesync.documents SET meta = '{}'", "LISTEN nodesync"] {
        let e = s.batch_execute(sql).map_err(db_err).expect_err(sql);
        assert_eq!(e.code, "25006", "{sql}: {e:?}");
    }
    let after: Value = s.query_one("SELECT nodesync.snapshot($1)", &[&doc]).unwrap().get(0);
    assert_eq!(before, after);
    // the rules of wait_gen hold on the standby as well
    s.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ").unwrap();
    assert_eq!(wait_gen(&mut s, &doc, 1, 0).unwrap_err().code, "25001");
    s.batch_execute("ROLLBACK; SET statement_timeout = 200").unwrap();
    let t0 = Instant::now();
    assert_eq!(wait_gen(&mut s, &doc, 9, 10_000).unwrap_err().code, "57014");
    assert!(t0.elapsed() < Duration::from_secs(2));
    s.batch_execute("RESET statement_timeout").unwrap();
    assert_eq!(wait_gen(&mut s, "no-such-doc", 1, 0).unwrap_err().code, "42704");
}

#[test]
#[ignore = "needs a hot standby: run scripts/standby.sh"]
fn long_waits_survive_heavy_churn_with_hot_standby_feedback() {
    // A wait holds its statement's snapshot on the standby. Rows the primary removes meanwhile
    // (HOT pruning of the churned rows) conflict with it on replay: without hot_standby_feedback,
    // replay stops for up to max_standby_streaming_delay and then cancels the wait with 40001
    // (seen here: "canceling statement due to conflict with recovery"). With feedback on (as
    // scripts/standby.sh runs it, and docs/replicas.md recommends) the primary keeps those rows
    // while the wait lasts, and every wait returns as soon as its commit replays.
    let feedback: String = standby().query_one("SHOW hot_standby_feedback", &[]).unwrap().get(0);
    assert_eq!(feedback, "on", "this test checks the recommended setting; scripts/standby.sh sets it");
    let mut p = primary();
    let doc = doc_id("long");
    p.query_one("SELECT nodesync.create_doc($1)", &[&doc]).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let churn = churn(3, "lchurn", true, &stop);
    let mut lags = vec![];
    let mut failures = vec![];
    for i in 0..6 {
        let d = doc.clone();
        let waiter = thread::spawn(move || {
            let mut s = standby();
            let r = wait_gen(&mut s, &d, i + 2, 5000);
            (r, Instant::now())
        });
        thread::sleep(Duration::from_millis(1000));
        patch(&mut p, &doc, json!({"ops": [{"op": "create", "key": format!("k{i}"), "kind": "p", "parent": "root"}]}), None, None);
        let c_at = Instant::now();
        let (r, at) = waiter.join().unwrap();
        match r {
            Ok(g) if g >= i + 2 => lags.push(at.saturating_duration_since(c_at)),
            other => failures.push(format!("{other:?}")),
        }
    }
    stop.store(true, Ordering::SeqCst);
    let n: i64 = churn.into_iter().map(|t| t.join().unwrap()).sum();
    lags.sort();
    println!(
        "1 s waits on the standby during {n} commits of churn (hot_standby_feedback on): {} of 6 returned on replay, lag min {} max {}",
        lags.len(),
        lags.first().map(|d| ms(*d)).unwrap_or_default(),
        lags.last().map(|d| ms(*d)).unwrap_or_default()
    );
    assert_eq!(failures, Vec::<String>::new(), "waits that timed out or failed");
}
