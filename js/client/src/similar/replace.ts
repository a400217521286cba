// Mirrors similar 3.2.1's algorithms/replace.rs: the `Replace` hook, which merges a run of
// deletes followed by inserts into one replace and adjacent equals into one equal.

import type { Hook } from "./types.js";

export class ReplaceHook implements Hook {
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
