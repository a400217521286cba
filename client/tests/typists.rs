//! Concurrent typists against a real server: replicas on their own connections and threads
//! type unique words (`[<typist>.<n>]`) at their own cursor, erase some of their own earlier
//! words, and (in the structure test) press Enter and Backspace at a block start, with random
//! push / pull / live interleavings. At quiescence:
//!
//! - every word not erased by its author is present exactly once, every erased word is absent;
//! - each typist's words are in the order typed (in whichever block they ended up);
//! - every replica's local tree equals `snapshot()`; no rebase dropped anything.
//!
//! Sizes: `NODESYNC_TYPIST_STROKES` strokes per typist (default 24), `NODESYNC_TYPIST_SEED`.

mod common;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use nodesync_core::reference::Rng;
use pg_nodesync_client::sim::{blocks_text, check_words, count, push_hard, Stroke, Typist};
use pg_nodesync_client::{Config, Error, Pushed, Replica, Tree};
use serde_json::{json, Value};

const PARA: &str = "alpha beta gamma delta epsilon zeta eta theta";

fn strokes() -> usize {
    std::env::var("NODESYNC_TYPIST_STROKES").ok().and_then(|s| s.parse().ok()).unwrap_or(24)
}

fn seed() -> u64 {
    std::env::var("NODESYNC_TYPIST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        // fixed by default (the threads still interleave as they run)
        .unwrap_or(165032)
}

/// A document with the section `sec` holding paragraphs `b0..` with `texts`.
fn doc_with(texts: &[&str]) -> String {
    let mut c = common::connect("typists");
    let doc = common::new_doc(&mut c, "typ");
    let mut ops = vec![json!({"op": "create", "key": "sec", "kind": "section", "parent": "root"})];
    for (i, t) in texts.iter().enumerate() {
        ops.push(json!({"op": "create", "key": format!("b{i}"), "kind": "para", "parent": "sec", "props": {"text": t}}));
    }
    c.execute("SELECT nodesync.apply_patch($1, $2)", &[&doc, &json!({ "ops": ops })]).unwrap();
    doc
}

fn open(doc: &str, name: &str, seed: u64) -> Replica {
    let mut cfg = Config::new(doc, name);
    cfg.key_prefix = Some(format!("{name}."));
    cfg.max_attempts = 60;
    cfg.seed = seed;
    let mut r = Replica::open(common::connect("typists"), cfg).unwrap();
    r.listen().unwrap();
    r
}

fn snapshot(doc: &str) -> Tree {
    let mut c = common::connect("typists");
    let v: Value = c.query_one("SELECT nodesync.snapshot($1)", &[&doc]).unwrap().get(0);
    Tree::from_snapshot(&v).unwrap()
}

/// Offset just after the `n`-th word of `text` (0 = start).
fn after_word(text: &str, n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    let mut seen = 0;
    for (i, c) in text.chars().enumerate() {
        if c == ' ' {
            seen += 1;
            if seen == n {
                return i;
            }
        }
    }
    text.chars().count()
}

/// Pushes and pulls everyone until nothing is left to send and all are at one gen.
fn quiesce(reps: &mut [Replica]) -> Result<(), String> {
    for _ in 0..20 {
        for r in reps.iter_mut() {
            push_hard(r)?;
        }
        for r in reps.iter_mut() {
            r.pull().map_err(|e| format!("pull: {e}"))?;
        }
        let g = reps[0].gen();
        if reps.iter().all(|r| !r.has_local_edits() && r.gen() == g) {
            return Ok(());
        }
    }
    Err("no quiescence after 20 rounds".into())
}

struct Outcome {
    typists: Vec<Typist>,
    reps: Vec<Replica>,
    secs: f64,
}

/// `n` typists, typist `i` starting after word `start(i)` of block `b{block(i)}`, each doing
/// `strokes` strokes chosen by `pick`, on their own thread and connection.
fn run(
    doc: &str,
    n: usize,
    seed: u64,
    whole: impl Fn(usize) -> bool,
    place: impl Fn(usize) -> (usize, usize),
    pick: fn(&mut Rng) -> Stroke,
) -> Result<Outcome, String> {
    let barrier = Arc::new(Barrier::new(n));
    let t0 = Instant::now();
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let doc = doc.to_string();
            let barrier = barrier.clone();
            let whole = whole(i);
            let (block, word) = place(i);
            let strokes = strokes();
            std::thread::spawn(move || -> Result<(Replica, Typist), String> {
                let mut r = open(&doc, &format!("ty{i}"), seed * 100 + i as u64);
                let key = format!("b{block}");
                let at = after_word(r.text(&key, "text").unwrap_or(""), word);
                let mut t = Typist::new(r.workspace_mut(), &format!("t{i}"), "sec", &key, at, whole);
                let mut rng = Rng((seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (i as u64 + 1).wrapping_mul(7919)) | 1);
                barrier.wait();
                for _ in 0..strokes {
                    let s = pick(&mut rng);
                    t.stroke(r.workspace_mut(), &mut rng, s);
                    match rng.below(10) {
                        0..=3 => match r.push() {
                            Ok(_) | Err(Error::Contention { .. }) => {}
                            Err(e) => return Err(format!("t{i} push: {e}")),
                        },
                        4..=5 => {
                            r.wait(Duration::ZERO).map_err(|e| format!("t{i} wait: {e}"))?;
                        }
                        6 => {
                            r.pull().map_err(|e| format!("t{i} pull: {e}"))?;
                        }
                        _ => {}
                    }
                    if rng.below(4) == 0 {
                        std::thread::sleep(Duration::from_micros(rng.below(1500) as u64));
                    }
                    let d = r.take_dropped();
                    if !d.is_empty() {
                        return Err(format!("t{i}: a rebase dropped {d:?}"));
                    }
                }
                push_hard(&mut r)?;
                Ok((r, t))
            })
        })
        .collect();
    let mut reps = vec![];
    let mut typists = vec![];
    for h in handles {
        let (r, t) = h.join().map_err(|_| "a typist thread panicked".to_string())??;
        reps.push(r);
        typists.push(t);
    }
    let secs = t0.elapsed().as_secs_f64();
    quiesce(&mut reps)?;
    for r in reps.iter_mut() {
        let d = r.take_dropped();
        if !d.is_empty() {
            return Err(format!("{}: a rebase dropped {d:?}", r.config().client));
        }
    }
    Ok(Outcome { typists, reps, secs })
}

