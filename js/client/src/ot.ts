// Mirrors core/src/ot.rs: operational transform of text (the client's rebase of `text` edits,
// docs/client.md "Text").
//
// A `TextOp` is one change of one string, in component form: a walk over the old text that
// retains, deletes and inserts code points, covering the whole old text. It is the form in
// which splice lists (`Edit`, the wire form of the `text` op) are composed, transformed and
// mapped; `TextOp.fromSplices` and `toSplices` convert.
//
// The rules (as in Rust):
// - `transform(a, b)` of two ops on the same text gives `[a', b']` with
//   `b'(a(base)) == a'(b(base))`. `a` wins ties: when both insert at the same offset, `a`'s
//   text comes first (the client passes the server's op as `a`).
// - Inserted characters always survive; a base character survives unless either side deleted
//   it; concurrent deletes of overlapping ranges delete the union, once.
// - `map(pos, Assoc.After)` puts a caret at an insert point after the inserted text.
// - `diff(old, new)`: a minimal character diff (Myers, exactly as the Rust crate `similar`
//   3.2.1 computes it, ported below), each lone insert or delete slid to the best word
//   boundary.
//
// Every count is in Unicode code points, as in text.ts.
//
// Errors: where Rust returns `Err(Mismatch)` (an op applied to or combined with a text or op of
// the wrong length) this throws `Mismatch`; where it returns `Err(Misfit)` (a splice that does
// not fit) it throws `Misfit` (from text.ts). Both extend NodesyncError. Pure code, no I/O.

import { NodesyncError } from "./errors.js";
import { type Edit, Misfit, cpLen, cps, splitAt } from "./text.js";

/** One component of a TextOp: keep `n` code points, insert `text`, or delete `n` code points. */
export type Comp = { tag: "retain"; n: number } | { tag: "insert"; text: string } | { tag: "delete"; n: number };

/** An op applied to (or combined with) a text or op of the wrong length. */
export class Mismatch extends NodesyncError {
  readonly expected: number;
  readonly got: number;
  constructor(expected: number, got: number) {
    super(`a text op for ${expected} code points met a text of ${got}`);
    this.name = "Mismatch";
    this.expected = expected;
    this.got = got;
  }
}

/** Which side of text inserted exactly at an offset the offset ends up on. */
export type Assoc = "before" | "after";
export const Assoc = {
  /** Before the inserted text. */
  Before: "before",
  /** After the inserted text (a caret; the client's default). */
  After: "after",
} as const;

function clen(s: string): number {
  return cpLen(s);
}

/** `s` split after `n` code points (all of `s` and "" if it is shorter). */
function splitStr(s: string, n: number): [string, string] {
  return splitAt(s, n) ?? [s, ""];
}

function copyComp(c: Comp): Comp {
  return c.tag === "insert" ? { tag: "insert", text: c.text } : { tag: c.tag, n: c.n };
}

/**
 * A change of one string: components covering the whole old text (`baseLen()` code points),
 * producing the new text (`targetLen()`). Kept canonical: no empty components, no two adjacent
 * components of one kind, and an insert before a delete at the same offset, so two ops that do
 * the same thing are `equals`. Build with `retain`, `insert`, `delete` (they mutate and return
 * the op, for chaining).
 */
export class TextOp {
  private cs: Comp[] = [];
  private base = 0;
  private target = 0;

  /** Changes nothing in a text of `len` code points. */
  static identity(len: number): TextOp {
    return new TextOp().retain(len);
  }

  /** Length (code points) of the text it applies to. */
  baseLen(): number {
    return this.base;
  }

  /** Length (code points) of the text it produces. */
  targetLen(): number {
    return this.target;
  }

  /** The components (the op's own: do not mutate). */
  comps(): readonly Comp[] {
    return this.cs;
  }

  /** True if it changes nothing. */
  isIdentity(): boolean {
    return this.cs.every((c) => c.tag === "retain");
  }

  /** Code points it inserts. */
  inserted(): number {
    let n = 0;
    for (const c of this.cs) if (c.tag === "insert") n += clen(c.text);
    return n;
  }

  /** Code points it deletes. */
  deleted(): number {
    let n = 0;
    for (const c of this.cs) if (c.tag === "delete") n += c.n;
    return n;
  }

  retain(n: number): this {
    if (n === 0) return this;
    this.base += n;
    this.target += n;
    const last = this.cs[this.cs.length - 1];
    if (last && last.tag === "retain") last.n += n;
    else this.cs.push({ tag: "retain", n });
    return this;
  }

  insert(s: string): this {
    if (s === "") return this;
    this.target += clen(s);
    const n = this.cs.length;
    const last = this.cs[n - 1];
    if (last && last.tag === "insert") {
      last.text += s;
    } else if (last && last.tag === "delete") {
      // canonical: the insert goes before the delete at the same offset
      const prev = n >= 2 ? this.cs[n - 2] : undefined;
      if (prev && prev.tag === "insert") {
        prev.text += s;
        return this;
      }
      this.cs.splice(n - 1, 0, { tag: "insert", text: s });
    } else {
      this.cs.push({ tag: "insert", text: s });
    }
    return this;
  }

  delete(n: number): this {
    if (n === 0) return this;
    this.base += n;
    const last = this.cs[this.cs.length - 1];
    if (last && last.tag === "delete") last.n += n;
    else this.cs.push({ tag: "delete", n });
    return this;
  }

  private push(c: Comp): void {
    if (c.tag === "retain") this.retain(c.n);
    else if (c.tag === "insert") this.insert(c.text);
    else this.delete(c.n);
  }

  /** A copy. */
  clone(): TextOp {
    const o = new TextOp();
    o.cs = this.cs.map(copyComp);
    o.base = this.base;
    o.target = this.target;
    return o;
  }

  /** Same components (Rust's `==`). */
  equals(other: TextOp): boolean {
    if (this.base !== other.base || this.target !== other.target || this.cs.length !== other.cs.length) return false;
    for (let i = 0; i < this.cs.length; i++) {
      const a = this.cs[i]!;
      const b = other.cs[i]!;
      if (a.tag !== b.tag) return false;
      if (a.tag === "insert" ? a.text !== (b as { text: string }).text : a.n !== (b as { n: number }).n) return false;
    }
    return true;
  }

  /** One splice `[at, delete, insert]` on a text of `len` code points; throws `Misfit` (index 0) if it does not fit. */
  static splice(len: number, e: Edit): TextOp {
    const end = e.at + e.delete;
    if (Number.isSafeInteger(e.at) && Number.isSafeInteger(e.delete) && e.at >= 0 && e.delete >= 0 && Number.isSafeInteger(end) && end <= len) {
      return new TextOp().retain(e.at).insert(e.insert).delete(e.delete).retain(len - end);
    }
    throw new Misfit(0, e.at, e.delete, len);
  }

  /** A splice list (each applied to the result of the one before) on a text of `len` code points, as one op; throws `Misfit`. */
  static fromSplices(len: number, edits: readonly Edit[]): TextOp {
    let op = TextOp.identity(len);
    for (let index = 0; index < edits.length; index++) {
      const e = edits[index]!;
      let s: TextOp;
      try {
        s = TextOp.splice(op.target, e);
      } catch (m) {
        if (m instanceof Misfit) throw new Misfit(index, m.at, m.delete, m.len);
        throw m;
      }
      try {
        op = op.compose(s);
      } catch (m) {
        if (m instanceof Mismatch) throw new Misfit(index, e.at, e.delete, op.target);
        throw m;
      }
    }
    return op;
  }

  /** The same change as a splice list, left to right (the wire form of a `text` op). Empty for an identity. */
  toSplices(): Edit[] {
    const out: Edit[] = [];
    let pos = 0;
    let cur: Edit | null = null;
    for (const c of this.cs) {
      if (c.tag === "retain") {
        if (cur) {
          pos += clen(cur.insert);
          out.push(cur);
          cur = null;
        }
        pos += c.n;
      } else if (c.tag === "insert") {
        cur ??= { at: pos, delete: 0, insert: "" };
        cur.insert += c.text;
      } else {
        cur ??= { at: pos, delete: 0, insert: "" };
        cur.delete += c.n;
      }
    }
    if (cur) out.push(cur);
    return out;
  }

