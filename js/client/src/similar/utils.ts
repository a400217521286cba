// Mirrors what similar 3.2.1's algorithms share from deadline_support.rs and algorithms/utils.rs:
// the clock and deadline check (a deadline is a `now()` value in ms, or null for none), integer
// square roots (Rust's `usize::isqrt`), and the common prefix and suffix lengths of two ranges.

import type { Seq } from "./types.js";

export function now(): number {
  const p = (globalThis as { performance?: { now(): number } }).performance;
  return p ? p.now() : Date.now();
}

export function deadlineExceeded(deadline: number | null): boolean {
  return deadline !== null && now() > deadline;
}

export function isqrt(n: number): number {
  let r = Math.floor(Math.sqrt(n));
  while (r * r > n) r--;
  while ((r + 1) * (r + 1) <= n) r++;
  return r;
}

export function commonPrefixLen(old: Seq, os: number, oe: number, nw: Seq, ns: number, ne: number): number {
  if (!(os < oe) || !(ns < ne)) return 0;
  const max = Math.min(oe - os, ne - ns);
  let i = 0;
  while (i < max && nw[ns + i] === old[os + i]) i++;
  return i;
}

export function commonSuffixLen(old: Seq, os: number, oe: number, nw: Seq, ns: number, ne: number): number {
  if (!(os < oe) || !(ns < ne)) return 0;
  const max = Math.min(oe - os, ne - ns);
  let i = 0;
  while (i < max && nw[ne - 1 - i] === old[oe - 1 - i]) i++;
  return i;
}
