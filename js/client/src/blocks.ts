// Mirrors client/src/blocks.rs: text edits as ops on *blocks* (a string property of a node), and
// their transform: the text-aware half of the rebase. Pure code, no I/O.
//
// A `BOp` is a `text` splice list (as a `TextOp`), a `split`, a `join` (docs/api/apply_patch.md,
// the text ops), or, on the server's side only, "these nodes are gone" and "this property is no
// longer text". Each op carries the lengths of the texts it was made on, so transforms need no
// document.
//
// `transform(server, local)` rebases the local ops over the server's (the usual OT grid: every
// local op over every server op, in order). The server's side wins ties. The rules are those
// of the Rust module (see its docs): text/text by `ot.transform`, the server's text first at
// equal offsets; a server split moves the local edits after the split point into the new
// block; a local split moves with the text before it; joins carry the edits of `next` into
// `key`, shifted by `key`'s length; a server delete drops local edits of the block
// (`Lost` "deleted"); a server non-string value drops local text edits of that property
// (`Lost` "non-text"); a caret maps like a local insert of nothing at its offset.
//
// BOps are treated as immutable values: nothing here mutates an op it was given (Rust clones).
// Every count is in code points. Where Rust iterates a BTreeMap/BTreeSet, this iterates in
// `cmpKeys` order (SortedMap/SortedSet).

import { jsonClone, jsonEqual } from "./json.js";
import { SortedMap, SortedSet, cmpKeys } from "./order.js";
import { Assoc, TextOp, diff as otDiff, transform as otTransform } from "./ot.js";
import { type Patch, type Place, ROOT } from "./patch.js";
import { cpLen, splitAt } from "./text.js";
import { Node, Tree } from "./tree.js";

/** One op on blocks. `len`, `nextLen` and a text op's base length are the lengths (code points) of the texts the op was made on. */
export type BOp =
  | { type: "text"; key: string; prop: string; op: TextOp }
  | { type: "split"; key: string; prop: string; at: number; new: string; len: number }
  | { type: "join"; key: string; next: string; prop: string; len: number; nextLen: number }
  /** Server only: these nodes were deleted (a BTreeSet: iterate in key order). */
  | { type: "gone"; keys: SortedSet<string> }
  /** Server only: `prop` of `key` got a value that is not a string. */
  | { type: "nontext"; key: string; prop: string }
  /** Local only: a caret to map. */
  | { type: "caret"; id: number; key: string; prop: string; at: number };

export type BOpText = Extract<BOp, { type: "text" }>;
export type BOpSplit = Extract<BOp, { type: "split" }>;
export type BOpJoin = Extract<BOp, { type: "join" }>;
export type BOpGone = Extract<BOp, { type: "gone" }>;
export type BOpCaret = Extract<BOp, { type: "caret" }>;

/** The node the op is about (`key`; the first of a `gone`, "" if it has none). */
export function bopKey(op: BOp): string {
  return op.type === "gone" ? (op.keys.first() ?? "") : op.key;
}

/** True if the op reads or writes node `k`. */
export function touches(op: BOp, k: string): boolean {
  switch (op.type) {
    case "text":
    case "nontext":
    case "caret":
      return op.key === k;
    case "split":
      return op.key === k || op.new === k;
    case "join":
      return op.key === k || op.next === k;
    case "gone":
      return op.keys.has(k);
  }
}

/** Same op (Rust's `==`). */
export function bopEqual(a: BOp, b: BOp): boolean {
  switch (a.type) {
    case "text":
      return b.type === "text" && a.key === b.key && a.prop === b.prop && a.op.equals(b.op);
    case "split":
      return b.type === "split" && a.key === b.key && a.prop === b.prop && a.at === b.at && a.new === b.new && a.len === b.len;
    case "join":
      return b.type === "join" && a.key === b.key && a.next === b.next && a.prop === b.prop && a.len === b.len && a.nextLen === b.nextLen;
    case "gone":
      return b.type === "gone" && a.keys.equals(b.keys);
    case "nontext":
      return b.type === "nontext" && a.key === b.key && a.prop === b.prop;
    case "caret":
      return b.type === "caret" && a.id === b.id && a.key === b.key && a.prop === b.prop && a.at === b.at;
  }
}