  /** Applies the op to `s`; throws `Mismatch` if `s` is not `baseLen()` code points long. */
  apply(s: string): string {
    const n = clen(s);
    if (n !== this.base) throw new Mismatch(this.base, n);
    let out = "";
    let i = 0; // UTF-16 position in s
    const skip = (k: number): number => {
      let j = i;
      for (let c = 0; c < k && j < s.length; c++) {
        const u = s.charCodeAt(j);
        j += u >= 0xd800 && u <= 0xdbff && j + 1 < s.length && (s.charCodeAt(j + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
      }
      return j;
    };
    for (const c of this.cs) {
      if (c.tag === "retain") {
        const j = skip(c.n);
        out += s.slice(i, j);
        i = j;
      } else if (c.tag === "insert") {
        out += c.text;
      } else {
        i = skip(c.n);
      }
    }
    return out;
  }

  /**
   * Applies the op to a sequence that has one element per code point (flags, ids): retained
   * elements are kept, inserted positions get `fill`. Throws `Mismatch` on a wrong length.
   */
  applyVec<T>(v: readonly T[], fill: T): T[] {
    if (v.length !== this.base) throw new Mismatch(this.base, v.length);
    const out: T[] = [];
    let i = 0;
    for (const c of this.cs) {
      if (c.tag === "retain") {
        for (let k = 0; k < c.n; k++) out.push(v[i + k]!);
        i += c.n;
      } else if (c.tag === "insert") {
        const n = clen(c.text);
        for (let k = 0; k < n; k++) out.push(fill);
      } else {
        i += c.n;
      }
    }
    return out;
  }

  /** `this` then `other` as one op (`other` applies to this op's result); throws `Mismatch`. */
  compose(other: TextOp): TextOp {
    if (this.target !== other.base) throw new Mismatch(other.base, this.target);
    const out = new TextOp();
    const a = this.cs;
    const b = other.cs;
    let ia = 0;
    let ib = 0;
    let x: Comp | undefined = a[ia++];
    let y: Comp | undefined = b[ib++];
    const nextA = (): Comp | undefined => a[ia++];
    const nextB = (): Comp | undefined => b[ib++];
    for (;;) {
      if (x === undefined && y === undefined) break;
      if (x !== undefined && x.tag === "delete") {
        out.delete(x.n);
        x = nextA();
        continue;
      }
      if (y !== undefined && y.tag === "insert") {
        out.insert(y.text);
        y = nextB();
        continue;
      }
      if (x === undefined || y === undefined) throw new Mismatch(other.base, this.target);
      if (x.tag === "retain" && y.tag === "retain") {
        const n = x.n;
        const m = y.n;
        const k = Math.min(n, m);
        out.retain(k);
        x = n > k ? { tag: "retain", n: n - k } : nextA();
        y = m > k ? { tag: "retain", n: m - k } : nextB();
      } else if (x.tag === "retain" && y.tag === "delete") {
        const n = x.n;
        const m = y.n;
        const k = Math.min(n, m);
        out.delete(k);
        x = n > k ? { tag: "retain", n: n - k } : nextA();
        y = m > k ? { tag: "delete", n: m - k } : nextB();
      } else if (x.tag === "insert" && y.tag === "retain") {
        const n = clen(x.text);
        const m = y.n;
        const k = Math.min(n, m);
        const [head, tail] = splitStr(x.text, k);
        out.insert(head);
        x = n > k ? { tag: "insert", text: tail } : nextA();
        y = m > k ? { tag: "retain", n: m - k } : nextB();
      } else if (x.tag === "insert" && y.tag === "delete") {
        const n = clen(x.text);
        const m = y.n;
        const k = Math.min(n, m);
        const [, tail] = splitStr(x.text, k);
        x = n > k ? { tag: "insert", text: tail } : nextA();
        y = m > k ? { tag: "delete", n: m - k } : nextB();
      }
    }
    return out;
  }

  /**
   * This op on a text, as an op on `prefix` code points, then that text, then `suffix` code
   * points (the others unchanged). Used when blocks are joined.
   */
  padded(prefix: number, suffix: number): TextOp {
    const out = TextOp.identity(prefix);
    for (const c of this.cs) out.push(c);
    out.retain(suffix);
    return out;
  }

  /**
   * Splits the op at offset `at` of the old text into an op on the first `at` code points and
   * an op on the rest. Text inserted exactly at `at` goes to the right part if `insertsRight`,
   * else to the left part. Used when a block is split. Throws `Mismatch` if `at > baseLen()`.
   */
  cut(at: number, insertsRight: boolean): [TextOp, TextOp] {
    if (at > this.base) throw new Mismatch(this.base, at);
    const left = new TextOp();
    const right = new TextOp();
    let pos = 0;
    for (const c of this.cs) {
      if (c.tag === "insert") {
        if (pos < at || (pos === at && !insertsRight)) left.insert(c.text);
        else right.insert(c.text);
      } else {
        const n = c.n;
        const l = pos >= at ? 0 : Math.min(n, at - pos);
        const r = n - l;
        if (c.tag === "retain") {
          left.retain(l);
          right.retain(r);
        } else {
          left.delete(l);
          right.delete(r);
        }
        pos += n;
      }
    }
    return [left, right];
  }

  /**
   * Where offset `pos` of the old text is in the new text. A `pos` inside a deleted range maps
   * to where the range was; at an offset where text is inserted, `assoc` says which side of it.
   * `pos` past the end is taken as the end.
   */
  map(pos: number, assoc: Assoc): number {
    const p = Math.min(pos, this.base);
    let c = 0;
    let o = 0;
    for (const comp of this.cs) {
      if (comp.tag === "retain") {
        if (p < c + comp.n) return o + (p - c);
        c += comp.n;
        o += comp.n;
      } else if (comp.tag === "insert") {
        if (p === c && assoc === Assoc.Before) return o;
        o += clen(comp.text);
      } else {
        // inside (or at the start of) a deleted range; text inserted at this offset came
        // before the delete (canonical order), so it is counted
        if (p < c + comp.n) return o;
        c += comp.n;
      }
    }
    return o;
  }

  /** A readable form, e.g. `TextOp(3:[r2, i"x", d1])`, for messages and tests. */
  toString(): string {
    const parts = this.cs.map((c) => (c.tag === "retain" ? `r${c.n}` : c.tag === "delete" ? `d${c.n}` : `i${JSON.stringify(c.text)}`));
    return `TextOp(${this.base}:[${parts.join(", ")}])`;
  }
}

/**
 * Transforms two ops on the same text: `b'` applies after `a`, `a'` after `b`, and
 * `b'(a(base)) == a'(b(base))`. At equal offsets `a`'s inserted text comes first. Returns
 * `[a', b']`; throws `Mismatch` if the base lengths differ.
 */
export function transform(a: TextOp, b: TextOp): [TextOp, TextOp] {
  if (a.baseLen() !== b.baseLen()) throw new Mismatch(a.baseLen(), b.baseLen());
  const ap = new TextOp();
  const bp = new TextOp();
  const ca = a.comps();
  const cb = b.comps();
  let ia = 0;
  let ib = 0;
  let x: Comp | undefined = ca[ia++];
  let y: Comp | undefined = cb[ib++];
  for (;;) {
    if (x === undefined && y === undefined) break;
    if (x !== undefined && x.tag === "insert") {
      bp.retain(clen(x.text));
      ap.insert(x.text);
      x = ca[ia++];
      continue;
    }
    if (y !== undefined && y.tag === "insert") {
      ap.retain(clen(y.text));
      bp.insert(y.text);
      y = cb[ib++];
      continue;
    }
    if (x === undefined || y === undefined) throw new Mismatch(a.baseLen(), b.baseLen());
    // both are retains or deletes here (inserts are taken above)
    const p = x as { tag: "retain" | "delete"; n: number };
    const q = y as { tag: "retain" | "delete"; n: number };
    const n = p.n;
    const m = q.n;
    const k = Math.min(n, m);
    if (p.tag === "retain" && q.tag === "retain") {
      ap.retain(k);
      bp.retain(k);
    } else if (p.tag === "delete" && q.tag === "retain") {
      ap.delete(k);
    } else if (p.tag === "retain" && q.tag === "delete") {
      bp.delete(k);
    } // both deleted: gone once
    x = n > k ? { tag: p.tag, n: n - k } : ca[ia++];
    y = m > k ? { tag: q.tag, n: m - k } : cb[ib++];
  }
  return [ap, bp];
}

// ---------------------------------------------------------------------------------------------
// diff: ot.rs `diff` over a port of similar 3.2.1 `capture_diff_slices_deadline(Myers, ..)`:
// preflight (reduce_for_myers) → Myers (heuristic mode, with its front-anchor peel, small-side
// exact fallback and xdiff-style limits) → Compact (cleanup_diff_ops) → Replace → Capture.
// Items are code points compared as numbers.

type Seq = ArrayLike<number>;

type Tag = "equal" | "delete" | "insert" | "replace";

/** A similar::DiffOp. `len` is the equal length, the deleted length (delete, replace) or the inserted length (insert); `newLen` is a replace's inserted length. */
interface DOp {
  tag: Tag;
  oldIndex: number;
  newIndex: number;
  len: number;
  newLen: number;
}

function dEqual(oldIndex: number, newIndex: number, len: number): DOp {
  return { tag: "equal", oldIndex, newIndex, len, newLen: 0 };
}

function oldStart(op: DOp): number {
  return op.oldIndex;
}
function oldEnd(op: DOp): number {
  return op.tag === "insert" ? op.oldIndex : op.oldIndex + op.len;
}
function newStart(op: DOp): number {
  return op.newIndex;
}
function newEnd(op: DOp): number {
  switch (op.tag) {
    case "delete":
      return op.newIndex;
    case "replace":
      return op.newIndex + op.newLen;
    default:
      return op.newIndex + op.len;
  }
}
function isEmptyOp(op: DOp): boolean {
  return !(oldStart(op) < oldEnd(op)) && !(newStart(op) < newEnd(op));
}
// DiffOp::adjust: the offset applies to both indexes, the length to the length(s)
function adjust(op: DOp, offset: number, len: number): void {
  op.oldIndex += offset;
  op.newIndex += offset;
  op.len += len;
  if (op.tag === "replace") op.newLen += len;
}
const shiftLeft = (op: DOp, a: number) => adjust(op, -a, 0);
const shiftRight = (op: DOp, a: number) => adjust(op, a, 0);
const growLeft = (op: DOp, a: number) => adjust(op, -a, a);
const growRight = (op: DOp, a: number) => adjust(op, 0, a);
const shrinkLeft = (op: DOp, a: number) => adjust(op, 0, -a);
const shrinkRight = (op: DOp, a: number) => adjust(op, a, -a);

interface Hook {
  equal(oldIndex: number, newIndex: number, len: number): void;
  delete(oldIndex: number, oldLen: number, newIndex: number): void;
  insert(oldIndex: number, newIndex: number, newLen: number): void;
  replace(oldIndex: number, oldLen: number, newIndex: number, newLen: number): void;
  finish(): void;
}

function now(): number {
  const p = (globalThis as { performance?: { now(): number } }).performance;
  return p ? p.now() : Date.now();
}

function deadlineExceeded(deadline: number | null): boolean {
  return deadline !== null && now() > deadline;
}

function isqrt(n: number): number {
  let r = Math.floor(Math.sqrt(n));
  while (r * r > n) r--;
  while ((r + 1) * (r + 1) <= n) r++;
  return r;
}

function commonPrefixLen(old: Seq, os: number, oe: number, nw: Seq, ns: number, ne: number): number {
  if (!(os < oe) || !(ns < ne)) return 0;
  const max = Math.min(oe - os, ne - ns);
  let i = 0;
  while (i < max && nw[ns + i] === old[os + i]) i++;
  return i;
}

function commonSuffixLen(old: Seq, os: number, oe: number, nw: Seq, ns: number, ne: number): number {
  if (!(os < oe) || !(ns < ne)) return 0;
  const max = Math.min(oe - os, ne - ns);
  let i = 0;
  while (i < max && nw[ne - 1 - i] === old[oe - 1 - i]) i++;
  return i;
}

// ---- hooks

class Capture implements Hook {
  readonly ops: DOp[] = [];
  equal(oldIndex: number, newIndex: number, len: number): void {
    this.ops.push(dEqual(oldIndex, newIndex, len));
  }
  delete(oldIndex: number, oldLen: number, newIndex: number): void {
    this.ops.push({ tag: "delete", oldIndex, newIndex, len: oldLen, newLen: 0 });
  }
  insert(oldIndex: number, newIndex: number, newLen: number): void {
    this.ops.push({ tag: "insert", oldIndex, newIndex, len: newLen, newLen: 0 });
  }
  replace(oldIndex: number, oldLen: number, newIndex: number, newLen: number): void {
    this.ops.push({ tag: "replace", oldIndex, newIndex, len: oldLen, newLen });
  }
  finish(): void {}
}

class ReplaceHook implements Hook {
  private del: [number, number, number] | null = null;
  private ins: [number, number, number] | null = null;
  private eq: [number, number, number] | null = null;
  constructor(private readonly d: Hook) {}
  private flushEq(): void {
    if (this.eq) {
      const [o, n, l] = this.eq;
      this.eq = null;
      this.d.equal(o, n, l);
    }
  }
  private flushDelIns(): void {
    if (this.del) {
      const [delO, delL, delN] = this.del;
      this.del = null;
      if (this.ins) {
        const [, insN, insL] = this.ins;
        this.ins = null;
        this.d.replace(delO, delL, insN, insL);
      } else {
        this.d.delete(delO, delL, delN);
      }
    } else if (this.ins) {
      const [insO, insN, insL] = this.ins;
      this.ins = null;
      this.d.insert(insO, insN, insL);
    }
  }
  equal(oldIndex: number, newIndex: number, len: number): void {
    this.flushDelIns();
    this.eq = this.eq ? [this.eq[0], this.eq[1], this.eq[2] + len] : [oldIndex, newIndex, len];
  }
  delete(oldIndex: number, oldLen: number, newIndex: number): void {
    this.flushEq();
    this.del = this.del ? [this.del[0], this.del[1] + oldLen, this.del[2]] : [oldIndex, oldLen, newIndex];
  }
  insert(oldIndex: number, newIndex: number, newLen: number): void {
    this.flushEq();
    this.ins = this.ins ? [this.ins[0], this.ins[1], newLen + this.ins[2]] : [oldIndex, newIndex, newLen];
  }
  replace(oldIndex: number, oldLen: number, newIndex: number, newLen: number): void {
    this.flushEq();
    this.d.replace(oldIndex, oldLen, newIndex, newLen);
  }
  finish(): void {
    this.flushEq();
    this.flushDelIns();
    this.d.finish();
  }
}

class CompactHook implements Hook {
  private ops: DOp[] = [];
  constructor(
    private readonly d: Hook,
    private readonly old: Seq,
    private readonly nw: Seq,
  ) {}
  equal(oldIndex: number, newIndex: number, len: number): void {
    this.ops.push(dEqual(oldIndex, newIndex, len));
  }
  delete(oldIndex: number, oldLen: number, newIndex: number): void {
    this.ops.push({ tag: "delete", oldIndex, newIndex, len: oldLen, newLen: 0 });
  }
  insert(oldIndex: number, newIndex: number, newLen: number): void {
    this.ops.push({ tag: "insert", oldIndex, newIndex, len: newLen, newLen: 0 });
  }
  // the trait's default replace
  replace(oldIndex: number, oldLen: number, newIndex: number, newLen: number): void {
    this.delete(oldIndex, oldLen, newIndex);
    this.insert(oldIndex, newIndex, newLen);
  }
  finish(): void {
    cleanupDiffOps(this.old, this.nw, this.ops);
    for (const op of this.ops) applyToHook(op, this.d);
    this.d.finish();
  }
}

function applyToHook(op: DOp, d: Hook): void {
  switch (op.tag) {
    case "equal":
      return d.equal(op.oldIndex, op.newIndex, op.len);
    case "delete":
      return d.delete(op.oldIndex, op.len, op.newIndex);
    case "insert":
      return d.insert(op.oldIndex, op.newIndex, op.len);
    case "replace":
      return d.replace(op.oldIndex, op.len, op.newIndex, op.newLen);
  }
}

// ---- compact.rs

function cleanupDiffOps(old: Seq, nw: Seq, ops: DOp[]): void {
  shiftAllDiffOps(ops, old, nw);
  normalizeDiffOpCursors(ops);
}

function shiftAllDiffOps(ops: DOp[], old: Seq, nw: Seq): void {
  let pointer = 0;
  while (pointer < ops.length) {
    if (ops[pointer]!.tag === "delete") {
      pointer = shiftDiffOpsUp(ops, old, nw, pointer);
      pointer = shiftDiffOpsDown(ops, old, nw, pointer);
    }
    pointer += 1;
  }
  pointer = 0;
  while (pointer < ops.length) {
    if (ops[pointer]!.tag === "insert") {
      pointer = shiftDiffOpsUp(ops, old, nw, pointer);
      pointer = shiftDiffOpsDown(ops, old, nw, pointer);
    }
    pointer += 1;
  }
}

function normalizeDiffOpCursors(ops: DOp[]): void {
  let oldCursor = 0;
  let newCursor = 0;
  const first = ops[0];
  if (first) {
    oldCursor = oldStart(first);
    newCursor = newStart(first);
  }
  for (const op of ops) {
    switch (op.tag) {
      case "equal":
        oldCursor = op.oldIndex + op.len;
        newCursor = op.newIndex + op.len;
        break;
      case "delete":
        op.newIndex = newCursor;
        oldCursor = op.oldIndex + op.len;
        break;
      case "insert":
        op.oldIndex = oldCursor;
        newCursor = op.newIndex + op.len;
        break;
      case "replace":
        oldCursor = op.oldIndex + op.len;
        newCursor = op.newIndex + op.newLen;
        break;
    }
  }
}

function swapAdjacentInsertDelete(ops: DOp[], left: number): void {
  const right = left + 1;
  const os = oldStart(ops[left]!);
  const oe = oldEnd(ops[right]!);
  const ns = newStart(ops[left]!);
  const ne = newEnd(ops[right]!);
  const tmp = ops[left]!;
  ops[left] = ops[right]!;
  ops[right] = tmp;
  const l = ops[left]!;
  if (l.tag === "insert") l.oldIndex = os;
  else if (l.tag === "delete") l.newIndex = ns;
  else throw new Error("expected insert/delete pair");
  const r = ops[right]!;
  if (r.tag === "insert") r.oldIndex = oe;
  else if (r.tag === "delete") r.newIndex = ne;
  else throw new Error("expected insert/delete pair");
}

function shiftDiffOpsUp(ops: DOp[], old: Seq, nw: Seq, pointer: number): number {
  while (pointer >= 1 && pointer - 1 < ops.length) {
    const prev = { ...ops[pointer - 1]! };
    const cur = { ...ops[pointer]! };
    if (cur.tag === "insert" && prev.tag === "equal") {
      const suffixLen = commonSuffixLen(old, oldStart(prev), oldEnd(prev), nw, newStart(cur), newEnd(cur));
      if (suffixLen > 0) {
        const next = ops[pointer + 1];
        if (next && next.tag === "equal") growLeft(next, suffixLen);
        else ops.splice(pointer + 1, 0, dEqual(oldEnd(prev) - suffixLen, newEnd(cur) - suffixLen, suffixLen));
        shiftLeft(ops[pointer]!, suffixLen);
        shrinkLeft(ops[pointer - 1]!, suffixLen);
        if (isEmptyOp(ops[pointer - 1]!)) {
          ops.splice(pointer - 1, 1);
          pointer -= 1;
        }
      } else if (isEmptyOp(ops[pointer - 1]!)) {
        ops.splice(pointer - 1, 1);
        pointer -= 1;
      } else {
        break;
      }
    } else if (cur.tag === "delete" && prev.tag === "equal") {
      const canMerge = pointer >= 2 && ops[pointer - 2]!.tag === "delete";
      if (!canMerge) break;
      const suffixLen = commonSuffixLen(old, oldStart(cur), oldEnd(cur), nw, newStart(prev), newEnd(prev));
      if (suffixLen !== 0) {
        const next = ops[pointer + 1];
        if (next && next.tag === "equal") growLeft(next, suffixLen);
        else ops.splice(pointer + 1, 0, dEqual(oldEnd(cur) - suffixLen, newEnd(prev) - suffixLen, suffixLen));
        shiftLeft(ops[pointer]!, suffixLen);
        shrinkLeft(ops[pointer - 1]!, suffixLen);
        if (isEmptyOp(ops[pointer - 1]!)) {
          ops.splice(pointer - 1, 1);
          pointer -= 1;
        }
      } else if (isEmptyOp(ops[pointer - 1]!)) {
        ops.splice(pointer - 1, 1);
        pointer -= 1;
      } else {
        break;
      }
    } else if ((cur.tag === "insert" && prev.tag === "delete") || (cur.tag === "delete" && prev.tag === "insert")) {
      swapAdjacentInsertDelete(ops, pointer - 1);
      pointer -= 1;
    } else if (cur.tag === "insert" && prev.tag === "insert") {
      growRight(ops[pointer - 1]!, newEnd(cur) - newStart(cur));
      ops.splice(pointer, 1);
      pointer -= 1;
    } else if (cur.tag === "delete" && prev.tag === "delete") {
      growRight(ops[pointer - 1]!, oldEnd(cur) - oldStart(cur));
      ops.splice(pointer, 1);
      pointer -= 1;
    } else {
      throw new Error("unexpected tag");
    }
  }
  return pointer;
}

function shiftDiffOpsDown(ops: DOp[], old: Seq, nw: Seq, pointer: number): number {
  while (pointer + 1 < ops.length) {
    const cur = { ...ops[pointer]! };
    const next = { ...ops[pointer + 1]! };
    if (cur.tag === "insert" && next.tag === "equal") {
      const prefixLen = commonPrefixLen(old, oldStart(next), oldEnd(next), nw, newStart(cur), newEnd(cur));
      if (prefixLen > 0) {
        const prev = pointer >= 1 ? ops[pointer - 1] : undefined;
        if (prev && prev.tag === "equal") {
          growRight(prev, prefixLen);
        } else {
          ops.splice(pointer, 0, dEqual(oldStart(next), newStart(cur), prefixLen));
          pointer += 1;
        }
        shiftRight(ops[pointer]!, prefixLen);
        shrinkRight(ops[pointer + 1]!, prefixLen);
        if (isEmptyOp(ops[pointer + 1]!)) ops.splice(pointer + 1, 1);
      } else if (isEmptyOp(ops[pointer + 1]!)) {
        ops.splice(pointer + 1, 1);
      } else {
        break;
      }
    } else if (cur.tag === "delete" && next.tag === "equal") {
      const after = ops[pointer + 2];
      const canMerge = after !== undefined && after.tag === "delete";
      if (!canMerge) break;
      const prefixLen = commonPrefixLen(old, oldStart(cur), oldEnd(cur), nw, newStart(next), newEnd(next));
      if (prefixLen > 0) {
        const prev = pointer >= 1 ? ops[pointer - 1] : undefined;
        if (prev && prev.tag === "equal") {
          growRight(prev, prefixLen);
        } else {
          ops.splice(pointer, 0, dEqual(oldStart(cur), newStart(cur), prefixLen));
          pointer += 1;
        }
        shiftRight(ops[pointer]!, prefixLen);
        shrinkRight(ops[pointer + 1]!, prefixLen);
        if (isEmptyOp(ops[pointer + 1]!)) ops.splice(pointer + 1, 1);
      } else if (isEmptyOp(ops[pointer + 1]!)) {
        ops.splice(pointer + 1, 1);
      } else {
        break;
      }
    } else if ((cur.tag === "insert" && next.tag === "delete") || (cur.tag === "delete" && next.tag === "insert")) {
      swapAdjacentInsertDelete(ops, pointer);
      pointer += 1;
    } else if (cur.tag === "insert" && next.tag === "insert") {
      growRight(ops[pointer]!, newEnd(next) - newStart(next));
      ops.splice(pointer + 1, 1);
    } else if (cur.tag === "delete" && next.tag === "delete") {
      growRight(ops[pointer]!, oldEnd(next) - oldStart(next));
      ops.splice(pointer + 1, 1);
    } else {
      throw new Error("unexpected tag");
    }
  }
  return pointer;
}

// ---- preflight.rs

const DISJOINT_FAST_PATH_MIN_LEN = 512;
const DISJOINT_FAST_PATH_MIN_WORK = 128 * 1024;
const DISJOINT_FAST_PATH_DEADLINE_CHECK_INTERVAL = 1024;
const DISJOINT_FAST_PATH_BOUNDARY_PROBE = 8;
const CONFUSING_RECORD_SCAN_WINDOW = 100;
const CONFUSING_RECORD_RATIO = 4;
const MAX_MATCH_FREQUENCY_THRESHOLD = 1024;
const NO_MATCH_RECORD_ID = -1;

interface Trimmed {
  os: number;
  oe: number;
  ns: number;
  ne: number;
  origOs: number;
  origOe: number;
  origNs: number;
  origNe: number;
  prefixLen: number;
  suffixLen: number;
}

interface Reduced {
  oldValues: number[];
  oldIndices: number[];
  newValues: number[];
  newIndices: number[];
  trimmed: Trimmed;
}

type Preflight = { kind: "trimmed"; trimmed: Trimmed } | { kind: "reduced"; reduced: Reduced };

const DISCARD = 0;
const KEEP = 1;
const INVESTIGATE = 2;

function shouldScan(old: Seq, os: number, oe: number, nw: Seq, ns: number, ne: number, deadline: number | null): boolean {
  if (deadlineExceeded(deadline)) return false;
  const oldLen = oe - os;
  const newLen = ne - ns;
  if (oldLen < DISJOINT_FAST_PATH_MIN_LEN || newLen < DISJOINT_FAST_PATH_MIN_LEN || oldLen * newLen < DISJOINT_FAST_PATH_MIN_WORK) return false;
  // (the type check of Rust passes: both sides are chars)
  if (nw[ns] === old[os] || nw[ne - 1] === old[oe - 1]) return false;
  const probeLen = Math.min(oldLen, newLen, DISJOINT_FAST_PATH_BOUNDARY_PROBE + 1);
  for (let skip = 1; skip < probeLen; skip++) {
    if (nw[ns + skip] === old[os] || nw[ns] === old[os + skip] || nw[ne - 1 - skip] === old[oe - 1] || nw[ne - 1] === old[oe - 1 - skip]) {
      return false;
    }
  }
  return true;
}

function recordActions(ids: readonly number[], oppositeCounts: readonly number[]): Uint8Array {
  const frequencyLimit = Math.min(Math.max(isqrt(ids.length), 1), MAX_MATCH_FREQUENCY_THRESHOLD);
  const out = new Uint8Array(ids.length);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (id === NO_MATCH_RECORD_ID) out[i] = DISCARD;
    else {
      const count = oppositeCounts[id]!;
      out[i] = count === 0 ? DISCARD : count < frequencyLimit ? KEEP : INVESTIGATE;
    }
  }
  return out;
}

/**
 * Rust's keep_record for every record: Discard → dropped, Keep → kept, Investigate → kept
 * unless discard_confusing_record. That scans up to CONFUSING_RECORD_SCAN_WINDOW records to
 * the left ((0..index).rev()) and to the right (index + 1..), each scan stopping at a Keep,
 * counting discards and investigates. Here each scan is O(1): the range it covers is bounded
 * by the nearest Keep and the window, and prefix sums count the discards in it.
 */
function keptRecords(actions: Uint8Array): Uint8Array {
  const n = actions.length;
  const discardsBefore = new Int32Array(n + 1); // discards in actions[0..i]
  for (let i = 0; i < n; i++) discardsBefore[i + 1] = discardsBefore[i]! + (actions[i] === DISCARD ? 1 : 0);
  const prevKeep = new Int32Array(n); // nearest Keep below i, or -1
  let last = -1;
  for (let i = 0; i < n; i++) {
    prevKeep[i] = last;
    if (actions[i] === KEEP) last = i;
  }
  const nextKeep = new Int32Array(n); // nearest Keep above i, or n
  last = n;
  for (let i = n - 1; i >= 0; i--) {
    nextKeep[i] = last;
    if (actions[i] === KEEP) last = i;
  }
  const out = new Uint8Array(n);
  for (let index = 0; index < n; index++) {
    const a = actions[index]!;
    if (a === DISCARD) continue;
    if (a === KEEP) {
      out[index] = 1;
      continue;
    }
    // left scan: indexes lo..index-1
    const lo = Math.max(prevKeep[index]! + 1, index - CONFUSING_RECORD_SCAN_WINDOW, 0);
    const leftDiscards = discardsBefore[index]! - discardsBefore[lo]!;
    if (leftDiscards === 0) {
      out[index] = 1;
      continue;
    }
    const leftInvestigates = index - lo - leftDiscards;
    // right scan: indexes index+1..hi-1
    const hi = Math.min(nextKeep[index]!, index + 1 + CONFUSING_RECORD_SCAN_WINDOW, n);
    const rightDiscards = discardsBefore[hi]! - discardsBefore[index + 1]!;
    if (rightDiscards === 0) {
      out[index] = 1;
      continue;
    }
    const rightInvestigates = hi - (index + 1) - rightDiscards;
    const discards = leftDiscards + rightDiscards;
    const investigates = leftInvestigates + rightInvestigates + 1;
    out[index] = investigates * CONFUSING_RECORD_RATIO < investigates + discards ? 0 : 1;
  }
  return out;
}

function reduceForMyers(old: Seq, origOs: number, origOe: number, nw: Seq, origNs: number, origNe: number, deadline: number | null): Preflight | null {
  if (deadlineExceeded(deadline)) return null;
  const prefixLen = commonPrefixLen(old, origOs, origOe, nw, origNs, origNe);
  const oap = origOs + prefixLen;
  const nap = origNs + prefixLen;
  const suffixLen = commonSuffixLen(old, oap, origOe, nw, nap, origNe);
  const os = oap;
  const oe = origOe - suffixLen;
  const ns = nap;
  const ne = origNe - suffixLen;
  const trimmed: Trimmed = { os, oe, ns, ne, origOs, origOe, origNs, origNe, prefixLen, suffixLen };
  const asTrimmed: Preflight = { kind: "trimmed", trimmed };
  if (!shouldScan(old, os, oe, nw, ns, ne, deadline)) return asTrimmed;

  // ids by value (Rust: a hash map of buckets; only which values are equal matters): a flat
  // table for the BMP, a map above it
  const bmp = new Int32Array(0x10000).fill(-1);
  const astral = new Map<number, number>();
  const idOf = (v: number): number | undefined => {
    if (v >= 0 && v < 0x10000) {
      const id = bmp[v]!;
      return id < 0 ? undefined : id;
    }
    return astral.get(v);
  };
  const setId = (v: number, id: number): void => {
    if (v >= 0 && v < 0x10000) bmp[v] = id;
    else astral.set(v, id);
  };
  const oldValues: number[] = [];
  const newValues: number[] = [];
  const oldCounts: number[] = [];
  const newCounts: number[] = [];
  for (let offset = 0, oi = os; oi < oe; offset++, oi++) {
    if ((offset & (DISJOINT_FAST_PATH_DEADLINE_CHECK_INTERVAL - 1)) === 0 && deadlineExceeded(deadline)) return asTrimmed;
    const v = old[oi]!;
    let id = idOf(v);
    if (id === undefined) {
      id = oldCounts.length;
      setId(v, id);
      oldCounts.push(0);
      newCounts.push(0);
    }
    oldCounts[id]! += 1;
    oldValues.push(id);
  }
  for (let offset = 0, ni = ns; ni < ne; offset++, ni++) {
    if ((offset & (DISJOINT_FAST_PATH_DEADLINE_CHECK_INTERVAL - 1)) === 0 && deadlineExceeded(deadline)) return asTrimmed;
    const id = idOf(nw[ni]!) ?? NO_MATCH_RECORD_ID;
    if (id !== NO_MATCH_RECORD_ID) newCounts[id]! += 1;
    newValues.push(id);
  }

  const oldActions = recordActions(oldValues, newCounts);
  // Without a Discard every record is kept (an Investigate is dropped only between discards)
  // and Rust's result is the trimmed input: the same as skipping the loops below.
  const newActions = recordActions(newValues, oldCounts);
  if (!oldActions.includes(DISCARD) && !newActions.includes(DISCARD)) return asTrimmed;
  const reducedOld: number[] = [];
  const oldIndices: number[] = [];
  const oldKept = keptRecords(oldActions);
  for (let offset = 0; offset < oldValues.length; offset++) {
    if ((offset & (DISJOINT_FAST_PATH_DEADLINE_CHECK_INTERVAL - 1)) === 0 && deadlineExceeded(deadline)) return asTrimmed;
    if (oldKept[offset] === 1) {
      reducedOld.push(oldValues[offset]!);
      oldIndices.push(os + offset);
    }
  }
  const reducedNew: number[] = [];
  const newIndices: number[] = [];
  const newKept = keptRecords(newActions);
  for (let offset = 0; offset < newValues.length; offset++) {
    if ((offset & (DISJOINT_FAST_PATH_DEADLINE_CHECK_INTERVAL - 1)) === 0 && deadlineExceeded(deadline)) return asTrimmed;
    if (newKept[offset] === 1) {
      reducedNew.push(newValues[offset]!);
      newIndices.push(ns + offset);
    }
  }
  if (oldIndices.length === oe - os && newIndices.length === ne - ns) return asTrimmed;
  return { kind: "reduced", reduced: { oldValues: reducedOld, oldIndices, newValues: reducedNew, newIndices, trimmed } };
}

// ---- myers.rs

type Mode = "heuristic" | "raw";

interface Search {
  deadline: number | null;
  mode: Mode;
}

/** myers::diff_deadline */
function myersDiffDeadline(d: Hook, old: Seq, os: number, oe: number, nw: Seq, ns: number, ne: number, deadline: number | null): void {
  const pre = reduceForMyers(old, os, oe, nw, ns, ne, deadline);
  if (pre === null) diffDeadlineImpl(d, old, os, oe, nw, ns, ne, deadline, "heuristic");
  else if (pre.kind === "reduced") diffReduced(d, pre.reduced, deadline);
  else diffDeadlinePretrimmed(d, old, nw, pre.trimmed, deadline, "heuristic");
}

class ReducedDiffHook implements Hook {
  oldCursor: number;
  newCursor: number;
  constructor(
    private readonly d: Hook,
    private readonly oldIndices: readonly number[],
    private readonly newIndices: readonly number[],
    oldCursor: number,
    newCursor: number,
    private readonly oldEnd: number,
    private readonly newEnd: number,
  ) {
    this.oldCursor = oldCursor;
    this.newCursor = newCursor;
  }
  private emitGaps(oldAnchor: number, newAnchor: number): void {
    if (this.oldCursor < oldAnchor) {
      this.d.delete(this.oldCursor, oldAnchor - this.oldCursor, this.newCursor);
      this.oldCursor = oldAnchor;
    }
    if (this.newCursor < newAnchor) {
      this.d.insert(this.oldCursor, this.newCursor, newAnchor - this.newCursor);
      this.newCursor = newAnchor;
    }
  }
  equal(oldIndex: number, newIndex: number, len: number): void {
    let offset = 0;
    while (offset < len) {
      const oldAnchor = this.oldIndices[oldIndex + offset]!;
      const newAnchor = this.newIndices[newIndex + offset]!;
      this.emitGaps(oldAnchor, newAnchor);
      let runLen = 1;
      while (
        offset + runLen < len &&
        this.oldIndices[oldIndex + offset + runLen] === oldAnchor + runLen &&
        this.newIndices[newIndex + offset + runLen] === newAnchor + runLen
      ) {
        runLen += 1;
      }
      this.d.equal(oldAnchor, newAnchor, runLen);
      this.oldCursor = oldAnchor + runLen;
      this.newCursor = newAnchor + runLen;
      offset += runLen;
    }
  }
  delete(): void {}
  insert(): void {}
  replace(): void {}
  finish(): void {
    this.emitGaps(this.oldEnd, this.newEnd);
  }
}

function diffReduced(d: Hook, reduced: Reduced, deadline: number | null): void {
  const t = reduced.trimmed;
  if (t.prefixLen > 0) d.equal(t.origOs, t.origNs, t.prefixLen);
  const hook = new ReducedDiffHook(d, reduced.oldIndices, reduced.newIndices, t.os, t.ns, t.oe, t.ne);
  diffDeadlineImpl(hook, reduced.oldValues, 0, reduced.oldValues.length, reduced.newValues, 0, reduced.newValues.length, deadline, "heuristic");
  if (t.suffixLen > 0) d.equal(t.origOe - t.suffixLen, t.origNe - t.suffixLen, t.suffixLen);
  d.finish();
}

function diffDeadlineImpl(d: Hook, old: Seq, os: number, oe: number, nw: Seq, ns: number, ne: number, deadline: number | null, mode: Mode): void {
  const prefixLen = commonPrefixLen(old, os, oe, nw, ns, ne);
  const aos = os + prefixLen;
  const ans = ns + prefixLen;
  const suffixLen = commonSuffixLen(old, aos, oe, nw, ans, ne);
  const trimmed: Trimmed = { os: aos, oe: oe - suffixLen, ns: ans, ne: ne - suffixLen, origOs: os, origOe: oe, origNs: ns, origNe: ne, prefixLen, suffixLen };
  diffDeadlinePretrimmed(d, old, nw, trimmed, deadline, mode);
}

function diffDeadlinePretrimmed(d: Hook, old: Seq, nw: Seq, t: Trimmed, deadline: number | null, mode: Mode): void {
  if (t.prefixLen > 0) d.equal(t.origOs, t.origNs, t.prefixLen);
  const oldEmpty = !(t.os < t.oe);
  const newEmpty = !(t.ns < t.ne);
  if (oldEmpty && newEmpty) {
    // nothing
  } else if (oldEmpty) {
    d.insert(t.os, t.ns, t.ne - t.ns);
  } else if (newEmpty) {
    d.delete(t.os, t.oe - t.os, t.ns);
  } else {
    const md = maxD(t.oe - t.os, t.ne - t.ns);
    const vb = new V(md);
    const vf = new V(md);
    conquer(d, old, t.os, t.oe, nw, t.ns, t.ne, vf, vb, { deadline, mode });
  }
  if (t.suffixLen > 0) d.equal(t.origOe - t.suffixLen, t.origNe - t.suffixLen, t.suffixLen);
  d.finish();
}

/** The furthest-reaching x per diagonal k, indexed -max_d..max_d. */
class V {
  readonly offset: number;
  readonly v: Int32Array;
  constructor(maxD: number) {
    this.offset = maxD;
    this.v = new Int32Array(2 * maxD);
  }
  get len(): number {
    return this.v.length;
  }
}

function maxD(len1: number, len2: number): number {
  return Math.ceil((len1 + len2) / 2) + 1;
}

const SMALL_SIDE_EXACT_MAX = 64;
const SMALL_SIDE_EXACT_MIN_LARGE = 512;
const SMALL_SIDE_EXACT_MAX_WORK = 64_000_000;
const SMALL_SIDE_DEADLINE_CHECK_INTERVAL = 1024;
const FRONT_ANCHOR_DEADLINE_CHECK_INTERVAL = 1024;
const HEURISTIC_MIN_COST = 256;
const HEURISTIC_MIN_SNAKE = 20;
const HEURISTIC_MIN_MAX_COST = 256;
const HEURISTIC_PROGRESS_FACTOR = 4;

function commonPrefixLenAt(old: Seq, os: number, oe: number, nw: Seq, ns: number, ne: number): number {
  const max = Math.min(oe - os, ne - ns);
  let m = 0;
  while (m < max && nw[ns + m] === old[os + m]) m++;
  return m;
}

function commonPrefixLenAtDeadline(old: Seq, os: number, oe: number, nw: Seq, ns: number, ne: number, deadline: number | null): number | null {
  const max = Math.min(oe - os, ne - ns);
  let m = 0;
  while (m < max) {
    if ((m & (FRONT_ANCHOR_DEADLINE_CHECK_INTERVAL - 1)) === 0 && deadlineExceeded(deadline)) return null;
    if (nw[ns + m] !== old[os + m]) break;
    m++;
  }
  return m;
}

function commonSuffixLenAt(old: Seq, os: number, oe: number, nw: Seq, ns: number, ne: number): number {
  const max = Math.min(oe - os, ne - ns);
  let m = 0;
  while (m < max && nw[ne - 1 - m] === old[oe - 1 - m]) m++;
  return m;
}

function maybeEmitSmallSideExact(d: Hook, old: Seq, os: number, oe: number, nw: Seq, ns: number, ne: number, deadline: number | null): boolean {
  if (deadlineExceeded(deadline)) return false;
  const oldLen = oe - os;
  const newLen = ne - ns;
  const small = Math.min(oldLen, newLen);
  const large = Math.max(oldLen, newLen);
  const work = oldLen * newLen;
  if (small === 0 || small > SMALL_SIDE_EXACT_MAX || large < SMALL_SIDE_EXACT_MIN_LARGE || work > SMALL_SIDE_EXACT_MAX_WORK) return false;
  return oldLen <= newLen ? emitSmallOldExact(d, old, os, oe, nw, ns, ne, deadline) : emitSmallNewExact(d, old, os, oe, nw, ns, ne, deadline);
}

const checkEvery = (j: number) => (j & (SMALL_SIDE_DEADLINE_CHECK_INTERVAL - 1)) === 0;

function emitSmallOldExact(d: Hook, old: Seq, os: number, oe: number, nw: Seq, ns: number, ne: number, deadline: number | null): boolean {
  if (deadlineExceeded(deadline)) return false;
  const n = oe - os;
  const m = ne - ns;
  const width = m + 1;
  // dp[i][j] = LCS length for old[i..] vs new[j..]
  const dp = new Uint8Array((n + 1) * width);
  for (let i = n - 1; i >= 0; i--) {
    if (deadlineExceeded(deadline)) return false;
    const row = i * width;
    const nextRow = (i + 1) * width;
    for (let j = m - 1; j >= 0; j--) {
      if (checkEvery(j) && deadlineExceeded(deadline)) return false;
      dp[row + j] = nw[ns + j] === old[os + i] ? dp[nextRow + j + 1]! + 1 : Math.max(dp[nextRow + j]!, dp[row + j + 1]!);
    }
  }
  const at = (i: number, j: number) => dp[i * width + j]!;
  const diag = (i: number, j: number) => nw[ns + j] === old[os + i] && at(i, j) === at(i + 1, j + 1) + 1;
  let emittedAny = false;
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (!emittedAny && checkEvery(j) && deadlineExceeded(deadline)) return false;
    const newIdx = ns + j;
    if (diag(i, j)) {
      const si = i;
      const sj = j;
      while (i < n && j < m) {
        if (!emittedAny && checkEvery(j) && deadlineExceeded(deadline)) return false;
        if (diag(i, j)) {
          i++;
          j++;
        } else break;
      }
      d.equal(os + si, ns + sj, i - si);
      emittedAny = true;
    } else if (at(i + 1, j) >= at(i, j + 1)) {
      const si = i;
      while (i < n) {
        if (!emittedAny && checkEvery(j) && deadlineExceeded(deadline)) return false;
        if (j >= m) {
          i = n;
          break;
        }
        if (diag(i, j)) break;
        if (at(i + 1, j) >= at(i, j + 1)) i++;
        else break;
      }
      d.delete(os + si, i - si, newIdx);
      emittedAny = true;
    } else {
      const sj = j;
      const oldIdx = os + i;
      while (j < m) {
        if (!emittedAny && checkEvery(j) && deadlineExceeded(deadline)) return false;
        if (i >= n) {
          j = m;
          break;
        }
        if (diag(i, j)) break;
        if (at(i + 1, j) < at(i, j + 1)) j++;
        else break;
      }
      d.insert(oldIdx, ns + sj, j - sj);
      emittedAny = true;
    }
  }
  if (i < n) d.delete(os + i, n - i, ns + j);
  if (j < m) d.insert(os + i, ns + j, m - j);
  return true;
}

