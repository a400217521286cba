//! Durable retry: a client killed between send and acknowledgement (or before sending) is
//! restarted on its journal; it resends the same (client, seq) and gets the original result
//! (duplicate), a first apply, or a clean refusal — never a double apply.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use pg_nodesync_client::{Config, Recovery, Replica};
use postgres::Client;
use serde_json::{json, Value};

fn journal_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nodesync-client-journal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(format!("{name}.json"));
    let _ = std::fs::remove_file(&p);
    p
}

/// Runs the probe up to `crash`, then kills it (SIGKILL). Returns the seq it was sending.
fn run_and_kill(doc: &str, client: &str, journal: &Path, key: &str, crash: &str) -> i64 {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nodesync-journal-probe"))
        .args([doc, client, journal.to_str().unwrap(), key, crash])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the probe");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the probe was killed");
    let parts: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(parts.first(), Some(&"CRASHPOINT"), "probe said {line:?}");
    parts[2].parse().unwrap()
}

fn log_entries(c: &mut Client, doc: &str, client: &str) -> Vec<(i64, Value)> {
    c.query("SELECT seq, patch FROM nodesync.changes_since($1, 0) WHERE client = $2", &[&doc, &client])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

fn reopen(doc: &str, client: &str, journal: &Path) -> Replica {
    let mut cfg = Config::new(doc, client);
    cfg.journal = Some(journal.to_path_buf());
    Replica::open(common::connect("journal"), cfg).unwrap()
}

#[test]
fn killed_after_the_server_committed_gets_the_original_result() {
    let mut c = common::connect("journal");
    let doc = common::new_doc(&mut c, "j-after");
    let j = journal_path("after");
    let seq = run_and_kill(&doc, "probe-a", &j, "pa", "after-send");
    // the server committed it; the client never processed the answer
    assert_eq!(log_entries(&mut c, &doc, "probe-a").len(), 1);
    let gen_before: i64 = c.query_one("SELECT (nodesync.snapshot($1))->'gen'", &[&doc]).unwrap().get::<_, Value>(0).as_i64().unwrap();
    let mut r = reopen(&doc, "probe-a", &j);
    match r.recovery() {
        Some(Recovery::Committed { seq: s, duplicate: true, gen }) => {
            assert_eq!(*s, seq);
            assert_eq!(*gen, gen_before, "the original result");
        }
        other => panic!("expected a duplicate, got {other:?}"),
    }
    let entries = log_entries(&mut c, &doc, "probe-a");
    assert_eq!(entries.len(), 1, "applied once");
    assert_eq!(entries[0].0, seq);
    assert!(r.tree().contains("pa"));
    assert_eq!(r.tree().get("root").unwrap().props["probe"], json!("pa"));
    // the journal is settled: the next push uses a fresh seq
    r.update("pa", None, json!({"x": 1}).as_object().unwrap().clone()).unwrap();
    r.push().unwrap();
    let entries = log_entries(&mut c, &doc, "probe-a");
    assert_eq!(entries.len(), 2);
    assert!(entries[1].0 > seq);
    // reopening again resends nothing
    assert_eq!(reopen(&doc, "probe-a", &j).recovery(), None);
}

#[test]
fn killed_before_sending_applies_once_on_restart() {
    let mut c = common::connect("journal");
    let doc = common::new_doc(&mut c, "j-before");
    let j = journal_path("before");
    let seq = run_and_kill(&doc, "probe-b", &j, "pb", "before-send");
    assert!(log_entries(&mut c, &doc, "probe-b").is_empty(), "never reached the server");
    let r = reopen(&doc, "probe-b", &j);
    assert!(matches!(r.recovery(), Some(Recovery::Committed { seq: s, duplicate: false, .. }) if *s == seq), "{:?}", r.recovery());
    assert_eq!(log_entries(&mut c, &doc, "probe-b").len(), 1);
    assert!(r.tree().contains("pb"));
    // a second restart on the same journal does not apply it again
    let r2 = reopen(&doc, "probe-b", &j);
    assert_eq!(r2.recovery(), None);
    assert_eq!(log_entries(&mut c, &doc, "probe-b").len(), 1);
}

#[test]
fn a_stale_journaled_patch_is_refused_cleanly() {
    let mut c = common::connect("journal");
    let doc = common::new_doc(&mut c, "j-refused");
    let j = journal_path("refused");
    let seq = run_and_kill(&doc, "probe-c", &j, "pc", "before-send");
    // someone else changes the root meanwhile: the journaled update is now stale
    c.query_one("SELECT nodesync.apply_patch($1, '{\"ops\": [{\"op\": \"update\", \"key\": \"root\", \"version\": 1, \"props\": {\"other\": 1}}]}')", &[&doc])
        .unwrap();
    let r = reopen(&doc, "probe-c", &j);
    match r.recovery() {
        Some(Recovery::Refused { seq: s, conflicts }) => {
            assert_eq!(*s, seq);
            assert_eq!(conflicts["conflicts"][0]["reason"], "version", "{conflicts}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(log_entries(&mut c, &doc, "probe-c").is_empty());
    assert!(!r.tree().contains("pc"));
}
