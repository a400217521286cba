// Mirrors similar 3.2.1's algorithms/compact.rs: the `Compact` hook, which collects the ops and
// on finish slides each insert and delete up and down over equal text so that neighbouring ones
// merge (`cleanup_diff_ops`), then passes the result on.

import { type DOp, type Hook, type Seq, applyToHook, dEqual, growLeft, growRight, isEmptyOp, newEnd, newStart, oldEnd, oldStart, shiftLeft, shiftRight, shrinkLeft, shrinkRight } from "./types.js";
import { commonPrefixLen, commonSuffixLen } from "./utils.js";

export class CompactHook implements Hook {
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