/** A readable form, for messages and tests. */
export function bopToString(op: BOp): string {
  switch (op.type) {
    case "text":
      return `Text(${JSON.stringify(op.key)}.${op.prop} ${op.op.toString()})`;
    case "split":
      return `Split(${JSON.stringify(op.key)}.${op.prop} at ${op.at} → ${JSON.stringify(op.new)}, len ${op.len})`;
    case "join":
      return `Join(${JSON.stringify(op.key)} ← ${JSON.stringify(op.next)}.${op.prop}, ${op.len}+${op.nextLen})`;
    case "gone":
      return `Gone(${JSON.stringify(op.keys.toArray())})`;
    case "nontext":
      return `NonText(${JSON.stringify(op.key)}.${op.prop})`;
    case "caret":
      return `Caret#${op.id}(${JSON.stringify(op.key)}.${op.prop} at ${op.at})`;
  }
}

/**
 * A local op the transform had to drop, and why (Rust's `Lost`):
 * - `deleted`: an edit of a node the server deleted;
 * - `non-text`: a text edit of `prop` of `key`, which the server set to a non-string value;
 * - `drops-server-edit`: a local join re-sent over a server edit of another property of `next`;
 * - `separated`: a local join whose blocks someone moved apart;
 * - `misfit`: an op whose lengths did not fit (an internal error; never expected).
 */
export type Lost =
  | { lost: "deleted"; key: string }
  | { lost: "non-text"; key: string; prop: string }
  | { lost: "drops-server-edit"; key: string }
  | { lost: "separated"; key: string }
  | { lost: "misfit"; key: string };

// ---------------------------------------------------------------------------------- helpers

/** The text of `prop` (`""` if absent), or `null` if it holds a value that is not a string. */
export function textOf(n: Node, prop: string): string | null {
  if (!Object.prototype.hasOwnProperty.call(n.props, prop)) return "";
  const v = n.props[prop];
  return typeof v === "string" ? v : null;
}

function clen(s: string): number {
  return cpLen(s);
}

function hasProp(props: Record<string, unknown>, p: string): boolean {
  return Object.prototype.hasOwnProperty.call(props, p);
}

/**
 * Per block (`[key, prop]`), which code points the server inserted since the shadow (the local
 * side has not seen them). Blocks without an entry: none.
 */
export type Flags = SortedMap<readonly [string, string], boolean[]>;

/** An empty `Flags`. */
export function newFlags(): Flags {
  return SortedMap.pairs<boolean[]>();
}

function flagsOf(f: Flags, key: string, prop: string, len: number): boolean[] {
  const v = f.get([key, prop]);
  return v !== undefined && v.length === len ? v.slice() : new Array<boolean>(len).fill(false);
}

function setFlags(f: Flags, key: string, prop: string, v: boolean[]): void {
  if (v.some((x) => x)) f.set([key, prop], v);
  else f.remove([key, prop]);
}

// ---------------------------------------------------------------------------------- transform

function text(key: string, prop: string, op: TextOp): BOp[] {
  return op.isIdentity() ? [] : [{ type: "text", key, prop, op }];
}

function split(key: string, prop: string, at: number, neu: string, len: number): BOp {
  return { type: "split", key, prop, at, new: neu, len };
}

function join(key: string, next: string, prop: string, len: number, nextLen: number): BOp {
  return { type: "join", key, next, prop, len, nextLen };
}

function gone(keys: Iterable<string>): BOp {
  return { type: "gone", keys: new SortedSet<string>(keys) };
}

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

// ---------------------------------------------------------------------------------- on a tree

