// JSON helpers shared by the client modules (the parts of serde_json the Rust client relies on):
// deep equality with key order ignored (`jsonEqual`, serde_json `Value` ==), deep copies
// (`jsonClone`, `Value::clone`), compact text in serde_json's form (`jsonString`), and the
// short renderings used in error messages (`shorten`, `typeName`, mirroring
// core/src/patch.rs). Pure code, no I/O.

import { NodesyncError } from "./errors.js";
import { cmpKeys } from "./order.js";

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A node's props: a JSON object (serde_json `Map<String, Value>`). */
export type Props = Record<string, unknown>;

/** JSON that does not have the shape expected of it (a snapshot, a diff, an edit, a vector file...). */
export class ShapeError extends NodesyncError {
  constructor(message: string) {
    super(message);
    this.name = "ShapeError";
  }
}

/** True for a plain JSON object (not null, not an array). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Deep JSON equality: objects by their key sets and values (key order ignored), arrays
 * element by element, numbers by value. `undefined` only equals `undefined`.
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null) return false;
  if (typeof a === "number") return a === b; // NaN is not JSON
  if (typeof a !== "object") return false;
  const aa = Array.isArray(a);
  if (aa !== Array.isArray(b)) return false;
  if (aa) {
    const x = a as unknown[];
    const y = b as unknown[];
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!jsonEqual(x[i], y[i])) return false;
    return true;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const kx = Object.keys(x);
  if (kx.length !== Object.keys(y).length) return false;
  for (const k of kx) {
    if (!Object.prototype.hasOwnProperty.call(y, k)) return false;
    if (!jsonEqual(x[k], y[k])) return false;
  }
  return true;
}

/** A deep copy of a JSON value (strings, numbers, booleans and null are returned as is). */
export function jsonClone<T>(v: T): T {
  if (typeof v !== "object" || v === null) return v;
  if (Array.isArray(v)) return v.map((x) => jsonClone(x)) as T;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) out[k] = jsonClone((v as Record<string, unknown>)[k]);
  return out as T;
}

/** A deep copy of props. */
export function cloneProps(p: Props): Props {
  return jsonClone(p);
}

/**
 * Compact JSON text as serde_json's `Value::to_string` writes it with its default (sorted)
 * maps: object keys in code point order, no spaces. Strings are escaped as JSON.stringify
 * does (the same as serde_json for well-formed strings).
 */
export function jsonString(v: unknown): string {
  if (v === null || v === undefined) return "null";
  switch (typeof v) {
    case "string":
      return JSON.stringify(v);
    case "number":
      return Number.isFinite(v) ? JSON.stringify(v) : "null";
    case "boolean":
      return v ? "true" : "false";
    case "object": {
      if (Array.isArray(v)) return "[" + v.map(jsonString).join(",") + "]";
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o).sort(cmpKeys);
      return "{" + keys.map((k) => JSON.stringify(k) + ":" + jsonString(o[k])).join(",") + "}";
    }
    default:
      return "null";
  }
}

/** Number of bytes of the UTF-8 encoding of `s` (Rust's `str::len`). */
export function utf8Len(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/** A short, safe rendering of a caller's string for messages: at most 40 code points, then "…" (patch.rs `shorten`). */
export function shorten(s: string): string {
  const MAX = 40;
  let count = 0;
  let i = 0;
  while (i < s.length) {
    if (count === MAX) return s.slice(0, i) + "…";
    const c = s.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < s.length ? 2 : 1;
    count++;
  }
  return s;
}

/** "a string", "a number", ...: the JSON type of `v`, for messages (patch.rs `type_name`). */
export function typeName(v: unknown): string {
  if (v === null || v === undefined) return "null";
  if (Array.isArray(v)) return "an array";
  switch (typeof v) {
    case "boolean":
      return "a boolean";
    case "number":
      return "a number";
    case "string":
      return "a string";
    case "object":
      return "an object";
    default:
      return typeof v;
  }
}

/** `v` as compact JSON text for messages (serde_json `Value::to_string`). */
export function show(v: unknown): string {
  return jsonString(v);
}
