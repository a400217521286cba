//! Operational transform of text (the client's rebase of `text` edits, docs/client.md "Text").
//!
//! A [`TextOp`] is one change of one string, in the usual component form: a walk over the old
//! text that retains, deletes and inserts code points, covering the whole old text. It is the
//! form in which splice lists ([`crate::text::Edit`], the wire form of the `text` op) are
//! composed, transformed and mapped; [`TextOp::from_splices`] and [`TextOp::to_splices`]
//! convert.
//!
//! # The rules (what the property tests below check)
//!
//! - [`transform`]`(a, b)` of two ops on the same text gives `(a', b')` with
//!   `b'(a(base)) == a'(b(base))`. `a` is the side that wins ties: **when both insert at the
//!   same offset, `a`'s text comes first**. The client passes the server's op as `a`, so the
//!   server's text comes first and the local text follows it.
//! - A character inserted on either side always survives the transform (the other side had
//!   not seen it, so it cannot have meant to delete it); each side's inserted text keeps its
//!   place among the characters that side saw.
//! - A character of the base survives unless either side deleted it; concurrent deletes of
//!   overlapping ranges delete the union, once.
//! - The client transforms over the server's ops one at a time, in log order, each committed
//!   op as a unit, so how the ops were grouped into pulls does not change the result.
//!   (Composing ops first would not always give the same ties: where one side deleted a range,
//!   the composition no longer says where inside it the other text was inserted.)
//! - [`TextOp::map`] maps an offset (a caret) through an op; with [`Assoc::After`] a caret at
//!   an offset where the op inserts ends up after the inserted text, which is where a local
//!   insert at that caret would go (the other side's text first). Mapping is monotone.
//! - [`diff`] turns a whole new value into an op: a minimal character diff (Myers, crate
//!   `similar`), each lone insert or delete slid sideways to the best word boundary. It never
//!   turns a kept character into a delete-and-reinsert, so a concurrent edit of that character
//!   is never undone.
//!
//! Every count is in Unicode code points, as in [`crate::text`].

use crate::text::{Edit, Misfit};

/// One component of a [`TextOp`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Comp {
    /// Keep the next `n` code points.
    Retain(usize),
    /// Insert this text here.
    Insert(String),
    /// Delete the next `n` code points.
    Delete(usize),
}

/// A change of one string: components covering the whole old text (`base_len` code points),
/// producing the new text (`target_len`). Kept canonical: no empty components, no two
/// adjacent components of one kind, and an insert before a delete at the same offset, so two
/// ops that do the same thing compare equal.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TextOp {
    comps: Vec<Comp>,
    base: usize,
    target: usize,
}

/// An op applied to (or combined with) a text or op of the wrong length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub expected: usize,
    pub got: usize,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a text op for {} code points met a text of {}", self.expected, self.got)
    }
}

impl std::error::Error for Mismatch {}

/// Which side of text inserted exactly at an offset the offset ends up on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assoc {
    /// Before the inserted text.
    Before,
    /// After the inserted text (a caret; the client's default).
    After,
}

fn clen(s: &str) -> usize {
    s.chars().count()
}

/// `s` split after `n` code points (all of `s` and "" if it is shorter).
fn split_str(s: &str, n: usize) -> (&str, &str) {
    crate::text::split_at(s, n).unwrap_or((s, ""))
}

impl TextOp {
    /// The empty op on the empty text; build with [`retain`](Self::retain),
    /// [`insert`](Self::insert), [`delete`](Self::delete).
    pub fn new() -> TextOp {
        TextOp::default()
    }

    /// Changes nothing in a text of `len` code points.
    pub fn identity(len: usize) -> TextOp {
        let mut op = TextOp::new();
        op.retain(len);
        op
    }

    /// Length (code points) of the text it applies to.
    pub fn base_len(&self) -> usize {
        self.base
    }

    /// Length (code points) of the text it produces.
    pub fn target_len(&self) -> usize {
        self.target
    }

    pub fn comps(&self) -> &[Comp] {
        &self.comps
    }

    /// True if it changes nothing.
    pub fn is_identity(&self) -> bool {
        self.comps.iter().all(|c| matches!(c, Comp::Retain(_)))
    }

    /// Code points it inserts.
    pub fn inserted(&self) -> usize {
        self.comps.iter().map(|c| if let Comp::Insert(s) = c { clen(s) } else { 0 }).sum()
    }

    /// Code points it deletes.
    pub fn deleted(&self) -> usize {
        self.comps.iter().map(|c| if let Comp::Delete(n) = c { *n } else { 0 }).sum()
    }