function emitSmallNewExact(d: Hook, old: Seq, os: number, oe: number, nw: Seq, ns: number, ne: number, deadline: number | null): boolean {
  if (deadlineExceeded(deadline)) return false;
  const n = oe - os;
  const m = ne - ns;
  const width = n + 1;
  // dp[i][j] = LCS length for new[i..] vs old[j..]
  const dp = new Uint8Array((m + 1) * width);
  for (let i = m - 1; i >= 0; i--) {
    if (deadlineExceeded(deadline)) return false;
    const row = i * width;
    const nextRow = (i + 1) * width;
    for (let j = n - 1; j >= 0; j--) {
      if (checkEvery(j) && deadlineExceeded(deadline)) return false;
      dp[row + j] = nw[ns + i] === old[os + j] ? dp[nextRow + j + 1]! + 1 : Math.max(dp[nextRow + j]!, dp[row + j + 1]!);
    }
  }
  const at = (i: number, j: number) => dp[i * width + j]!;
  const diag = (i: number, j: number) => nw[ns + i] === old[os + j] && at(i, j) === at(i + 1, j + 1) + 1;
  let emittedAny = false;
  let i = 0;
  let j = 0;
  while (i < m && j < n) {
    if (!emittedAny && checkEvery(j) && deadlineExceeded(deadline)) return false;
    const oldIdx = os + j;
    if (diag(i, j)) {
      const si = i;
      const sj = j;
      while (i < m && j < n) {
        if (!emittedAny && checkEvery(j) && deadlineExceeded(deadline)) return false;
        if (diag(i, j)) {
          i++;
          j++;
        } else break;
      }
      d.equal(os + sj, ns + si, j - sj);
      emittedAny = true;
    } else if (at(i + 1, j) >= at(i, j + 1)) {
      const si = i;
      while (i < m) {
        if (!emittedAny && checkEvery(j) && deadlineExceeded(deadline)) return false;
        if (j >= n) {
          i = m;
          break;
        }
        if (diag(i, j)) break;
        if (at(i + 1, j) >= at(i, j + 1)) i++;
        else break;
      }
      d.insert(oldIdx, ns + si, i - si);
      emittedAny = true;
    } else {
      const sj = j;
      const newIdx = ns + i;
      while (j < n) {
        if (!emittedAny && checkEvery(j) && deadlineExceeded(deadline)) return false;
        if (i >= m) {
          j = n;
          break;
        }
        if (diag(i, j)) break;
        if (at(i + 1, j) < at(i, j + 1)) j++;
        else break;
      }
      d.delete(os + sj, j - sj, newIdx);
      emittedAny = true;
    }
  }
  if (j < n) d.delete(os + j, n - j, ns + i);
  if (i < m) d.insert(os + j, ns + i, m - i);
  return true;
}

