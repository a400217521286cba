//! Scripted scenarios of cursors (through local edits, rebases, commits, without the log,
//! removed with their node) and of every edit error.

use nodesync_core::patch::Place;
use pg_nodesync_client::Rule;
use serde_json::json;

use crate::recorder::{self, Rec};
use crate::{after, create_op, SW};

/// The scenarios of this file, in the order they are stored.
pub fn cases() -> Vec<Rec> {
    vec![
        cursors_through_everything(),
        cursors_without_log(),
        cursors_removed(),
        cursor_on_a_node_the_rebase_removed(),
        edit_errors(),
    ]
}

fn cursors_through_everything() -> Rec {
    let mut r = Rec::paras("cursors follow local edits, rebases and commits over others' patches", 2, &["Hello world", "second line", "third", "fourth"]);
    r.set_cursor(0, "me", "p1", "text", 6);
    r.set_cursor(0, "end", "p2", "text", 11);
    r.set_cursor(0, "gone", "p3", "text", 2);
    r.splice(0, "p1", "text", 0, 0, ">> ").unwrap(); // me → 9
    r.split(0, "p2", "text", 6, "s").unwrap(); // end → s:5
    r.remove_cursor(0, "gone");
    r.set_cursor(0, "x", "p3", "text", 5);
    // others: typing before the cursors, a join, and an edit elsewhere
    r.splice(1, "p1", "text", 0, 0, "Oh. ").unwrap();
    r.join(1, "p2", "p3", "text").unwrap();
    r.push(1, SW, 1);
    r.pull(0, SW);
    assert_eq!(r.ws[0].cursor("me").map(|c| (c.key.as_str(), c.at)), Some(("p1", 13)));
    assert_eq!(r.ws[0].cursor("x").map(|c| (c.key.as_str(), c.at)), Some(("s", 10)));
    // ws1 commits something that does not conflict; ws0's push then commits over it with
    // others' patches in the log before its own
    r.set_cursor(0, "far", "p4", "text", 6);
    r.splice(1, "p4", "text", 0, 0, "4th: ").unwrap();
    r.push(1, SW, 1);
    r.splice(0, "s", "text", 0, 0, "(").unwrap();
    r.update(0, "p3", None, json!({"n": 1})).unwrap_err();
    r.push(0, SW, 1);
    assert_eq!(r.ws[0].cursor("far").map(|c| (c.key.as_str(), c.at)), Some(("p4", 11)));
    assert_eq!(r.ws[0].cursor("me").map(|c| (c.key.as_str(), c.at)), Some(("p1", 13)));
    r.settle(SW);
    r
}

fn cursors_without_log() -> Rec {
    let mut r = Rec::paras("cursors carried over a commit and a rebase without the log (the diff fallback)", 2, &["abc def", "ghi"]).log(false);
    r.set_cursor(0, "c", "p1", "text", 4);
    r.set_cursor(0, "d", "p2", "text", 3);
    r.splice(1, "p1", "text", 0, 0, "xyz ").unwrap();
    r.splice(1, "p2", "text", 3, 0, "!").unwrap();
    r.push(1, SW, 1);
    r.splice(0, "p1", "text", 7, 0, " ghi").unwrap();
    r.push(0, SW, 2);
    assert_eq!(r.ws[0].cursor("c").map(|c| (c.key.as_str(), c.at)), Some(("p1", 8)));
    r.splice(1, "p2", "text", 0, 0, "__").unwrap();
    r.push(1, SW, 1);
    r.pull(0, SW);
    // a caret where the server inserted ends up after the inserted text: 3 → 4 → 6
    assert_eq!(r.ws[0].cursor("d").map(|c| (c.key.as_str(), c.at)), Some(("p2", 6)));
    r.settle(SW);
    r
}

