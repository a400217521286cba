//! Scripted scenarios of structure: creates, moves and deletes, anchors, fresh keys, props
//! and kinds, retries, rebases and how pulls are grouped.

use nodesync_core::patch::Place;
use serde_json::{json, Value};

use crate::recorder::{rules, Rec};
use crate::{after, create_op, with_section, SW};

/// The scenarios of this file, in the order they are stored.
pub fn cases() -> Vec<Rec> {
    vec![
        create_move_delete(),
        concurrent_creates_at_one_anchor(),
        missing_anchor(),
        concurrent_moves(),
        concurrent_deletes(),
        fresh_keys(),
        update_props(),
        noop_edits(),
        three_way_retries(),
        rebase_twice_then_push(),
        typing_in_a_created_node(),
        pull_grouping(),
    ]
}

fn create_move_delete() -> Rec {
    let mut r = Rec::paras("create, move and delete, then the other workspace pulls and does the same", 2, &["one", "two", "three"]);
    let s = r.create(0, "root", Place::First, "section", json!({"text": "Intro"})).unwrap();
    let c = r.create(0, &s, Place::Last, "para", json!({"text": "child", "n": [1]})).unwrap();
    r.move_to(0, "p2", &s, Place::First).unwrap();
    r.delete(0, "p3").unwrap();
    r.push(0, SW, 1);
    r.pull(1, SW);
    let s2 = r.create(1, &s, after("p2"), "quote", json!({"text": "q"})).unwrap();
    r.move_to(1, &c, "root", Place::Last).unwrap();
    r.delete(1, &s2).unwrap();
    let s3 = r.create(1, "root", after("p1"), "list", json!({})).unwrap();
    r.create_with_key(1, "item-1", &s3, Place::Last, "item", json!({"text": "x", "gone": null})).unwrap();
    r.settle(SW);
    assert_eq!(r.kids("root"), [s.clone(), "p1".into(), s3.clone(), c.clone()]);
    assert_eq!(r.kids(&s), ["p2"]);
    assert_eq!(r.kids(&s3), ["item-1"]);
    assert_eq!((s.as_str(), c.as_str(), s2.as_str(), s3.as_str()), ("w0.1", "w0.2", "w1.1", "w1.2"));
    r
}

fn concurrent_creates_at_one_anchor() -> Rec {
    let mut r = Rec::paras("creates after the same anchor on both sides, and the server reordering", 3, &["a", "b", "c"]);
    let x = r.create(0, "root", after("p1"), "para", json!({"text": "x"})).unwrap();
    let y = r.create(1, "root", after("p1"), "para", json!({"text": "y"})).unwrap();
    let y2 = r.create(1, "root", after(&y), "para", json!({"text": "y2"})).unwrap();
    r.move_to(2, "p3", "root", Place::First).unwrap();
    r.push(2, SW, 1);
    r.push(0, SW, 2);
    r.push(1, SW, 2);
    r.settle(SW);
    assert_eq!(r.kids("root"), ["p3".to_string(), "p1".into(), y, y2, x, "p2".into()]);
    r
}

fn missing_anchor() -> Rec {
    let mut r = Rec::paras("a create whose anchor the server deleted goes after the nearest earlier sibling that survived", 2, &["a", "b", "c"]);
    let n1 = r.create(0, "root", after("p2"), "para", json!({"text": "n1"})).unwrap();
    let n2 = r.create(0, "root", after(&n1), "para", json!({"text": "n2"})).unwrap();
    let f = r.create(0, "p2", Place::First, "para", json!({"text": "under b"})).unwrap();
    r.delete(1, "p2").unwrap();
    r.delete(1, "p1").unwrap();
    r.push(1, SW, 1);
    let d = r.push(0, SW, 2);
    assert_eq!(rules(&d), [(f.clone(), "create-under-deleted")]);
    r.settle(SW);
    assert_eq!(r.kids("root"), [n1, n2, "p3".to_string()]);
    r
}

fn concurrent_moves() -> Rec {
    let mut r = with_section("both sides move the same node: the later push's move is re-sent", 2);
    r.move_to(0, "p1", "sec", Place::Last).unwrap();
    r.move_to(1, "p1", "b", Place::First).unwrap();
    r.move_to(1, "p2", "root", Place::First).unwrap();
    r.push(0, SW, 1);
    assert!(r.push(1, SW, 2).is_empty());
    r.settle(SW);
    assert_eq!(r.kids("b"), ["p1"]);
    assert_eq!(r.kids("root"), ["p2", "sec"]);
    r
}

