//! Scripted scenarios of every rebase rule (`Rule`): what a rebase drops or keeps, and the
//! report it makes.

use nodesync_core::patch::Place;
use pg_nodesync_client::Policy;
use serde_json::json;

use crate::recorder::{self, rules, Rec};
use crate::{after, create_op, logname, with_section, LW, SW};

/// The scenarios of this file, in the order they are stored.
pub fn cases() -> Vec<Rec> {
    vec![
        prop_conflict(SW),
        prop_conflict(LW),
        non_string_over_typed_text(),
        text_over_non_string(),
        edit_of_deleted(true),
        edit_of_deleted(false),
        create_and_move_under_deleted(),
        deleted_with_subtree_state(),
        deleted_with_subtree_text(true, true),
        deleted_with_subtree_text(false, false),
        move_cycle(),
        delete_kept_typing(true),
        delete_kept_typing(false),
        delete_kept_typing_section(),
        own_typing_kept(true),
        own_typing_kept(false),
        delete_over_server_edit(),
        join_separated(),
        joined_into_deleted(),
    ]
}

fn prop_conflict(policy: Policy) -> Rec {
    let name = format!("prop-conflict and kind-conflict: non-string values changed on both sides ({})", recorder::policy_name(policy));
    let mut r = Rec::new(&name, 2, json!([create_op("p1", "para", "root", json!({"text": "t", "n": 1, "tags": ["a"]}))]));
    r.update(0, "p1", Some("heading"), json!({"n": 2, "tags": ["a", "b"]})).unwrap();
    r.update(1, "p1", Some("quote"), json!({"n": [3]})).unwrap();
    r.push(1, SW, 1);
    let d = r.push(0, policy, 2);
    let n = r.server.tree().get("p1").unwrap().clone();
    match policy {
        Policy::ServerWins => {
            assert_eq!(rules(&d), [("p1".to_string(), "prop-conflict"), ("p1".to_string(), "kind-conflict")]);
            assert_eq!((n.kind.as_str(), &n.props["n"], &n.props["tags"]), ("quote", &json!([3]), &json!(["a", "b"])));
        }
        Policy::LocalWins => {
            assert!(d.is_empty());
            assert_eq!((n.kind.as_str(), &n.props["n"], &n.props["tags"]), ("heading", &json!(2), &json!(["a", "b"])));
        }
    }
    r.settle(SW);
    r
}

fn non_string_over_typed_text() -> Rec {
    let mut r = Rec::paras("prop-conflict: a local non-string value never replaces text the server changed, even local_wins", 2, &["text", "other"]);
    r.splice(1, "p1", "text", 4, 0, " typed").unwrap();
    r.splice(1, "p2", "text", 5, 0, " typed").unwrap();
    r.push(1, SW, 1);
    r.update(0, "p1", None, json!({"text": 5})).unwrap();
    r.update(0, "p2", None, json!({"text": null})).unwrap();
    let d = r.push(0, LW, 2);
    assert_eq!(rules(&d), [("p1".to_string(), "prop-conflict")]);
    r.settle(SW);
    assert_eq!(r.server_text("p1"), "text typed");
    // a removal is "delete all the text I saw": the server's new text stays
    assert_eq!(r.server_text("p2"), " typed");
    r
}

fn text_over_non_string() -> Rec {
    let mut r = Rec::paras("prop-conflict: typing into a prop the server set to a non-string value", 2, &["text"]);
    r.update(1, "p1", None, json!({"text": {"rich": true}})).unwrap();
    r.push(1, SW, 1);
    r.splice(0, "p1", "text", 4, 0, "!").unwrap();
    r.set_cursor(0, "c", "p1", "text", 5);
    let d = r.push(0, SW, 2);
    assert_eq!(rules(&d), [("p1".to_string(), "prop-conflict")]);
    r.settle(SW);
    assert_eq!(r.server.tree().get("p1").unwrap().props["text"], json!({"rich": true}));
    assert!(r.ws[0].cursor("c").is_none());
    r
}

