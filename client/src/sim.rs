//! Simulated editors for the convergence tests and the demo: random local edits of every kind
//! (creates, prop and kind updates, moves, subtree deletes, typed words, Enter and Backspace),
//! each carrying a unique token so a test can follow it to the server; [`Typist`]s that type
//! unique words at their own cursor; and [`ModelServer`], the reference model of SPEC as an
//! in-memory server for tests without Postgres.

use std::collections::BTreeSet;

use nodesync_core::reference::{Applied, Model, Rng};
use nodesync_core::patch::{parse, Limits, Patch, Place, ROOT};
use serde_json::{json, Map, Value};

use crate::blocks::text_of;
use crate::rebase::{Dropped, Policy};
use crate::tree::{Node, Tree};
use crate::workspace::Workspace;
use crate::{Error, Replica};

/// One local edit made by [`random_edit`].
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    /// A node created with `props` (kind included as `"@kind"` for the ledger).
    Create { key: String, props: Map<String, Value> },
    /// `prop` set to `value` (`Value::Null`: removed); `"@kind"` for a kind change.
    Set { key: String, prop: String, value: Value },
    Move { key: String, parent: String },
    /// `key` deleted with `subtree` (all keys, `key` included).
    Delete { key: String, subtree: Vec<String> },
    /// `word` typed into the `"text"` of `key` (with `splice`, or with a whole-value
    /// `update` if `whole`).
    Type { key: String, word: String, whole: bool },
    /// `key` split (Enter) into `key` and `new`.
    Split { key: String, new: String },
    /// `next` joined into `key` (Backspace at the start of `next`); `kept` is the joined block.
    Join { key: String, next: String, kept: String },
}

pub const KINDS: [&str; 5] = ["para", "heading", "list", "item", "quote"];

/// Key of the section whose subtree [`random_edit`] leaves to typists.
pub const SHARED: &str = "shared";

/// A random element of `v` (None if empty).
pub fn pick<'a>(rng: &mut Rng, v: &'a [String]) -> Option<&'a String> {
    if v.is_empty() {
        None
    } else {
        Some(&v[rng.below(v.len() as u32) as usize])
    }
}

/// A random place among `kids` (first, last, or after one of them other than `not`).
pub fn random_place(rng: &mut Rng, kids: &[String], not: &str) -> Place {
    let kids: Vec<String> = kids.iter().filter(|k| k.as_str() != not).cloned().collect();
    match rng.below(4) {
        0 => Place::First,
        1 => Place::Last,
        _ => pick(rng, &kids).map_or(Place::Last, |a| Place::After(a.clone())),
    }
}

/// The word a token stands for in text: `[token]` (brackets keep `[t1]` from matching inside
/// `[t12]`, and keep words whole when blocks are joined without a space).
pub fn word(token: &str) -> String {
    format!("[{token}]")
}

/// Offsets (code points) of `text` where a word may go: the ends, and next to a space.
pub fn boundaries(text: &str) -> Vec<usize> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = vec![0];
    let mut depth = 0i32;
    for (i, c) in chars.iter().enumerate() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            _ => {}
        }
        if depth <= 0 && (c == &' ' || c == &']' || chars.get(i + 1) == Some(&' ') || chars.get(i + 1) == Some(&'[')) {
            out.push(i + 1);
        }
    }
    out.push(chars.len());
    out.sort_unstable();
    out.dedup();
    out
}

/// Inserts ` word` at `at` in the `"text"` of `key`: with `splice`, or with a whole-value
/// `update` (the workspace diffs it into splices) if `whole`.
pub fn type_word(rep: &mut Workspace, key: &str, at: usize, w: &str, whole: bool) -> Option<()> {
    let cur = rep.text(key, "text")?.to_string();
    let ins = format!(" {w}");
    if whole {
        let (h, t) = nodesync_core::text::split_at(&cur, at)?;
        let mut delta = Map::new();
        delta.insert("text".into(), json!(format!("{h}{ins}{t}")));
        rep.update(key, None, delta).ok()
    } else {
        rep.splice(key, "text", at, 0, &ins).ok()
    }
}

fn in_shared(t: &Tree, k: &str) -> bool {
    t.is_descendant_or_self(k, SHARED)
}

