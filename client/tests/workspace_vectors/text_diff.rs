//! `text_diff.json`: `ot::diff(old, new)` as splices and `rebase::merge_text(base, local, remote)`
//! over a fixed list of cases.

use nodesync_core::ot;
use nodesync_core::text::Edit;
use pg_nodesync_client::rebase::merge_text;
use serde_json::{json, Value};

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

/// The whole file: the cases, their splices and merge results.
pub fn doc() -> Value {
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
    json!({
        "about": "pg_nodesync character diff and three-way text merge vectors (tests/vectors/README.md). Offsets and counts are \
                  Unicode code points. diff: splices = ot::diff(old, new).to_splices() (Myers as the Rust crate similar 3 \
                  computes it on the changed middle after the common prefix and suffix, lone inserts/deletes slid to word \
                  boundaries), each splice [at, delete, insert] applied in order to the result of the one before, old -> new. \
                  merge: result = rebase::merge_text(base, local, remote): the local diff transformed over the server's, \
                  the server's text first where both inserted at one offset.",
        "diff": diff,
        "merge": merge,
    })
}
