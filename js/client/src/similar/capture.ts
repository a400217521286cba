// A port of the Rust crate `similar` 3.2.1's Myers diff, as ot.rs `diff` calls it:
// `capture_diff_slices_deadline(Algorithm::Myers, ..)` (common.rs), which runs preflight
// (preflight.ts) → Myers (myers.ts) → Compact (compact.ts) → Replace (replace.ts) → Capture
// (algorithms/capture.rs, here), so that the TypeScript client computes exactly the ops the
// Rust one does. Items are code points compared as numbers. Pure code, no I/O.

import { CompactHook } from "./compact.js";
import { myersDiffDeadline } from "./myers.js";
import { ReplaceHook } from "./replace.js";
import { type DOp, type Hook, type Seq, dEqual } from "./types.js";

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

/** similar::capture_diff_slices_deadline(Algorithm::Myers, old, new, deadline). */
export function captureDiffSlicesDeadline(old: Seq, nw: Seq, deadline: number | null): DOp[] {
  const capture = new Capture();
  const d = new CompactHook(new ReplaceHook(capture), old, nw);
  myersDiffDeadline(d, old, 0, old.length, nw, 0, nw.length, deadline);
  return capture.ops;
}