/// Makes one random local edit on `rep`. `token` is unique per edit; `target` is the document
/// size the editor steers towards (more creates below it, more deletes above). The subtree of
/// [`SHARED`] is left alone.
pub fn random_edit(rep: &mut Workspace, rng: &mut Rng, token: &str, target: usize) -> Option<Edit> {
    let keys: Vec<String> = rep.tree().nodes.keys().filter(|k| !in_shared(rep.tree(), k)).cloned().collect();
    let non_root: Vec<String> = keys.iter().filter(|k| k.as_str() != ROOT).cloned().collect();
    let size = keys.len();
    let roll = rng.below(100);
    let (p_create, p_delete) = if size < target / 2 { (55, 5) } else if size > target * 3 / 2 { (15, 30) } else { (28, 12) };
    if roll < p_create || non_root.is_empty() {
        // create, under a shallow node
        let mut parent = pick(rng, &keys)?.clone();
        while rep.tree().path(&parent).len() >= 4 {
            parent = rep.tree().parent(&parent).unwrap_or(ROOT).to_string();
        }
        let place = random_place(rng, rep.children(&parent), SHARED);
        let kind = KINDS[rng.below(KINDS.len() as u32) as usize];
        let mut props = Map::new();
        props.insert("text".into(), json!(word(token)));
        let key = rep.create(&parent, place, kind, props.clone()).ok()?;
        props.insert("@kind".into(), json!(kind));
        return Some(Edit::Create { key, props });
    }
    let roll = roll - p_create;
    if roll < p_delete {
        // delete: a node whose subtree is a small part of the document (often a leaf, sometimes
        // a few nodes)
        for _ in 0..6 {
            let k = pick(rng, &non_root)?.clone();
            let subtree = rep.tree().subtree(&k);
            if subtree.len() <= (size / 25).max(3) {
                rep.delete(&k).ok()?;
                return Some(Edit::Delete { key: k, subtree });
            }
        }
        return None;
    }
    let roll = roll - p_delete;
    if roll < 18 {
        // move
        let k = pick(rng, &non_root)?.clone();
        for _ in 0..4 {
            let p = pick(rng, &keys)?.clone();
            if rep.tree().is_descendant_or_self(&p, &k) || rep.tree().path(&p).len() >= 4 {
                continue;
            }
            let place = random_place(rng, rep.children(&p), &k);
            if matches!(&place, Place::After(a) if a == SHARED) {
                continue;
            }
            rep.move_to(&k, &p, place).ok()?;
            return Some(Edit::Move { key: k, parent: p });
        }
        return None;
    }
    // update: typed words, Enter, Backspace, a non-string value, removing it, or the kind
    let k = pick(rng, &keys)?.clone();
    let node = rep.get(&k)?.clone();
    let is_text = text_of(&node, "text").is_some();
    let (prop, value) = match rng.below(12) {
        0..=4 if is_text => {
            let text = rep.text(&k, "text")?.to_string();
            let b = boundaries(&text);
            let at = b[rng.below(b.len() as u32) as usize];
            let w = word(token);
            let whole = rng.below(3) == 0;
            type_word(rep, &k, at, &w, whole)?;
            return Some(Edit::Type { key: k, word: w, whole });
        }
        5 if is_text && k != ROOT => {
            let text = rep.text(&k, "text")?.to_string();
            let b = boundaries(&text);
            let at = b[rng.below(b.len() as u32) as usize];
            let new = rep.fresh_key();
            rep.split(&k, "text", at, &new).ok()?;
            return Some(Edit::Split { key: k, new });
        }
        6 if is_text && k != ROOT => {
            let p = rep.tree().parent(&k)?.to_string();
            let kids = rep.children(&p).to_vec();
            let i = kids.iter().position(|c| c == &k)?;
            let next = kids.get(i + 1)?.clone();
            if in_shared(rep.tree(), &next) || rep.text(&next, "text").is_none() {
                return None;
            }
            let kept = rep.join(&k, &next, "text").ok()?;
            return Some(Edit::Join { key: k, next, kept });
        }
        7..=8 => ("n".to_string(), json!([token])),
        9 if node.props.contains_key("n") => ("n".to_string(), Value::Null),
        _ if k != ROOT => {
            let others: Vec<&str> = KINDS.iter().copied().filter(|x| *x != node.kind).collect();
            let kind = others[rng.below(others.len() as u32) as usize];
            rep.update(&k, Some(kind), Map::new()).ok()?;
            return Some(Edit::Set { key: k, prop: "@kind".into(), value: json!(kind) });
        }
        _ => ("n".to_string(), json!([token])),
    };
    let mut delta = Map::new();
    delta.insert(prop.clone(), value.clone());
    rep.update(&k, None, delta).ok()?;
    Some(Edit::Set { key: k, prop, value })
}

