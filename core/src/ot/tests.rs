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
