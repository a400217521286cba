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
mod tests {
    use super::*;
    use crate::text::apply;
    use proptest::prelude::*;

    fn op(len: usize, edits: &[(usize, usize, &str)]) -> TextOp {
        let e: Vec<Edit> = edits.iter().map(|(a, d, i)| Edit::new(*a, *d, *i)).collect();
        TextOp::from_splices(len, &e).unwrap()
    }

    #[test]
    fn splices_round_trip_and_canonical_form() {
        let o = op(11, &[(5, 0, ","), (0, 1, "H")]);
        assert_eq!(o.apply("hello world").unwrap(), "Hello, world");
        assert_eq!(o.to_splices(), [Edit::new(0, 1, "H"), Edit::new(5, 0, ",")]);
        assert_eq!(apply("hello world", &o.to_splices()).unwrap(), "Hello, world");
        // delete then insert at one offset == insert then delete
        let mut x = TextOp::new();
        x.retain(1).delete(2).insert("é😀").retain(1);
        let mut y = TextOp::new();
        y.retain(1).insert("é😀").delete(2).retain(1);
        assert_eq!(x, y);
        assert_eq!(x.to_splices(), [Edit::new(1, 2, "é😀")]);
        assert!(TextOp::identity(4).to_splices().is_empty());
        assert!(TextOp::from_splices(2, &[Edit::new(1, 2, "")]).is_err());
        let e = TextOp::from_splices(3, &[Edit::new(0, 3, ""), Edit::new(1, 0, "x")]).unwrap_err();
        assert_eq!((e.index, e.len), (1, 0));
    }

    #[test]
    fn server_text_first_at_ties() {
        // both type at the end of "Hi": the server's (a) text comes first
        let a = op(2, &[(2, 0, " there")]);
        let b = op(2, &[(2, 0, "!")]);
        let (ap, bp) = transform(&a, &b).unwrap();
        assert_eq!(bp.apply(&a.apply("Hi").unwrap()).unwrap(), "Hi there!");
        assert_eq!(ap.apply(&b.apply("Hi").unwrap()).unwrap(), "Hi there!");
    }

    #[test]
    fn typing_inside_a_deleted_range_survives_and_deletes_take_the_union() {
        let base = "the quick brown fox";
        let a = op(19, &[(4, 6, "")]); // server deletes "quick "
        let b = op(19, &[(7, 0, "XY"), (14, 3, "")]); // local types in "quick", deletes "own"
        let (ap, bp) = transform(&a, &b).unwrap();
        let r1 = bp.apply(&a.apply(base).unwrap()).unwrap();
        let r2 = ap.apply(&b.apply(base).unwrap()).unwrap();
        assert_eq!(r1, r2);
        assert_eq!(r1, "the XYbr fox");
        // overlapping deletes: union once
        let a = op(10, &[(2, 4, "")]);
        let b = op(10, &[(4, 4, "")]);
        let (ap, bp) = transform(&a, &b).unwrap();
        assert_eq!(bp.apply(&a.apply("0123456789").unwrap()).unwrap(), "0189");
        assert_eq!(ap.apply(&b.apply("0123456789").unwrap()).unwrap(), "0189");
    }

    #[test]
    fn cursor_maps_after_inserts_and_into_deleted_ranges() {
        let a = op(5, &[(5, 0, " world"), (1, 2, "")]); // "hello" -> "hlo world"
        assert_eq!(a.apply("hello").unwrap(), "hlo world");
        assert_eq!(a.map(5, Assoc::After), 9);
        assert_eq!(a.map(5, Assoc::Before), 3);
        assert_eq!(a.map(2, Assoc::After), 1);
        assert_eq!(a.map(0, Assoc::After), 0);
        assert_eq!(a.map(99, Assoc::After), 9);
    }