fn edit_of_deleted(with_log: bool) -> Rec {
    let name = format!("edit-of-deleted: typing, props and a move of a block the server deleted ({})", logname(with_log));
    let mut r = Rec::paras(&name, 2, &["a", "b", "c"]).log(with_log);
    r.delete(1, "p2").unwrap();
    r.delete(1, "p3").unwrap();
    r.push(1, SW, 1);
    r.splice(0, "p2", "text", 1, 0, "x").unwrap();
    r.update(0, "p3", None, json!({"n": 1})).unwrap();
    r.move_to(0, "p1", "root", Place::Last).unwrap();
    let d = r.push(0, SW, 2);
    assert_eq!(rules(&d), [("p2".to_string(), "edit-of-deleted"), ("p3".to_string(), "edit-of-deleted")]);
    r.settle(SW);
    assert_eq!(r.kids("root"), ["p1"]);
    r
}

fn create_and_move_under_deleted() -> Rec {
    let mut r = with_section("create-under-deleted and move-under-deleted", 2);
    r.delete(1, "sec").unwrap();
    r.push(1, SW, 1);
    let n = r.create(0, "b", Place::Last, "para", json!({"text": "new"})).unwrap();
    r.move_to(0, "p1", "sec", Place::First).unwrap();
    r.move_to(0, "p2", "a", Place::Last).unwrap();
    let d = r.push(0, SW, 2);
    assert_eq!(rules(&d), [("p1".to_string(), "move-under-deleted"), ("p2".to_string(), "move-under-deleted"), (n.clone(), "create-under-deleted")]);
    r.settle(SW);
    assert_eq!(r.kids("root"), ["p1", "p2"]);
    r
}

fn deleted_with_subtree_state() -> Rec {
    let mut r = with_section("deleted-with-subtree: a node edited locally that the server moved into a subtree deleted locally", 2);
    r.move_to(1, "p2", "sec", Place::Last).unwrap();
    r.push(1, SW, 1);
    r.update(0, "p2", None, json!({"n": 1})).unwrap();
    r.delete(0, "sec").unwrap();
    let d = r.push(0, SW, 2);
    assert_eq!(rules(&d), [("p2".to_string(), "deleted-with-subtree"), ("sec".to_string(), "delete-over-server-edit")]);
    r.settle(SW);
    assert_eq!(r.kids("root"), ["p1"]);
    r
}

fn deleted_with_subtree_text(with_log: bool, split: bool) -> Rec {
    let name = format!(
        "deleted-with-subtree: typing{} in a block the server moved into a block deleted locally ({})",
        if split { " and Enter" } else { "" },
        logname(with_log)
    );
    let mut r = Rec::paras(&name, 2, &["doomed", "moved block"]).log(with_log);
    r.move_to(1, "p2", "p1", Place::Last).unwrap();
    r.push(1, SW, 1);
    if split {
        let k = r.fresh_key(0);
        r.split(0, "p2", "text", 5, &k).unwrap();
    }
    r.splice(0, "p2", "text", 0, 0, "[word] ").unwrap();
    r.delete(0, "p1").unwrap();
    let d = r.push(0, SW, 2);
    let on_server = recorder::tree_has(&r.server.tree(), "[word]");
    assert!(on_server || d.iter().any(|x| x.key == "p2" && x.rule.name() == "deleted-with-subtree"), "the word is lost: {:?}", rules(&d));
    r.settle(SW);
    r
}

fn move_cycle() -> Rec {
    let mut r = Rec::paras("move-cycle: both sides move one node under the other", 2, &["a", "b"]);
    r.move_to(0, "p2", "p1", Place::Last).unwrap();
    r.move_to(1, "p1", "p2", Place::Last).unwrap();
    r.push(1, SW, 1);
    let d = r.push(0, SW, 2);
    assert_eq!(rules(&d), [("p2".to_string(), "move-cycle")]);
    r.settle(SW);
    assert_eq!(r.kids("p2"), ["p1"]);
    r
}

fn delete_kept_typing(with_log: bool) -> Rec {
    let name = format!("delete-kept-typing: a plain delete of a block others typed into keeps their text ({})", logname(with_log));
    let mut r = Rec::paras(&name, 2, &["keep", "old text", "other"]).log(with_log);
    r.splice(1, "p2", "text", 8, 0, " new words").unwrap();
    r.push(1, SW, 1);
    r.delete(0, "p2").unwrap();
    r.delete(0, "p3").unwrap();
    let d = r.push(0, SW, 2);
    assert_eq!(rules(&d), [("p2".to_string(), "delete-kept-typing")]);
    r.settle(SW);
    assert_eq!(r.server_text("p2"), " new words");
    assert_eq!(r.kids("root"), ["p1", "p2"]);
    r
}