/// The common checks; returns the final text of the section.
fn check(doc: &str, o: &Outcome, label: &str) -> Result<String, String> {
    let server = snapshot(doc);
    for r in &o.reps {
        if r.tree().flat() != server.flat() {
            return Err(format!("{label}: {} differs from snapshot()", r.config().client));
        }
    }
    let text = blocks_text(&server, "sec");
    check_words(&text, &o.typists).map_err(|e| format!("{label}: {e}\ntext: {text}"))?;
    let typed: usize = o.typists.iter().map(|t| t.typed.len()).sum();
    let kept: usize = o.typists.iter().map(|t| t.kept().len()).sum();
    let present: usize = o.typists.iter().flat_map(|t| t.kept()).filter(|w| count(&text, w) == 1).count();
    let keys: u64 = o.typists.iter().map(|t| t.keystrokes - t.erased_keystrokes).sum();
    let (commits, conflicts, rebases) = o.reps.iter().fold((0, 0, 0), |a, r| (a.0 + r.stats.commits, a.1 + r.stats.conflicts, a.2 + r.stats.rebases));
    let (splits, joins) = o.typists.iter().fold((0, 0), |a, t| (a.0 + t.splits, a.1 + t.joins));
    eprintln!(
        "{label}: {typed} words typed, {kept} kept, {present} present ({keys} keystrokes kept); {splits} Enter, {joins} Backspace; \
         {commits} commits, {conflicts} conflicts, {rebases} rebases ({:.0} rebases/s) in {:.1}s; {} blocks",
        rebases as f64 / o.secs,
        o.secs,
        server.children("sec").len()
    );
    if present != kept {
        return Err(format!("{label}: {present} of {kept} words present"));
    }
    Ok(text)
}

