//! Push/pull/live against a real server: LISTEN-driven pulls with the app told what changed,
//! a 40001 conflict answered by a rebase, the typed contention error, and a reset diff.

mod common;

use std::time::Duration;

use pg_nodesync_client::{ChangeKind, Config, Error, Place, Policy, Pushed, Replica, Rule, Tree};
use serde_json::{json, Map, Value};

fn props(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn replica(doc: &str, client: &str) -> Replica {
    let mut cfg = Config::new(doc, client);
    cfg.key_prefix = Some(format!("{client}."));
    Replica::open(common::connect("live"), cfg).unwrap()
}

fn server(doc: &str) -> Tree {
    let mut c = common::connect("live");
    let v: Value = c.query_one("SELECT nodesync.snapshot($1)", &[&doc]).unwrap().get(0);
    Tree::from_snapshot(&v).unwrap()
}

#[test]
fn a_listener_pulls_on_notify_and_is_told_what_changed() {
    let mut c = common::connect("live");
    let doc = common::new_doc(&mut c, "live");
    let mut a = replica(&doc, "a");
    let mut b = replica(&doc, "b");
    b.listen().unwrap();
    let rx = b.changes_channel();
    assert_eq!(b.wait(Duration::from_millis(50)).unwrap(), None, "nothing yet");
    let k = a.create("root", Place::Last, "para", props(json!({"text": "hi"}))).unwrap();
    assert!(matches!(a.push().unwrap(), Pushed::Committed { attempts: 1, .. }));
    let changes = b.wait(Duration::from_secs(5)).unwrap().expect("a notification");
    assert_eq!(changes.changed, [(k.clone(), ChangeKind::Created)]);
    assert_eq!(rx.try_recv().unwrap().changed, changes.changed);
    assert_eq!(b.tree().get(&k).unwrap().props["text"], "hi");
    // an update and a move arrive the same way
    let k2 = a.create("root", Place::First, "para", Map::new()).unwrap();
    a.push().unwrap();
    b.wait(Duration::from_secs(5)).unwrap().expect("create of k2");
    a.update(&k, Some("heading"), props(json!({"text": "Hi!"}))).unwrap();
    a.move_to(&k, &k2, Place::Last).unwrap();
    a.push().unwrap();
    let changes = b.wait(Duration::from_secs(5)).unwrap().expect("update");
    assert!(changes.changed.contains(&(k.clone(), ChangeKind::Updated)), "{changes:?}");
    assert!(changes.changed.contains(&(k.clone(), ChangeKind::Moved)), "{changes:?}");
    // notifications about other documents are ignored
    let other = common::new_doc(&mut c, "live-other");
    c.query_one("SELECT nodesync.apply_patch($1, '{\"ops\": [{\"op\": \"create\", \"key\": \"x\", \"kind\": \"p\", \"parent\": \"root\"}]}')", &[&other]).unwrap();
    assert_eq!(b.wait(Duration::from_millis(200)).unwrap(), None);
    assert_eq!(b.tree().flat(), server(&doc).flat());
    assert_eq!(a.tree().flat(), b.tree().flat());
}

#[test]
fn a_conflict_is_pulled_rebased_and_retried() {
    let mut c = common::connect("live");
    let doc = common::new_doc(&mut c, "conflict");
    let mut a = replica(&doc, "a");
    let k = a.create("root", Place::Last, "para", props(json!({"text": "v0", "n": 0}))).unwrap();
    a.push().unwrap();
    let mut b = replica(&doc, "b");
    let mut w = replica(&doc, "w");
    w.cfg_policy_local_wins();
    // all three change the same node from the same version
    a.update(&k, None, props(json!({"text": "v0 a", "n": 5}))).unwrap();
    b.update(&k, None, props(json!({"text": "v0 b", "n": 1}))).unwrap();
    w.update(&k, None, props(json!({"text": "v0 w", "n": 2}))).unwrap();
    a.push().unwrap();
    // b: 40001 on the version, pull, rebase (text merges; n: server wins, reported), retry
    match b.push().unwrap() {
        Pushed::Committed { attempts, .. } => assert_eq!(attempts, 2),
        other => panic!("{other:?}"),
    }
    assert_eq!((b.stats.conflicts, b.stats.rebases), (1, 1));
    assert_eq!(b.take_dropped().iter().map(|d| (d.key.clone(), d.rule.clone())).collect::<Vec<_>>(), [(k.clone(), Rule::PropConflict { prop: "n".into() })]);
    let s = server(&doc);
    assert_eq!(Value::Object(s.get(&k).unwrap().props.clone()), json!({"text": "v0 a b", "n": 5}));
    // w keeps its own non-string value; its text merges like everyone's
    w.push().unwrap();
    assert!(w.take_dropped().is_empty());
    assert_eq!(Value::Object(server(&doc).get(&k).unwrap().props.clone()), json!({"text": "v0 a b w", "n": 2}));
    a.pull().unwrap();
    b.pull().unwrap();
    assert_eq!(a.tree().flat(), server(&doc).flat());
    assert_eq!(b.tree().flat(), server(&doc).flat());
}

#[test]
fn contention_that_never_clears_is_a_typed_error() {
    let mut c = common::connect("live");
    let doc = common::new_doc(&mut c, "contention");
    let mut cfg = Config::new(&doc, "stubborn");
    cfg.max_attempts = 3;
    let mut r = Replica::open(common::connect("live"), cfg).unwrap();
    r.update("root", None, props(json!({"mine": 1}))).unwrap();
    // another session changes the root before every attempt: it commits from the replica's
    // change callback, which runs during the pull of every retry
    let mut side = common::connect("live");
    let doc2 = doc.clone();
    side.query_one("SELECT nodesync.apply_patch($1, '{\"ops\": [{\"op\": \"update\", \"key\": \"root\", \"version\": 1, \"props\": {\"side\": 1}}]}')", &[&doc2]).unwrap();
    let side = std::sync::Mutex::new(side);
    r.on_change(move |_| {
        let mut s = side.lock().unwrap();
        let v: i64 = s.query_one("SELECT ((nodesync.snapshot($1))->'root'->>'version')::bigint", &[&doc2]).unwrap().get(0);
        s.query_one("SELECT nodesync.apply_patch($1, jsonb_build_object('ops', jsonb_build_array(jsonb_build_object('op', 'update', 'key', 'root', 'version', $2::bigint, 'props', jsonb_build_object('side', $2::bigint)))))", &[&doc2, &v]).unwrap();
    });
    match r.push() {
        Err(Error::Contention { attempts, conflicts }) => {
            assert_eq!(attempts, 3);
            assert_eq!(conflicts["conflicts"][0]["reason"], "version");
        }
        other => panic!("expected contention, got {other:?}"),
    }
    // the edit is still local, and goes through once the contention clears
    assert!(r.has_local_edits());
    r.on_change(|_| {});
    r.pull().unwrap();
    assert!(matches!(r.push().unwrap(), Pushed::Committed { attempts: 1, .. }));
    assert_eq!(server(&doc).get("root").unwrap().props["mine"], 1);
}

#[test]
fn a_reset_diff_replaces_the_shadow_and_keeps_local_edits() {
    let mut c = common::connect("live");
    let doc = common::new_doc(&mut c, "reset");
    let mut a = replica(&doc, "a");
    let mut b = replica(&doc, "b");
    let k = a.create("root", Place::Last, "para", Map::new()).unwrap();
    a.push().unwrap();
    b.pull().unwrap();
    // b edits locally while a commits more, then the history b would need is compacted away
    b.update(&k, None, props(json!({"b": true}))).unwrap();
    let kb = b.create("root", Place::First, "para", Map::new()).unwrap();
    a.delete(&k).unwrap();
    let k3 = a.create("root", Place::Last, "quote", Map::new()).unwrap();
    a.push().unwrap();
    let gen: i64 = c.query_one("SELECT ((nodesync.snapshot($1))->>'gen')::bigint", &[&doc]).unwrap().get(0);
    c.query_one("SELECT nodesync.compact($1, $2)", &[&doc, &gen]).unwrap();
    let diff: Value = c.query_one("SELECT nodesync.diff_since($1, $2)", &[&doc, &b.gen()]).unwrap().get(0);
    assert_eq!(diff["reset"], true);
    let changes = b.pull().unwrap();
    assert!(changes.changed.contains(&(k3.clone(), ChangeKind::Created)), "{changes:?}");
    assert_eq!(b.take_dropped().iter().map(|d| (d.key.clone(), d.rule.clone())).collect::<Vec<_>>(), [(k.clone(), Rule::EditOfDeleted)]);
    assert!(b.tree().contains(&kb));
    b.push().unwrap();
    a.pull().unwrap();
    assert_eq!(a.tree().flat(), server(&doc).flat());
    assert_eq!(b.tree().flat(), server(&doc).flat());
    assert_eq!(a.children("root"), [kb, k3]);
}

trait LocalWins {
    fn cfg_policy_local_wins(&mut self);
}

impl LocalWins for Replica {
    fn cfg_policy_local_wins(&mut self) {
        self.set_policy(Policy::LocalWins);
    }
}

#[test]
fn a_pull_reports_blocks_a_rebase_changed_that_the_diff_does_not_name() {
    let mut c = common::connect("live");
    let doc = common::new_doc(&mut c, "live");
    c.execute(
        "SELECT nodesync.apply_patch($1, $2)",
        &[&doc, &json!({"ops": [
            {"op": "create", "key": "p0", "kind": "para", "parent": "root", "props": {"text": "Hello "}},
            {"op": "create", "key": "p1", "kind": "para", "parent": "root", "props": {"text": "world"}}]})],
    )
    .unwrap();
    let mut ann = replica(&doc, "ann");
    let mut bob = replica(&doc, "bob");
    // bob joins p1 into p0 (Backspace), unsent; ann types into p1
    assert_eq!(bob.join("p0", "p1", "text").unwrap(), "p0");
    ann.splice("p1", "text", 5, 0, "!").unwrap();
    ann.push().unwrap();
    let changes = bob.pull().unwrap();
    // the diff names p1 only (joined away here): ann's "!" lands in p0, which is reported
    assert_eq!(bob.text("p0", "text"), Some("Hello world!"));
    assert!(changes.changed.contains(&("p0".to_string(), ChangeKind::Updated)), "{:?}", changes.changed);
    bob.push().unwrap();
    ann.pull().unwrap();
    assert_eq!(ann.tree().flat(), server(&doc).flat());
    assert_eq!(bob.tree().flat(), server(&doc).flat());
}
