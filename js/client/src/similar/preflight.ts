// Mirrors similar 3.2.1's algorithms/preflight.rs (`reduce_for_myers`): trims the common prefix
// and suffix and, for long inputs whose ends differ, drops the records that cannot match (or
// only confuse the search), leaving Myers a smaller problem whose indexes map back.

import type { Seq } from "./types.js";
import { commonPrefixLen, commonSuffixLen, deadlineExceeded, isqrt } from "./utils.js";

const DISJOINT_FAST_PATH_MIN_LEN = 512;
const DISJOINT_FAST_PATH_MIN_WORK = 128 * 1024;
const DISJOINT_FAST_PATH_DEADLINE_CHECK_INTERVAL = 1024;
const DISJOINT_FAST_PATH_BOUNDARY_PROBE = 8;
const CONFUSING_RECORD_SCAN_WINDOW = 100;
const CONFUSING_RECORD_RATIO = 4;
const MAX_MATCH_FREQUENCY_THRESHOLD = 1024;
const NO_MATCH_RECORD_ID = -1;

export interface Trimmed {
  os: number;
  oe: number;
  ns: number;
  ne: number;
  origOs: number;
  origOe: number;
  origNs: number;
  origNe: number;
  prefixLen: number;
  suffixLen: number;
}

export interface Reduced {
  oldValues: number[];
  oldIndices: number[];
  newValues: number[];
  newIndices: number[];
  trimmed: Trimmed;
}

export type Preflight = { kind: "trimmed"; trimmed: Trimmed } | { kind: "reduced"; reduced: Reduced };

const DISCARD = 0;
const KEEP = 1;
const INVESTIGATE = 2;

function shouldScan(old: Seq, os: number, oe: number, nw: Seq, ns: number, ne: number, deadline: number | null): boolean {
  if (deadlineExceeded(deadline)) return false;
  const oldLen = oe - os;
  const newLen = ne - ns;
  if (oldLen < DISJOINT_FAST_PATH_MIN_LEN || newLen < DISJOINT_FAST_PATH_MIN_LEN || oldLen * newLen < DISJOINT_FAST_PATH_MIN_WORK) return false;
  // (the type check of Rust passes: both sides are chars)
  if (nw[ns] === old[os] || nw[ne - 1] === old[oe - 1]) return false;
  const probeLen = Math.min(oldLen, newLen, DISJOINT_FAST_PATH_BOUNDARY_PROBE + 1);
  for (let skip = 1; skip < probeLen; skip++) {
    if (nw[ns + skip] === old[os] || nw[ns] === old[os + skip] || nw[ne - 1 - skip] === old[oe - 1] || nw[ne - 1] === old[oe - 1 - skip]) {
      return false;
    }
  }
  return true;
}

function recordActions(ids: readonly number[], oppositeCounts: readonly number[]): Uint8Array {
  const frequencyLimit = Math.min(Math.max(isqrt(ids.length), 1), MAX_MATCH_FREQUENCY_THRESHOLD);
  const out = new Uint8Array(ids.length);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (id === NO_MATCH_RECORD_ID) out[i] = DISCARD;
    else {
      const count = oppositeCounts[id]!;
      out[i] = count === 0 ? DISCARD : count < frequencyLimit ? KEEP : INVESTIGATE;
    }
  }
  return out;
}

/**
 * Rust's keep_record for every record: Discard → dropped, Keep → kept, Investigate → kept
 * unless discard_confusing_record. That scans up to CONFUSING_RECORD_SCAN_WINDOW records to
 * the left ((0..index).rev()) and to the right (index + 1..), each scan stopping at a Keep,
 * counting discards and investigates. Here each scan is O(1): the range it covers is bounded
 * by the nearest Keep and the window, and prefix sums count the discards in it.
 */
function keptRecords(actions: Uint8Array): Uint8Array {
  const n = actions.length;
  const discardsBefore = new Int32Array(n + 1); // discards in actions[0..i]
  for (let i = 0; i < n; i++) discardsBefore[i + 1] = discardsBefore[i]! + (actions[i] === DISCARD ? 1 : 0);
  const prevKeep = new Int32Array(n); // nearest Keep below i, or -1
  let last = -1;
  for (let i = 0; i < n; i++) {
    prevKeep[i] = last;
    if (actions[i] === KEEP) last = i;
  }
  const nextKeep = new Int32Array(n); // nearest Keep above i, or n
  last = n;
  for (let i = n - 1; i >= 0; i--) {
    nextKeep[i] = last;
    if (actions[i] === KEEP) last = i;
  }
  const out = new Uint8Array(n);
  for (let index = 0; index < n; index++) {
    const a = actions[index]!;
    if (a === DISCARD) continue;
    if (a === KEEP) {
      out[index] = 1;
      continue;
    }
    // left scan: indexes lo..index-1
    const lo = Math.max(prevKeep[index]! + 1, index - CONFUSING_RECORD_SCAN_WINDOW, 0);
    const leftDiscards = discardsBefore[index]! - discardsBefore[lo]!;
    if (leftDiscards === 0) {
      out[index] = 1;
      continue;
    }
    const leftInvestigates = index - lo - leftDiscards;
    // right scan: indexes index+1..hi-1
    const hi = Math.min(nextKeep[index]!, index + 1 + CONFUSING_RECORD_SCAN_WINDOW, n);
    const rightDiscards = discardsBefore[hi]! - discardsBefore[index + 1]!;
    if (rightDiscards === 0) {
      out[index] = 1;
      continue;
    }
    const rightInvestigates = hi - (index + 1) - rightDiscards;
    const discards = leftDiscards + rightDiscards;
    const investigates = leftInvestigates + rightInvestigates + 1;
    out[index] = investigates * CONFUSING_RECORD_RATIO < investigates + discards ? 0 : 1;
  }
  return out;
}