fn words_and_erasures(rng: &mut Rng) -> Stroke {
    if rng.below(6) == 0 {
        Stroke::Erase
    } else {
        Stroke::Word
    }
}

#[test]
fn typists_in_one_paragraph() {
    let seed = seed();
    for n in [2usize, 4, 8] {
        for mode in ["splice", "update", "mixed"] {
            let doc = doc_with(&[PARA]);
            let whole = move |i: usize| match mode {
                "splice" => false,
                "update" => true,
                _ => i % 2 == 1,
            };
            let label = format!("{n} typists ({mode}), seed {seed}");
            let o = run(&doc, n, seed, whole, |i| (0, (i * 3) % 9), words_and_erasures).unwrap_or_else(|e| panic!("{label}: {e}"));
            let text = check(&doc, &o, &label).unwrap_or_else(|e| panic!("{e}"));
            // one paragraph, and the words that were there stay, in their order
            let doc_tree = snapshot(&doc);
            assert_eq!(doc_tree.children("sec"), ["b0"], "{label}");
            let mut last = 0;
            for w in PARA.split(' ') {
                let at = text[last..].find(w).unwrap_or_else(|| panic!("{label}: {w} lost from {text}")) + last;
                last = at + w.len();
            }
        }
    }
}

#[test]
fn two_typists_in_adjacent_sentences() {
    let seed = seed();
    let doc = doc_with(&["First sentence. Second sentence."]);
    // t0 types at the end of the first sentence, t1 at the end of the second
    let o = run(&doc, 2, seed, |_| false, |i| (0, if i == 0 { 2 } else { 4 }), words_and_erasures).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    let text = check(&doc, &o, &format!("adjacent sentences, seed {seed}")).unwrap_or_else(|e| panic!("{e}"));
    let first = text.find("First sentence.").unwrap();
    let second = text.find(" Second sentence.").unwrap();
    for w in o.typists[0].kept() {
        let at = text.find(&w).unwrap();
        assert!(first < at && at < second, "t0's {w} is not in the first sentence: {text}");
    }
    for w in o.typists[1].kept() {
        assert!(text.find(&w).unwrap() > second, "t1's {w} is not after the second sentence: {text}");
    }
}

/// One typist (`t`) types at its cursor inside a range that another replica (`d`) deletes
/// meanwhile. What is asserted: `d` deletes exactly the text its range held in `d`'s view when
/// it deleted (the original words there and those of `t`'s words `d` had pulled by then); every
/// word `t` typed that `d` had not seen survives, although it was typed inside the range, and
/// the words on either side of the range survive.
#[test]
fn one_typist_deletes_a_range_another_types_into() {
    let seed = seed();
    let doc = doc_with(&["keep1 gone1 gone2 gone3 gone4 keep2"]);
    let mut d = open(&doc, "deleter", seed);
    let mut t = open(&doc, "typist", seed + 1);
    let mut rng = Rng(seed | 1);
    let at = after_word("keep1 gone1 gone2 gone3 gone4 keep2", 3); // after "gone2"
    let mut ty = Typist::new(t.workspace_mut(), "t", "sec", "b0", at, false);
    let mut seen_by_d: Vec<String> = vec![];
    let mut deleted = String::new();
    for step in 0..30 {
        ty.stroke(t.workspace_mut(), &mut rng, Stroke::Word);
        if rng.below(2) == 0 {
            t.push().unwrap();
        }
        if step == 12 {
            // d pulls, then selects from "gone1" to the end of "gone4" and deletes it
            d.pull().unwrap();
            let text = d.text("b0", "text").unwrap().to_string();
            let from = text.find("gone1").unwrap();
            let to = text.find("gone4").unwrap() + "gone4".len();
            deleted = text[from..to].to_string();
            seen_by_d = ty.typed.iter().filter(|w| deleted.contains(w.as_str())).cloned().collect();
            let (a, n) = (text[..from].chars().count(), text[from..to].chars().count());
            d.splice("b0", "text", a, n, "").unwrap();
            d.push().unwrap();
        }
    }
    let mut reps = vec![d, t];
    quiesce(&mut reps).unwrap();
    let server = snapshot(&doc);
    let text = blocks_text(&server, "sec");
    for r in &reps {
        assert_eq!(r.tree().flat(), server.flat());
    }
    assert!(!deleted.is_empty());
    for w in ["gone1", "gone2", "gone3", "gone4"] {
        assert!(!text.contains(w), "{w} should be deleted: {text}");
    }
    assert!(text.starts_with("keep1 ") && text.ends_with(" keep2"), "{text}");
    let mut last = 0;
    for w in &ty.typed {
        let n = count(&text, w);
        if seen_by_d.contains(w) {
            assert_eq!(n, 0, "{w} was in the range d deleted: {text}");
        } else {
            assert_eq!(n, 1, "{w} was typed where d could not see it: {text}");
            let at = text.find(w.as_str()).unwrap();
            assert!(at >= last, "{w} out of order: {text}");
            last = at;
        }
    }
    let survived = ty.typed.len() - seen_by_d.len();
    eprintln!("delete-range: d deleted {:?} holding {} of t's words; {survived} typed inside it later or unseen survive", deleted, seen_by_d.len());
    assert!(survived > 0, "the test typed nothing d could not see");
}