    pub fn retain(&mut self, n: usize) -> &mut Self {
        if n == 0 {
            return self;
        }
        self.base += n;
        self.target += n;
        if let Some(Comp::Retain(m)) = self.comps.last_mut() {
            *m += n;
        } else {
            self.comps.push(Comp::Retain(n));
        }
        self
    }

    pub fn insert(&mut self, s: &str) -> &mut Self {
        if s.is_empty() {
            return self;
        }
        self.target += clen(s);
        let n = self.comps.len();
        match self.comps.last_mut() {
            Some(Comp::Insert(t)) => t.push_str(s),
            Some(Comp::Delete(_)) => {
                // canonical: the insert goes before the delete at the same offset
                if n >= 2 {
                    if let Comp::Insert(t) = &mut self.comps[n - 2] {
                        t.push_str(s);
                        return self;
                    }
                }
                self.comps.insert(n - 1, Comp::Insert(s.to_string()));
            }
            _ => self.comps.push(Comp::Insert(s.to_string())),
        }
        self
    }

    pub fn delete(&mut self, n: usize) -> &mut Self {
        if n == 0 {
            return self;
        }
        self.base += n;
        if let Some(Comp::Delete(m)) = self.comps.last_mut() {
            *m += n;
        } else {
            self.comps.push(Comp::Delete(n));
        }
        self
    }

    fn push(&mut self, c: &Comp) {
        match c {
            Comp::Retain(n) => self.retain(*n),
            Comp::Insert(s) => self.insert(s),
            Comp::Delete(n) => self.delete(*n),
        };
    }

    /// One splice `[at, delete, insert]` on a text of `len` code points.
    pub fn splice(len: usize, e: &Edit) -> Result<TextOp, Misfit> {
        match e.at.checked_add(e.delete) {
            Some(end) if end <= len => {
                let mut op = TextOp::new();
                op.retain(e.at).insert(&e.insert).delete(e.delete).retain(len - end);
                Ok(op)
            }
            _ => Err(Misfit { index: 0, at: e.at, delete: e.delete, len }),
        }
    }

    /// A splice list (each applied to the result of the one before) on a text of `len` code
    /// points, as one op.
    pub fn from_splices(len: usize, edits: &[Edit]) -> Result<TextOp, Misfit> {
        let mut op = TextOp::identity(len);
        for (index, e) in edits.iter().enumerate() {
            let s = TextOp::splice(op.target, e).map_err(|m| Misfit { index, ..m })?;
            op = op.compose(&s).map_err(|_| Misfit { index, at: e.at, delete: e.delete, len: op.target })?;
        }
        Ok(op)
    }

    /// The same change as a splice list, left to right (the wire form of a `text` op). Empty
    /// for an identity.
    pub fn to_splices(&self) -> Vec<Edit> {
        let mut out = vec![];
        let mut pos = 0;
        let mut cur: Option<Edit> = None;
        for c in &self.comps {
            match c {
                Comp::Retain(n) => {
                    if let Some(e) = cur.take() {
                        pos += clen(&e.insert);
                        out.push(e);
                    }
                    pos += n;
                }
                Comp::Insert(s) => cur.get_or_insert_with(|| Edit::new(pos, 0, "")).insert.push_str(s),
                Comp::Delete(n) => cur.get_or_insert_with(|| Edit::new(pos, 0, "")).delete += n,
            }
        }
        if let Some(e) = cur {
            out.push(e);
        }
        out
    }

    /// Applies the op to `s`.
    pub fn apply(&self, s: &str) -> Result<String, Mismatch> {
        let n = clen(s);
        if n != self.base {
            return Err(Mismatch { expected: self.base, got: n });
        }
        let mut out = String::with_capacity(s.len());
        let mut it = s.chars();
        for c in &self.comps {
            match c {
                Comp::Retain(n) => out.extend(it.by_ref().take(*n)),
                Comp::Insert(t) => out.push_str(t),
                Comp::Delete(n) => {
                    for _ in 0..*n {
                        it.next();
                    }
                }
            }
        }
        Ok(out)
    }

    /// Applies the op to a sequence that has one element per code point (flags, ids):
    /// retained elements are kept, inserted positions get `fill`.
    pub fn apply_vec<T: Clone>(&self, v: &[T], fill: T) -> Result<Vec<T>, Mismatch> {
        if v.len() != self.base {
            return Err(Mismatch { expected: self.base, got: v.len() });
        }
        let mut out = Vec::with_capacity(self.target);
        let mut i = 0;
        for c in &self.comps {
            match c {
                Comp::Retain(n) => {
                    out.extend_from_slice(&v[i..i + n]);
                    i += n;
                }
                Comp::Insert(t) => out.extend(std::iter::repeat_n(fill.clone(), clen(t))),
                Comp::Delete(n) => i += n,
            }
        }
        Ok(out)
    }