fn concurrent_deletes() -> Rec {
    let mut r = with_section("both sides delete the same section; one had moved a child out first", 2);
    r.move_to(0, "b", "root", Place::Last).unwrap();
    r.delete(0, "sec").unwrap();
    r.delete(1, "sec").unwrap();
    r.delete(1, "p1").unwrap();
    r.push(0, SW, 1);
    // ws1's delete of the section took b: the re-sent delete discards ws0's rescue (rule 4),
    // reported as a warning
    let d = r.push(1, SW, 2);
    assert_eq!(rules(&d), [("b".to_string(), "delete-over-server-edit")]);
    r.settle(SW);
    assert_eq!(r.kids("root"), ["p2"]);
    r
}

fn fresh_keys() -> Rec {
    let mut r = Rec::new(
        "fresh keys skip keys that exist, and a failed create still uses one",
        2,
        json!([create_op("w0.1", "para", "root", json!({"text": "taken"})), create_op("w1.2", "para", "root", json!({"text": "taken"}))]),
    );
    assert_eq!(r.create(0, "root", Place::Last, "para", json!({})).unwrap(), "w0.2");
    assert!(r.create(0, "nowhere", Place::Last, "para", json!({})).is_err());
    assert_eq!(r.fresh_key(0), "w0.4");
    assert_eq!(r.create(1, "root", Place::First, "para", json!({})).unwrap(), "w1.1");
    assert_eq!(r.create(1, "root", Place::First, "para", json!({})).unwrap(), "w1.3");
    r.delete(1, "w1.3").unwrap();
    assert_eq!(r.fresh_key(1), "w1.4");
    // a key deleted locally but still in the shadow is used
    r.delete(1, "w0.1").unwrap();
    assert!(r.create_with_key(1, "w0.1", "root", Place::Last, "para", json!({})).is_err());
    r.settle(SW);
    r
}

fn update_props() -> Rec {
    let mut r = Rec::new(
        "updates: a null removes a prop, an absent string prop set to \"\" appears, kind changes",
        2,
        json!([create_op("p1", "para", "root", json!({"text": "t", "n": 1, "bold": true}))]),
    );
    r.update(0, "p1", Some("heading"), json!({"n": null, "level": 1, "caption": ""})).unwrap();
    r.update(0, "p1", None, json!({"bold": true})).unwrap();
    r.update(1, "p1", None, json!({"bold": false, "note": "x"})).unwrap();
    r.push(1, SW, 1);
    assert!(r.push(0, SW, 2).is_empty());
    r.settle(SW);
    assert_eq!(
        Value::Object(r.server.tree().get("p1").unwrap().props.clone()),
        json!({"text": "t", "bold": false, "level": 1, "caption": "", "note": "x"})
    );
    assert_eq!(r.server.tree().get("p1").unwrap().kind, "heading");
    r
}

fn noop_edits() -> Rec {
    let mut r = Rec::new("edits that change nothing: the push forgets them", 2, json!([create_op("p1", "para", "root", json!({"text": "same", "n": 1}))]));
    r.update(0, "p1", None, json!({"n": 2})).unwrap();
    r.update(0, "p1", None, json!({"n": 1})).unwrap();
    r.splice(0, "p1", "text", 4, 0, "!").unwrap();
    r.splice(0, "p1", "text", 4, 1, "").unwrap();
    r.update(0, "p1", None, json!({"text": "same"})).unwrap();
    assert!(r.ws[0].has_local_edits());
    r.push(0, SW, 1);
    assert!(!r.ws[0].has_local_edits());
    // the same edit on both sides: nothing left to send after the rebase
    r.update(0, "p1", None, json!({"n": 3})).unwrap();
    r.update(1, "p1", None, json!({"n": 3})).unwrap();
    r.push(1, SW, 1);
    r.push(0, SW, 2);
    r.settle(SW);
    assert_eq!(r.server.log.len(), 2);
    r
}

