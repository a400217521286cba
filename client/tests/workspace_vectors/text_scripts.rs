//! Scripted scenarios of text: concurrent splices, whole-value updates, splits (Enter) and
//! joins (Backspace), several props, astral characters.

use nodesync_core::patch::Place;
use pg_nodesync_client::Policy;
use serde_json::json;

use crate::recorder::{self, Rec};
use crate::{after, create_op, logname, LW, SW};

/// The scenarios of this file, in the order they are stored.
pub fn cases() -> Vec<Rec> {
    vec![
        concurrent_splices(true),
        concurrent_splices(false),
        whole_values(SW),
        whole_values(LW),
        local_wins_keeps_committed_text(),
        typing_follows_others_split(),
        split_keeps_others_typing(),
        join_keeps_others_typing(),
        typing_follows_others_join(),
        enter_and_backspace_compose(),
        split_then_join_back_locally(),
        join_of_a_new_block_into_a_server_block(),
        join_of_a_server_block_with_a_new_one(),
        join_with_children(),
        join_sent_with_a_move(),
        split_of_a_new_block(),
        split_and_join_at_the_edges(),
        whole_value_update_over_a_split(),
        two_props_typed(),
        astral_text(),
    ]
}

fn concurrent_splices(with_log: bool) -> Rec {
    let mut r = Rec::paras(&format!("concurrent splices in one paragraph ({})", logname(with_log)), 2, &["Hello world"]).log(with_log);
    r.splice(0, "p1", "text", 5, 0, " brave").unwrap();
    r.splice(1, "p1", "text", 11, 0, "!").unwrap();
    r.splice(1, "p1", "text", 5, 0, ",").unwrap();
    r.push(0, SW, 1);
    // ws1 is stale: its push conflicts, rebases and goes through
    assert!(r.push(1, SW, 2).is_empty());
    r.settle(SW);
    // at offset 5 both inserted: the server's (first committed) text first
    assert_eq!(r.server_text("p1"), "Hello brave, world!");
    r
}

fn whole_values(policy: Policy) -> Rec {
    let name = format!("whole-value string updates merge like splices ({})", recorder::policy_name(policy));
    let mut r = Rec::paras(&name, 3, &["one two three"]);
    r.set_text(0, "p1", "one two three four").unwrap();
    r.set_text(1, "p1", "zero one two three").unwrap();
    r.set_text(2, "p1", "one 2 three").unwrap();
    for i in 0..3 {
        assert!(r.push(i, policy, 3).is_empty());
    }
    r.settle(policy);
    assert_eq!(r.server_text("p1"), "zero one 2 three four");
    r
}

fn local_wins_keeps_committed_text() -> Rec {
    let mut r = Rec::paras("local_wins never overwrites committed text", 2, &["draft"]);
    r.splice(0, "p1", "text", 5, 0, " by Ann").unwrap();
    r.push(0, SW, 1);
    r.set_text(1, "p1", "final draft").unwrap();
    r.push(1, LW, 2);
    r.settle(SW);
    assert_eq!(r.server_text("p1"), "final draft by Ann");
    r
}

fn typing_follows_others_split() -> Rec {
    let mut r = Rec::paras("typing and a cursor follow a split made by someone else", 2, &["Hello world"]);
    r.split(0, "p1", "text", 5, "n1").unwrap();
    r.push(0, SW, 1);
    r.splice(1, "p1", "text", 11, 0, "!").unwrap();
    r.splice(1, "p1", "text", 0, 0, "Oh, ").unwrap();
    r.set_cursor(1, "c", "p1", "text", 16);
    r.pull(1, SW);
    assert_eq!((r.text(1, "p1"), r.text(1, "n1")), ("Oh, Hello".into(), " world!".into()));
    assert_eq!(r.ws[1].cursor("c").map(|c| (c.key.as_str(), c.at)), Some(("n1", 7)));
    r.settle(SW);
    assert_eq!(r.kids("root"), ["p1", "n1"]);
    r
}

