//! The shared test vectors of the workspace (`tests/vectors/README.md` is the contract):
//!
//! - `tests/vectors/text_diff.json`: `ot::diff(old, new)` as splices and
//!   `rebase::merge_text(base, local, remote)`;
//! - `tests/vectors/workspace.json`: scripted and seeded random scenarios recorded from real
//!   `Workspace`s against the reference server (`sim::ModelServer`) through
//!   `common/recorder.rs`: every call, its result and the whole state of the workspace after it.
//!
//! By default the test recomputes everything and checks it equals the stored files (printing
//! the first differing case and where it differs); every workspace case is also replayed from
//! its JSON alone (as the other client does) to check the format carries everything needed. `NODESYNC_WRITE_VECTORS=1` rewrites them (then review the diff: the
//! files are the contract). Every scenario is also checked for sanity here (all workspaces
//! equal the server after settling, no typed word lost unreported), so the vectors encode
//! correct behaviour, not just current behaviour.

#[path = "common/recorder.rs"]
mod recorder;

use std::collections::BTreeSet;

use nodesync_core::ot;
use nodesync_core::patch::Place;
use nodesync_core::reference::Rng;
use nodesync_core::text::Edit;
use pg_nodesync_client::rebase::merge_text;
use pg_nodesync_client::sim::{boundaries, pick, random_place, word, KINDS};
use pg_nodesync_client::{Policy, Rule};
use recorder::{rules, Rec};
use serde_json::{json, Value};

fn vectors(file: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors").join(file)
}

fn writing() -> bool {
    std::env::var_os("NODESYNC_WRITE_VECTORS").is_some()
}

/// Writes `doc` (in write mode), then checks the stored file equals it, case by case.
fn write_or_check(file: &str, doc: &Value, lists: &[&str], pretty: bool) {
    let path = vectors(file);
    if writing() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let text = if pretty { serde_json::to_string_pretty(doc).unwrap() } else { serde_json::to_string(doc).unwrap() };
        std::fs::write(&path, text + "\n").unwrap();
    }
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for list in lists {
        let (want, got) = (doc[list].as_array().unwrap(), stored[list].as_array().unwrap_or_else(|| panic!("{file}: no \"{list}\"")));
        for (i, w) in want.iter().enumerate() {
            let name = w["name"].as_str().unwrap_or("?");
            match got.get(i) {
                None => panic!("{file}: {list}[{i}] {name:?} is missing from the stored file: regenerate (NODESYNC_WRITE_VECTORS=1) and review"),
                Some(g) if g != w => {
                    let detail = first_difference(g, w, "");
                    panic!("{file}: {list}[{i}] {name:?} differs from what the Rust code computes now (stored {:?}) at {detail}: regenerate and review", g["name"]);
                }
                _ => {}
            }
        }
        assert_eq!(got.len(), want.len(), "{file}: {list}: the stored file has more cases than the code: regenerate and review");
    }
    assert_eq!(&stored, doc, "{file}");
}

/// The JSON path of the first difference between `a` and `b`.
fn first_difference(a: &Value, b: &Value, at: &str) -> String {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                match y.get(k) {
                    Some(w) if w != v => return first_difference(v, w, &format!("{at}.{k}")),
                    None => return format!("{at}.{k} (only in the stored file)"),
                    _ => {}
                }
            }
            for k in y.keys() {
                if !x.contains_key(k) {
                    return format!("{at}.{k} (only in the computed one)");
                }
            }
            at.to_string()
        }
        (Value::Array(x), Value::Array(y)) => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                if v != w {
                    return first_difference(v, w, &format!("{at}[{i}]"));
                }
            }
            format!("{at} (lengths {} vs {})", x.len(), y.len())
        }
        _ => format!("{at}: stored {a}, computed {b}"),
    }
}

// ------------------------------------------------------------------------------ text_diff