fn delete_kept_typing_section() -> Rec {
    let mut r = with_section("delete-kept-typing: a deleted section stays as a shell for the paragraph others typed into", 2);
    r.splice(1, "b", "text", 1, 0, " typed").unwrap();
    r.push(1, SW, 1);
    r.delete(0, "sec").unwrap();
    let d = r.push(0, SW, 2);
    assert_eq!(rules(&d), [("b".to_string(), "delete-kept-typing")]);
    r.settle(SW);
    assert_eq!(r.kids("sec"), ["b"]);
    assert_eq!((r.server_text("sec"), r.server_text("b")), (String::new(), " typed".to_string()));
    r
}

fn own_typing_kept(with_log: bool) -> Rec {
    let name = format!("delete-kept-typing: own typing in a block kept for the mover's typing stays ({})", logname(with_log));
    let mut r = Rec::paras(&name, 2, &["doomed", "moved block"]).log(with_log);
    r.move_to(1, "p2", "p1", Place::Last).unwrap();
    r.splice(1, "p2", "text", 11, 0, " [theirs]").unwrap();
    r.push(1, SW, 1);
    r.splice(0, "p2", "text", 0, 0, "[mine] ").unwrap();
    r.delete(0, "p1").unwrap();
    let d = r.push(0, SW, 2);
    assert!(d.iter().any(|x| x.key == "p2" && x.rule.name() == "delete-kept-typing"), "{:?}", rules(&d));
    r.settle(SW);
    assert_eq!(r.kids("p1"), ["p2"]);
    assert_eq!((r.server_text("p1"), r.server_text("p2")), (String::new(), "[mine] moved block [theirs]".to_string()));
    r
}

fn delete_over_server_edit() -> Rec {
    let mut r = Rec::paras("delete-over-server-edit: a delete re-sent over a non-text edit is reported (a warning)", 2, &["a", "b"]);
    r.update(1, "p2", None, json!({"bold": true})).unwrap();
    r.push(1, SW, 1);
    r.delete(0, "p2").unwrap();
    let d = r.push(0, SW, 2);
    assert_eq!(rules(&d), [("p2".to_string(), "delete-over-server-edit")]);
    assert!(d[0].rule.is_warning());
    r.settle(SW);
    assert_eq!(r.kids("root"), ["p1"]);
    r
}

fn join_separated() -> Rec {
    let mut r = with_section("join-separated: a local join of blocks someone moved to different parents", 2);
    r.move_to(1, "p2", "sec", Place::First).unwrap();
    r.push(1, SW, 1);
    // ws0: Backspace at the start of p2 (after sec, so move p2 next to p1 first: p1 sec p2 → p1 p2 sec)
    r.move_to(0, "p2", "root", after("p1")).unwrap();
    r.push(0, SW, 2);
    r.move_to(1, "p2", "sec", Place::First).unwrap();
    r.push(1, SW, 2);
    r.join(0, "p1", "p2", "text").unwrap();
    r.splice(0, "p1", "text", 9, 0, "!").unwrap(); // "firstlast!": typed in p2's part
    r.splice(0, "p1", "text", 0, 0, "The ").unwrap();
    let d = r.push(0, SW, 2);
    assert_eq!(rules(&d), [("p2".to_string(), "join-separated")]);
    r.settle(SW);
    assert_eq!((r.server_text("p1"), r.server_text("p2")), ("The first".into(), "last!".into()));
    assert_eq!(r.kids("sec"), ["p2", "a", "b"]);
    r
}

fn joined_into_deleted() -> Rec {
    let mut r = Rec::paras("joined-into-deleted: typing carried by someone's join into a block deleted locally", 2, &["first", "second"]);
    r.join(1, "p1", "p2", "text").unwrap();
    r.push(1, SW, 1);
    r.splice(0, "p2", "text", 6, 0, " [word]").unwrap();
    r.delete(0, "p1").unwrap();
    let d = r.push(0, SW, 2);
    assert!(!recorder::tree_has(&r.server.tree(), "[word]"));
    assert!(d.iter().any(|x| x.key == "p2" && x.rule.name() == "joined-into-deleted"), "the word is lost: {:?}", rules(&d));
    r.settle(SW);
    r
}