interface Range2 {
  os: number;
  oe: number;
  ns: number;
  ne: number;
}

function tryEmitFrontAnchor(d: Hook, old: Seq, nw: Seq, r: Range2, deadline: number | null): void {
  const MAX_SKIP = 4;
  const MIN_ANCHOR_COMMON = 96;
  const oldLen = r.oe - r.os;
  const newLen = r.ne - r.ns;
  if (oldLen <= MIN_ANCHOR_COMMON || newLen <= MIN_ANCHOR_COMMON) return;
  const small = Math.min(oldLen, newLen);
  const large = Math.max(oldLen, newLen);
  if (large < small * 2) return;
  const maxOldSkip = Math.min(Math.max(oldLen - 1, 0), MAX_SKIP);
  const maxNewSkip = Math.min(Math.max(newLen - 1, 0), MAX_SKIP);
  const preferInsert = newLen > oldLen;
  const preferDelete = oldLen > newLen;
  let best: [number, number, number] | null = null;
  search: for (let oldSkip = 0; oldSkip <= maxOldSkip; oldSkip++) {
    for (let newSkip = 0; newSkip <= maxNewSkip; newSkip++) {
      if (deadlineExceeded(deadline)) return;
      if (oldSkip === 0 && newSkip === 0) continue;
      if (oldSkip !== 0 && newSkip !== 0) continue;
      if (preferInsert && oldSkip !== 0) continue;
      if (preferDelete && newSkip !== 0) continue;
      if (nw[r.ns + newSkip] !== old[r.os + oldSkip]) continue;
      const common = commonPrefixLenAtDeadline(old, r.os + oldSkip, r.oe, nw, r.ns + newSkip, r.ne, deadline);
      if (common === null) return;
      if (common >= MIN_ANCHOR_COMMON) {
        if (common >= MIN_ANCHOR_COMMON * 8) {
          best = [oldSkip, newSkip, common];
          break search;
        }
        const span = Math.max(oldSkip, newSkip);
        let better = true;
        if (best) {
          const [bo, bn, bc] = best;
          const bspan = Math.max(bo, bn);
          // (common, Reverse(span), old_skip, new_skip) > (best...)
          better =
            common !== bc ? common > bc : span !== bspan ? span < bspan : oldSkip !== bo ? oldSkip > bo : newSkip > bn;
        }
        if (better) best = [oldSkip, newSkip, common];
      }
    }
  }
  if (!best) return;
  const [oldSkip, newSkip, common] = best;
  if (oldSkip === 0 && newSkip === 0) {
    // nothing
  } else if (oldSkip === 0) {
    d.insert(r.os, r.ns, newSkip);
  } else if (newSkip === 0) {
    d.delete(r.os, oldSkip, r.ns);
  } else {
    d.replace(r.os, oldSkip, r.ns, newSkip);
  }
  d.equal(r.os + oldSkip, r.ns + newSkip, common);
  r.os += oldSkip + common;
  r.ns += newSkip + common;
}