fn split_keeps_others_typing() -> Rec {
    let mut r = Rec::paras("a split keeps what others typed meanwhile", 2, &["abc def"]);
    r.splice(1, "p1", "text", 3, 0, " xyz").unwrap();
    r.splice(1, "p1", "text", 11, 0, " end").unwrap();
    r.push(1, SW, 1);
    r.split(0, "p1", "text", 4, "n1").unwrap();
    r.splice(0, "n1", "text", 0, 0, ">").unwrap();
    assert!(r.push(0, SW, 2).is_empty());
    r.settle(SW);
    assert_eq!((r.server_text("p1"), r.server_text("n1")), ("abc xyz ".into(), ">def end".into()));
    r
}

fn join_keeps_others_typing() -> Rec {
    let mut r = Rec::paras("a join keeps what others typed into the joined block", 2, &["First.", "Second"]);
    r.splice(1, "p2", "text", 6, 0, " words by ws1").unwrap();
    r.push(1, SW, 1);
    assert_eq!(r.join(0, "p1", "p2", "text").unwrap(), "p1");
    r.splice(0, "p1", "text", 6, 0, " ").unwrap();
    r.set_cursor(0, "c", "p1", "text", 7);
    assert!(r.push(0, SW, 2).is_empty());
    r.settle(SW);
    assert_eq!(r.server_text("p1"), "First. Second words by ws1");
    assert_eq!(r.kids("root"), ["p1"]);
    r
}

fn typing_follows_others_join() -> Rec {
    let mut r = Rec::paras("typing and a cursor follow a join made by someone else", 2, &["ab", "cd"]);
    r.join(0, "p1", "p2", "text").unwrap();
    r.push(0, SW, 1);
    r.splice(1, "p2", "text", 1, 0, "X").unwrap();
    r.splice(1, "p1", "text", 2, 0, "Y").unwrap();
    r.set_cursor(1, "c", "p2", "text", 2);
    assert!(r.pull(1, SW).is_empty());
    assert_eq!(r.text(1, "p1"), "abYcXd");
    assert_eq!(r.ws[1].cursor("c").map(|c| (c.key.as_str(), c.at)), Some(("p1", 5)));
    r.settle(SW);
    r
}

fn enter_and_backspace_compose() -> Rec {
    let mut r = Rec::paras("concurrent Enter, Backspace and typing compose", 3, &["one", "two three"]);
    r.split(0, "p2", "text", 4, "n0").unwrap();
    r.join(1, "p1", "p2", "text").unwrap();
    r.splice(2, "p2", "text", 9, 0, " four").unwrap();
    r.settle(SW);
    assert_eq!(r.kids("root"), ["p1", "n0"]);
    assert_eq!((r.server_text("p1"), r.server_text("n0")), ("onetwo ".into(), "three four".into()));
    r
}

fn split_then_join_back_locally() -> Rec {
    let mut r = Rec::paras("a local split joined back before pushing, while someone types", 2, &["Hello world"]);
    let k = r.fresh_key(0);
    r.split(0, "p1", "text", 6, &k).unwrap();
    r.splice(0, &k, "text", 0, 0, "big ").unwrap();
    assert_eq!(r.join(0, "p1", &k, "text").unwrap(), "p1");
    r.splice(1, "p1", "text", 11, 0, "!").unwrap();
    r.splice(1, "p1", "text", 0, 0, "Oh. ").unwrap();
    r.push(1, SW, 1);
    assert!(r.push(0, SW, 2).is_empty());
    r.settle(SW);
    assert_eq!(r.server_text("p1"), "Oh. Hello big world!");
    assert_eq!(r.kids("root"), ["p1"]);
    r
}