/** Why an op does not apply to a tree: a join of blocks under different parents, or anything else (missing node, wrong length, not a string...). */
export type Unfit = { unfit: "separated" } | { unfit: "misfit"; message: string };

/** Thrown by `apply` where Rust returns `Err(Unfit)`. */
export class UnfitError extends Error {
  readonly unfit: Unfit;
  constructor(unfit: Unfit) {
    super(unfit.unfit === "separated" ? "Separated" : `Misfit(${JSON.stringify(unfit.message)})`);
    this.name = "UnfitError";
    this.unfit = unfit;
  }
}

function unfit(m: string): never {
  throw new UnfitError({ unfit: "misfit", message: m });
}

function dbg(s: string): string {
  return JSON.stringify(s);
}

function getText(t: Tree, key: string, prop: string): string {
  const n = t.get(key);
  if (n === undefined) return unfit(`no node ${dbg(key)}`);
  const s = textOf(n, prop);
  if (s === null) return unfit(`${dbg(prop)} of ${dbg(key)} is not a string`);
  return s;
}

function putText(t: Tree, key: string, prop: string, s: string): void {
  const n = t.nodes.get(key);
  if (n !== undefined) n.props[prop] = s;
}

/** `Tree::attach`, a failure as an `UnfitError` (Rust's `.map_err(Unfit::Misfit)`). */
function attachOrUnfit(t: Tree, key: string, parent: string, place: Place): void {
  try {
    t.attach(key, parent, place);
  } catch (e) {
    unfit(e instanceof Error ? e.message : String(e));
  }
}

/** Flags to update in `apply`: `server` true for a server op (what it inserts is unseen). */
export interface FlagsArg {
  flags: Flags;
  server: boolean;
}

/**
 * Applies a block op to a tree, and to the flags of server-inserted text if given (`server`
 * true for a server op: what it inserts is unseen; false for a local one). For a join whose
 * `next` is under the same parent but not right after `key`, `next` is first moved there:
 * returns the parent then (the patch needs a `move` before the `join`), else null. Throws
 * `UnfitError` if the op does not apply.
 */
export function apply(t: Tree, op: BOp, flags: FlagsArg | null = null): string | null {
  switch (op.type) {
    case "text": {
      const { key, prop } = op;
      const cur = getText(t, key, prop);
      let out: string;
      try {
        out = op.op.apply(cur);
      } catch (e) {
        return unfit(`text of ${dbg(key)}: ${e instanceof Error ? e.message : String(e)}`);
      }
      if (flags !== null) {
        const v = flagsOf(flags.flags, key, prop, clen(cur));
        let v2: boolean[] | null = null;
        try {
          v2 = op.op.applyVec(v, flags.server);
        } catch {
          v2 = null;
        }
        if (v2 !== null) setFlags(flags.flags, key, prop, v2);
      }
      putText(t, key, prop, out);
      return null;
    }
    case "split": {
      const { key, prop, at, new: neu, len } = op;
      if (key === ROOT) return unfit("split of the root");
      const cur = getText(t, key, prop);
      const n = clen(cur);
      if (n !== len || at > n) return unfit(`split of ${dbg(key)} at ${at}: its text is ${n} long, the op was made on ${len}`);
      if (t.contains(neu)) return unfit(`split: ${dbg(neu)} exists`);
      const parent = t.parent(key);
      if (parent === null || parent === undefined) return unfit(`${dbg(key)} has no parent`);
      const [head, tail] = splitAt(cur, at) ?? [cur, ""];
      const node = t.nodes.get(key)!.clone();
      node.props[prop] = tail;
      node.children = [];
      node.version = 1;
      node.gen = 0;
      node.pos = null;
      t.nodes.set(neu, node);
      attachOrUnfit(t, neu, parent, { after: key });
      if (flags !== null) {
        const f = flags.flags;
        const v = flagsOf(f, key, prop, n);
        const other: [string, boolean[]][] = [];
        for (const [[k, p], fv] of f.entries()) if (k === key && p !== prop) other.push([p, fv.slice()]);
        setFlags(f, key, prop, v.slice(0, at));
        setFlags(f, neu, prop, v.slice(at));
        for (const [p, fv] of other) setFlags(f, neu, p, fv);
      }
      putText(t, key, prop, head);
      return null;
    }
    case "join": {
      const { key, next, prop, len, nextLen } = op;
      const a = getText(t, key, prop);
      const b = getText(t, next, prop);
      if (clen(a) !== len || clen(b) !== nextLen) {
        return unfit(`join of ${dbg(key)} and ${dbg(next)}: lengths ${clen(a)} and ${clen(b)}, the op was made on ${len} and ${nextLen}`);
      }
      const parent = t.parent(key) ?? null;
      if (parent === null || (t.parent(next) ?? null) !== parent) throw new UnfitError({ unfit: "separated" });
      let moved: string | null = null;
      const kids = t.children(parent);
      const ik = kids.indexOf(key);
      const inx = kids.indexOf(next);
      const adjacent = ik >= 0 ? inx === ik + 1 : inx < 0;
      if (!adjacent) {
        t.detach(next);
        attachOrUnfit(t, next, parent, { after: key });
        moved = parent;
      }
      if (flags !== null) {
        const f = flags.flags;
        const v = flagsOf(f, key, prop, len);
        v.push(...flagsOf(f, next, prop, nextLen));
        setFlags(f, key, prop, v);
        f.retain(([k]) => k !== next);
      }
      putText(t, key, prop, a + b);
      const nkids = t.children(next).slice();
      for (const c of nkids) {
        t.detach(c);
        attachOrUnfit(t, c, key, "last");
      }
      t.detach(next);
      t.nodes.remove(next);
      return moved;
    }
    case "gone":
    case "nontext":
    case "caret":
      return null;
  }
}