type Direction = "forward" | "backward";

interface HeuristicSplit {
  oldIndex: number;
  newIndex: number;
  progress: number;
  direction: Direction;
}

interface MiddleSnakeSplit {
  oldIndex: number;
  newIndex: number;
  leftMode: Mode;
  rightMode: Mode;
}

function exactSplit(oldIndex: number, newIndex: number): MiddleSnakeSplit {
  return { oldIndex, newIndex, leftMode: "raw", rightMode: "raw" };
}

function heuristicSplit(s: HeuristicSplit, os: number, ns: number): MiddleSnakeSplit {
  const [leftMode, rightMode]: [Mode, Mode] = s.direction === "forward" ? ["raw", "heuristic"] : ["heuristic", "raw"];
  return { oldIndex: os + s.oldIndex, newIndex: ns + s.newIndex, leftMode, rightMode };
}

function betterSplit(best: HeuristicSplit | null, candidate: HeuristicSplit): HeuristicSplit {
  return best === null || candidate.progress > best.progress ? candidate : best;
}

function isInteriorSplit(oi: number, ni: number, ol: number, nl: number): boolean {
  return oi <= ol && ni <= nl && (oi !== 0 || ni !== 0) && (oi !== ol || ni !== nl);
}

function clampDiagonalPoint(oldIndex: number, diagonal: number, oldLen: number, newLen: number): [number, number] | null {
  if (diagonal < 0 && -diagonal > newLen) return null;
  const minOld = Math.max(diagonal, 0);
  const maxOld = diagonal >= 0 ? Math.min(oldLen, newLen + diagonal) : Math.min(oldLen, Math.max(newLen + diagonal, 0));
  if (minOld > maxOld) return null;
  const oi = Math.min(Math.max(oldIndex, minOld), maxOld);
  return [oi, oi - diagonal];
}

