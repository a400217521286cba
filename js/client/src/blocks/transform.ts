// Mirrors the transform of client/src/blocks.rs: `transform(server, local)`, the OT grid of
// block ops (every local op over every server op, in order, the server's side winning ties),
// with the rules of blocks.ts's header; and `mapCaretThrough`, a caret mapped over ops.

import { SortedSet } from "../order.js";
import { Assoc, TextOp, transform as otTransform } from "../ot.js";
import { type BOp, type Lost, bopKey, gone, join, split, text } from "./bop.js";

/** `ot.transform`, or null where Rust gets `Err`. */
function tryTransform(a: TextOp, b: TextOp): [TextOp, TextOp] | null {
  try {
    return otTransform(a, b);
  } catch {
    return null;
  }
}

/** `TextOp::cut`, or null where Rust gets `Err`. */
function tryCut(op: TextOp, at: number, insertsRight: boolean): [TextOp, TextOp] | null {
  try {
    return op.cut(at, insertsRight);
  } catch {
    return null;
  }
}

/** Where a caret goes through op `s`; null if its block is gone. */
function mapCaret(s: BOp, c: BOp): BOp | null {
  if (c.type !== "caret") return c;
  const { id, key, prop, at } = c;
  const caret = (k: string, a: number): BOp => ({ type: "caret", id, key: k, prop, at: a });
  switch (s.type) {
    case "text":
      if (s.key === key && s.prop === prop) return caret(s.key, s.op.map(at, Assoc.After));
      break;
    case "split":
      if (s.key === key && s.prop === prop) return at < s.at ? caret(s.key, at) : caret(s.new, at - s.at);
      break;
    case "join":
      if (s.next === key) return s.prop === prop ? caret(s.key, s.len + at) : null;
      break;
    case "gone":
      if (s.keys.has(key)) return null;
      break;
    case "nontext":
      if (s.key === key && s.prop === prop) return null;
      break;
    case "caret":
      break;
  }
  return c;
}

/** Where a caret goes through `ops` (applied in order); null if its block is gone. */
export function mapCaretThrough(ops: readonly BOp[], key: string, prop: string, at: number): [string, number] | null {
  let c: BOp = { type: "caret", id: 0, key, prop, at };
  for (const s of ops) {
    const m = mapCaret(s, c);
    if (m === null) return null;
    c = m;
  }
  return c.type === "caret" ? [c.key, c.at] : null;
}

type Pair = [BOp[], BOp[]];

/**
 * Transforms one server op `s` and one local op `l` made on the same state: returns `s'`
 * (applies after `l`) and `l'` (applies after `s`).
 */