/// A starting document: `sections` headings under the root, `size` nodes in all.
pub fn seed_patch(size: usize) -> Value {
    let sections = (size / 12).clamp(1, 40);
    let mut ops = vec![];
    for s in 0..sections {
        ops.push(json!({"op": "create", "key": format!("s{s}"), "kind": "heading", "parent": ROOT, "props": {"text": format!("Section {s}")}}));
    }
    for i in 0..size.saturating_sub(sections + 1) {
        ops.push(json!({"op": "create", "key": format!("p{i}"), "kind": "para", "parent": format!("s{}", i % sections), "props": {"text": format!("paragraph {i}")}}));
    }
    json!({"ops": ops})
}

/// A patch creating the [`SHARED`] section with `paras` paragraphs `shared.0`, ... holding
/// `text`, for typists.
pub fn shared_patch(paras: usize, text: &str) -> Value {
    let mut ops = vec![json!({"op": "create", "key": SHARED, "kind": "section", "parent": ROOT, "after": null, "props": {"text": "Shared"}})];
    for i in 0..paras {
        ops.push(json!({"op": "create", "key": format!("{SHARED}.{i}"), "kind": "para", "parent": SHARED, "props": {"text": text}}));
    }
    json!({"ops": ops})
}

// ------------------------------------------------------------------------------ typists

/// The text of the blocks under `parent`, in order, joined with `"\n"`.
pub fn blocks_text(t: &Tree, parent: &str) -> String {
    t.children(parent).iter().filter_map(|c| t.get(c).and_then(|n| text_of(n, "text"))).collect::<Vec<_>>().join("\n")
}

/// Occurrences of `needle` in `hay`.
pub fn count(hay: &str, needle: &str) -> usize {
    hay.matches(needle).count()
}

/// What a typist does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stroke {
    /// A word at the cursor.
    Word,
    /// Erase one of its own earlier words.
    Erase,
    /// Enter at the cursor.
    Enter,
    /// Backspace at the start of the cursor's block (join it into the one before).
    JoinUp,
}

/// Someone typing unique words at their own cursor (named `"caret"`) in the blocks under
/// `parent`: words `[<id>.<n>]`, each with a space before it, typed with `splice` or (if
/// `whole`) as a whole-value `update`. Records what it typed and erased, in order.
#[derive(Debug, Clone)]
pub struct Typist {
    pub id: String,
    pub parent: String,
    pub whole: bool,
    /// Every word typed, in typing order.
    pub typed: Vec<String>,
    /// Words this typist erased again.
    pub erased: BTreeSet<String>,
    /// Code points typed (words and their spaces), and erased again.
    pub keystrokes: u64,
    pub erased_keystrokes: u64,
    pub splits: u64,
    pub joins: u64,
    n: u64,
}

impl Typist {
    /// Starts a typist whose cursor is at `at` of block `key`.
    pub fn new(ws: &mut Workspace, id: &str, parent: &str, key: &str, at: usize, whole: bool) -> Typist {
        ws.set_cursor("caret", key, "text", at);
        Typist { id: id.to_string(), parent: parent.to_string(), whole, typed: vec![], erased: BTreeSet::new(), keystrokes: 0, erased_keystrokes: 0, splits: 0, joins: 0, n: 0 }
    }

    /// Words typed and not erased, in typing order.
    pub fn kept(&self) -> Vec<String> {
        self.typed.iter().filter(|w| !self.erased.contains(*w)).cloned().collect()
    }