    /// `self` then `other` as one op (`other` applies to `self`'s result).
    pub fn compose(&self, other: &TextOp) -> Result<TextOp, Mismatch> {
        if self.target != other.base {
            return Err(Mismatch { expected: other.base, got: self.target });
        }
        let mut out = TextOp::new();
        let mut a = self.comps.iter().cloned();
        let mut b = other.comps.iter().cloned();
        let (mut x, mut y) = (a.next(), b.next());
        loop {
            match (x.take(), y.take()) {
                (None, None) => break,
                (Some(Comp::Delete(n)), yy) => {
                    out.delete(n);
                    x = a.next();
                    y = yy;
                }
                (xx, Some(Comp::Insert(s))) => {
                    out.insert(&s);
                    x = xx;
                    y = b.next();
                }
                (None, Some(_)) | (Some(_), None) => return Err(Mismatch { expected: other.base, got: self.target }),
                (Some(Comp::Retain(n)), Some(Comp::Retain(m))) => {
                    let k = n.min(m);
                    out.retain(k);
                    x = if n > k { Some(Comp::Retain(n - k)) } else { a.next() };
                    y = if m > k { Some(Comp::Retain(m - k)) } else { b.next() };
                }
                (Some(Comp::Retain(n)), Some(Comp::Delete(m))) => {
                    let k = n.min(m);
                    out.delete(k);
                    x = if n > k { Some(Comp::Retain(n - k)) } else { a.next() };
                    y = if m > k { Some(Comp::Delete(m - k)) } else { b.next() };
                }
                (Some(Comp::Insert(s)), Some(Comp::Retain(m))) => {
                    let n = clen(&s);
                    let k = n.min(m);
                    let (head, tail) = split_str(&s, k);
                    out.insert(head);
                    x = if n > k { Some(Comp::Insert(tail.to_string())) } else { a.next() };
                    y = if m > k { Some(Comp::Retain(m - k)) } else { b.next() };
                }
                (Some(Comp::Insert(s)), Some(Comp::Delete(m))) => {
                    let n = clen(&s);
                    let k = n.min(m);
                    let (_, tail) = split_str(&s, k);
                    x = if n > k { Some(Comp::Insert(tail.to_string())) } else { a.next() };
                    y = if m > k { Some(Comp::Delete(m - k)) } else { b.next() };
                }
            }
        }
        Ok(out)
    }

    /// This op on a text, as an op on `prefix` code points, then that text, then `suffix`
    /// code points (the others unchanged). Used when blocks are joined.
    pub fn padded(&self, prefix: usize, suffix: usize) -> TextOp {
        let mut out = TextOp::identity(prefix);
        for c in &self.comps {
            out.push(c);
        }
        out.retain(suffix);
        out
    }

    /// Splits the op at offset `at` of the old text into an op on the first `at` code points
    /// and an op on the rest. Text inserted exactly at `at` goes to the right part if
    /// `inserts_right`, else to the left part. Used when a block is split.
    pub fn cut(&self, at: usize, inserts_right: bool) -> Result<(TextOp, TextOp), Mismatch> {
        if at > self.base {
            return Err(Mismatch { expected: self.base, got: at });
        }
        let (mut left, mut right) = (TextOp::new(), TextOp::new());
        let mut pos = 0;
        for c in &self.comps {
            match c {
                Comp::Insert(s) => {
                    if pos < at || (pos == at && !inserts_right) {
                        left.insert(s);
                    } else {
                        right.insert(s);
                    }
                }
                Comp::Retain(n) | Comp::Delete(n) => {
                    let n = *n;
                    let l = if pos >= at { 0 } else { n.min(at - pos) };
                    let r = n - l;
                    if let Comp::Retain(_) = c {
                        left.retain(l);
                        right.retain(r);
                    } else {
                        left.delete(l);
                        right.delete(r);
                    }
                    pos += n;
                }
            }
        }
        Ok((left, right))
    }