#[test]
fn typists_who_press_enter_and_backspace() {
    let seed = seed();
    for n in [2usize, 4, 8] {
        let doc = doc_with(&["one two three", "four five six", "seven eight nine"]);
        let label = format!("{n} typists with Enter and Backspace, seed {seed}");
        let pick: fn(&mut Rng) -> Stroke = |rng| match rng.below(12) {
            0 => Stroke::Erase,
            1 | 2 => Stroke::Enter,
            3 | 4 => Stroke::JoinUp,
            _ => Stroke::Word,
        };
        let o = run(&doc, n, seed, |i| i % 2 == 1, |i| (i % 3, 1 + i % 2), pick).unwrap_or_else(|e| panic!("{label}: {e}"));
        let text = check(&doc, &o, &label).unwrap_or_else(|e| panic!("{e}"));
        // the words that were there survive in order (blocks joined with "\n" may break them
        // only where a typist pressed Enter between two characters, which they never do inside
        // a word)
        let flat = text.replace('\n', " ");
        let mut last = 0;
        for w in "one two three four five six seven eight nine".split(' ') {
            let at = flat[last..].find(w).unwrap_or_else(|| panic!("{label}: {w} lost: {text}")) + last;
            last = at + w.len();
        }
        let (splits, joins) = o.typists.iter().fold((0, 0), |a, t| (a.0 + t.splits, a.1 + t.joins));
        assert!(splits > 0 && joins > 0, "{label}: no Enter or no Backspace happened");
    }
}

#[test]
fn a_replica_with_nothing_to_send_keeps_its_caret() {
    // the caret of an idle reader follows others' typing, splits and joins
    let seed = seed();
    let doc = doc_with(&["hello world"]);
    let mut w = open(&doc, "writer", seed);
    let mut r = open(&doc, "reader", seed + 1);
    r.set_cursor("c", "b0", "text", 6); // before "world"
    w.splice("b0", "text", 0, 0, "oh, ").unwrap();
    w.push().unwrap();
    r.pull().unwrap();
    assert_eq!(r.cursor("c").map(|c| (c.key.clone(), c.at)), Some(("b0".into(), 10)));
    w.split("b0", "text", 9, "n").unwrap(); // "oh, hello" | " world"
    assert!(matches!(w.push().unwrap(), Pushed::Committed { .. }));
    r.pull().unwrap();
    assert_eq!(r.cursor("c").map(|c| (c.key.clone(), c.at)), Some(("n".into(), 1)));
    w.join("b0", "n", "text").unwrap();
    w.push().unwrap();
    r.pull().unwrap();
    assert_eq!(r.cursor("c").map(|c| (c.key.clone(), c.at)), Some(("b0".into(), 10)));
    assert_eq!(r.text("b0", "text"), Some("oh, hello world"));
}