function heuristicMaxCost(oldLen: number, newLen: number): number {
  return Math.max(isqrt(oldLen + newLen), HEURISTIC_MIN_MAX_COST);
}

// Rust computes y as `(x as isize - k) as usize`: a negative value wraps to a huge one, so
// every `y < m` / `y <= m` is false for it.
const ltU = (y: number, m: number) => y >= 0 && y < m;
const leU = (y: number, m: number) => y >= 0 && y <= m;

function findMiddleSnake(old: Seq, os: number, oe: number, nw: Seq, ns: number, ne: number, vf: V, vb: V, search: Search): MiddleSnakeSplit | null {
  const n = oe - os;
  const m = ne - ns;
  const delta = n - m;
  const odd = (delta & 1) === 1;
  const F = vf.v;
  const B = vb.v;
  const off = vf.offset; // (both have the same size)
  F[1 + off] = 0;
  B[1 + off] = 0;
  const dMax = maxD(n, m);
  if (!(vf.len >= dMax) || !(vb.len >= dMax)) throw new Error("myers: V too small");
  const maxCost = search.mode === "heuristic" ? heuristicMaxCost(n, m) : Infinity;
  for (let d = 0; d < dMax; d++) {
    if (deadlineExceeded(search.deadline)) break;
    let goodSplit: HeuristicSplit | null = null;
    let forwardSplit: HeuristicSplit | null = null;
    let backwardSplit: HeuristicSplit | null = null;
    const trackLimitSplit = search.mode === "heuristic" && d >= maxCost;
    const trackGoodSplit = search.mode === "heuristic" && d > HEURISTIC_MIN_COST;

    // forward path
    for (let k = d; k >= -d; k -= 2) {
      let x = k === -d || (k !== d && F[k - 1 + off]! < F[k + 1 + off]!) ? F[k + 1 + off]! : F[k - 1 + off]! + 1;
      const y = x - k;
      const x0 = x;
      const y0 = y;
      if (x < n && ltU(y, m)) {
        x += commonPrefixLenAt(old, os + x, oe, nw, ns + y, ne);
      }
      const snakeLen = x - x0;
      F[k + off] = x;
      if (odd && Math.abs(k - delta) <= d - 1 && x + B[-(k - delta) + off]! >= n) {
        return exactSplit(x0 + os, y0 + ns);
      }
      if (trackLimitSplit) {
        const p = clampDiagonalPoint(x, k, n, m);
        if (p && isInteriorSplit(p[0], p[1], n, m)) {
          forwardSplit = betterSplit(forwardSplit, { oldIndex: p[0], newIndex: p[1], progress: p[0] + p[1], direction: "forward" });
        }
      }
      // (as in Rust: `x` is past the snake, `y` is still the snake start's)
      if (trackGoodSplit && snakeLen >= HEURISTIC_MIN_SNAKE && x < n && ltU(y, m)) {
        const useful = Math.max(x + y - Math.abs(k), 0);
        if (useful > HEURISTIC_PROGRESS_FACTOR * d && isInteriorSplit(x0, y0, n, m)) {
          goodSplit = betterSplit(goodSplit, { oldIndex: x0, newIndex: y0, progress: useful, direction: "forward" });
        }
      }
    }

    // backward path
    for (let k = d; k >= -d; k -= 2) {
      let x = k === -d || (k !== d && B[k - 1 + off]! < B[k + 1 + off]!) ? B[k + 1 + off]! : B[k - 1 + off]! + 1;
      let y = x - k;
      const x0 = x;
      if (x < n && ltU(y, m)) {
        const advance = commonSuffixLenAt(old, os, os + n - x, nw, ns, ns + m - y);
        x += advance;
        y += advance;
      }
      const snakeLen = x - x0;
      B[k + off] = x;
      if (!odd && Math.abs(k - delta) <= d && x + F[-(k - delta) + off]! >= n) {
        return exactSplit(n - x + os, m - y + ns);
      }
      if (trackLimitSplit) {
        const p = clampDiagonalPoint(x, k, n, m);
        if (p) {
          const splitOld = n - p[0];
          const splitNew = m - p[1];
          if (isInteriorSplit(splitOld, splitNew, n, m)) {
            backwardSplit = betterSplit(backwardSplit, { oldIndex: splitOld, newIndex: splitNew, progress: p[0] + p[1], direction: "backward" });
          }
        }
      }
      if (trackGoodSplit && snakeLen >= HEURISTIC_MIN_SNAKE && x <= n && leU(y, m)) {
        const splitOld = n - x;
        const splitNew = m - y;
        const useful = Math.max(x + y - Math.abs(k), 0);
        if (splitOld > 0 && splitNew > 0 && useful > HEURISTIC_PROGRESS_FACTOR * d) {
          goodSplit = betterSplit(goodSplit, { oldIndex: splitOld, newIndex: splitNew, progress: useful, direction: "backward" });
        }
      }
    }

    if (goodSplit) return heuristicSplit(goodSplit, os, ns);
    if (d >= maxCost) {
      let split: HeuristicSplit;
      if (forwardSplit && backwardSplit) split = forwardSplit.progress > backwardSplit.progress ? forwardSplit : backwardSplit;
      else if (forwardSplit) split = forwardSplit;
      else if (backwardSplit) split = backwardSplit;
      else break;
      return heuristicSplit(split, os, ns);
    }
  }
  // the deadline was reached before an exact or heuristic split was found
  return null;
}