/// (name, old, new)
const DIFFS: &[(&str, &str, &str)] = &[
    ("both empty", "", ""),
    ("equal", "abc", "abc"),
    ("from empty", "", "abc"),
    ("to empty", "abc", ""),
    ("one character replaced", "abc", "axc"),
    ("typing at the end", "Hello", "Hello world"),
    ("typing at the start", "world", "Hello world"),
    ("a word typed in the middle", "Hello world", "Hello brave world"),
    ("a word deleted", "Hello brave world", "Hello world"),
    ("a word replaced", "the quick brown fox", "the slow brown fox"),
    ("a word replaced by a shorter one", "one two three", "one 2 three"),
    ("words typed at both ends", "one two three", "zero one two three four"),
    ("repeated characters: delete two of four", "aaaa", "aa"),
    ("repeated characters: insert two", "aa", "aaaa"),
    ("repeated characters: one inserted inside a run", "xxxx", "xxyxx"),
    ("rotation by one", "abab", "baba"),
    ("the Myers paper's example", "abcabba", "cbabac"),
    ("reversed", "abc", "cba"),
    ("reversed, longer", "abcdef", "fedcba"),
    ("two characters swapped", "abcd", "acbd"),
    ("kitten to sitting", "kitten", "sitting"),
    ("banana to bandana", "banana", "bandana"),
    ("a doubled letter removed", "mississippi", "missisippi"),
    ("a repeated word appended", "the cat", "the cat cat"),
    ("a repeated word removed", "hello hello hello", "hello hello"),
    ("a repeated word inserted", "ab ab ab", "ab ab ab ab"),
    ("a space doubled", "a b c", "a  b c"),
    ("spaces only", "  ", " "),
    ("a sentence extended", "The cat sat.", "The cat sat on the mat."),
    ("words replaced at both ends", "Hello, world!", "Goodbye, cruel world!"),
    ("separators removed", "aXbXc", "abc"),
    ("a line removed", "line1\nline2\nline3", "line1\nline3"),
    ("a line inserted", "line1\nline3", "line1\nline2\nline3"),
    ("a token typed between tokens", "[t1.1] [t1.2]", "[t1.1] [t2.1] [t1.2]"),
    ("astral: an emoji doubled", "a😀b", "a😀😀b"),
    ("astral: one emoji replaced", "😀", "😁"),
    ("astral: an emoji deleted", "a😀b😀c", "ab😀c"),
    ("astral: mathematical letters", "𝒜𝒝𝒞", "𝒜𝒞"),
    ("astral: flags (two regional indicators each)", "🇫🇷 🇩🇪", "🇩🇪 🇫🇷"),
    ("astral: a ZWJ family extended", "👨\u{200d}👩\u{200d}👧", "👨\u{200d}👩\u{200d}👧\u{200d}👦"),
    ("combining: one mark replaced", "e\u{301}", "e\u{300}"),
    ("combining: a mark added", "cafe", "cafe\u{301}"),
    ("combining: precomposed to decomposed", "café", "cafe\u{301}"),
    ("CJK: a comma inserted", "你好世界", "你好，世界"),
    (
        "long text with several separate changes",
        "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness, \
         it was the epoch of belief, it was the epoch of incredulity, it was the season of Light, it was the season of Darkness, \
         it was the spring of hope, it was the winter of despair.",
        "It was the best of times, it was the worst of times; it was the age of wisdom, it was the age of foolishness, \
         it was the epoch of belief, it was the era of incredulity, it was the season of Light, it was the season of Darkness, \
         it was the spring of hope, it was the winter of our despair!",
    ),
    (
        "long text: paragraphs reordered and edited",
        "Alpha beta gamma.\nDelta epsilon zeta.\nEta theta iota.\nKappa lambda mu.",
        "Delta epsilon zeta.\nAlpha beta gamma!\nEta theta iota.\nKappa mu nu.",
    ),
];