    /// Where offset `pos` of the old text is in the new text. A `pos` inside a deleted range
    /// maps to where the range was; at an offset where text is inserted, `assoc` says which
    /// side of it. `pos` past the end is taken as the end.
    pub fn map(&self, pos: usize, assoc: Assoc) -> usize {
        let pos = pos.min(self.base);
        let (mut c, mut o) = (0usize, 0usize);
        for comp in &self.comps {
            match comp {
                Comp::Retain(n) => {
                    if pos < c + n {
                        return o + (pos - c);
                    }
                    c += n;
                    o += n;
                }
                Comp::Insert(s) => {
                    if pos == c && assoc == Assoc::Before {
                        return o;
                    }
                    o += clen(s);
                }
                Comp::Delete(n) => {
                    if pos < c + n {
                        // inside (or at the start of) a deleted range; text inserted at this
                        // offset came before the delete (canonical order), so it is counted
                        return o;
                    }
                    c += n;
                }
            }
        }
        o
    }
}

/// Transforms two ops on the same text: `b'` applies after `a`, `a'` after `b`, and
/// `b'(a(base)) == a'(b(base))`. At equal offsets `a`'s inserted text comes first.
pub fn transform(a: &TextOp, b: &TextOp) -> Result<(TextOp, TextOp), Mismatch> {
    if a.base != b.base {
        return Err(Mismatch { expected: a.base, got: b.base });
    }
    let (mut ap, mut bp) = (TextOp::new(), TextOp::new());
    let mut ia = a.comps.iter().cloned();
    let mut ib = b.comps.iter().cloned();
    let (mut x, mut y) = (ia.next(), ib.next());
    loop {
        match (x.take(), y.take()) {
            (None, None) => break,
            (Some(Comp::Insert(s)), yy) => {
                bp.retain(clen(&s));
                ap.insert(&s);
                x = ia.next();
                y = yy;
            }
            (xx, Some(Comp::Insert(s))) => {
                ap.retain(clen(&s));
                bp.insert(&s);
                x = xx;
                y = ib.next();
            }
            (None, Some(_)) | (Some(_), None) => return Err(Mismatch { expected: a.base, got: b.base }),
            // both are retains or deletes here (inserts are taken above)
            (Some(p), Some(q)) => {
                let len = |c: &Comp| match c {
                    Comp::Retain(n) | Comp::Delete(n) => *n,
                    Comp::Insert(_) => 0,
                };
                let (n, m) = (len(&p), len(&q));
                let k = n.min(m);
                match (&p, &q) {
                    (Comp::Retain(_), Comp::Retain(_)) => {
                        ap.retain(k);
                        bp.retain(k);
                    }
                    (Comp::Delete(_), Comp::Retain(_)) => {
                        ap.delete(k);
                    }
                    (Comp::Retain(_), Comp::Delete(_)) => {
                        bp.delete(k);
                    }
                    _ => {} // both deleted: gone once
                }
                let rest = |c: &Comp, left: usize| match c {
                    Comp::Retain(_) => Comp::Retain(left),
                    _ => Comp::Delete(left),
                };
                x = if n > k { Some(rest(&p, n - k)) } else { ia.next() };
                y = if m > k { Some(rest(&q, m - k)) } else { ib.next() };
            }
        }
    }
    Ok((ap, bp))
}

/// How good a place the boundary between `left` and `right` is for an edit to start or end
/// (diff-match-patch's semantic score): 6 at the ends, 5 a blank line, 4 a line break, 3 the
/// end of a sentence, 2 whitespace, 1 other punctuation, 0 inside a word.
fn boundary_score(left: &[char], right: &[char]) -> u32 {
    let (Some(&a), Some(&b)) = (left.last(), right.first()) else { return 6 };
    let na = !a.is_alphanumeric();
    let nb = !b.is_alphanumeric();
    let wa = na && a.is_whitespace();
    let wb = nb && b.is_whitespace();
    let la = wa && (a == '\n' || a == '\r');
    let lb = wb && (b == '\n' || b == '\r');
    let blank_a = la && left.len() >= 2 && left[left.len() - 2] == '\n';
    let blank_b = lb && right.len() >= 2 && right[1] == '\n';
    if blank_a || blank_b {
        5
    } else if la || lb {
        4
    } else if na && !wa && wb {
        3
    } else if wa || wb {
        2
    } else if na || nb {
        1
    } else {
        0
    }
}

/// One run of a diff in chars: kept, deleted or inserted.
#[derive(Debug, Clone, PartialEq)]
enum Run {
    Eq(Vec<char>),
    Del(Vec<char>),
    Ins(Vec<char>),
}

