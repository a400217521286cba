// Mirrors similar 3.2.1's types.rs and algorithms/hook.rs: `DiffOp` (here `DOp`, a mutable
// record with its tag) with the accessors and in-place adjustments that compact.rs uses, and the
// `DiffHook` (here `Hook`) that every stage of the diff pipeline emits ops into. Items are code
// points compared as numbers (`Seq`). Part of the port behind ot.ts `diff` (see capture.ts).

export type Seq = ArrayLike<number>;

export type Tag = "equal" | "delete" | "insert" | "replace";

/** A similar::DiffOp. `len` is the equal length, the deleted length (delete, replace) or the inserted length (insert); `newLen` is a replace's inserted length. */
export interface DOp {
  tag: Tag;
  oldIndex: number;
  newIndex: number;
  len: number;
  newLen: number;
}

export function dEqual(oldIndex: number, newIndex: number, len: number): DOp {
  return { tag: "equal", oldIndex, newIndex, len, newLen: 0 };
}

export function oldStart(op: DOp): number {
  return op.oldIndex;
}
export function oldEnd(op: DOp): number {
  return op.tag === "insert" ? op.oldIndex : op.oldIndex + op.len;
}
export function newStart(op: DOp): number {
  return op.newIndex;
}
export function newEnd(op: DOp): number {
  switch (op.tag) {
    case "delete":
      return op.newIndex;
    case "replace":
      return op.newIndex + op.newLen;
    default:
      return op.newIndex + op.len;
  }
}
export function isEmptyOp(op: DOp): boolean {
  return !(oldStart(op) < oldEnd(op)) && !(newStart(op) < newEnd(op));
}
// DiffOp::adjust: the offset applies to both indexes, the length to the length(s)
function adjust(op: DOp, offset: number, len: number): void {
  op.oldIndex += offset;
  op.newIndex += offset;
  op.len += len;
  if (op.tag === "replace") op.newLen += len;
}
export const shiftLeft = (op: DOp, a: number) => adjust(op, -a, 0);
export const shiftRight = (op: DOp, a: number) => adjust(op, a, 0);
export const growLeft = (op: DOp, a: number) => adjust(op, -a, a);
export const growRight = (op: DOp, a: number) => adjust(op, 0, a);
export const shrinkLeft = (op: DOp, a: number) => adjust(op, 0, -a);
export const shrinkRight = (op: DOp, a: number) => adjust(op, a, -a);

export interface Hook {
  equal(oldIndex: number, newIndex: number, len: number): void;
  delete(oldIndex: number, oldLen: number, newIndex: number): void;
  insert(oldIndex: number, newIndex: number, newLen: number): void;
  replace(oldIndex: number, oldLen: number, newIndex: number, newLen: number): void;
  finish(): void;
}

// DiffOp::apply_to_hook
export function applyToHook(op: DOp, d: Hook): void {
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