export function reduceForMyers(old: Seq, origOs: number, origOe: number, nw: Seq, origNs: number, origNe: number, deadline: number | null): Preflight | null {
  if (deadlineExceeded(deadline)) return null;
  const prefixLen = commonPrefixLen(old, origOs, origOe, nw, origNs, origNe);
  const oap = origOs + prefixLen;
  const nap = origNs + prefixLen;
  const suffixLen = commonSuffixLen(old, oap, origOe, nw, nap, origNe);
  const os = oap;
  const oe = origOe - suffixLen;
  const ns = nap;
  const ne = origNe - suffixLen;
  const trimmed: Trimmed = { os, oe, ns, ne, origOs, origOe, origNs, origNe, prefixLen, suffixLen };
  const asTrimmed: Preflight = { kind: "trimmed", trimmed };
  if (!shouldScan(old, os, oe, nw, ns, ne, deadline)) return asTrimmed;

  // ids by value (Rust: a hash map of buckets; only which values are equal matters): a flat
  // table for the BMP, a map above it
  const bmp = new Int32Array(0x10000).fill(-1);
  const astral = new Map<number, number>();
  const idOf = (v: number): number | undefined => {
    if (v >= 0 && v < 0x10000) {
      const id = bmp[v]!;
      return id < 0 ? undefined : id;
    }
    return astral.get(v);
  };
  const setId = (v: number, id: number): void => {
    if (v >= 0 && v < 0x10000) bmp[v] = id;
    else astral.set(v, id);
  };
  const oldValues: number[] = [];
  const newValues: number[] = [];
  const oldCounts: number[] = [];
  const newCounts: number[] = [];
  for (let offset = 0, oi = os; oi < oe; offset++, oi++) {
    if ((offset & (DISJOINT_FAST_PATH_DEADLINE_CHECK_INTERVAL - 1)) === 0 && deadlineExceeded(deadline)) return asTrimmed;
    const v = old[oi]!;
    let id = idOf(v);
    if (id === undefined) {
      id = oldCounts.length;
      setId(v, id);
      oldCounts.push(0);
      newCounts.push(0);
    }
    oldCounts[id]! += 1;
    oldValues.push(id);
  }
  for (let offset = 0, ni = ns; ni < ne; offset++, ni++) {
    if ((offset & (DISJOINT_FAST_PATH_DEADLINE_CHECK_INTERVAL - 1)) === 0 && deadlineExceeded(deadline)) return asTrimmed;
    const id = idOf(nw[ni]!) ?? NO_MATCH_RECORD_ID;
    if (id !== NO_MATCH_RECORD_ID) newCounts[id]! += 1;
    newValues.push(id);
  }

  const oldActions = recordActions(oldValues, newCounts);
  // Without a Discard every record is kept (an Investigate is dropped only between discards)
  // and Rust's result is the trimmed input: the same as skipping the loops below.
  const newActions = recordActions(newValues, oldCounts);
  if (!oldActions.includes(DISCARD) && !newActions.includes(DISCARD)) return asTrimmed;
  const reducedOld: number[] = [];
  const oldIndices: number[] = [];
  const oldKept = keptRecords(oldActions);
  for (let offset = 0; offset < oldValues.length; offset++) {
    if ((offset & (DISJOINT_FAST_PATH_DEADLINE_CHECK_INTERVAL - 1)) === 0 && deadlineExceeded(deadline)) return asTrimmed;
    if (oldKept[offset] === 1) {
      reducedOld.push(oldValues[offset]!);
      oldIndices.push(os + offset);
    }
  }
  const reducedNew: number[] = [];
  const newIndices: number[] = [];
  const newKept = keptRecords(newActions);
  for (let offset = 0; offset < newValues.length; offset++) {
    if ((offset & (DISJOINT_FAST_PATH_DEADLINE_CHECK_INTERVAL - 1)) === 0 && deadlineExceeded(deadline)) return asTrimmed;
    if (newKept[offset] === 1) {
      reducedNew.push(newValues[offset]!);
      newIndices.push(ns + offset);
    }
  }
  if (oldIndices.length === oe - os && newIndices.length === ne - ns) return asTrimmed;
  return { kind: "reduced", reduced: { oldValues: reducedOld, oldIndices, newValues: reducedNew, newIndices, trimmed } };
}