/// (name, base, local, remote)
const MERGES: &[(&str, &str, &str, &str)] = &[
    ("typing in different places", "Hello world", "Hello brave world", "Hello world!"),
    ("words at both ends", "one two three", "one two three four", "zero one two three"),
    ("both insert at one offset: the server's text first", "ab", "aXb", "aYb"),
    ("both insert the same text", "x", "xy", "xy"),
    ("both delete the same range", "abcdef", "aef", "aef"),
    ("overlapping deletes", "0123456789", "0189", "0123789"),
    ("local typing inside a range the server deleted", "the quick brown fox", "the quiXYck brown fox", "the brown fox"),
    ("both replace the same word", "one two three", "one TWO three", "one 2 three"),
    ("a title prefixed and suffixed", "draft", "final draft", "draft by Ann"),
    ("local deletes everything, the server typed", "old", "", "old new"),
    ("the server deletes everything, local typed", "old", "old new", ""),
    ("empty base", "", "local", "remote"),
    ("local unchanged", "abc", "abc", "xyz"),
    ("remote unchanged", "abc", "xyz", "abc"),
    ("repeated characters", "aaaa", "aa", "aaaaa"),
    ("rotation against an append", "abab", "baba", "abab!"),
    ("astral characters", "a😀b", "a😀😀b", "ab"),
    ("combining marks", "cafe", "cafe\u{301}", "cafe!"),
    ("typed tokens between tokens", "[a] [b]", "[a] [l] [b]", "[a] [b] [r]"),
    ("lines on both sides", "one\ntwo\nthree", "one\ntwo\n2.5\nthree", "zero\none\nthree"),
    (
        "long text edited in several places on both sides",
        "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness.",
        "It was the best of times, it was the worst of all times, it was the age of wisdom, it was the age of foolishness!",
        "It was the best of times; it was the worst of times, it was the age of wisdom, it was the era of foolishness.",
    ),
];

fn splices_json(e: &[Edit]) -> Value {
    Value::Array(e.iter().map(Edit::to_json).collect())
}

#[test]
fn text_diff_vectors() {
    let diff: Vec<Value> = DIFFS
        .iter()
        .map(|(name, old, new)| {
            let splices = ot::diff(old, new).to_splices();
            assert_eq!(nodesync_core::text::apply(old, &splices).unwrap(), *new, "{name}");
            json!({"name": name, "old": old, "new": new, "splices": splices_json(&splices)})
        })
        .collect();
    let merge: Vec<Value> = MERGES
        .iter()
        .map(|(name, base, local, remote)| json!({"name": name, "base": base, "local": local, "remote": remote, "result": merge_text(base, local, remote)}))
        .collect();
    let doc = json!({
        "about": "pg_nodesync character diff and three-way text merge vectors (tests/vectors/README.md). Offsets and counts are \
                  Unicode code points. diff: splices = ot::diff(old, new).to_splices() (Myers as the Rust crate similar 3 \
                  computes it on the changed middle after the common prefix and suffix, lone inserts/deletes slid to word \
                  boundaries), each splice [at, delete, insert] applied in order to the result of the one before, old -> new. \
                  merge: result = rebase::merge_text(base, local, remote): the local diff transformed over the server's, \
                  the server's text first where both inserted at one offset.",
        "diff": diff,
        "merge": merge,
    });
    write_or_check("text_diff.json", &doc, &["diff", "merge"], true);
}

// ------------------------------------------------------------------------------ workspace

const SW: Policy = Policy::ServerWins;
const LW: Policy = Policy::LocalWins;

fn logname(with_log: bool) -> &'static str {
    if with_log {
        "log"
    } else {
        "no log"
    }
}

fn after(k: &str) -> Place {
    Place::After(k.to_string())
}

fn create_op(key: &str, kind: &str, parent: &str, props: Value) -> Value {
    json!({"op": "create", "key": key, "kind": kind, "parent": parent, "props": props})
}

/// `p1..` under the root and a section `sec` with paragraphs `a`, `b`.
fn with_section(name: &str, n: usize) -> Rec {
    Rec::new(
        name,
        n,
        json!([
            create_op("p1", "para", "root", json!({"text": "first"})),
            create_op("sec", "section", "root", json!({"text": "Title"})),
            create_op("a", "para", "sec", json!({"text": "A"})),
            create_op("b", "para", "sec", json!({"text": "B"})),
            create_op("p2", "para", "root", json!({"text": "last"})),
        ]),
    )
}

// ---- text: splices, whole values, splits, joins

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

