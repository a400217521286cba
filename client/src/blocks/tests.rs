use super::*;
use proptest::prelude::*;

// A list of blocks under one parent, each a list of characters, all distinct (base
// characters below U+E000, the server's inserts from U+E000, the local side's from U+F000):
// the model the transform is checked against.
#[derive(Debug, Clone, PartialEq)]
struct World {
    blocks: Vec<(String, Vec<char>)>,
}

const SERVER: u32 = 0xE000;
const LOCAL: u32 = 0xF000;

impl World {
    fn find(&self, k: &str) -> Option<usize> {
        self.blocks.iter().position(|(x, _)| x == k)
    }

    fn apply(&mut self, op: &BOp) -> Result<(), String> {
        match op {
            BOp::Text { key, op, .. } => {
                let i = self.find(key).ok_or_else(|| format!("no block {key}"))?;
                let cur: String = self.blocks[i].1.iter().collect();
                let out = op.apply(&cur).map_err(|e| e.to_string())?;
                self.blocks[i].1 = out.chars().collect();
            }
            BOp::Split { key, at, new, len, .. } => {
                let i = self.find(key).ok_or("split: no key")?;
                if self.blocks[i].1.len() != *len || *at > *len || self.find(new).is_some() {
                    return Err(format!("split misfit {op:?} on {:?}", self.blocks[i]));
                }
                let tail = self.blocks[i].1.split_off(*at);
                self.blocks.insert(i + 1, (new.clone(), tail));
            }
            BOp::Join { key, next: n, len, next_len, .. } => {
                let i = self.find(key).ok_or("join: no key")?;
                if self.find(n) != Some(i + 1) {
                    return Err(format!("join of non-adjacent {key} {n}: {:?}", self.blocks));
                }
                if self.blocks[i].1.len() != *len || self.blocks[i + 1].1.len() != *next_len {
                    return Err(format!("join misfit {op:?}"));
                }
                let (_, t) = self.blocks.remove(i + 1);
                self.blocks[i].1.extend(t);
            }
            BOp::Gone { keys } => self.blocks.retain(|(k, _)| !keys.contains(k)),
            BOp::NonText { .. } | BOp::Caret { .. } => {}
        }
        Ok(())
    }

    fn flat(&self) -> Vec<char> {
        self.blocks.iter().flat_map(|(_, v)| v.iter().copied()).collect()
    }
}

/// Random valid ops on `w`, made by `side` (new keys `side` + n, inserted characters from
/// `*next`), applied to `w`.
fn random_ops(w: &mut World, side: &str, raw: &[(u8, usize, usize, usize)], next: &mut u32, allow_gone: bool) -> Vec<BOp> {
    let mut ops = vec![];
    let mut n = 0;
    for &(kind, b, x, y) in raw {
        if w.blocks.is_empty() {
            break;
        }
        let i = b % w.blocks.len();
        let (key, cur) = w.blocks[i].clone();
        let len = cur.len();
        let op = match kind % 8 {
            0..=3 => {
                let at = x % (len + 1);
                let del = if kind % 8 == 3 { y % (len - at + 1) } else { 0 };
                let ins: String = if kind % 8 == 3 && y % 2 == 0 {
                    String::new()
                } else {
                    *next += 2;
                    [char::from_u32(*next - 1), char::from_u32(*next)].into_iter().flatten().collect()
                };
                let mut o = TextOp::new();
                o.retain(at).insert(&ins).delete(del).retain(len - at - del);
                BOp::Text { key, prop: "t".into(), op: o }
            }
            4 | 5 => {
                n += 1;
                BOp::Split { key, prop: "t".into(), at: x % (len + 1), new: format!("{side}{n}"), len }
            }
            6 if i + 1 < w.blocks.len() => {
                let (nk, nt) = w.blocks[i + 1].clone();
                BOp::Join { key, next: nk, prop: "t".into(), len, next_len: nt.len() }
            }
            7 if allow_gone && w.blocks.len() > 1 => BOp::Gone { keys: BTreeSet::from([key]) },
            _ => continue,
        };
        w.apply(&op).unwrap();
        ops.push(op);
    }
    ops
}