/** `apply`, returning Rust's `Result` as a value: `{ok: moved}` or `{err: Unfit}`. */
export function tryApply(t: Tree, op: BOp, flags: FlagsArg | null = null): { ok: string | null; err?: undefined } | { err: Unfit } {
  try {
    return { ok: apply(t, op, flags) };
  } catch (e) {
    if (e instanceof UnfitError) return { err: e.unfit };
    throw e;
  }
}

// ---------------------------------------------------------------------------------- the server's side

/** What `replay` returns: the replayed tree, the block ops with their gens, the flags of the text the server inserted. */
export type Replayed = [Tree, [number, BOp][], Flags];

/** Thrown by `replay` where Rust returns `Err(String)`: the log does not replay on the shadow. */
export class ReplayError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReplayError";
  }
}

function unfitText(e: unknown): string {
  if (e instanceof UnfitError) return e.unfit.unfit === "separated" ? "Separated" : `Misfit(${JSON.stringify(e.unfit.message)})`;
  return e instanceof Error ? e.message : String(e);
}

/**
 * The server's changes as block ops: the committed patches from `changes_since` replayed on
 * the shadow `base`. Text ops are taken as sent, a whole-value `update` of a string becomes
 * the character diff against the value right before it, `split` and `join` as such, a
 * `delete` is a `gone` (with its subtree). Also returns the replayed tree (to check it against
 * the server's state) and the flags of the text the server inserted. Throws `ReplayError` if
 * the log does not replay.
 */
