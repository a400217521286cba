// Block ops on a tree (mirrors `apply` of client/src/blocks.rs): reading a block's text,
// applying a BOp to a tree (a join of blocks no longer adjacent moves `next` first; an op that
// does not fit throws `UnfitError`), and the flags of the text the server inserted since the
// shadow, which applying keeps up to date.

import { SortedMap } from "../order.js";
import { type Place, ROOT } from "../patch.js";
import { cpLen as clen, splitAt } from "../text.js";
import type { Node, Tree } from "../tree.js";
import type { BOp } from "./bop.js";

/** The text of `prop` (`""` if absent), or `null` if it holds a value that is not a string. */
export function textOf(n: Node, prop: string): string | null {
  if (!Object.prototype.hasOwnProperty.call(n.props, prop)) return "";
  const v = n.props[prop];
  return typeof v === "string" ? v : null;
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

export function flagsOf(f: Flags, key: string, prop: string, len: number): boolean[] {
  const v = f.get([key, prop]);
  return v !== undefined && v.length === len ? v.slice() : new Array<boolean>(len).fill(false);
}

export function setFlags(f: Flags, key: string, prop: string, v: boolean[]): void {
  if (v.some((x) => x)) f.set([key, prop], v);
  else f.remove([key, prop]);
}

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

export function dbg(s: string): string {
  return JSON.stringify(s);
}

export function getText(t: Tree, key: string, prop: string): string {
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
