// Block ops (BOps): a `text` splice list (as a TextOp), a `split`, a `join`, or, on the server's
// side only, "these nodes are gone" and "this property is no longer text"; a caret to map on
// the local side. Their key, whether they touch a node, equality, Rust's Debug form, the
// constructors the transform and the replay share, and what a transform can lose (`Lost`).

import { SortedSet } from "../order.js";
import type { TextOp } from "../ot.js";

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


export function text(key: string, prop: string, op: TextOp): BOp[] {
  return op.isIdentity() ? [] : [{ type: "text", key, prop, op }];
}

export function split(key: string, prop: string, at: number, neu: string, len: number): BOp {
  return { type: "split", key, prop, at, new: neu, len };
}

export function join(key: string, next: string, prop: string, len: number, nextLen: number): BOp {
  return { type: "join", key, next, prop, len, nextLen };
}

export function gone(keys: Iterable<string>): BOp {
  return { type: "gone", keys: new SortedSet<string>(keys) };
}