// ---- structure: create, move, delete, anchors

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

// ---- every rebase rule

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

// ---- cursors and errors

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

// ---- seeded random scenarios

/// Inserts ` w` at `at` in the `"text"` of `key`, with `splice` or a whole-value `update`.
fn type_word(r: &mut Rec, i: usize, key: &str, at: usize, w: &str, whole: bool) -> bool {
    let Some(cur) = r.ws[i].text(key, "text").map(str::to_string) else { return false };
    let ins = format!(" {w}");
    if whole {
        let Some((h, t)) = nodesync_core::text::split_at(&cur, at) else { return false };
        let v = format!("{h}{ins}{t}");
        r.set_text(i, key, &v).is_ok()
    } else {
        r.splice(i, key, "text", at, 0, &ins).is_ok()
    }
}

/// Words each workspace typed that must reach the server (or be reported dropped).
struct Ledger {
    pending: Vec<BTreeSet<String>>,
    all: BTreeSet<String>,
}

impl Ledger {
    fn new(n: usize) -> Ledger {
        Ledger { pending: vec![BTreeSet::new(); n], all: BTreeSet::new() }
    }

    fn typed(&mut self, i: usize, w: &str) {
        self.pending[i].insert(w.to_string());
        assert!(self.all.insert(w.to_string()), "word {w} typed twice");
    }

    /// After a local delete (or erase): the words gone from the local tree went as asked.
    fn forget_gone(&mut self, r: &Rec, i: usize) {
        let t = r.ws[i].tree().clone();
        self.pending[i].retain(|w| recorder::tree_has(&t, w));
    }

    /// After a push or pull of `i`: words a reported drop took, and words now on the server.
    fn synced(&mut self, r: &Rec, i: usize, d: &[pg_nodesync_client::Dropped]) {
        let lossy = d.iter().any(|x| {
            matches!(x.rule, Rule::EditOfDeleted | Rule::DeletedWithSubtree | Rule::CreateUnderDeleted | Rule::JoinedIntoDeleted | Rule::PropConflict { .. })
        });
        if lossy {
            self.forget_gone(r, i);
        }
        let t = r.server.tree();
        for p in self.pending.iter_mut() {
            p.retain(|w| !recorder::tree_has(&t, w));
        }
    }

    fn check(&self, r: &Rec) {
        for (i, p) in self.pending.iter().enumerate() {
            assert!(p.is_empty(), "{}: ws {i}: words lost without a report: {p:?}\nserver: {}", r.name, r.server.tree().outline(100));
        }
        let t = r.server.tree();
        for w in &self.all {
            assert!(recorder::tree_count(&t, w) <= 1, "{}: word {w} is on the server twice", r.name);
        }
    }
}