    /// Does one stroke; false if it could not (e.g. no earlier word to erase).
    pub fn stroke(&mut self, ws: &mut Workspace, rng: &mut Rng, s: Stroke) -> bool {
        let Some(c) = ws.cursor("caret").cloned() else { return false };
        match s {
            Stroke::Word => {
                self.n += 1;
                let w = word(&format!("{}.{}", self.id, self.n));
                if type_word(ws, &c.key, c.at, &w, self.whole).is_none() {
                    return false;
                }
                let len = w.chars().count() + 1;
                if self.whole {
                    ws.set_cursor("caret", &c.key, "text", c.at + len);
                }
                self.keystrokes += len as u64;
                self.typed.push(w);
                true
            }
            Stroke::Erase => {
                let present: Vec<String> = self.kept().into_iter().filter(|w| ws.tree().nodes.keys().any(|k| ws.text(k, "text").is_some_and(|t| t.contains(w.as_str())))).collect();
                let Some(w) = pick(rng, &present).cloned() else { return false };
                let Some(k) = ws.tree().nodes.keys().find(|k| ws.text(k, "text").is_some_and(|t| t.contains(w.as_str()))).cloned() else { return false };
                let Some(t) = ws.text(&k, "text").map(str::to_string) else { return false };
                let Some(b) = t.find(w.as_str()) else { return false };
                let mut at = t[..b].chars().count();
                let mut len = w.chars().count();
                if t[..b].ends_with(' ') {
                    at -= 1;
                    len += 1;
                }
                let ok = if self.whole {
                    let mut v = t.clone();
                    let start = b - (len - w.chars().count());
                    v.replace_range(start..b + w.len(), "");
                    let cur = ws.cursor("caret").cloned();
                    let mut delta = Map::new();
                    delta.insert("text".into(), json!(v));
                    let r = ws.update(&k, None, delta).is_ok();
                    // the app knows where its caret is: left of the erased word if after it
                    if let Some(c) = cur {
                        if c.key == k && c.at >= at + len {
                            ws.set_cursor("caret", &k, "text", c.at - len);
                        } else if c.key == k && c.at > at {
                            ws.set_cursor("caret", &k, "text", at);
                        }
                    }
                    r
                } else {
                    ws.splice(&k, "text", at, len, "").is_ok()
                };
                if ok {
                    self.erased.insert(w);
                    self.erased_keystrokes += len as u64;
                }
                ok
            }
            Stroke::Enter => {
                let new = ws.fresh_key();
                if ws.split(&c.key, "text", c.at, &new).is_err() {
                    return false;
                }
                self.splits += 1;
                true
            }
            Stroke::JoinUp => {
                let kids = ws.children(&self.parent).to_vec();
                let Some(i) = kids.iter().position(|k| k == &c.key) else { return false };
                if i == 0 {
                    return false;
                }
                if ws.join(&kids[i - 1], &c.key, "text").is_err() {
                    return false;
                }
                self.joins += 1;
                true
            }
        }
    }
}

/// Pushes until it goes through: a push that keeps conflicting ([`Error::Contention`]) is
/// started again, up to 20 times (typists at quiescence).
pub fn push_hard(r: &mut Replica) -> Result<(), String> {
    for _ in 0..20 {
        match r.push() {
            Ok(_) => return Ok(()),
            Err(Error::Contention { .. }) => continue,
            Err(e) => return Err(format!("push: {e}")),
        }
    }
    Err("push: contention did not clear after 20 rounds".into())
}

