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
//   3.2.1 computes it, ported in similar/), each lone insert or delete slid to the best word
//   boundary.
//
// Every count is in Unicode code points, as in text.ts.
//
// Errors: where Rust returns `Err(Mismatch)` (an op applied to or combined with a text or op of
// the wrong length) this throws `Mismatch`; where it returns `Err(Misfit)` (a splice that does
// not fit) it throws `Misfit` (from text.ts). Both extend NodesyncError. Pure code, no I/O.

import { type Run, slideToBoundaries } from "./boundaries.js";
import { NodesyncError } from "./errors.js";
import { captureDiffSlicesDeadline } from "./similar/capture.js";
import type { Tag } from "./similar/types.js";
import { now } from "./similar/utils.js";
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
// diff: ot.rs `diff` over the port of similar 3.2.1 `capture_diff_slices_deadline(Myers, ..)`
// (similar/capture.ts), then each lone insert or delete slid to a word boundary (boundaries.ts).

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