fn start(n: usize, per: usize) -> World {
    let c = |i: usize| char::from_u32(0x100 + i as u32).unwrap_or('?');
    World { blocks: (0..n).map(|i| (format!("b{i}"), (i * per..(i + 1) * per).map(c).collect())).collect() }
}

fn raw() -> impl Strategy<Value = Vec<(u8, usize, usize, usize)>> {
    proptest::collection::vec((any::<u8>(), 0usize..8, 0usize..12, 0usize..12), 0..7)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    /// Both orders give the same blocks (TP1); the rebased local ops apply to the server's
    /// state without misfits; every character either side typed survives (unless the
    /// other side deleted its block), in the order its side gave it; a base character
    /// survives unless a side deleted it.
    #[test]
    fn blocks_converge_and_keep_every_character(nb in 1usize..4, rs in raw(), rl in raw(), gone in any::<bool>()) {
        let w0 = start(nb, 3);
        let (mut ws, mut wl) = (w0.clone(), w0.clone());
        let (mut ns, mut nl) = (SERVER, LOCAL);
        let s = random_ops(&mut ws, "s", &rs, &mut ns, gone);
        let l = random_ops(&mut wl, "l", &rl, &mut nl, false);
        let (lp, sp, lost) = transform(&s, l.clone());
        prop_assert!(!lost.iter().any(|x| matches!(x, Lost::Misfit(_))), "misfit: {:?}", lost);
        let mut a = ws.clone();
        for op in &lp { a.apply(op).map_err(|e| TestCaseError::fail(format!("{e}\ns={s:?}\nl={l:?}\nlp={lp:?}")))?; }
        let mut b = wl.clone();
        for op in &sp { b.apply(op).map_err(|e| TestCaseError::fail(format!("{e}\ns={s:?}\nl={l:?}\nsp={sp:?}")))?; }
        prop_assert_eq!(&a, &b, "s={:?}\nl={:?}\nlp={:?}\nsp={:?}", s, l, lp, sp);
        let fa = a.flat();
        let side = |v: Vec<char>, lo: u32, hi: u32| v.into_iter().filter(|c| (lo..hi).contains(&(*c as u32))).collect::<Vec<char>>();
        let keep_l = side(wl.flat(), LOCAL, 0x10000);
        let got_l = side(fa.clone(), LOCAL, 0x10000);
        if lost.iter().any(|x| matches!(x, Lost::Deleted(_))) {
            prop_assert!(got_l.iter().all(|c| keep_l.contains(c)));
        } else {
            prop_assert_eq!(&got_l, &keep_l);
        }
        prop_assert_eq!(side(fa.clone(), SERVER, LOCAL), side(ws.flat(), SERVER, LOCAL));
        let base = |v: Vec<char>| side(v, 0, SERVER).into_iter().collect::<BTreeSet<char>>();
        prop_assert_eq!(base(fa.clone()), base(wl.flat()).intersection(&base(ws.flat())).copied().collect::<BTreeSet<char>>());
        // each side's characters keep that side's order in the result
        let pos = |c: char| fa.iter().position(|x| *x == c);
        for view in [wl.flat(), ws.flat()] {
            let present: Vec<usize> = view.iter().filter_map(|c| pos(*c)).collect();
            prop_assert!(present.windows(2).all(|p| p[0] < p[1]), "order broken: {:?} in {:?}", view, fa);
        }
    }

    /// A caret maps to where a local insert at it lands.
    #[test]
    fn carets_follow_local_inserts(nb in 1usize..4, rs in raw(), b in 0usize..4, x in 0usize..12) {
        let w0 = start(nb, 3);
        let mut ws = w0.clone();
        let mut ns = SERVER;
        let s = random_ops(&mut ws, "s", &rs, &mut ns, true);
        let (key, cur) = w0.blocks[b % nb].clone();
        let at = x % (cur.len() + 1);
        let mut o = TextOp::new();
        o.retain(at).insert("\u{2022}").retain(cur.len() - at);
        let mark = BOp::Text { key: key.clone(), prop: "t".into(), op: o };
        let (lp, _, _) = transform(&s, vec![mark]);
        let mut a = ws.clone();
        for op in &lp { a.apply(op).unwrap(); }
        let want = a.blocks.iter().find_map(|(k, v)| v.iter().position(|c| *c == '\u{2022}').map(|i| (k.clone(), i)));
        let got = map_caret_through(&s, &key, "t", at);
        prop_assert_eq!(got, want);
    }
}