/// Checks the typists' words in `text`: each kept word exactly once, each erased word absent,
/// each typist's kept words in typing order. Returns what is wrong.
pub fn check_words(text: &str, typists: &[Typist]) -> Result<(), String> {
    for t in typists {
        let mut last = None;
        for w in &t.typed {
            let n = count(text, w);
            if t.erased.contains(w) {
                if n != 0 {
                    return Err(format!("{}: erased word {w} is present {n} times", t.id));
                }
                continue;
            }
            if n != 1 {
                return Err(format!("{}: word {w} is present {n} times (want 1)", t.id));
            }
            let at = text.find(w.as_str());
            if at < last {
                return Err(format!("{}: word {w} is before an earlier word of the same typist", t.id));
            }
            last = at;
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------------ model server

/// A commit's gen and apply_patch's `versions`.
pub type Committed = (i64, Map<String, Value>);

/// The reference model of SPEC (`nodesync_core::reference`) as an in-memory server with a change
/// log, for tests of workspaces without Postgres.
pub struct ModelServer {
    pub model: Model,
    /// Every committed patch with its gen.
    pub log: Vec<(i64, Patch)>,
    /// Hand the log to rebases (else they diff, as below the horizon).
    pub with_log: bool,
}

impl Default for ModelServer {
    fn default() -> Self {
        Self::new()
    }
}

impl ModelServer {
    pub fn new() -> ModelServer {
        ModelServer { model: Model::new("doc", Map::new()), log: vec![], with_log: true }
    }

    /// The current state as a client tree.
    pub fn tree(&self) -> Tree {
        let d = self.model.current();
        let mut t = Tree { gen: d.gen, nodes: Default::default() };
        for (k, n) in &d.nodes {
            t.nodes.insert(
                k.clone(),
                Node { kind: n.kind.clone(), props: n.props.clone(), parent: n.parent.clone(), children: n.children.clone(), version: n.version, gen: n.gen, pos: None },
            );
        }
        t
    }

    /// The committed patches after `gen`.
    pub fn since(&self, gen: i64) -> Vec<(i64, Patch)> {
        self.log.iter().filter(|(g, _)| *g > gen).cloned().collect()
    }

    /// Applies a patch given as JSON: `Ok(Some(gen))` committed, `Ok(None)` refused
    /// (conflict), `Err` invalid or empty.
    pub fn apply(&mut self, patch: &Value) -> Result<Option<i64>, String> {
        Ok(self.commit(patch)?.map(|(gen, _)| gen))
    }

    /// [`ModelServer::apply`] with apply_patch's `versions` of a commit.
    pub fn commit(&mut self, patch: &Value) -> Result<Option<Committed>, String> {
        let p = parse(patch, &Limits::default()).map_err(|e| format!("invalid patch {patch}: {e}"))?;
        match self.model.apply(&p) {
            Applied::Committed { gen, versions } => {
                self.log.push((gen, p));
                Ok(Some((gen, versions.into_iter().map(|(k, v)| (k, Value::from(v))).collect())))
            }
            Applied::Refused(_) => Ok(None),
            Applied::Empty { .. } => Err("empty patch".into()),
            Applied::Invalid(i) => Err(format!("patch {patch} is invalid at op {i} (a text edit that does not fit)")),
        }
    }

    /// Pushes `ws`'s edits: sends, and on a conflict rebases and sends again, at most
    /// `attempts` times. Returns what rebases dropped; `Err` for an invalid patch or no
    /// success.
    pub fn push(&mut self, ws: &mut Workspace, policy: Policy, attempts: u32) -> Result<Vec<Dropped>, String> {
        let mut dropped = vec![];
        for _ in 0..attempts {
            let patch = ws.patch();
            if patch.ops.is_empty() {
                ws.forget_noop_edits();
                return Ok(dropped);
            }
            let old = ws.shadow().gen;
            match self.commit(&patch.to_json())? {
                Some((gen, versions)) => {
                    // as a Replica does: the new state known without reading it, when it is
                    if ws.committed_alone(&patch, gen, &versions) {
                        if ws.shadow() != &self.tree() || ws.tree() != ws.shadow() {
                            return Err(format!("after the commit at gen {gen} the workspace's shadow is not the server's state"));
                        }
                        return Ok(dropped);
                    }
                    let log = self.since(old);
                    ws.committed_with(self.tree(), self.with_log.then_some(log.as_slice()), gen);
                    return Ok(dropped);
                }
                None => dropped.extend(self.pull(ws, policy)),
            }
        }
        Err(format!("no commit after {attempts} attempts"))
    }

    /// Brings `ws` up to date (a rebase of its local edits).
    pub fn pull(&self, ws: &mut Workspace, policy: Policy) -> Vec<Dropped> {
        if ws.shadow().gen == self.model.gen() {
            return vec![];
        }
        let log = self.since(ws.shadow().gen);
        ws.rebase_with(self.tree(), self.with_log.then_some(log.as_slice()), policy).1
    }
}