fn cursors_removed() -> Rec {
    let mut r = Rec::paras("cursors go with their node or their string prop", 2, &["a", "b", "c", "d"]);
    r.set_cursor(0, "c1", "p1", "text", 1);
    r.set_cursor(0, "c2", "p2", "text", 1);
    r.set_cursor(0, "c3", "p3", "text", 0);
    r.set_cursor(0, "c4", "p4", "text", 1);
    r.delete(0, "p1").unwrap();
    r.update(0, "p2", None, json!({"text": 7})).unwrap();
    r.delete(1, "p3").unwrap();
    r.join(1, "p3", "p4", "text").unwrap_err();
    r.push(1, SW, 1);
    r.pull(0, SW);
    assert!(r.ws[0].cursor("c1").is_none() && r.ws[0].cursor("c2").is_none() && r.ws[0].cursor("c3").is_none());
    assert_eq!(r.ws[0].cursor("c4").map(|c| (c.key.as_str(), c.at)), Some(("p4", 1)));
    r.settle(SW);
    r
}

fn cursor_on_a_node_the_rebase_removed() -> Rec {
    let mut r = Rec::paras("a cursor on a node the state rebase removed goes with it", 2, &["a", "b"]);
    r.create_with_key(0, "sec", "root", Place::Last, "section", json!({})).unwrap();
    r.push(0, SW, 1);
    r.pull(1, SW);
    let n = r.create(0, "sec", Place::Last, "para", json!({"text": "new"})).unwrap();
    r.set_cursor(0, "gone", &n, "text", 2);
    r.set_cursor(0, "kept", "p1", "text", 1);
    r.delete(1, "sec").unwrap();
    r.push(1, SW, 1);
    let d = r.pull(0, SW);
    assert!(d.iter().any(|d| d.key == n && d.rule == Rule::CreateUnderDeleted), "{d:?}");
    assert!(r.ws[0].cursor("gone").is_none());
    assert_eq!(r.ws[0].cursor("kept").map(|c| (c.key.as_str(), c.at)), Some(("p1", 1)));
    r.settle(SW);
    r
}

fn edit_errors() -> Rec {
    let mut r = Rec::new(
        "every edit error once: the state is unchanged",
        1,
        json!([create_op("p1", "para", "root", json!({"text": "abc", "n": 1})), create_op("p2", "para", "root", json!({"text": "x"})), create_op("p3", "para", "root", json!({"text": "y"}))]),
    );
    r.splice(0, "p1", "text", 1, 0, "!").unwrap();
    r.set_cursor(0, "c", "p1", "text", 2);
    let e = |r: Result<(), pg_nodesync_client::EditError>| recorder::error_name(&r.unwrap_err());
    assert_eq!(e(r.splice(0, "nope", "text", 0, 0, "x")), "NoSuchNode");
    assert_eq!(e(r.delete(0, "root")), "Root");
    assert_eq!(e(r.move_to(0, "p2", "root", after("nope"))), "BadAnchor");
    r.move_to(0, "p3", "p2", Place::Last).unwrap();
    assert_eq!(e(r.move_to(0, "p2", "p3", Place::Last)), "Cycle");
    assert_eq!(e(r.create_with_key(0, "p1", "root", Place::Last, "para", json!({}))), "KeyExists");
    assert_eq!(e(r.splice(0, "p1", "n", 0, 0, "x")), "NotText");
    assert_eq!(e(r.splice(0, "p1", "text", 3, 2, "")), "OutOfRange");
    assert_eq!(recorder::error_name(&r.join(0, "p1", "p3", "text").unwrap_err()), "NotAdjacent");
    // and a few more ways to hit them
    assert_eq!(e(r.split(0, "root", "text", 0, "k")), "Root");
    assert_eq!(e(r.split(0, "p1", "text", 9, "k")), "OutOfRange");
    assert_eq!(e(r.split(0, "p1", "text", 1, "p2")), "KeyExists");
    assert_eq!(e(r.move_to(0, "p1", "p1", Place::Last)), "Cycle");
    assert_eq!(e(r.create(0, "root", after("p3"), "para", json!({})).map(|_| ())), "BadAnchor");
    assert_eq!(e(r.update(0, "nope", None, json!({"n": 1}))), "NoSuchNode");
    assert_eq!(e(r.splice(0, "p1", "text", 5, 0, "x")), "OutOfRange");
    r.settle(SW);
    r
}