    #[test]
    fn cut_and_pad() {
        let o = op(6, &[(3, 0, "X"), (0, 0, "A"), (5, 2, "")]); // on "abcdef"
        assert_eq!(o.apply("abcdef").unwrap(), "AabcXf");
        let (l, r) = o.cut(3, true).unwrap();
        assert_eq!((l.apply("abc").unwrap(), r.apply("def").unwrap()), ("Aabc".to_string(), "Xf".to_string()));
        let (l, r) = o.cut(3, false).unwrap();
        assert_eq!((l.apply("abc").unwrap(), r.apply("def").unwrap()), ("AabcX".to_string(), "f".to_string()));
        assert_eq!(o.padded(2, 1).apply("--abcdef+").unwrap(), "--AabcXf+");
    }

    #[test]
    fn diff_keeps_words_whole() {
        // a word typed between two words: the insert sits at a word boundary, not inside "w4"
        let d = diff("w3 w4 w6", "w3 w5 w4 w6");
        assert_eq!(d.apply("w3 w4 w6").unwrap(), "w3 w5 w4 w6");
        let s = d.to_splices();
        assert_eq!(s.len(), 1);
        assert!(s[0].insert == " w5" || s[0].insert == "w5 ", "{s:?}");
        // so that the author deleting " w4" meanwhile does not break "w5"
        let server = op(8, &[(2, 3, "")]);
        let (_, local) = transform(&server, &d).unwrap();
        assert_eq!(local.apply(&server.apply("w3 w4 w6").unwrap()).unwrap(), "w3 w5 w6");
        assert!(diff("same", "same").is_identity());
        assert_eq!(diff("", "é😀").to_splices(), [Edit::new(0, 0, "é😀")]);
        assert_eq!(diff("abc", "").to_splices(), [Edit::new(0, 3, "")]);
    }

    // ---- property tests ----

    fn alphabet() -> impl Strategy<Value = char> {
        prop_oneof![Just('a'), Just('b'), Just(' '), Just('é'), Just('😀'), Just('\u{301}'), Just('\n'), Just('z')]
    }

    fn text(max: usize) -> impl Strategy<Value = String> {
        proptest::collection::vec(alphabet(), 0..max).prop_map(|v| v.into_iter().collect())
    }

    /// Raw splices made to fit `len`, in order.
    fn fit(len: usize, raw: &[(usize, usize, String)]) -> Vec<Edit> {
        let mut cur = len;
        let mut out = vec![];
        for (at, del, ins) in raw {
            let at = if cur == 0 { 0 } else { at % (cur + 1) };
            let del = (*del).min(cur - at);
            out.push(Edit::new(at, del, ins.clone()));
            cur = cur - del + clen(ins);
        }
        out
    }

    fn raw_splices() -> impl Strategy<Value = Vec<(usize, usize, String)>> {
        proptest::collection::vec((0usize..40, 0usize..6, text(5)), 0..6)
    }

    /// Identity of a character: (side, n); side 0 = base, 1 = a, 2 = b.
    type Id = (u8, usize);