export function replay(base: Tree, log: readonly (readonly [number, Patch])[]): Replayed {
  const t = base.clone();
  const out: [number, BOp][] = [];
  const flags = newFlags();
  const fail = (m: string): never => {
    throw new ReplayError(m);
  };
  for (const [gen, patch] of log) {
    const emit = (b: BOp): void => {
      out.push([gen, b]);
    };
    for (const op of patch.ops) {
      switch (op.op) {
        case "create": {
          const { key, kind, props, parent, place } = op;
          if (t.contains(key) || !t.contains(parent)) fail(`gen ${gen}: create ${dbg(key)}`);
          const n = new Node(kind, jsonClone(props), parent);
          n.version = 1;
          t.nodes.set(key, n);
          try {
            t.attach(key, parent, place);
          } catch (e) {
            fail(`gen ${gen}: create ${dbg(key)}: ${e instanceof Error ? e.message : String(e)}`);
          }
          for (const p of sortedProps(props)) {
            const v = props[p];
            if (typeof v === "string") setFlags(flags, key, p, new Array<boolean>(clen(v)).fill(true));
          }
          break;
        }
        case "update": {
          const { key } = op;
          const n0 = t.nodes.get(key);
          if (n0 === undefined) return fail(`gen ${gen}: update of missing ${dbg(key)}`);
          const n = { props: jsonClone(n0.props) };
          const props = op.props ?? null;
          const pkeys = props === null ? [] : sortedProps(props);
          for (const p of pkeys) {
            const v = (props as Record<string, unknown>)[p];
            const oldText: string | null = !hasProp(n.props, p) ? "" : typeof n.props[p] === "string" ? (n.props[p] as string) : null;
            if (oldText !== null && typeof v === "string") {
              const d = otDiff(oldText, v);
              const f = flagsOf(flags, key, p, clen(oldText));
              let f2: boolean[] | null = null;
              try {
                f2 = d.applyVec(f, true);
              } catch {
                f2 = null;
              }
              if (f2 !== null) setFlags(flags, key, p, f2);
              if (!d.isIdentity()) emit({ type: "text", key, prop: p, op: d });
            } else if (oldText !== null && v === null) {
              if (oldText !== "") emit({ type: "text", key, prop: p, op: new TextOp().delete(clen(oldText)) });
              flags.remove([key, p]);
            } else if (oldText !== null) {
              emit({ type: "nontext", key, prop: p });
              flags.remove([key, p]);
            } else if (typeof v === "string") {
              setFlags(flags, key, p, new Array<boolean>(clen(v)).fill(true));
            }
          }
          const node = t.nodes.get(key);
          if (node !== undefined) {
            if (op.kind !== undefined && op.kind !== null) node.kind = op.kind;
            for (const p of pkeys) {
              const v = (props as Record<string, unknown>)[p];
              if (v === null) delete node.props[p];
              else node.props[p] = jsonClone(v);
            }
          }
          break;
        }
        case "move": {
          const { key, parent, place } = op;
          if (!t.contains(key) || !t.contains(parent)) fail(`gen ${gen}: move ${dbg(key)}`);
          t.detach(key);
          try {
            t.attach(key, parent, place);
          } catch (e) {
            fail(`gen ${gen}: move ${dbg(key)}: ${e instanceof Error ? e.message : String(e)}`);
          }
          break;
        }
        case "delete": {
          const { key } = op;
          if (!t.contains(key)) fail(`gen ${gen}: delete of missing ${dbg(key)}`);
          const sub = t.subtree(key);
          t.detach(key);
          for (const k of sub) t.nodes.remove(k);
          const subSet = new Set(sub);
          flags.retain(([k]) => !subSet.has(k));
          emit(gone(sub));
          break;
        }
        case "text": {
          const { key, prop, edits } = op;
          let cur: string;
          try {
            cur = getText(t, key, prop);
          } catch (e) {
            return fail(`gen ${gen}: ${unfitText(e)}`);
          }
          let top: TextOp;
          try {
            top = TextOp.fromSplices(clen(cur), edits);
          } catch (e) {
            return fail(`gen ${gen}: text of ${dbg(key)}: ${e instanceof Error ? e.message : String(e)}`);
          }
          const b: BOp = { type: "text", key, prop, op: top };
          try {
            apply(t, b, { flags, server: true });
          } catch (e) {
            fail(`gen ${gen}: ${unfitText(e)}`);
          }
          emit(b);
          break;
        }
        case "split": {
          const { key, prop, at } = op;
          let cur: string;
          try {
            cur = getText(t, key, prop);
          } catch (e) {
            return fail(`gen ${gen}: ${unfitText(e)}`);
          }
          const b = split(key, prop, at, op.new, clen(cur));
          try {
            apply(t, b, { flags, server: true });
          } catch (e) {
            fail(`gen ${gen}: ${unfitText(e)}`);
          }
          emit(b);
          break;
        }
        case "join": {
          const { key, next, prop } = op;
          let a: string;
          let b2: string;
          try {
            a = getText(t, key, prop);
            b2 = getText(t, next, prop);
          } catch (e) {
            return fail(`gen ${gen}: ${unfitText(e)}`);
          }
          const b = join(key, next, prop, clen(a), clen(b2));
          let moved: string | null = null;
          let ok = true;
          try {
            moved = apply(t, b, { flags, server: true });
          } catch {
            ok = false;
          }
          if (!ok || moved !== null) fail(`gen ${gen}: join of ${dbg(key)} and ${dbg(next)} does not replay`);
          emit(b);
          break;
        }
      }
    }
  }
  return [t, out, flags];
}

