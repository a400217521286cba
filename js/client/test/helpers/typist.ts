// Simulated typists for the replica tests: the TypeScript counterpart of client/src/sim.rs
// (Typist, check_words, word, boundaries, blocks_text), driving a Replica (not a bare
// Workspace, so that edits made while a patch is in flight go through the replica).

import type { Replica } from "../../src/replica.js";
import type { Tree } from "../../src/tree.js";

/** A small seeded PRNG (xorshift32 over a splitmix-scrambled seed). */
export class Rng {
  private s: number;
  constructor(seed: number) {
    let z = (seed >>> 0) + 0x9e3779b9;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    this.s = (z ^ (z >>> 16)) >>> 0 || 1;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  /** 0 <= n < k. */
  below(k: number): number {
    return k <= 0 ? 0 : this.next() % k;
  }
}

/** `[token]`: brackets keep `[t1]` from matching inside `[t12]`, and keep words whole when blocks join without a space. */
export function word(token: string): string {
  return `[${token}]`;
}

/** Code points of `s`. */
export function cps(s: string): string[] {
  return Array.from(s);
}

/** Offsets (code points) of `text` where a word may go: the ends, and next to a space (sim.rs `boundaries`). */
export function boundaries(text: string): number[] {
  const chars = cps(text);
  const out = new Set<number>([0]);
  let depth = 0;
  chars.forEach((c, i) => {
    if (c === "[") depth++;
    else if (c === "]") depth--;
    if (depth <= 0 && (c === " " || c === "]" || chars[i + 1] === " " || chars[i + 1] === "[")) out.add(i + 1);
  });
  out.add(chars.length);
  return [...out].sort((a, b) => a - b);
}

/** Occurrences of `needle` in `hay`. */
export function count(hay: string, needle: string): number {
  if (needle === "") return 0;
  let n = 0;
  for (let i = hay.indexOf(needle); i >= 0; i = hay.indexOf(needle, i + needle.length)) n++;
  return n;
}

/** The `text` of the blocks under `parent`, in order, joined with "\n". */
export function blocksText(t: Tree, parent: string): string {
  const out: string[] = [];
  for (const c of t.children(parent)) {
    const v = t.get(c)?.props.text;
    if (v === undefined) out.push("");
    else if (typeof v === "string") out.push(v);
  }
  return out.join("\n");
}

export type Stroke = "word" | "erase" | "enter" | "joinUp";

/** Offset just after the `n`-th word of `text` (0 = start). */
export function afterWord(text: string, n: number): number {
  if (n === 0) return 0;
  let seen = 0;
  const chars = cps(text);
  for (let i = 0; i < chars.length; i++) {
    if (chars[i] === " " && ++seen === n) return i;
  }
  return chars.length;
}

/**
 * Someone typing unique words `[<id>.<n>]` (each with a space before it) at their own caret
 * (cursor "caret") in the blocks under `parent`, with `splice` or (if `whole`) whole-value
 * `update`s; erasing some of their own earlier words; pressing Enter (split) and Backspace at
 * a block start (join into the block before). Records what it typed and erased, in order.
 */
export class Typist {
  readonly typed: string[] = [];
  readonly erased = new Set<string>();
  keystrokes = 0;
  erasedKeystrokes = 0;
  splits = 0;
  joins = 0;
  private n = 0;

  constructor(
    r: Replica,
    readonly id: string,
    readonly parent: string,
    key: string,
    at: number,
    readonly whole = false,
  ) {
    r.setCursor("caret", key, "text", at);
  }

  /** Words typed and not erased, in typing order. */
  kept(): string[] {
    return this.typed.filter((w) => !this.erased.has(w));
  }

  private blockHolding(r: Replica, w: string): string | undefined {
    for (const k of r.tree().nodes.keyArray()) {
      if (r.text(k, "text")?.includes(w)) return k;
    }
    return undefined;
  }

  /** One stroke; false if it could not be made (e.g. no earlier word to erase). */
  stroke(r: Replica, rng: Rng, s: Stroke): boolean {
    const c = r.cursor("caret");
    if (!c) return false;
    switch (s) {
      case "word": {
        this.n++;
        const w = word(`${this.id}.${this.n}`);
        const cur = r.text(c.key, "text");
        if (cur === undefined) return false;
        const ins = ` ${w}`;
        const len = cps(ins).length;
        try {
          if (this.whole) {
            const chars = cps(cur);
            r.update(c.key, { text: chars.slice(0, c.at).join("") + ins + chars.slice(c.at).join("") });
            r.setCursor("caret", c.key, "text", c.at + len);
          } else {
            r.splice(c.key, "text", c.at, 0, ins);
          }
        } catch {
          return false;
        }
        this.keystrokes += len;
        this.typed.push(w);
        return true;
      }
      case "erase": {
        const present = this.kept().filter((w) => this.blockHolding(r, w) !== undefined);
        if (present.length === 0) return false;
        const w = present[rng.below(present.length)]!;
        const k = this.blockHolding(r, w)!;
        const t = r.text(k, "text")!;
        const b = t.indexOf(w);
        let at = cps(t.slice(0, b)).length;
        let len = cps(w).length;
        if (t.slice(0, b).endsWith(" ")) {
          at--;
          len++;
        }
        try {
          if (this.whole) {
            const chars = cps(t);
            const cur = r.cursor("caret");
            r.update(k, { text: chars.slice(0, at).join("") + chars.slice(at + len).join("") });
            if (cur && cur.key === k && cur.at >= at + len) r.setCursor("caret", k, "text", cur.at - len);
            else if (cur && cur.key === k && cur.at > at) r.setCursor("caret", k, "text", at);
          } else {
            r.splice(k, "text", at, len, "");
          }
        } catch {
          return false;
        }
        this.erased.add(w);
        this.erasedKeystrokes += len;
        return true;
      }
      case "enter": {
        try {
          r.split(c.key, "text", c.at, r.freshKey());
        } catch {
          return false;
        }
        this.splits++;
        return true;
      }
      case "joinUp": {
        const kids = r.children(this.parent);
        const i = kids.indexOf(c.key);
        if (i <= 0) return false;
        try {
          r.join(kids[i - 1]!, c.key, "text");
        } catch {
          return false;
        }
        this.joins++;
        return true;
      }
    }
  }
}

export interface TypistRecord {
  id: string;
  typed: readonly string[];
  erased: ReadonlySet<string>;
}

/** Each kept word exactly once, each erased word absent, each typist's kept words in typing order (sim.rs `check_words`). Returns what is wrong. */
export function checkWords(text: string, typists: readonly TypistRecord[]): string | undefined {
  for (const t of typists) {
    let last = -1;
    for (const w of t.typed) {
      const n = count(text, w);
      if (t.erased.has(w)) {
        if (n !== 0) return `${t.id}: erased word ${w} is present ${n} times`;
        continue;
      }
      if (n !== 1) return `${t.id}: word ${w} is present ${n} times (want 1)`;
      const at = text.indexOf(w);
      if (at < last) return `${t.id}: word ${w} is before an earlier word of the same typist`;
      last = at;
    }
  }
  return undefined;
}

/** The p-th percentile (0..100) of `xs`. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