/// One random local edit on workspace `i` (the kinds [`pg_nodesync_client::sim::random_edit`]
/// makes: creates, deletes, moves, typed words, Enter, Backspace, props, kinds), each through
/// the recorder. Words typed are `[token]`.
fn random_edit(r: &mut Rec, l: &mut Ledger, i: usize, rng: &mut Rng, token: &str, target: usize) {
    let t = r.ws[i].tree().clone();
    let keys: Vec<String> = t.nodes.keys().cloned().collect();
    let non_root: Vec<String> = keys.iter().filter(|k| k.as_str() != "root").cloned().collect();
    let size = keys.len();
    let roll = rng.below(100);
    let (p_create, p_delete) = if size < target / 2 { (45, 5) } else if size > target * 3 / 2 { (10, 30) } else { (20, 12) };
    if roll < p_create || non_root.is_empty() {
        let mut parent = pick(rng, &keys).unwrap().clone();
        while t.path(&parent).len() >= 3 {
            parent = t.parent(&parent).unwrap_or("root").to_string();
        }
        let place = random_place(rng, t.children(&parent), "");
        let kind = KINDS[rng.below(KINDS.len() as u32) as usize];
        let w = word(token);
        if r.create(i, &parent, place, kind, json!({ "text": w })).is_ok() {
            l.typed(i, &w);
        }
        return;
    }
    let roll = roll - p_create;
    if roll < p_delete {
        let k = pick(rng, &non_root).unwrap().clone();
        if t.subtree(&k).len() <= 3 && r.delete(i, &k).is_ok() {
            l.forget_gone(r, i);
        }
        return;
    }
    let roll = roll - p_delete;
    if roll < 15 {
        let k = pick(rng, &non_root).unwrap().clone();
        let p = pick(rng, &keys).unwrap().clone();
        if t.path(&p).len() >= 3 {
            return;
        }
        let place = random_place(rng, t.children(&p), &k);
        // moves under itself are tried too: a Cycle error step
        let _ = r.move_to(i, &k, &p, place);
        return;
    }
    let k = pick(rng, &keys).unwrap().clone();
    let node = t.get(&k).unwrap().clone();
    let text = node.props.get("text").and_then(Value::as_str).map(str::to_string);
    match (rng.below(12), text) {
        (0..=4, Some(text)) => {
            let b = boundaries(&text);
            let at = b[rng.below(b.len() as u32) as usize];
            let w = word(token);
            if type_word(r, i, &k, at, &w, rng.below(3) == 0) {
                l.typed(i, &w);
            }
        }
        (5, Some(text)) if k != "root" => {
            let b = boundaries(&text);
            let at = b[rng.below(b.len() as u32) as usize];
            let new = r.fresh_key(i);
            let _ = r.split(i, &k, "text", at, &new);
        }
        (6, Some(_)) if k != "root" => {
            let p = t.parent(&k).unwrap();
            let kids = t.children(p);
            let at = kids.iter().position(|c| c == &k).unwrap();
            if let Some(next) = kids.get(at + 1) {
                if t.get(next).unwrap().props.get("text").is_some_and(Value::is_string) {
                    let _ = r.join(i, &k, next, "text");
                }
            }
        }
        (7..=8, _) => {
            let _ = r.update(i, &k, None, json!({ "n": [token] }));
        }
        (9, _) if node.props.contains_key("n") => {
            let _ = r.update(i, &k, None, json!({ "n": null }));
        }
        (10, _) if k != "root" => {
            let others: Vec<&str> = KINDS.iter().copied().filter(|x| *x != node.kind).collect();
            let kind = others[rng.below(others.len() as u32) as usize];
            let _ = r.update(i, &k, Some(kind), json!({}));
        }
        _ => {
            let _ = r.update(i, &k, None, json!({ "n": rng.below(3) }));
        }
    }
}

fn random_structure(seed: u64, n: usize, with_log: bool, steps: usize) -> Rec {
    let name = format!("random edits of every kind, seed {seed}, {n} workspaces ({})", logname(with_log));
    let mut r = Rec::new(
        &name,
        n,
        json!([
            create_op("s0", "heading", "root", json!({"text": "Section 0"})),
            create_op("p0", "para", "s0", json!({"text": "paragraph 0"})),
            create_op("p1", "para", "s0", json!({"text": "paragraph 1"})),
            create_op("s1", "heading", "root", json!({"text": "Section 1"})),
            create_op("p2", "para", "s1", json!({"text": "paragraph 2"})),
            create_op("p3", "para", "root", json!({"text": "paragraph 3"})),
        ]),
    )
    .log(with_log);
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut l = Ledger::new(n);
    let mut tokens = 0;
    for _ in 0..steps {
        let i = rng.below(n as u32) as usize;
        let policy = if rng.below(5) == 0 { LW } else { SW };
        match rng.below(10) {
            0 => {
                // a cursor somewhere in a text
                let t = r.ws[i].tree().clone();
                let texts: Vec<String> = t.nodes.keys().filter(|k| r.ws[i].text(k, "text").is_some()).cloned().collect();
                let k = pick(&mut rng, &texts).unwrap().clone();
                let len = r.text(i, &k).chars().count() as u32;
                let at = rng.below(len + 1) as usize;
                let name = ["c", "d"][rng.below(2) as usize];
                r.set_cursor(i, name, &k, "text", at);
            }
            1..=5 => {
                tokens += 1;
                random_edit(&mut r, &mut l, i, &mut rng, &format!("{i}.{tokens}"), 10);
            }
            6..=7 => {
                let d = r.push(i, policy, 4);
                l.synced(&r, i, &d);
            }
            _ => {
                let d = r.pull(i, policy);
                l.synced(&r, i, &d);
            }
        }
    }
    for i in 0..n {
        let d = r.push(i, SW, 4);
        l.synced(&r, i, &d);
    }
    for i in 0..n {
        let d = r.pull(i, SW);
        l.synced(&r, i, &d);
    }
    r.check_settled();
    l.check(&r);
    r
}

