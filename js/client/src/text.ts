// Mirrors core/src/text.rs: text inside a string property (SPEC §6, "The text op"): splices
// `[at, delete, insert]` counted in Unicode code points, applied in order, each to the result
// of the one before.
//
// JavaScript strings are UTF-16: every offset and count here is in code points (an astral
// character such as "😀" counts as one, as in Rust's `str::chars()`), never in UTF-16 units.
// The code point helpers (`cpLen`, `cps`, `cpSlice`, `unitOffset`, `splitAt`) are the one
// place that converts.
//
// Errors: an edit that does not fit throws `Misfit` (Rust's `Err(Misfit)`); a malformed wire
// edit throws `ShapeError` from `editFromJson` (Rust's `Err(String)`). Pure code, no I/O.

import { NodesyncError } from "./errors.js";
import { ShapeError, shorten, show } from "./json.js";

/** One splice: remove `delete` code points starting at `at`, then insert `insert` at `at`. */
export interface Edit {
  at: number;
  delete: number;
  insert: string;
}

/** `Edit::new`. */
export function newEdit(at: number, del: number, insert: string): Edit {
  return { at, delete: del, insert };
}

/** Does nothing (deletes nothing, inserts nothing). */
export function isNoop(e: Edit): boolean {
  return e.delete === 0 && e.insert === "";
}

/** Same edit (Rust's `==`). */
export function editEqual(a: Edit, b: Edit): boolean {
  return a.at === b.at && a.delete === b.delete && a.insert === b.insert;
}

/** The wire form `[at, delete, insert]`. */
export function editToJson(e: Edit): [number, number, string] {
  return [e.at, e.delete, e.insert];
}

function isCount(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
}

/** Reads the wire form `[at, delete, insert]`; throws `ShapeError` saying what is wrong with it. */
export function editFromJson(v: unknown): Edit {
  if (!Array.isArray(v) || v.length !== 3) {
    throw new ShapeError(`an edit is [at, delete, insert], got ${shorten(show(v))}`);
  }
  const count = (what: string, x: unknown): number => {
    if (!isCount(x)) throw new ShapeError(`${what} must be an integer >= 0, got ${shorten(show(x))}`);
    return x;
  };
  const at = count("at", v[0]);
  const del = count("delete", v[1]);
  const ins: unknown = v[2];
  if (typeof ins !== "string") throw new ShapeError(`insert must be a string, got ${shorten(show(ins))}`);
  return { at, delete: del, insert: ins };
}

/** An edit that does not fit the text it is applied to. */
export class Misfit extends NodesyncError {
  /** Index of the edit in its list. */
  readonly index: number;
  readonly at: number;
  readonly delete: number;
  /** Length of the text (code points) when the edit was applied. */
  readonly len: number;
  constructor(index: number, at: number, del: number, len: number) {
    super(`edit ${index} ([${at}, ${del}, …]) reaches code point ${at + del} of a text ${len} code points long`);
    this.name = "Misfit";
    this.index = index;
    this.at = at;
    this.delete = del;
    this.len = len;
  }
}

function isHigh(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function isLow(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** Number of code points in `s` (Rust's `text::len`, `s.chars().count()`). */
export function cpLen(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length - 1; i++) {
    if (isHigh(s.charCodeAt(i)) && isLow(s.charCodeAt(i + 1))) {
      n--;
      i++;
    }
  }
  return n;
}

/** The code points of `s`, one string each (`Array.from(s)`, Rust's `chars().collect()`). */
export function cps(s: string): string[] {
  return Array.from(s);
}

/**
 * The UTF-16 offset of code point `at` in `s` (`s.length` for the end), or `null` past the end
 * (Rust's `byte_offset`, in UTF-16 units).
 */
export function unitOffset(s: string, at: number, from = 0): number | null {
  if (at === 0) return from;
  let i = from;
  let n = 0;
  while (i < s.length) {
    if (n === at) return i;
    i += isHigh(s.charCodeAt(i)) && i + 1 < s.length && isLow(s.charCodeAt(i + 1)) ? 2 : 1;
    n++;
  }
  return n === at ? s.length : null;
}

/** `s` split after its first `at` code points, or `null` if `s` is shorter. */
export function splitAt(s: string, at: number): [string, string] | null {
  const b = unitOffset(s, at);
  return b === null ? null : [s.slice(0, b), s.slice(b)];
}

/** Code points `start..end` of `s` (clamped to the text, like `Array.from(s).slice(start, end).join("")`). */
export function cpSlice(s: string, start: number, end?: number): string {
  const a = unitOffset(s, Math.max(0, start)) ?? s.length;
  if (end === undefined) return s.slice(a);
  if (end <= start) return "";
  const b = unitOffset(s, end - Math.max(0, start), a) ?? s.length;
  return s.slice(a, b);
}

/** Applies one edit; throws `Misfit` (index 0, `len` the text's length) if it does not fit. */
export function applyOne(s: string, e: Edit): string {
  const start = unitOffset(s, e.at);
  if (start === null) throw new Misfit(0, e.at, e.delete, cpLen(s));
  let end = start;
  if (e.delete !== 0) {
    const b = unitOffset(s, e.delete, start);
    if (b === null) throw new Misfit(0, e.at, e.delete, cpLen(s));
    end = b;
  }
  return s.slice(0, start) + e.insert + s.slice(end);
}

/** Applies `edits` in order to `s`; throws `Misfit` naming the first edit that does not fit. */
export function apply(s: string, edits: readonly Edit[]): string {
  return applyEach(s, edits, () => {});
}

/**
 * Applies `edits` in order to `s`, calling `before` ahead of each edit (it may throw to stop);
 * an edit that does not fit throws `Misfit` with its index.
 */
export function applyEach(s: string, edits: readonly Edit[], before: () => void): string {
  let out = s;
  for (let index = 0; index < edits.length; index++) {
    const e = edits[index]!;
    before();
    try {
      out = applyOne(out, e);
    } catch (err) {
      if (err instanceof Misfit) throw new Misfit(index, err.at, err.delete, err.len);
      throw err;
    }
  }
  return out;
}