/** `replay`, or null where Rust returns `Err`. */
export function tryReplay(base: Tree, log: readonly (readonly [number, Patch])[]): Replayed | null {
  try {
    return replay(base, log);
  } catch (e) {
    if (e instanceof ReplayError) return null;
    throw e;
  }
}

function sortedProps(props: Record<string, unknown>): string[] {
  return Object.keys(props).sort(cmpKeys);
}

function propsEqual(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const x = Object.keys(a);
  if (x.length !== Object.keys(b).length) return false;
  for (const k of x) if (!hasProp(b, k) || !jsonEqual(a[k], b[k])) return false;
  return true;
}

/** True if the replayed tree holds what the server says (same nodes, parents, kinds, props). */
export function agrees(replayed: Tree, remote: Tree): boolean {
  if (replayed.nodes.size !== remote.nodes.size) return false;
  for (const [k, r] of remote.nodes.entries()) {
    const n = replayed.get(k);
    if (n === undefined || (n.parent ?? null) !== (r.parent ?? null) || n.kind !== r.kind || !propsEqual(n.props, r.props)) return false;
  }
  return true;
}

/**
 * The server's changes when its log is not available (below the horizon): per block, the
 * character diff from `base` to `remote`, and a `gone` for deleted nodes. Splits and joins show
 * as shortened and lengthened texts and created and deleted nodes.
 */
export function diffOps(base: Tree, remote: Tree): [BOp[], Flags] {
  const ops: BOp[] = [];
  const flags = newFlags();
  const goneKeys = new SortedSet<string>();
  for (const k of base.nodes.keys()) if (!remote.contains(k)) goneKeys.add(k);
  for (const [k, r] of remote.nodes.entries()) {
    const b = base.get(k);
    if (b === undefined) {
      for (const p of sortedProps(r.props)) {
        const v = r.props[p];
        if (typeof v === "string") setFlags(flags, k, p, new Array<boolean>(clen(v)).fill(true));
      }
      continue;
    }
    const props = new SortedSet<string>([...Object.keys(b.props), ...Object.keys(r.props)]);
    for (const p of props) {
      const x = textOf(b, p);
      const y = textOf(r, p);
      if (x !== null && y !== null) {
        if (x !== y) {
          const d = otDiff(x, y);
          try {
            setFlags(flags, k, p, d.applyVec(new Array<boolean>(clen(x)).fill(false), true));
          } catch {
            // (cannot happen: the diff is of `x`)
          }
          ops.push({ type: "text", key: k, prop: p, op: d });
        }
      } else if (x !== null && y === null) {
        ops.push({ type: "nontext", key: k, prop: p });
      } else if (x === null && y !== null) {
        setFlags(flags, k, p, new Array<boolean>(clen(y)).fill(true));
      }
    }
  }
  if (!goneKeys.isEmpty()) ops.push({ type: "gone", keys: goneKeys });
  return [ops, flags];
}