fn three_way_retries() -> Rec {
    let mut r = Rec::paras("three workspaces push stale patches: each rebases and retries", 3, &["x"]);
    r.update(0, "p1", None, json!({"a": 1})).unwrap();
    r.update(1, "p1", None, json!({"b": 2})).unwrap();
    r.update(2, "p1", None, json!({"c": 3})).unwrap();
    r.splice(2, "p1", "text", 1, 0, "yz").unwrap();
    for i in 0..3 {
        assert!(r.push(i, SW, 3).is_empty());
    }
    r.settle(SW);
    assert_eq!(Value::Object(r.server.tree().get("p1").unwrap().props.clone()), json!({"text": "xyz", "a": 1, "b": 2, "c": 3}));
    r
}

fn rebase_twice_then_push() -> Rec {
    let mut r = Rec::paras("local edits rebased twice (two pulls) before they are pushed", 2, &["one", "two"]);
    r.splice(0, "p1", "text", 3, 0, " 1").unwrap();
    r.set_cursor(0, "c", "p2", "text", 3);
    let n = r.create(0, "root", after("p1"), "para", json!({"text": "mine"})).unwrap();
    r.splice(1, "p2", "text", 0, 0, "zero ").unwrap();
    r.push(1, SW, 1);
    r.pull(0, SW);
    r.split(1, "p1", "text", 1, "q").unwrap();
    r.move_to(1, "p2", "root", Place::First).unwrap();
    r.push(1, SW, 1);
    r.pull(0, SW);
    r.splice(0, &n, "text", 4, 0, "!").unwrap();
    r.push(0, SW, 1);
    r.settle(SW);
    // n stays right after its anchor p1 (rule 2), before the block split off p1
    assert_eq!(r.kids("root"), ["p2".to_string(), "p1".into(), n.clone(), "q".into()]);
    assert_eq!((r.server_text("p1"), r.server_text("q"), r.server_text("p2")), ("o".into(), "ne 1".into(), "zero two".into()));
    assert_eq!(r.ws[0].cursor("c").map(|c| (c.key.as_str(), c.at)), Some(("p2", 8)));
    r
}

fn typing_in_a_created_node() -> Rec {
    let mut r = Rec::paras("typing in a node created locally, with a cursor, then others type into it", 2, &["top"]);
    let n = r.create(0, "root", Place::Last, "para", json!({"text": "draft"})).unwrap();
    r.set_cursor(0, "c", &n, "text", 5);
    r.splice(0, &n, "text", 5, 0, " one").unwrap();
    r.set_text(0, &n, "my draft one").unwrap();
    r.push(0, SW, 1);
    r.pull(1, SW);
    r.splice(1, &n, "text", 0, 0, "[").unwrap();
    r.splice(0, &n, "text", 12, 0, " two").unwrap();
    r.push(1, SW, 1);
    r.push(0, SW, 2);
    r.settle(SW);
    assert_eq!(r.server_text(&n), "[my draft one two");
    r
}

fn pull_grouping() -> Rec {
    // ws1 and ws2 make the same edits; ws1 pulls after each of ws0's commits, ws2 once
    let mut r = Rec::paras("the result does not depend on how pulls are grouped", 3, &["a b c", "d e"]);
    for i in [1, 2] {
        r.splice(i, "p1", "text", 2, 0, "L1 ").unwrap();
        r.splice(i, "p2", "text", 0, 0, "L2 ").unwrap();
        r.set_cursor(i, "c", "p2", "text", 3);
    }
    r.splice(0, "p1", "text", 2, 0, "S1 ").unwrap();
    r.push(0, SW, 1);
    r.pull(1, SW);
    r.split(0, "p1", "text", 5, "o1").unwrap();
    r.push(0, SW, 1);
    r.pull(1, SW);
    r.join(0, "o1", "p2", "text").unwrap();
    r.push(0, SW, 1);
    r.pull(1, SW);
    r.pull(2, SW);
    assert_eq!(r.ws[1].tree().flat(), r.ws[2].tree().flat());
    assert_eq!(r.ws[1].cursor("c"), r.ws[2].cursor("c"));
    assert_eq!(r.text(2, "o1"), "L1 b cL2 d e");
    assert_eq!(r.ws[2].cursor("c").map(|c| (c.key.as_str(), c.at)), Some(("o1", 9)));
    r.push(2, SW, 1);
    // ws1's edits are the same: after ws2's, its rebase leaves the typing twice (both typed it)
    r.settle(SW);
    r
}