function conquer(d: Hook, old: Seq, os: number, oe: number, nw: Seq, ns: number, ne: number, vf: V, vb: V, search: Search): void {
  const cp = commonPrefixLen(old, os, oe, nw, ns, ne);
  if (cp > 0) d.equal(os, ns, cp);
  os += cp;
  ns += cp;
  const cs = commonSuffixLen(old, os, oe, nw, ns, ne);
  const suffixOld = oe - cs;
  const suffixNew = ne - cs;
  oe -= cs;
  ne -= cs;

  const r: Range2 = { os, oe, ns, ne };
  while (r.os < r.oe && r.ns < r.ne) {
    const ob = r.os;
    const nb = r.ns;
    tryEmitFrontAnchor(d, old, nw, r, search.deadline);
    if (r.os === ob && r.ns === nb) break;
  }
  os = r.os;
  ns = r.ns;

  const oldEmpty = !(os < oe);
  const newEmpty = !(ns < ne);
  if (oldEmpty && newEmpty) {
    // nothing
  } else if (newEmpty) {
    d.delete(os, oe - os, ns);
  } else if (oldEmpty) {
    d.insert(os, ns, ne - ns);
  } else if (maybeEmitSmallSideExact(d, old, os, oe, nw, ns, ne, search.deadline)) {
    // the exact fallback emitted the script
  } else {
    const split = findMiddleSnake(old, os, oe, nw, ns, ne, vf, vb, search);
    if (split) {
      conquer(d, old, os, split.oldIndex, nw, ns, split.newIndex, vf, vb, { deadline: search.deadline, mode: split.leftMode });
      conquer(d, old, split.oldIndex, oe, nw, split.newIndex, ne, vf, vb, { deadline: search.deadline, mode: split.rightMode });
    } else {
      d.delete(os, oe - os, ns);
      d.insert(os, ns, ne - ns);
    }
  }
  if (cs > 0) d.equal(suffixOld, suffixNew, cs);
}

