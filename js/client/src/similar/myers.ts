// Mirrors similar 3.2.1's algorithms/myers.rs (`diff_deadline`): Myers' divide-and-conquer
// diff over the preflight's reduced or trimmed input, in heuristic mode, with its front-anchor
// peel, the small-side exact fallback and xdiff-style cost limits, giving up on a split (a
// delete and an insert) once the deadline passes.

import { type Reduced, type Trimmed, reduceForMyers } from "./preflight.js";
import type { Hook, Seq } from "./types.js";
import { commonPrefixLen, commonSuffixLen, deadlineExceeded, isqrt } from "./utils.js";

type Mode = "heuristic" | "raw";

interface Search {
  deadline: number | null;
  mode: Mode;
}

/** myers::diff_deadline */
export function myersDiffDeadline(d: Hook, old: Seq, os: number, oe: number, nw: Seq, ns: number, ne: number, deadline: number | null): void {
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
