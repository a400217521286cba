//! Seeded random scenarios: random edits of every kind, and typists at their carets, each
//! checked for sanity (no typed word lost without a report, every word once and in order).

use std::collections::BTreeSet;

use nodesync_core::reference::Rng;
use pg_nodesync_client::sim::{boundaries, pick, random_place, word, KINDS};
use pg_nodesync_client::Rule;
use serde_json::{json, Value};

use crate::recorder::{self, Rec};
use crate::{create_op, logname, LW, SW};

/// The random scenarios, in the order they are stored.
pub fn cases() -> Vec<Rec> {
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