/** similar::capture_diff_slices_deadline(Algorithm::Myers, old, new, deadline). */
function captureDiffSlicesDeadline(old: Seq, nw: Seq, deadline: number | null): DOp[] {
  const capture = new Capture();
  const d = new CompactHook(new ReplaceHook(capture), old, nw);
  myersDiffDeadline(d, old, 0, old.length, nw, 0, nw.length, deadline);
  return capture.ops;
}

// ---- ot.rs diff

const ALNUM = /^[\p{Alphabetic}\p{Nd}\p{Nl}\p{No}]$/u;
const WHITE = /^\p{White_Space}$/u;

function isAlphanumeric(c: string): boolean {
  return ALNUM.test(c);
}

function isWhitespace(c: string): boolean {
  return WHITE.test(c);
}

/**
 * How good a place the boundary between `s[lo..mid]` (left) and `s[mid..hi]` (right) is for an
 * edit to start or end (diff-match-patch's semantic score): 6 at the ends, 5 a blank line, 4 a
 * line break, 3 the end of a sentence, 2 whitespace, 1 other punctuation, 0 inside a word.
 */
function boundaryScore(s: readonly string[], lo: number, mid: number, hi: number): number {
  if (mid === lo || mid === hi) return 6;
  const a = s[mid - 1]!;
  const b = s[mid]!;
  const na = !isAlphanumeric(a);
  const nb = !isAlphanumeric(b);
  const wa = na && isWhitespace(a);
  const wb = nb && isWhitespace(b);
  const la = wa && (a === "\n" || a === "\r");
  const lb = wb && (b === "\n" || b === "\r");
  const blankA = la && mid - lo >= 2 && s[mid - 2] === "\n";
  const blankB = lb && hi - mid >= 2 && s[mid + 1] === "\n";
  if (blankA || blankB) return 5;
  if (la || lb) return 4;
  if (na && !wa && wb) return 3;
  if (wa || wb) return 2;
  if (na || nb) return 1;
  return 0;
}

/** One run of a diff in code points: kept, deleted or inserted. */
interface Run {
  kind: "eq" | "del" | "ins";
  c: string[];
}

/**
 * Slides each lone insert or delete (kept text on both sides) to the best-scoring word
 * boundary. Lossless: the runs spell the same old and new texts afterwards. (Rust moves code
 * points between three vectors; sliding is a window moving over their concatenation, which
 * stays the same, so this works on the concatenation and the window's start.)
 */
function slideToBoundaries(runs: Run[]): void {
  for (let i = 1; i < Math.max(runs.length - 1, 0); i++) {
    const lr = runs[i - 1]!;
    const er = runs[i]!;
    const rr = runs[i + 1]!;
    if (lr.kind !== "eq" || rr.kind !== "eq" || er.kind === "eq") continue;
    const s = lr.c.concat(er.c, rr.c);
    const len = er.c.length;
    let p = lr.c.length; // window start: l = s[..p], e = s[p..p+len], r = s[p+len..]
    // slide as far left as the text allows
    while (p > 0 && len > 0 && s[p - 1] === s[p + len - 1]) p--;
    // then step right, keeping the best place (the first of equal ones)
    const score = (q: number) => boundaryScore(s, 0, q, q + len) + boundaryScore(s, q, q + len, s.length);
    let best = p;
    let bestScore = score(p);
    while (len > 0 && p + len < s.length && s[p] === s[p + len]) {
      p++;
      const sc = score(p);
      if (sc > bestScore) {
        bestScore = sc;
        best = p;
      }
    }
    runs[i - 1] = { kind: "eq", c: s.slice(0, best) };
    runs[i] = { kind: er.kind, c: s.slice(best, best + len) };
    runs[i + 1] = { kind: "eq", c: s.slice(best + len) };
  }
}

/** Inputs whose changed middles are longer than this (code points, together) get a time limit. */
export const DIFF_DEADLINE_ABOVE = 20_000;
/** The time limit (ms) of a long diff; after it, the op is still exact but may be longer. */
export const DIFF_DEADLINE_MS = 50;

/**
 * The op that turns `old` into `new`: a minimal character diff (Myers, as similar 3.2.1), each
 * lone insert or delete slid to a word boundary. Inputs whose changed middles are long (over
 * 20,000 code points together) get a time limit of 50 ms and then may get a longer, still
 * exact, op (timing dependent, as in Rust).
 */
export function diff(old: string, neu: string): TextOp {
  const a = cps(old);
  const b = cps(neu);
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
  const am = a.slice(pre, a.length - suf);
  const bm = b.slice(pre, b.length - suf);
  const runs: Run[] = [{ kind: "eq", c: a.slice(0, pre) }];
  if (am.length === 0 && bm.length === 0) {
    // equal
  } else if (am.length === 0) {
    runs.push({ kind: "ins", c: bm });
  } else if (bm.length === 0) {
    runs.push({ kind: "del", c: am });
  } else {
    const deadline = am.length + bm.length > DIFF_DEADLINE_ABOVE ? now() + DIFF_DEADLINE_MS : null;
    const ac = am.map((c) => c.codePointAt(0)!);
    const bc = bm.map((c) => c.codePointAt(0)!);
    for (const op of captureDiffSlicesDeadline(ac, bc, deadline)) {
      switch (op.tag) {
        case "equal":
          runs.push({ kind: "eq", c: am.slice(op.oldIndex, op.oldIndex + op.len) });
          break;
        case "delete":
          runs.push({ kind: "del", c: am.slice(op.oldIndex, op.oldIndex + op.len) });
          break;
        case "insert":
          runs.push({ kind: "ins", c: bm.slice(op.newIndex, op.newIndex + op.len) });
          break;
        case "replace":
          runs.push({ kind: "del", c: am.slice(op.oldIndex, op.oldIndex + op.len) });
          runs.push({ kind: "ins", c: bm.slice(op.newIndex, op.newIndex + op.newLen) });
          break;
      }
    }
  }
  runs.push({ kind: "eq", c: a.slice(a.length - suf) });
  // merge neighbours of one kind so lone edits are seen as such
  const merged: Run[] = [];
  for (const r of runs) {
    const last = merged[merged.length - 1];
    if (last && last.kind === r.kind) {
      for (const c of r.c) last.c.push(c);
    } else {
      merged.push({ kind: r.kind, c: r.c.slice() });
    }
  }
  slideToBoundaries(merged);
  const op = new TextOp();
  for (const r of merged) {
    if (r.kind === "eq") op.retain(r.c.length);
    else if (r.kind === "del") op.delete(r.c.length);
    else op.insert(r.c.join(""));
  }
  return op;
}

/** The raw similar::DiffOps of two code point sequences (exported for tests: compare with Rust). */
export function myersOps(old: readonly number[], neu: readonly number[]): { tag: Tag; oldIndex: number; newIndex: number; oldLen: number; newLen: number }[] {
  return captureDiffSlicesDeadline(old, neu, null).map((op) => ({
    tag: op.tag,
    oldIndex: op.oldIndex,
    newIndex: op.newIndex,
    oldLen: op.tag === "insert" ? 0 : op.len,
    newLen: op.tag === "delete" ? 0 : op.tag === "replace" ? op.newLen : op.len,
  }));
}
