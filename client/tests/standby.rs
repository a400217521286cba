//! The "read from this connection, write to that one" mode ([`Replica::read_from`]) against a
//! real hot standby: `scripts/standby.sh` starts a primary and a `pg_basebackup -R` standby on
//! loopback and runs these `#[ignore]`d tests with `--ignored` (test layer `standby`).
//!
//! Two replicas write on the primary and read on the standby. Checked: every read after a
//! commit shows that commit (read-your-writes through `wait_gen`), conflicts rebase onto the
//! state the refusal named, every word typed is in the final text, both replicas equal the
//! primary's `snapshot()`, and most reads were served by the standby.

use std::time::Duration;

use pg_nodesync_client::{ensure_doc, Config, Place, Replica};
use postgres::Client;
use serde_json::{json, Value};

fn server(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| panic!("{var} is not set: run these tests with scripts/standby.sh"))
}

fn db() -> String {
    format!("nodesync_client_standby_{}", std::process::id())
}

fn connect(var: &str) -> Client {
    nodesync_testkit::connect(&format!("{} dbname={} application_name=client_standby", server(var), db()))
}

/// A fresh database with the extension on the primary, once the standby has it too.
fn setup() {
    nodesync_testkit::fresh_replicated_database(&server("NODESYNC_PRIMARY"), &server("NODESYNC_STANDBY"), &db(), Duration::from_secs(30));
}

fn text_of(r: &Replica, key: &str) -> String {
    r.get(key).and_then(|n| n.props.get("text")).and_then(Value::as_str).unwrap_or("").to_string()
}

#[test]
#[ignore = "needs a hot standby: scripts/standby.sh"]
fn replicas_write_on_the_primary_and_read_on_the_standby() {
    setup();
    let doc = "split-rw";
    let mut admin = connect("NODESYNC_PRIMARY");
    ensure_doc(&mut admin, doc, "doc").unwrap();
    let mut reps: Vec<Replica> = (0..2)
        .map(|i| {
            let mut r = Replica::open(connect("NODESYNC_PRIMARY"), Config::new(doc, &format!("rw{i}"))).expect("open");
            r.read_from(connect("NODESYNC_STANDBY"));
            r
        })
        .collect();
    // the writers' own reads show their commits: a paragraph created and pushed by one
    // replica is there after its push, read back through the standby
    reps[0].create_with_key("p", "root", Place::Last, "para", json!({"text": ""}).as_object().cloned().unwrap_or_default()).unwrap();
    let pushed = reps[0].push().unwrap();
    assert!(matches!(pushed, pg_nodesync_client::Pushed::Committed { .. }), "{pushed:?}");
    assert!(reps[0].shadow().contains("p"), "the commit is in the shadow read after it");
    reps[1].pull().unwrap();
    // both type words into the paragraph, pushing after each word, without pulling in between:
    // every push of the second conflicts at first and rebases onto what the standby shows
    let mut typed: Vec<Vec<String>> = vec![vec![], vec![]];
    for round in 0..12 {
        for (i, r) in reps.iter_mut().enumerate() {
            let word = format!("w{i}x{round} ");
            let at = if i == 0 { 0 } else { text_of(r, "p").chars().count() };
            r.splice("p", "text", at, 0, &word).unwrap();
            typed[i].push(word);
            let before = r.gen();
            match r.push().unwrap() {
                pg_nodesync_client::Pushed::Committed { gen, .. } => {
                    assert!(r.gen() >= gen, "replica {i}: its shadow (gen {}) is older than its own commit {gen}", r.gen());
                    assert!(gen > before);
                }
                other => panic!("replica {i}: {other:?}"),
            }
            let t = text_of(r, "p");
            assert!(t.contains(typed[i].last().unwrap().as_str()), "replica {i} reads its own word back: {t:?}");
        }
    }
    let snap: Value = admin.query_one("SELECT nodesync.snapshot($1)", &[&doc]).unwrap().get(0);
    // a pull reads the standby, which replays the primary's last commits a moment later (a
    // replica's own commits it knows without reading, so nothing made it wait for the other's)
    let primary_gen = snap["gen"].as_i64().unwrap();
    for (i, r) in reps.iter_mut().enumerate() {
        for _ in 0..200 {
            r.pull().unwrap();
            if r.gen() >= primary_gen {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(r.gen(), primary_gen, "replica {i} caught up with the primary through the standby");
    }
    let server_text = snap["root"]["children"][0]["props"]["text"].as_str().unwrap_or("").to_string();
    for (i, words) in typed.iter().enumerate() {
        for w in words {
            assert_eq!(server_text.matches(w.as_str()).count(), 1, "word {w:?} of replica {i} in {server_text:?}");
        }
    }
    for (i, r) in reps.iter().enumerate() {
        assert_eq!(text_of(r, "p"), server_text, "replica {i} equals the primary");
        assert_eq!(r.gen(), snap["gen"].as_i64().unwrap(), "replica {i} is at the primary's gen");
    }
    let (served, fellback): (u64, u64) = reps.iter().fold((0, 0), |(a, b), r| (a + r.stats.reader_reads, b + r.stats.reader_fallbacks));
    let conflicts: u64 = reps.iter().map(|r| r.stats.conflicts).sum();
    eprintln!("standby reads: {served} served by the standby, {fellback} fell back to the primary; {conflicts} conflicts rebased");
    assert!(conflicts > 0, "the test should make the replicas conflict");
    assert!(served > fellback, "most reads should be served by the standby ({served} vs {fellback})");
}

#[test]
#[ignore = "needs a hot standby: scripts/standby.sh"]
fn a_reader_that_cannot_catch_up_in_time_falls_back_to_the_writer() {
    setup();
    let doc = "split-fallback";
    let mut admin = connect("NODESYNC_PRIMARY");
    ensure_doc(&mut admin, doc, "doc").unwrap();
    let mut cfg = Config::new(doc, "fb");
    cfg.read_wait = Duration::from_millis(200);
    let mut r = Replica::open(connect("NODESYNC_PRIMARY"), cfg).unwrap();
    // a "reader" on the primary's database that never sees the commits: a connection inside a
    // REPEATABLE READ transaction would be refused (25001), so use a standby connection whose
    // replay is paused
    let mut standby = connect("NODESYNC_STANDBY");
    standby.batch_execute("SELECT pg_wal_replay_pause()").unwrap();
    r.read_from(connect("NODESYNC_STANDBY"));
    r.create_with_key("q", "root", Place::Last, "para", Default::default()).unwrap();
    let res = r.push();
    standby.batch_execute("SELECT pg_wal_replay_resume()").unwrap();
    assert!(matches!(res, Ok(pg_nodesync_client::Pushed::Committed { .. })), "{res:?}");
    assert!(r.shadow().contains("q"), "the read after the commit fell back to the primary and shows it");
    assert!(r.stats.reader_fallbacks >= 1, "{:?}", r.stats.reader_fallbacks);
}