fn t(len: usize, edits: &[(usize, usize, &str)]) -> TextOp {
    let e: Vec<nodesync_core::text::Edit> = edits.iter().map(|(a, d, i)| nodesync_core::text::Edit::new(*a, *d, *i)).collect();
    TextOp::from_splices(len, &e).unwrap()
}

#[test]
fn typing_follows_a_split_and_a_join() {
    // server split "Hello world" after "Hello"; local typed "!" at the end and "," after
    // "Hello": "," goes to the new block's start (server boundary first), "!" to its end
    let s = [split("p", "t", 5, "q", 11)];
    let l = vec![BOp::Text { key: "p".into(), prop: "t".into(), op: t(11, &[(11, 0, "!"), (5, 0, ",")]) }];
    let (lp, _, lost) = transform(&s, l);
    assert!(lost.is_empty());
    assert_eq!(lp, vec![BOp::Text { key: "q".into(), prop: "t".into(), op: t(6, &[(0, 0, ","), (7, 0, "!")]) }]);
    // server joined q into p ("ab" + "cd"); local typed "X" at 1 of q
    let s = [join("p", "q", "t", 2, 2)];
    let l = vec![BOp::Text { key: "q".into(), prop: "t".into(), op: t(2, &[(1, 0, "X")]) }];
    let (lp, _, _) = transform(&s, l);
    assert_eq!(lp, vec![BOp::Text { key: "p".into(), prop: "t".into(), op: t(4, &[(3, 0, "X")]) }]);
    // local join of p and q, server typed into q: the join is re-sent, lengths updated
    let s = [BOp::Text { key: "q".into(), prop: "t".into(), op: t(2, &[(2, 0, "Z")]) }];
    let (lp, sp, _) = transform(&s, vec![join("p", "q", "t", 2, 2)]);
    assert_eq!(lp, vec![join("p", "q", "t", 2, 3)]);
    assert_eq!(sp, vec![BOp::Text { key: "p".into(), prop: "t".into(), op: t(4, &[(4, 0, "Z")]) }]);
}

#[test]
fn deleted_blocks_drop_local_edits_and_report_them() {
    let s = [BOp::Gone { keys: BTreeSet::from(["p".to_string()]) }];
    let l = vec![BOp::Text { key: "p".into(), prop: "t".into(), op: t(2, &[(0, 0, "x")]) }];
    let (lp, _, lost) = transform(&s, l);
    assert!(lp.is_empty());
    assert_eq!(lost, [Lost::Deleted("p".into())]);
    // local join p+q, server deleted p: the text typed into the q part goes back to q
    let l = vec![join("p", "q", "t", 2, 2), BOp::Text { key: "p".into(), prop: "t".into(), op: t(4, &[(3, 0, "x"), (0, 0, "y")]) }];
    let (lp, _, lost) = transform(&s, l);
    assert_eq!(lp, vec![BOp::Text { key: "q".into(), prop: "t".into(), op: t(2, &[(1, 0, "x")]) }]);
    assert_eq!(lost, [Lost::Deleted("p".into()), Lost::Deleted("p".into())]);
}