function pair(s: BOp, l: BOp, lost: Lost[]): Pair {
  const pass = (): Pair => [[s], [l]];
  const misfit = (): Pair => {
    lost.push({ lost: "misfit", key: bopKey(l) });
    return [[s], []];
  };

  if (l.type === "caret") {
    const m = mapCaret(s, l);
    return [[s], m === null ? [] : [m]];
  }
  if (s.type === "caret" || l.type === "gone" || l.type === "nontext") return pass();

  // ---- the server deleted nodes
  if (s.type === "gone") {
    const keys = s.keys;
    if (l.type === "text" && keys.has(l.key)) {
      lost.push({ lost: "deleted", key: l.key });
      return [[s], []];
    }
    if (l.type === "split" && keys.has(l.key)) {
      lost.push({ lost: "deleted", key: l.key });
      const k = keys.clone();
      k.add(l.new);
      return [[{ type: "gone", keys: k }], []];
    }
    if (l.type === "join" && (keys.has(l.key) || keys.has(l.next))) {
      const { key, next, prop, len, nextLen } = l;
      const rest = keys.clone();
      rest.remove(next);
      const goneOf = (k: SortedSet<string>): BOp[] => (k.isEmpty() ? [] : [{ type: "gone", keys: k }]);
      const hk = keys.has(key);
      const hn = keys.has(next);
      if (hk && hn) return [goneOf(rest), []];
      if (!hk) {
        // `next` is gone: what of it this side joined into `key` goes too
        const del = TextOp.identity(len).delete(nextLen);
        const out = text(key, prop, del);
        out.push(...goneOf(rest));
        return [out, []];
      }
      // `key` is gone, `next` is not: the `next` part goes back to `next`
      lost.push({ lost: "deleted", key });
      return [[split(key, prop, len, next, len + nextLen), { type: "gone", keys: keys.clone() }], []];
    }
    return pass();
  }

  // ---- the server set a non-string value
  if (s.type === "nontext") {
    const { key: k, prop: p } = s;
    if (l.type === "text" && k === l.key && p === l.prop) {
      lost.push({ lost: "non-text", key: l.key, prop: l.prop });
      return [[s], []];
    }
    if (l.type === "split" && k === l.key && p === l.prop) {
      lost.push({ lost: "non-text", key: l.key, prop: l.prop });
      return [[s, gone([l.new])], []];
    }
    if (l.type === "join" && p === l.prop && (k === l.key || k === l.next)) {
      lost.push({ lost: "non-text", key: k, prop: l.prop });
      return [[split(l.key, l.prop, l.len, l.next, l.len + l.nextLen), s], []];
    }
    return pass();
  }

  // ---- text / text
  if (s.type === "text" && l.type === "text") {
    if (s.key !== l.key || s.prop !== l.prop) return pass();
    const t = tryTransform(s.op, l.op);
    if (t === null) return misfit();
    return [text(s.key, s.prop, t[0]), text(s.key, s.prop, t[1])];
  }

  // ---- split / text
  if (s.type === "split" && l.type === "text") {
    const { key: k, prop: p, at, new: neu, len } = s;
    if (k === l.key && p === l.prop) {
      const b = l.op;
      if (b.baseLen() !== len) return misfit();
      const c = tryCut(b, at, true);
      if (c === null) return misfit();
      const [bl, br] = c;
      const at2 = bl.targetLen();
      const l2 = text(k, p, bl);
      l2.push(...text(neu, p, br));
      return [[split(k, p, at2, neu, b.targetLen())], l2];
    }
    return pass();
  }
  if (s.type === "text" && l.type === "split") {
    const { key: k, prop: p, op: a } = s;
    if (k === l.key) {
      const { prop, at, new: neu, len } = l;
      if (p !== prop) {
        // another property of the block: the split copies it, so both copies get it
        const s2: BOp[] = [s];
        s2.push(...text(neu, p, a));
        return [s2, [l]];
      }
      if (a.baseLen() !== len) return misfit();
      const c = tryCut(a, at, false);
      if (c === null) return misfit();
      const [al, ar] = c;
      const at2 = al.targetLen();
      const s2 = text(k, p, al);
      s2.push(...text(neu, p, ar));
      return [s2, [split(k, p, at2, neu, a.targetLen())]];
    }
    return pass();
  }

  // ---- join / text
  if (s.type === "join" && l.type === "text") {
    const { key: k, next: n, prop: p, len: lk, nextLen: ln } = s;
    const { key, prop, op: b } = l;
    if (key === k || key === n) {
      if (prop !== p) {
        if (key === n) {
          // `next` is gone with its other properties
          lost.push({ lost: "deleted", key });
          return [[s], []];
        }
        return pass();
      }
      if (key === n) {
        if (b.baseLen() !== ln) return misfit();
        return [[join(k, n, p, lk, b.targetLen())], text(k, p, b.padded(lk, 0))];
      }
      if (b.baseLen() !== lk) return misfit();
      return [[join(k, n, p, b.targetLen(), ln)], text(k, p, b.padded(0, ln))];
    }
    return pass();
  }
  if (s.type === "text" && l.type === "join") {
    const { key, prop, op: a } = s;
    const { key: k, next: n, prop: p, len: lk, nextLen: ln } = l;
    if (key === k || key === n) {
      if (prop !== p) {
        if (key === n) {
          // this side's join drops `next`'s other properties, which the server edited
          lost.push({ lost: "drops-server-edit", key: n });
          return [[], [l]];
        }
        return pass();
      }
      if (key === n) {
        if (a.baseLen() !== ln) return misfit();
        return [text(k, p, a.padded(lk, 0)), [join(k, n, p, lk, a.targetLen())]];
      }
      if (a.baseLen() !== lk) return misfit();
      return [text(k, p, a.padded(0, ln)), [join(k, n, p, a.targetLen(), ln)]];
    }
    return pass();
  }

  // ---- split / split
  if (s.type === "split" && l.type === "split") {
    const { key: k1, prop: p1, at: a1, new: n1, len } = s;
    const { key: k2, prop: p2, at: a2, new: n2, len: len2 } = l;
    if (k1 !== k2 || p1 !== p2) return pass();
    if (len !== len2) return misfit();
    if (a1 <= a2) return [[split(k1, p1, a1, n1, a2)], [split(n1, p1, a2 - a1, n2, len - a1)]];
    return [[split(n2, p1, a1 - a2, n1, len - a2)], [split(k1, p1, a2, n2, a1)]];
  }

  // ---- join / join
  if (s.type === "join" && l.type === "join") {
    const { key: a, next: b, prop: p, len: la, nextLen: lb } = s;
    const { key: c, next: d, prop: q, len: lc, nextLen: ld } = l;
    if (a === c && b === d) return [[], []];
    const related = a === c || a === d || b === c || b === d;
    if (!related) return pass();
    if (p !== q) return misfit();
    // (after moves, the two sides may have joined different neighbours)
    if (b === c && d === a) {
      // server: a ← b; local: b ← a. The server's order wins; the local join is void
      lost.push({ lost: "separated", key: a });
      return [[split(b, p, lb, a, lb + la), join(a, b, p, la, lb)], []];
    }
    if (b === d) {
      // both joined b, into different blocks: b's text is in a now
      lost.push({ lost: "separated", key: b });
      return [[split(c, p, lc, b, lc + lb), s], []];
    }
    if (a === c) {
      // a took b on the server and d locally: a, then b, then d
      return [[split(a, p, la, d, la + ld), join(a, b, p, la, lb), join(a, d, p, la + lb, ld)], [join(a, d, p, la + lb, ld)]];
    }
    if (b === c) {
      // server: a ← b; local: b ← d
      return [[join(a, b, p, la, lb + ld)], [join(a, d, p, la + lb, ld)]];
    }
    if (d === a) {
      // server: a ← b; local: c ← a
      return [[join(c, b, p, lc + la, lb)], [join(c, a, p, lc, la + lb)]];
    }
    return misfit();
  }

  // ---- join / split
  if (s.type === "join" && l.type === "split") {
    const { key: k, next: n, prop: p, len: lk, nextLen: ln } = s;
    const { key, prop, at, new: neu, len } = l;
    if (key === k || key === n) {
      if (prop !== p) {
        if (key === n) {
          lost.push({ lost: "deleted", key });
          return [[s, gone([neu])], []];
        }
        return pass();
      }
      if (key === k) {
        if (len !== lk) return misfit();
        return [[join(neu, n, p, lk - at, ln)], [split(k, p, at, neu, lk + ln)]];
      }
      if (len !== ln) return misfit();
      return [[join(k, n, p, lk, at)], [split(k, p, lk + at, neu, lk + ln)]];
    }
    return pass();
  }
  if (s.type === "split" && l.type === "join") {
    const { key, prop, at, new: neu, len } = s;
    const { key: k, next: n, prop: p, len: lk, nextLen: ln } = l;
    if ((key === k || key === n) && prop === p) {
      if (key === k) {
        if (len !== lk) return misfit();
        return [[split(k, p, at, neu, lk + ln)], [join(neu, n, p, lk - at, ln)]];
      }
      if (len !== ln) return misfit();
      return [[split(k, p, lk + at, neu, lk + ln)], [join(k, n, p, lk, at)]];
    }
    return pass();
  }
  return pass();
}

/** The OT grid of two op sequences made on one state: `[ss', ls']`. */
function grid(ss: BOp[], ls: BOp[], lost: Lost[]): Pair {
  if (ss.length === 0 || ls.length === 0) return [ss, ls];
  if (ss.length === 1 && ls.length === 1) return pair(ss[0]!, ls[0]!, lost);
  if (ss.length === 1) {
    let cur = ss;
    const out: BOp[] = [];
    for (const l of ls) {
      const [c, lp] = grid(cur, [l], lost);
      cur = c;
      out.push(...lp);
    }
    return [cur, out];
  }
  let cur = ls;
  const out: BOp[] = [];
  for (const s of ss) {
    const [sp, l2] = grid([s], cur, lost);
    out.push(...sp);
    cur = l2;
  }
  return [out, cur];
}

/**
 * Rebases `local` (made on some state) over `server` (made on the same state, applied first):
 * returns the local ops as they apply after the server's, the server's ops as they apply after
 * the local ones, and what was lost.
 */
export function transform(server: readonly BOp[], local: readonly BOp[]): [BOp[], BOp[], Lost[]] {
  const lost: Lost[] = [];
  const [sp, lp] = grid(server.slice(), local.slice(), lost);
  return [lp, sp, lost];
}