    /// Applies `op` to ids, labelling inserted characters with fresh ids of `side`.
    fn apply_ids(op: &TextOp, ids: &[Id], side: u8, next: &mut usize) -> Vec<Id> {
        let mut out = vec![];
        let mut i = 0;
        for c in op.comps() {
            match c {
                Comp::Retain(n) => {
                    out.extend_from_slice(&ids[i..i + n]);
                    i += n;
                }
                Comp::Delete(n) => i += n,
                Comp::Insert(s) => {
                    for _ in 0..clen(s) {
                        *next += 1;
                        out.push((side, *next));
                    }
                }
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

        /// TP1, offsets in range, and the transformed splices fit the text they meet.
        #[test]
        fn transform_converges(base in text(20), ra in raw_splices(), rb in raw_splices()) {
            let n = clen(&base);
            let (ea, eb) = (fit(n, &ra), fit(n, &rb));
            let a = TextOp::from_splices(n, &ea).unwrap();
            let b = TextOp::from_splices(n, &eb).unwrap();
            prop_assert_eq!(a.apply(&base).unwrap(), apply(&base, &ea).unwrap());
            let (ap, bp) = transform(&a, &b).unwrap();
            prop_assert_eq!(ap.base_len(), b.target_len());
            prop_assert_eq!(bp.base_len(), a.target_len());
            let via_a = apply(&a.apply(&base).unwrap(), &bp.to_splices()).unwrap();
            let via_b = apply(&b.apply(&base).unwrap(), &ap.to_splices()).unwrap();
            prop_assert_eq!(&via_a, &via_b);
            prop_assert_eq!(ap.target_len(), clen(&via_a));
        }

        /// Every inserted character survives; a base character survives iff neither side
        /// deleted it (overlapping deletes: the union, once); each side's characters keep the
        /// order that side gave them; at one offset the first side's text comes first.
        #[test]
        fn transform_keeps_intent(n in 0usize..16, ra in raw_splices(), rb in raw_splices()) {
            let base: Vec<Id> = (0..n).map(|i| (0u8, i)).collect();
            let (a, b) = (TextOp::from_splices(n, &fit(n, &ra)).unwrap(), TextOp::from_splices(n, &fit(n, &rb)).unwrap());
            let mut next = 1000;
            let sa = apply_ids(&a, &base, 1, &mut next);
            let sb = apply_ids(&b, &base, 2, &mut next);
            let (ap, bp) = transform(&a, &b).unwrap();
            // replay b' on a's result, giving its inserts b's ids in b's order
            let mut bids = sb.iter().filter(|x| x.0 == 2).copied();
            let mut r: Vec<Id> = vec![];
            let mut i = 0;
            for c in bp.comps() {
                match c {
                    Comp::Retain(k) => { r.extend_from_slice(&sa[i..i + k]); i += k; }
                    Comp::Delete(k) => i += k,
                    Comp::Insert(s) => for _ in 0..clen(s) { r.push(bids.next().unwrap_or((9, 0))); },
                }
            }
            prop_assert!(bids.next().is_none(), "b' inserts fewer characters than b");
            prop_assert_eq!(r.len(), ap.target_len());
            let ins_a: Vec<&Id> = sa.iter().filter(|x| x.0 == 1).collect();
            let ins_b: Vec<&Id> = sb.iter().filter(|x| x.0 == 2).collect();
            prop_assert_eq!(r.iter().filter(|x| x.0 == 1).collect::<Vec<_>>(), ins_a);
            prop_assert_eq!(r.iter().filter(|x| x.0 == 2).collect::<Vec<_>>(), ins_b);
            let kept = |s: &[Id]| s.iter().filter(|x| x.0 == 0).copied().collect::<Vec<_>>();
            let (ka, kb) = (kept(&sa), kept(&sb));
            let both: Vec<Id> = ka.iter().filter(|x| kb.contains(x)).copied().collect();
            prop_assert_eq!(kept(&r), both.clone());
            // each side's view (its characters and the base) is in its order
            let view = |s: &[Id], side: u8| s.iter().filter(|x| x.0 == side || (x.0 == 0 && both.contains(x))).copied().collect::<Vec<_>>();
            prop_assert_eq!(view(&r, 1), view(&sa, 1));
            prop_assert_eq!(view(&r, 2), view(&sb, 2));
        }

        /// Ties: both sides insert at the same offset: the first side's text comes first.
        #[test]
        fn ties_put_the_first_side_first(base in text(12), p in 0usize..14, x in text(4), y in text(4)) {
            let n = clen(&base);
            let p = p.min(n);
            let x = format!("<{x}>");
            let y = format!("[{y}]");
            let a = op(n, &[(p, 0, &x)]);
            let b = op(n, &[(p, 0, &y)]);
            let (_, bp) = transform(&a, &b).unwrap();
            let out = bp.apply(&a.apply(&base).unwrap()).unwrap();
            let (h, t) = crate::text::split_at(&base, p).unwrap();
            prop_assert_eq!(out, format!("{h}{x}{y}{t}"));
        }

        /// Transforming over the other side's ops one at a time (as the client does, one
        /// committed op after the other, in log order) gives the same result however the ops
        /// are grouped into pulls, and the text converges with the server's.
        #[test]
        fn one_op_at_a_time(base in text(14), r1 in raw_splices(), r2 in raw_splices(), rl in raw_splices()) {
            let n = clen(&base);
            let s1 = TextOp::from_splices(n, &fit(n, &r1)).unwrap();
            let s2 = TextOp::from_splices(s1.target_len(), &fit(s1.target_len(), &r2)).unwrap();
            let l = TextOp::from_splices(n, &fit(n, &rl)).unwrap();
            let (s1p, l1) = transform(&s1, &l).unwrap();
            let (s2p, l2) = transform(&s2, &l1).unwrap();
            let server = s2.apply(&s1.apply(&base).unwrap()).unwrap();
            let local = l.apply(&base).unwrap();
            prop_assert_eq!(l2.apply(&server).unwrap(), s2p.apply(&s1p.apply(&local).unwrap()).unwrap());
        }

        /// Caret mapping is monotone, in range, and puts the caret where a local insert at
        /// that caret lands after the transform.
        #[test]
        fn cursor_mapping(base in text(16), ra in raw_splices(), p in 0usize..20, q in 0usize..20) {
            let n = clen(&base);
            let a = TextOp::from_splices(n, &fit(n, &ra)).unwrap();
            let (p, q) = (p.min(n), q.min(n));
            let (mp, mq) = (a.map(p, Assoc::After), a.map(q, Assoc::After));
            prop_assert!(mp <= a.target_len() && mq <= a.target_len());
            if p <= q { prop_assert!(mp <= mq); }
            prop_assert!(a.map(p, Assoc::Before) <= mp);
            let caret = op(n, &[(p, 0, "\u{2022}")]);
            let (_, cp) = transform(&a, &caret).unwrap();
            let out = cp.apply(&a.apply(&base).unwrap()).unwrap();
            let at = out.chars().position(|c| c == '\u{2022}').unwrap();
            prop_assert_eq!(at, mp);
        }

        /// diff(old, new) turns old into new; pure inserts and deletes stay pure.
        #[test]
        fn diff_is_exact(old in text(24), new in text(24), cut in 0usize..24, ins in text(6)) {
            prop_assert_eq!(diff(&old, &new).apply(&old).unwrap(), new);
            let n = clen(&old);
            let at = cut.min(n);
            let (h, t) = crate::text::split_at(&old, at).unwrap();
            let grown = format!("{h}{ins}{t}");
            let d = diff(&old, &grown);
            prop_assert_eq!(d.deleted(), 0);
            prop_assert_eq!(d.inserted(), clen(&ins));
            let d = diff(&grown, &old);
            prop_assert_eq!((d.inserted(), d.deleted()), (0, clen(&ins)));
        }

        /// compose, cut and padded agree with applying the parts.
        #[test]
        fn compose_cut_pad(base in text(16), ra in raw_splices(), rb in raw_splices(), at in 0usize..20, right in any::<bool>()) {
            let n = clen(&base);
            let a = TextOp::from_splices(n, &fit(n, &ra)).unwrap();
            let b = TextOp::from_splices(a.target_len(), &fit(a.target_len(), &rb)).unwrap();
            prop_assert_eq!(a.compose(&b).unwrap().apply(&base).unwrap(), b.apply(&a.apply(&base).unwrap()).unwrap());
            let at = at.min(n);
            let (l, r) = a.cut(at, right).unwrap();
            let (h, t) = crate::text::split_at(&base, at).unwrap();
            prop_assert_eq!(format!("{}{}", l.apply(h).unwrap(), r.apply(t).unwrap()), a.apply(&base).unwrap());
            prop_assert_eq!(a.padded(2, 3).apply(&format!("xy{base}123")).unwrap(), format!("xy{}123", a.apply(&base).unwrap()));
            prop_assert_eq!(a.apply_vec(&vec![0u8; n], 1).unwrap().len(), a.target_len());
        }
    }
}