fn join_of_a_new_block_into_a_server_block() -> Rec {
    let mut r = Rec::paras("Backspace joins a block created locally with one on the server: the server's block is kept", 2, &["top", "Second"]);
    let n = r.create(0, "root", after("p1"), "heading", json!({"text": "New ", "level": 2})).unwrap();
    r.set_cursor(0, "a", &n, "text", 4);
    r.set_cursor(0, "c", "p1", "text", 3);
    r.splice(1, "p2", "text", 6, 0, " typed").unwrap();
    r.push(1, SW, 1);
    assert_eq!(r.join(0, &n, "p2", "text").unwrap(), "p2");
    // the caret in the joined (deleted) block moved into the kept one; the other stayed
    assert_eq!(r.ws[0].cursor("a").map(|c| (c.key.as_str(), c.at)), Some(("p2", 4)));
    assert_eq!(r.ws[0].cursor("c").map(|c| (c.key.as_str(), c.at)), Some(("p1", 3)));
    assert!(r.push(0, SW, 2).is_empty());
    r.settle(SW);
    assert_eq!(r.server_text("p2"), "New Second typed");
    assert_eq!(r.server.tree().get("p2").unwrap().kind, "heading");
    assert_eq!(r.kids("root"), ["p1", "p2"]);
    r
}

fn join_of_a_server_block_with_a_new_one() -> Rec {
    let mut r = Rec::paras("Delete at the end of a server block joins a block created locally (with a child) into it", 2, &["top", "end"]);
    let n = r.create(0, "root", after("p1"), "para", json!({"text": " more"})).unwrap();
    let c = r.create(0, &n, Place::Last, "item", json!({"text": "child"})).unwrap();
    r.splice(1, "p1", "text", 0, 0, "the ").unwrap();
    r.push(1, SW, 1);
    assert_eq!(r.join(0, "p1", &n, "text").unwrap(), "p1");
    r.splice(0, "p1", "text", 8, 0, "!").unwrap();
    assert!(r.push(0, SW, 2).is_empty());
    r.settle(SW);
    assert_eq!(r.server_text("p1"), "the top more!");
    assert_eq!(r.kids("p1"), [c]);
    assert_eq!(r.kids("root"), ["p1", "p2"]);
    r
}

fn join_with_children() -> Rec {
    let mut r = Rec::new(
        "a join takes the children of the joined block; others type into both",
        2,
        json!([
            create_op("p1", "para", "root", json!({"text": "one"})),
            create_op("k1", "item", "p1", json!({"text": "first child"})),
            create_op("p2", "para", "root", json!({"text": "two"})),
            create_op("k2", "item", "p2", json!({"text": "second child"})),
        ]),
    );
    r.join(0, "p1", "p2", "text").unwrap();
    r.splice(1, "k2", "text", 0, 0, "my ").unwrap();
    r.splice(1, "p2", "text", 3, 0, "!").unwrap();
    r.push(1, SW, 1);
    assert!(r.push(0, SW, 2).is_empty());
    r.settle(SW);
    assert_eq!(r.server_text("p1"), "onetwo!");
    assert_eq!(r.kids("p1"), ["k1", "k2"]);
    assert_eq!(r.server_text("k2"), "my second child");
    r
}

fn join_sent_with_a_move() -> Rec {
    let mut r = Rec::paras("a join of blocks someone put a block between is sent with a move of the second first", 2, &["ab", "cd"]);
    let x = r.create(1, "root", after("p1"), "para", json!({"text": "x"})).unwrap();
    r.push(1, SW, 1);
    r.join(0, "p1", "p2", "text").unwrap();
    r.splice(0, "p1", "text", 4, 0, "!").unwrap();
    assert!(r.push(0, SW, 2).is_empty());
    r.settle(SW);
    assert_eq!(r.server_text("p1"), "abcd!");
    assert_eq!(r.kids("root"), ["p1".to_string(), x]);
    r
}

fn split_of_a_new_block() -> Rec {
    let mut r = Rec::paras("Enter in a block created locally (not logged: it rides in the creates)", 2, &["top"]);
    let n = r.create(0, "root", Place::Last, "para", json!({"text": "left right"})).unwrap();
    let k = r.fresh_key(0);
    r.split(0, &n, "text", 5, &k).unwrap();
    r.splice(0, &k, "text", 0, 0, "->").unwrap();
    r.splice(1, "p1", "text", 3, 0, "!").unwrap();
    r.push(1, SW, 1);
    assert!(r.push(0, SW, 2).is_empty());
    r.settle(SW);
    assert_eq!(r.kids("root"), ["p1".to_string(), n.clone(), k.clone()]);
    assert_eq!((r.server_text(&n), r.server_text(&k)), ("left ".into(), "->right".into()));
    r
}

