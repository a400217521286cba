//! After its own commit a replica knows the server's state without reading it when nobody else
//! committed in between and the patch changed nodes only in place
//! ([`Workspace::committed_alone`]): a keystroke is then one statement. These tests check that
//! the state it takes is the server's, exactly (versions, gens, positions), and that every
//! other commit (someone else in between; creates, moves, splits, joins, deletes; floats) still
//! reads the server.
//!
//! The pure half runs against the reference model (`ModelServer`); the server half against
//! Postgres, comparing the replica's shadow with `snapshot()` after every push.

mod common;

use std::collections::BTreeSet;

use nodesync_core::reference::Rng;
use pg_nodesync_client::sim::ModelServer;
use pg_nodesync_client::{fetch_snapshot, Config, Place, Policy, Pushed, Replica, Workspace};
use serde_json::{json, Map, Value};

fn props(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// A model server holding paragraphs p1, p2 and a workspace on it.
fn model() -> (ModelServer, Workspace) {
    let mut s = ModelServer::new();
    s.apply(&json!({"ops": [
        {"op": "create", "key": "p1", "kind": "para", "parent": "root", "props": {"text": "Hello"}},
        {"op": "create", "key": "p2", "kind": "para", "parent": "root", "props": {"text": "world", "n": 1}},
    ]}))
    .unwrap();
    let w = Workspace::new(s.tree(), "w.".into());
    (s, w)
}

/// Commits `w`'s patch on `s` and offers it to `committed_alone`; returns what that said,
/// after checking that it changed nothing when it said no.
fn commit_alone(s: &mut ModelServer, w: &mut Workspace) -> bool {
    let patch = w.patch();
    let before = w.clone();
    let gen = s.apply(&patch.to_json()).unwrap().expect("committed");
    let t = s.tree();
    let versions: Map<String, Value> = t
        .nodes
        .iter()
        .filter(|(_, n)| n.gen == gen)
        .map(|(k, n)| (k.clone(), json!(n.version)))
        .collect();
    let ok = w.committed_alone(&patch, gen, &versions);
    if ok {
        assert_eq!(
            w.shadow(),
            &t,
            "the shadow after a commit alone is the server's state"
        );
        assert_eq!(w.tree(), &t);
        assert_eq!(w.projection(), &t);
        assert!(!w.has_local_edits());
    } else {
        assert_eq!(
            w.shadow(),
            before.shadow(),
            "a refused fast path changes nothing"
        );
        assert_eq!(w.tree(), before.tree());
        assert_eq!(w.patch(), patch);
        w.committed(t);
    }
    ok
}

#[test]
fn text_and_updates_are_known_without_a_read() {
    let (mut s, mut w) = model();
    w.splice("p1", "text", 5, 0, ", brave").unwrap();
    assert!(commit_alone(&mut s, &mut w));
    w.splice("p1", "text", 0, 1, "h").unwrap();
    w.splice("p2", "text", 5, 0, "! 🎉 e\u{301}").unwrap();
    w.update(
        "p2",
        Some("heading"),
        props(json!({"n": 2, "flag": true, "tags": ["a", 3]})),
    )
    .unwrap();
    assert!(commit_alone(&mut s, &mut w));
    // a prop removed (null in the delta)
    w.update("p2", None, props(json!({"flag": null}))).unwrap();
    assert!(commit_alone(&mut s, &mut w));
    assert_eq!(w.text("p1", "text"), Some("hello, brave"));
    assert_eq!(w.text("p2", "text"), Some("world! 🎉 e\u{301}"));
    assert_eq!(w.shadow().get("p2").unwrap().version, 3);
    assert!(!w.shadow().get("p2").unwrap().props.contains_key("flag"));
}

#[test]
fn a_commit_by_someone_else_in_between_needs_the_read() {
    let (mut s, mut w) = model();
    let mut other = Workspace::new(s.tree(), "o.".into());
    other.splice("p2", "text", 0, 0, "big ").unwrap();
    s.push(&mut other, Policy::ServerWins, 1).unwrap();
    // w's patch is based on the old gen and still commits (p1 did not change), at gen + 2
    w.splice("p1", "text", 5, 0, "!").unwrap();
    assert!(!commit_alone(&mut s, &mut w));
    assert_eq!(w.text("p2", "text"), Some("big world"));
}

#[test]
fn structure_and_floats_need_the_read() {
    type Edit = fn(&mut Workspace);
    let edits: [(&str, Edit); 6] = [
        ("split", |w| w.split("p1", "text", 2, "w.s").unwrap()),
        ("join", |w| {
            w.join("p1", "p2", "text").unwrap();
        }),
        ("create", |w| {
            w.create("root", Place::Last, "para", props(json!({"text": "new"})))
                .unwrap();
        }),
        ("move", |w| w.move_to("p2", "root", Place::First).unwrap()),
        ("delete", |w| w.delete("p2").unwrap()),
        ("float", |w| {
            w.update("p2", None, props(json!({"n": 1.5}))).unwrap()
        }),
    ];
    for (name, edit) in edits {
        let (mut s, mut w) = model();
        edit(&mut w);
        assert!(
            !commit_alone(&mut s, &mut w),
            "{name}: known without a read"
        );
        assert_eq!(w.shadow(), &s.tree(), "{name}");
    }
}

#[test]
fn versions_that_do_not_match_the_patch_need_the_read() {
    let (mut s, mut w) = model();
    w.splice("p1", "text", 0, 0, ">").unwrap();
    let patch = w.patch();
    let gen = s.apply(&patch.to_json()).unwrap().unwrap();
    for versions in [
        json!({}),
        json!({"p1": null}),
        json!({"p1": 2, "p2": 2}),
        json!({"p1": "2"}),
    ] {
        let mut v = w.clone();
        assert!(
            !v.committed_alone(&patch, gen, versions.as_object().unwrap()),
            "{versions}"
        );
        assert_eq!(v.shadow(), w.shadow());
    }
    assert!(
        !w.clone()
            .committed_alone(&patch, gen + 1, json!({"p1": 2}).as_object().unwrap()),
        "a gap in gens"
    );
    assert!(w.committed_alone(&patch, gen, json!({"p1": 2}).as_object().unwrap()));
}

/// Against Postgres: a replica types (splices, Enter, Backspace, prop updates) with a push
/// per edit while a second session sometimes commits in between. After every push the
/// replica's shadow is `snapshot()` exactly; a push is known without a read exactly when it
/// was a text or prop edit with nobody else in between; and every character it typed and did
/// not delete is on the server, once.
#[test]
fn a_typing_replica_keeps_the_servers_state_without_reading_it() {
    let mut admin = common::connect("after_commit");
    let doc = common::new_doc(&mut admin, "after-commit");
    let seed = json!({"ops": [{"op": "create", "key": "p1", "kind": "para", "parent": "root", "props": {"text": "", "n": 0}}]});
    admin
        .execute("SELECT nodesync.apply_patch($1, $2)", &[&doc, &seed])
        .unwrap();
    let mut r =
        Replica::open(common::connect("after_commit"), Config::new(&doc, "typist")).unwrap();
    let mut rng = Rng(7);
    // the characters typed and not deleted (each step types a character of its own)
    let mut present: BTreeSet<char> = BTreeSet::new();
    let below = |rng: &mut Rng, n: usize| rng.below(n as u32) as usize;
    for step in 0..400u32 {
        let paras: Vec<String> = r.children("root").to_vec();
        let key = paras[below(&mut rng, paras.len())].clone();
        let text: Vec<char> = r.text(&key, "text").unwrap().chars().collect();
        let in_place = match rng.below(20) {
            0 if text.len() > 1 => {
                let k = r.fresh_key();
                r.split(&key, "text", 1 + below(&mut rng, text.len() - 1), &k)
                    .unwrap();
                false
            }
            1 if key != paras[paras.len() - 1] => {
                let i = paras.iter().position(|p| p == &key).unwrap();
                r.join(&key, &paras[i + 1], "text").unwrap();
                false
            }
            2 => {
                r.update(&key, None, props(json!({"n": step}))).unwrap();
                true
            }
            3 if !text.is_empty() => {
                let at = below(&mut rng, text.len());
                present.remove(&text[at]);
                r.splice(&key, "text", at, 1, "").unwrap();
                true
            }
            _ => {
                let c = char::from_u32(0x4e00 + step).unwrap();
                present.insert(c);
                r.splice(
                    &key,
                    "text",
                    below(&mut rng, text.len() + 1),
                    0,
                    &c.to_string(),
                )
                .unwrap();
                true
            }
        };
        let other = rng.below(8) == 0;
        if other {
            // someone else commits before this replica's push: a prop of the root
            let v = fetch_snapshot(&mut admin, &doc)
                .unwrap()
                .get("root")
                .unwrap()
                .version;
            let p = json!({"ops": [{"op": "update", "key": "root", "version": v, "props": {"other": step}}]});
            admin
                .execute("SELECT nodesync.apply_patch($1, $2)", &[&doc, &p])
                .unwrap();
        }
        let known = r.stats.known_commits;
        assert!(
            matches!(r.push().unwrap(), Pushed::Committed { .. }),
            "step {step}: every edit changes something"
        );
        assert_eq!(r.stats.known_commits - known, u64::from(in_place && !other), "step {step}: known without a read (in place {in_place}, someone else in between {other})");
        let server = fetch_snapshot(&mut admin, &doc).unwrap();
        assert_eq!(
            r.shadow(),
            &server,
            "step {step}: the replica's shadow is not the server's state"
        );
        assert_eq!(
            r.tree(),
            &server,
            "step {step}: the local tree is not the server's state"
        );
    }
    let server = fetch_snapshot(&mut admin, &doc).unwrap();
    let text: String = server
        .children("root")
        .iter()
        .filter_map(|k| server.get(k)?.props["text"].as_str().map(str::to_string))
        .collect();
    let on_server: BTreeSet<char> = text.chars().collect();
    assert_eq!(
        on_server, present,
        "the characters on the server are those typed and not deleted"
    );
    assert_eq!(text.chars().count(), present.len(), "no character twice");
    assert!(
        r.stats.known_commits > 250,
        "{} of {} commits known without a read",
        r.stats.known_commits,
        r.stats.commits
    );
}