/// Slides each lone insert or delete (kept text on both sides) to the best-scoring word
/// boundary. Lossless: the runs spell the same old and new texts afterwards.
fn slide_to_boundaries(runs: &mut [Run]) {
    for i in 1..runs.len().saturating_sub(1) {
        let (Run::Eq(l), Run::Eq(r)) = (&runs[i - 1], &runs[i + 1]) else { continue };
        let e = match &runs[i] {
            Run::Del(e) | Run::Ins(e) => e.clone(),
            Run::Eq(_) => continue,
        };
        let (mut l, mut e, mut r) = (l.clone(), e, r.clone());
        // slide as far left as the text allows
        while let (Some(&a), Some(&b)) = (l.last(), e.last()) {
            if a != b {
                break;
            }
            l.pop();
            e.pop();
            e.insert(0, a);
            r.insert(0, b);
        }
        // then step right, keeping the best place (the first of equal ones)
        let (mut best, mut best_score) = ((l.clone(), e.clone(), r.clone()), boundary_score(&l, &e) + boundary_score(&e, &r));
        while let (Some(&a), Some(&b)) = (e.first(), r.first()) {
            if a != b {
                break;
            }
            l.push(a);
            e.remove(0);
            e.push(b);
            r.remove(0);
            let s = boundary_score(&l, &e) + boundary_score(&e, &r);
            if s > best_score {
                best_score = s;
                best = (l.clone(), e.clone(), r.clone());
            }
        }
        let (l, e, r) = best;
        runs[i - 1] = Run::Eq(l);
        runs[i] = match runs[i] {
            Run::Del(_) => Run::Del(e),
            _ => Run::Ins(e),
        };
        runs[i + 1] = Run::Eq(r);
    }
}

/// The op that turns `old` into `new`: a minimal character diff (Myers), each lone insert or
/// delete slid to a word boundary. Inputs whose changed middles are long (over 20,000 code
/// points together) get a time limit of 50 ms and then may get a longer, still exact, op.
pub fn diff(old: &str, new: &str) -> TextOp {
    let a: Vec<char> = old.chars().collect();
    let b: Vec<char> = new.chars().collect();
    let pre = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suf = a[pre..].iter().rev().zip(b[pre..].iter().rev()).take_while(|(x, y)| x == y).count();
    let (am, bm) = (&a[pre..a.len() - suf], &b[pre..b.len() - suf]);
    let mut runs = vec![Run::Eq(a[..pre].to_vec())];
    if am.is_empty() && bm.is_empty() {
        // equal
    } else if am.is_empty() {
        runs.push(Run::Ins(bm.to_vec()));
    } else if bm.is_empty() {
        runs.push(Run::Del(am.to_vec()));
    } else {
        let deadline = (am.len() + bm.len() > 20_000).then(|| std::time::Instant::now() + std::time::Duration::from_millis(50));
        for d in similar::capture_diff_slices_deadline(similar::Algorithm::Myers, am, bm, deadline) {
            match d {
                similar::DiffOp::Equal { old_index, len, .. } => runs.push(Run::Eq(am[old_index..old_index + len].to_vec())),
                similar::DiffOp::Delete { old_index, old_len, .. } => runs.push(Run::Del(am[old_index..old_index + old_len].to_vec())),
                similar::DiffOp::Insert { new_index, new_len, .. } => runs.push(Run::Ins(bm[new_index..new_index + new_len].to_vec())),
                similar::DiffOp::Replace { old_index, old_len, new_index, new_len } => {
                    runs.push(Run::Del(am[old_index..old_index + old_len].to_vec()));
                    runs.push(Run::Ins(bm[new_index..new_index + new_len].to_vec()));
                }
            }
        }
    }
    runs.push(Run::Eq(a[a.len() - suf..].to_vec()));
    // merge neighbours of one kind so lone edits are seen as such
    let mut merged: Vec<Run> = vec![];
    for r in runs {
        match (merged.last_mut(), r) {
            (Some(Run::Eq(x)), Run::Eq(y)) => x.extend(y),
            (Some(Run::Del(x)), Run::Del(y)) => x.extend(y),
            (Some(Run::Ins(x)), Run::Ins(y)) => x.extend(y),
            (_, r) => merged.push(r),
        }
    }
    slide_to_boundaries(&mut merged);
    let mut op = TextOp::new();
    for r in merged {
        match r {
            Run::Eq(x) => op.retain(x.len()),
            Run::Del(x) => op.delete(x.len()),
            Run::Ins(x) => op.insert(&x.into_iter().collect::<String>()),
        };
    }
    op
}

#[cfg(test)]
mod tests;