fn split_and_join_at_the_edges() -> Rec {
    let mut r = Rec::paras("splits at offset 0 and at the end, a join of an empty block, typing at those points", 2, &["abc", "", "xyz"]);
    r.split(0, "p1", "text", 0, "e0").unwrap(); // "" | "abc"
    r.split(0, "p3", "text", 3, "e3").unwrap(); // "xyz" | ""
    r.join(0, "e0", "p2", "text").unwrap();
    r.splice(1, "p1", "text", 0, 0, "<").unwrap();
    r.splice(1, "p3", "text", 3, 0, ">").unwrap();
    r.splice(1, "p2", "text", 0, 0, "mid").unwrap();
    r.push(1, SW, 1);
    assert!(r.push(0, SW, 2).is_empty());
    r.settle(SW);
    // typing at a split point stays in the first block
    assert_eq!(r.kids("root"), ["p1", "e0", "p3", "e3"]);
    let texts: Vec<String> = r.kids("root").iter().map(|k| r.server_text(k)).collect();
    assert_eq!(texts, ["<", "abcmid", "xyz>", ""]);
    r
}

fn whole_value_update_over_a_split() -> Rec {
    let mut r = Rec::paras("a whole-value update of a block someone split", 2, &["alpha beta gamma"]);
    r.split(0, "p1", "text", 6, "n1").unwrap();
    r.push(0, SW, 1);
    r.set_text(1, "p1", "alpha beta gamma delta").unwrap();
    r.set_text(1, "p1", "ALPHA beta gamma delta").unwrap();
    assert!(r.push(1, SW, 2).is_empty());
    r.settle(SW);
    assert_eq!((r.server_text("p1"), r.server_text("n1")), ("ALPHA ".into(), "beta gamma delta".into()));
    r
}

fn two_props_typed() -> Rec {
    let mut r = Rec::new(
        "typing in two string props of one node, whole values and splices",
        2,
        json!([create_op("h", "heading", "root", json!({"text": "Body", "title": "Title"}))]),
    );
    r.splice(0, "h", "title", 5, 0, " one").unwrap();
    r.update(0, "h", None, json!({"text": "Body text"})).unwrap();
    r.splice(1, "h", "title", 0, 0, "The ").unwrap();
    r.splice(1, "h", "text", 0, 0, "> ").unwrap();
    r.push(0, SW, 1);
    assert!(r.push(1, SW, 2).is_empty());
    r.settle(SW);
    let n = r.server.tree().get("h").unwrap().clone();
    assert_eq!((n.props["title"].as_str().unwrap(), n.props["text"].as_str().unwrap()), ("The Title one", "> Body text"));
    r
}

fn astral_text() -> Rec {
    let mut r = Rec::paras("astral characters and combining marks count as one code point", 2, &["a😀b😀c", "cafe\u{301}"]);
    r.set_cursor(0, "c", "p1", "text", 4);
    r.splice(0, "p1", "text", 2, 1, "𝒜𝒝").unwrap(); // a😀𝒜𝒝😀c
    r.split(0, "p1", "text", 3, "s1").unwrap(); // a😀𝒜 | 𝒝😀c
    r.splice(1, "p1", "text", 5, 0, "🇫🇷").unwrap();
    r.splice(1, "p1", "text", 1, 0, "é").unwrap();
    r.splice(1, "p2", "text", 4, 1, "\u{300}!").unwrap();
    r.set_cursor(1, "c", "p2", "text", 6);
    r.push(1, SW, 1);
    assert!(r.push(0, SW, 2).is_empty());
    r.settle(SW);
    assert_eq!((r.server_text("p1"), r.server_text("s1")), ("aé😀𝒜".into(), "𝒝😀c🇫🇷".into()));
    assert_eq!(r.server_text("p2"), "cafe\u{300}!");
    r
}