/// A typist: unique words `[<id>.<n>]` at its cursor `"caret"`, erasures of its own words,
/// Enter and Backspace (like [`pg_nodesync_client::sim::Typist`], through the recorder).
struct Ty {
    id: String,
    whole: bool,
    typed: Vec<String>,
    erased: BTreeSet<String>,
    n: u64,
}

fn stroke(r: &mut Rec, i: usize, t: &mut Ty, rng: &mut Rng, what: u32) {
    let c = match r.ws[i].cursor("caret").cloned() {
        Some(c) => c,
        None => {
            // the caret went with its block: put it at the start of the first block
            let first = r.ws[i].children("root")[0].clone();
            r.set_cursor(i, "caret", &first, "text", 0);
            return;
        }
    };
    match what {
        0 => {
            t.n += 1;
            let w = word(&format!("{}.{}", t.id, t.n));
            if type_word(r, i, &c.key, c.at, &w, t.whole) {
                if t.whole {
                    r.set_cursor(i, "caret", &c.key, "text", c.at + w.chars().count() + 1);
                }
                t.typed.push(w);
            }
        }
        1 => {
            let kept: Vec<String> = t.typed.iter().filter(|w| !t.erased.contains(*w)).cloned().collect();
            let present: Vec<String> = kept.into_iter().filter(|w| recorder::tree_has(r.ws[i].tree(), w)).collect();
            let Some(w) = pick(rng, &present).cloned() else { return };
            let tree = r.ws[i].tree().clone();
            let k = tree.nodes.keys().find(|k| r.ws[i].text(k, "text").is_some_and(|x| x.contains(w.as_str()))).cloned().unwrap();
            let text = r.text(i, &k);
            let b = text.find(w.as_str()).unwrap();
            let mut at = text[..b].chars().count();
            let mut len = w.chars().count();
            if text[..b].ends_with(' ') {
                at -= 1;
                len += 1;
            }
            let ok = if t.whole {
                let mut v = text.clone();
                v.replace_range(b - (len - w.chars().count())..b + w.len(), "");
                let ok = r.set_text(i, &k, &v).is_ok();
                // the app knows where its caret is: left of the erased word if after it
                if c.key == k && c.at >= at + len {
                    r.set_cursor(i, "caret", &k, "text", c.at - len);
                } else if c.key == k && c.at > at {
                    r.set_cursor(i, "caret", &k, "text", at);
                }
                ok
            } else {
                r.splice(i, &k, "text", at, len, "").is_ok()
            };
            if ok {
                t.erased.insert(w);
            }
        }
        2 => {
            let new = r.fresh_key(i);
            let _ = r.split(i, &c.key, "text", c.at, &new);
        }
        _ => {
            let kids = r.ws[i].children("root").to_vec();
            if let Some(at) = kids.iter().position(|k| k == &c.key).filter(|at| *at > 0) {
                let _ = r.join(i, &kids[at - 1], &c.key, "text");
            }
        }
    }
}

/// Each typist's kept words once and in typing order in `text`, erased words absent.
fn check_words(name: &str, text: &str, typists: &[Ty]) {
    for t in typists {
        let mut last = None;
        for w in &t.typed {
            let n = text.matches(w.as_str()).count();
            if t.erased.contains(w) {
                assert_eq!(n, 0, "{name}: erased word {w} is present\ntext: {text}");
                continue;
            }
            assert_eq!(n, 1, "{name}: word {w} is present {n} times\ntext: {text}");
            let at = text.find(w.as_str());
            assert!(at >= last, "{name}: word {w} is before an earlier word of {}\ntext: {text}", t.id);
            last = at;
        }
    }
}

fn random_typists(seed: u64, n: usize, with_log: bool, steps: usize) -> Rec {
    let name = format!("random typists, seed {seed}, {n} workspaces ({})", logname(with_log));
    let mut r = Rec::paras(&name, n, &["start", "middle", "end"]).log(with_log);
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut ty: Vec<Ty> = (0..n).map(|i| Ty { id: format!("t{i}"), whole: i % 2 == 1, typed: vec![], erased: BTreeSet::new(), n: 0 }).collect();
    for i in 0..n {
        r.set_cursor(i, "caret", &format!("p{}", 1 + i % 3), "text", 0);
    }
    // without the log a split or join made elsewhere only shows as changed texts, and a
    // character diff of others' erasures and typing together can align words wrongly: the
    // no-log runs only type (as client/tests/text_rebase.rs)
    for _ in 0..steps {
        let i = rng.below(n as u32) as usize;
        match rng.below(20) {
            0..=9 => stroke(&mut r, i, &mut ty[i], &mut rng, 0),
            10..=11 if with_log => stroke(&mut r, i, &mut ty[i], &mut rng, 1),
            12 if with_log => stroke(&mut r, i, &mut ty[i], &mut rng, 2),
            13 if with_log => stroke(&mut r, i, &mut ty[i], &mut rng, 3),
            14..=16 => assert!(r.push(i, SW, 3).is_empty(), "{}: dropped", r.name),
            _ => assert!(r.pull(i, SW).is_empty(), "{}: dropped", r.name),
        }
    }
    assert!(r.settle(SW).is_empty(), "{}: dropped", r.name);
    let text = pg_nodesync_client::sim::blocks_text(&r.server.tree(), "root");
    check_words(&r.name, &text, &ty);
    r
}

// ---- the file

fn scripted() -> Vec<Rec> {
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
        cursors_through_everything(),
        cursors_without_log(),
        cursors_removed(),
        cursor_on_a_node_the_rebase_removed(),
        edit_errors(),
    ]
}

fn random() -> Vec<Rec> {
    let mut out = vec![];
    for seed in 1..=10u64 {
        let n = 2 + (seed % 2) as usize;
        out.push(random_structure(seed, n, seed % 4 != 0, 50));
    }
    for seed in 1..=10u64 {
        let n = 2 + (seed % 2) as usize;
        out.push(random_typists(seed, n, seed % 3 != 0, 40));
    }
    out
}

#[test]
fn workspace_vectors() {
    let recs: Vec<Rec> = scripted().into_iter().chain(random()).collect();
    let mut names = BTreeSet::new();
    for r in &recs {
        assert!(names.insert(r.name.clone()), "two cases named {:?}", r.name);
    }
    let cases: Vec<Value> = recs.iter().map(Rec::case).collect();
    // the stored JSON alone replays to the same results and states (what the other client does)
    for c in &cases {
        recorder::replay(c).unwrap_or_else(|e| panic!("{e}"));
    }
    let doc = json!({
        "about": "pg_nodesync workspace vectors (tests/vectors/README.md): scripted and seeded random scenarios recorded from \
                  the Rust Workspace against the reference model server (client/src/sim.rs ModelServer). Each step is one \
                  Workspace call on workspace ws with its arguments, its result (or the EditError name as error) and the whole \
                  state of that workspace after it. Pushes appear as their calls: a patch() the server committed is followed \
                  by committed_with(server tree, log since the old shadow or null, own gen), a refused one by \
                  rebase_with(server tree, log or null, policy) and a new attempt; an empty patch by forget_noop_edits. \
                  A null LOG means the rebase had no log (the diff fallback). Offsets are code points; ordered maps iterate \
                  keys in UTF-8 byte order.",
        "cases": cases,
    });
    let size = serde_json::to_string_pretty(&doc).unwrap().len();
    write_or_check("workspace.json", &doc, &["cases"], size < 3_000_000);
}
