// Mirrors the data types of core/src/patch.rs (SPEC §2 and §6): `Place`, `Op`, `Patch`, their
// wire JSON (`opToJson` / `patchToJson`, exactly Rust's `Op::to_json` / `Patch::to_json`) and
// the parser/validator `parsePatch` (Rust's `patch::parse`), used on `changes_since` rows.
//
// TypeScript forms:
// - `Place` is `"last"` (no `after`), `"first"` (`"after": null`) or `{ after: "k" }`.
// - `Op` is a union discriminated on `op`, fields as the Rust variants in camelCase
//   (`nextVersion` is `next_version` on the wire; split's new key is `new`).
//   `Option` fields (`Update.kind`, `Update.props`, `Patch.base`) are absent when `None`
//   (`null` is accepted as `None` too).
// - Props are JSON objects (`Record<string, unknown>`).
// Errors: `parsePatch` throws only `PatchError` (SQLSTATE 22023, `opIndex` the op it is about,
// or null for the patch as a whole), with Rust's messages. Pure code, no I/O.

import { NodesyncError } from "./errors.js";
import { type Json, type Props, isObject, jsonClone, jsonEqual, jsonString, shorten, typeName, utf8Len } from "./json.js";
import { type Edit, editFromJson, editToJson } from "./text.js";

export { shorten, typeName } from "./json.js";

/** Keys, kinds and document ids are 1..=200 bytes (UTF-8). */
export const MAX_NAME_BYTES = 200;
/** The root's key. */
export const ROOT = "root";
/** The deepest nesting of arrays and objects a JSON argument may have. */
export const MAX_JSON_DEPTH = 127;

/** Limits applied while parsing (Rust's `Limits`; the server fills them from GUCs). */
export interface Limits {
  /** `nodesync.max_ops_per_patch` */
  maxOps: number;
  /** `nodesync.max_props_bytes`: a create's props as compact JSON may not be longer. */
  maxPropsBytes: number;
  /** `nodesync.max_key_bytes`: keys of created nodes (at most MAX_NAME_BYTES). */
  maxKeyBytes: number;
  /** `nodesync.max_depth` */
  maxDepth: number;
  /** `nodesync.max_nodes` */
  maxNodes: number;
}

/** The server's defaults (`Limits::default()`). */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxOps: 10_000,
  maxPropsBytes: 1 << 20,
  maxKeyBytes: MAX_NAME_BYTES,
  maxDepth: 1_000,
  maxNodes: 10_000_000,
});

/** What the Rust replica parses committed patches (`changes_since`) with: only the name limits. */
export const LOG_LIMITS: Readonly<Limits> = Object.freeze({
  maxOps: Infinity,
  maxPropsBytes: Infinity,
  maxKeyBytes: MAX_NAME_BYTES,
  maxDepth: Infinity,
  maxNodes: Infinity,
});

/** Where a created or moved node goes among its new siblings. */
export type Place = "last" | "first" | { after: string };
export const Place = {
  /** No `after`: last child (`Place::Last`). */
  Last: "last" as Place,
  /** `"after": null`: first child (`Place::First`). */
  First: "first" as Place,
  /** `Place::Last` */
  last: (): Place => "last",
  /** `Place::First` */
  first: (): Place => "first",
  /** `"after": "k"`: right after sibling `k` (`Place::After(k)`). */
  after: (key: string): Place => ({ after: key }),
} as const;

/** Same place (Rust's `==`). */
export function placeEqual(a: Place, b: Place): boolean {
  if (typeof a === "string" || typeof b === "string") return a === b;
  return a.after === b.after;
}

/** The sibling a place names (`Place::After(k)`), or null. */
export function placeAfter(p: Place): string | null {
  return typeof p === "object" ? p.after : null;
}

export interface OpCreate {
  op: "create";
  key: string;
  kind: string;
  props: Props;
  parent: string;
  place: Place;
}
export interface OpUpdate {
  op: "update";
  key: string;
  version: number;
  kind?: string | null;
  props?: Props | null;
}
export interface OpMove {
  op: "move";
  key: string;
  version: number;
  parent: string;
  place: Place;
}
export interface OpDelete {
  op: "delete";
  key: string;
  version: number;
}
/** Splices of the string property `prop` (code points), applied in order. */
export interface OpText {
  op: "text";
  key: string;
  version: number;
  prop: string;
  edits: Edit[];
}
/** `key` keeps the first `at` code points of `prop`; node `new` (right after it, same kind, a copy of the other props) gets the rest. */
export interface OpSplit {
  op: "split";
  key: string;
  version: number;
  prop: string;
  at: number;
  new: string;
}
/** `next` (the next sibling) is appended to `key`: its `prop` text, then its children; then `next` is deleted. */
export interface OpJoin {
  op: "join";
  key: string;
  version: number;
  next: string;
  nextVersion: number;
  prop: string;
}

export type Op = OpCreate | OpUpdate | OpMove | OpDelete | OpText | OpSplit | OpJoin;
export type OpName = Op["op"];

export interface Patch {
  /** The generation the client's view was at (absent/null: none). */
  base?: number | null;
  ops: Op[];
}

/** The key the op is about (Rust's `Op::key`). */
export function opKey(op: Op): string {
  return op.key;
}

/** "create", "update", ... (Rust's `Op::name`). */
export function opName(op: Op): OpName {
  return op.op;
}

/** The version the op was based on (null for `create`). */
export function opVersion(op: Op): number | null {
  return op.op === "create" ? null : op.version;
}

function putPlace(o: Record<string, Json>, p: Place): void {
  if (p === "last") return;
  o["after"] = p === "first" ? null : p.after;
}

/** The op as JSON, in the wire format `parsePatch` reads (Rust's `Op::to_json`, same keys and order). */
export function opToJson(op: Op): Record<string, Json> {
  const o: Record<string, Json> = { op: op.op, key: op.key };
  const v = opVersion(op);
  if (v !== null) o["version"] = v;
  switch (op.op) {
    case "create":
      o["kind"] = op.kind;
      o["props"] = jsonClone(op.props) as Json;
      o["parent"] = op.parent;
      putPlace(o, op.place);
      break;
    case "update":
      if (op.kind !== undefined && op.kind !== null) o["kind"] = op.kind;
      if (op.props !== undefined && op.props !== null) o["props"] = jsonClone(op.props) as Json;
      break;
    case "move":
      o["parent"] = op.parent;
      putPlace(o, op.place);
      break;
    case "delete":
      break;
    case "text":
      o["prop"] = op.prop;
      o["edits"] = op.edits.map(editToJson);
      break;
    case "split":
      o["prop"] = op.prop;
      o["at"] = op.at;
      o["new"] = op.new;
      break;
    case "join":
      o["next"] = op.next;
      o["next_version"] = op.nextVersion;
      o["prop"] = op.prop;
      break;
  }
  return o;
}

/** The patch as JSON (Rust's `Patch::to_json`): `base` only when there is one. */
export function patchToJson(p: Patch): { base?: number; ops: Record<string, Json>[] } {
  const ops = p.ops.map(opToJson);
  return p.base !== undefined && p.base !== null ? { base: p.base, ops } : { ops };
}

/** Same op (Rust's `==`). */
export function opEqual(a: Op, b: Op): boolean {
  return jsonEqual(opToJson(a), opToJson(b));
}

/** Same patch (Rust's `==`). */
export function patchEqual(a: Patch, b: Patch): boolean {
  return (a.base ?? null) === (b.base ?? null) && a.ops.length === b.ops.length && a.ops.every((o, i) => opEqual(o, b.ops[i]!));
}

/** A deep copy of an op. */
export function cloneOp(op: Op): Op {
  switch (op.op) {
    case "create":
      return { ...op, props: jsonClone(op.props), place: typeof op.place === "object" ? { after: op.place.after } : op.place };
    case "update": {
      const o: OpUpdate = { op: "update", key: op.key, version: op.version };
      if (op.kind !== undefined && op.kind !== null) o.kind = op.kind;
      if (op.props !== undefined && op.props !== null) o.props = jsonClone(op.props);
      return o;
    }
    case "move":
      return { ...op, place: typeof op.place === "object" ? { after: op.place.after } : op.place };
    case "text":
      return { ...op, edits: op.edits.map((e) => ({ at: e.at, delete: e.delete, insert: e.insert })) };
    default:
      return { ...op };
  }
}

/** A patch that `parsePatch` refuses (22023 invalid_parameter_value, as the server would). */
export class PatchError extends NodesyncError {
  /** The op the message is about, or null for the patch as a whole. */
  readonly opIndex: number | null;
  /** For a limit: the GUC exceeded. */
  readonly guc: string | undefined;
  constructor(message: string, opIndex: number | null, guc?: string) {
    super(message, "22023");
    this.name = "PatchError";
    this.opIndex = opIndex;
    this.guc = guc;
  }
}

function invalidPatch(msg: string): PatchError {
  return new PatchError(`invalid patch: ${msg}`, null);
}

function invalidOp(i: number, msg: string): PatchError {
  return new PatchError(`invalid patch: op ${i}: ${msg}`, i);
}

function limitError(guc: string, limit: number, actual: number, what: string, unit: string, opIndex: number | null): PatchError {
  return new PatchError(`${what} ${actual}${unit}, more than ${guc} (${limit})`, opIndex, guc);
}

/** Validates a name (key, kind or document id): 1..=200 bytes. Returns what is wrong, or null. */
export function checkName(what: string, s: string): string | null {
  if (s === "") return `${what} is empty`;
  const n = utf8Len(s);
  if (n > MAX_NAME_BYTES) return `${what} is ${n} bytes long, the limit is ${MAX_NAME_BYTES}`;
  return null;
}

/** How deeply arrays and objects nest in the JSON text `text` (brackets inside strings do not count). */
export function nestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === "\\") escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === "[" || c === "{") {
      depth++;
      max = Math.max(max, depth);
    } else if (c === "]" || c === "}") depth = Math.max(depth - 1, 0);
  }
  return max;
}

/** A number in `v` that no IEEE double can hold (Infinity/NaN after parsing), if any, as text. */
export function outOfRangeNumber(v: unknown): string | null {
  const stack: unknown[] = [v];
  while (stack.length > 0) {
    const x = stack.pop();
    if (typeof x === "number") {
      if (!Number.isFinite(x)) return String(x);
    } else if (Array.isArray(x)) {
      for (const y of x) stack.push(y);
    } else if (isObject(x)) {
      for (const y of Object.values(x)) stack.push(y);
    }
  }
  return null;
}

const isI64 = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v);

const OPS = "create, update, move, delete, text, split or join";

class Fields {
  constructor(
    readonly i: number,
    readonly op: string,
    readonly obj: Record<string, unknown>,
  ) {}

  has(field: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.obj, field);
  }

  get(field: string): unknown {
    return this.has(field) ? this.obj[field] : undefined;
  }

  err(msg: string): PatchError {
    return invalidOp(this.i, `${this.op} ${msg}`);
  }

  allow(allowed: readonly string[]): void {
    for (const k of Object.keys(this.obj)) {
      if (!allowed.includes(k)) throw this.err(`has unknown field "${shorten(k)}" (allowed: ${allowed.join(", ")})`);
    }
  }

  name(field: string): string {
    if (!this.has(field)) throw this.err(`needs "${field}"`);
    const v = this.obj[field];
    if (typeof v !== "string") throw this.err(`"${field}" must be a string, got ${typeName(v)}`);
    const bad = checkName(field, v);
    if (bad !== null) throw this.err(bad);
    return v;
  }

  optName(field: string): string | null {
    return this.has(field) ? this.name(field) : null;
  }

  version(): number {
    return this.versionField("version");
  }

  versionField(field: string): number {
    if (!this.has(field)) throw this.err(`needs "${field}" (the node's version the op is based on)`);
    const v = this.obj[field];
    if (isI64(v) && v >= 1) return v;
    throw this.err(`"${field}" must be an integer >= 1, got ${shorten(jsonString(v))}`);
  }

  prop(): string {
    return this.name("prop");
  }

  count(field: string): number {
    if (!this.has(field)) throw this.err(`needs "${field}" (a code point offset)`);
    const v = this.obj[field];
    if (isI64(v) && v >= 0) return v;
    throw this.err(`"${field}" must be an integer >= 0, got ${shorten(jsonString(v))}`);
  }

  edits(): Edit[] {
    if (!this.has("edits")) throw this.err(`needs "edits" (a non-empty list of [at, delete, insert])`);
    const a = this.obj["edits"];
    if (!Array.isArray(a)) throw this.err(`"edits" must be an array, got ${typeName(a)}`);
    if (a.length === 0) throw this.err(`has an empty "edits" list (send at least one [at, delete, insert])`);
    return a.map((e, j) => {
      try {
        return editFromJson(e);
      } catch (m) {
        throw this.err(`edit ${j}: ${m instanceof Error ? m.message : String(m)}`);
      }
    });
  }

  notRoot(key: string, what: string): void {
    if (key === ROOT) throw this.err(`cannot ${what} the root`);
  }

  place(): Place {
    if (!this.has("after")) return "last";
    const v = this.obj["after"];
    if (v === null) return "first";
    if (typeof v === "string") {
      const bad = checkName("after", v);
      if (bad !== null) throw this.err(bad);
      return { after: v };
    }
    throw this.err(`"after" must be a key or null, got ${typeName(v)}`);
  }

  props(limits: Limits): Props | null {
    if (!this.has("props")) return null;
    const m = this.obj["props"];
    if (!isObject(m)) throw this.err(`"props" must be an object, got ${typeName(m)}`);
    const n = outOfRangeNumber(m);
    if (n !== null) throw this.err(`props hold the number ${shorten(n)}, outside the range of a double (about ±1.8e308)`);
    if (Number.isFinite(limits.maxPropsBytes)) {
      const stored: Props = {};
      for (const [k, v] of Object.entries(m)) if (v !== null) stored[k] = v;
      const bytes = utf8Len(jsonString(stored));
      if (bytes > limits.maxPropsBytes) {
        const key = this.obj["key"];
        const what = `op ${this.i}: props of "${shorten(typeof key === "string" ? key : "?")}" are`;
        throw limitError("nodesync.max_props_bytes", limits.maxPropsBytes, bytes, what, " bytes", this.i);
      }
    }
    return jsonClone(m);
  }
}

function parseOp(i: number, v: unknown, limits: Limits): Op {
  if (!isObject(v)) throw invalidOp(i, `an op is a JSON object, got ${typeName(v)}`);
  if (!Object.prototype.hasOwnProperty.call(v, "op")) throw invalidOp(i, `missing "op" (${OPS})`);
  const opv = v["op"];
  if (typeof opv !== "string") throw invalidOp(i, `"op" must be a string, got ${typeName(opv)}`);
  const f = new Fields(i, opv, v);
  switch (opv) {
    case "create": {
      f.allow(["op", "key", "kind", "props", "parent", "after"]);
      const key = f.name("key");
      const kb = utf8Len(key);
      if (kb > limits.maxKeyBytes) throw limitError("nodesync.max_key_bytes", limits.maxKeyBytes, kb, `op ${i}: key "${shorten(key)}" is`, " bytes", i);
      const kind = f.name("kind");
      const parent = f.name("parent");
      const place = f.place();
      if (typeof place === "object" && place.after === key) throw f.err(`"${shorten(key)}" cannot be placed after itself`);
      const props = f.props(limits) ?? {};
      // null means "no such property" everywhere: it is never stored.
      for (const k of Object.keys(props)) if (props[k] === null) delete props[k];
      return { op: "create", key, kind, props, parent, place };
    }
    case "update": {
      f.allow(["op", "key", "version", "kind", "props"]);
      const key = f.name("key");
      const version = f.version();
      const kind = f.optName("kind");
      const props = f.props(limits);
      const o: OpUpdate = { op: "update", key, version };
      if (kind !== null) o.kind = kind;
      if (props !== null) o.props = props;
      return o;
    }
    case "move": {
      f.allow(["op", "key", "version", "parent", "after"]);
      const key = f.name("key");
      if (key === ROOT) throw f.err("cannot move the root");
      const version = f.version();
      const parent = f.name("parent");
      const place = f.place();
      if (typeof place === "object" && place.after === key) throw f.err(`"${shorten(key)}" cannot be placed after itself`);
      return { op: "move", key, version, parent, place };
    }
    case "delete": {
      f.allow(["op", "key", "version"]);
      const key = f.name("key");
      if (key === ROOT) throw f.err("cannot delete the root (drop the document with nodesync.drop_doc)");
      const version = f.version();
      return { op: "delete", key, version };
    }
    case "text": {
      f.allow(["op", "key", "version", "prop", "edits"]);
      const key = f.name("key");
      const version = f.version();
      const prop = f.prop();
      const edits = f.edits();
      return { op: "text", key, version, prop, edits };
    }
    case "split": {
      f.allow(["op", "key", "version", "prop", "at", "new"]);
      const key = f.name("key");
      f.notRoot(key, "split");
      const version = f.version();
      const prop = f.prop();
      const at = f.count("at");
      const nk = f.name("new");
      const nb = utf8Len(nk);
      if (nb > limits.maxKeyBytes) throw limitError("nodesync.max_key_bytes", limits.maxKeyBytes, nb, `op ${i}: key "${shorten(nk)}" is`, " bytes", i);
      if (nk === key) throw f.err(`"new" must be a new key, not "${shorten(key)}" itself`);
      return { op: "split", key, version, prop, at, new: nk };
    }
    case "join": {
      f.allow(["op", "key", "version", "next", "next_version", "prop"]);
      const key = f.name("key");
      f.notRoot(key, "join");
      const version = f.version();
      const next = f.name("next");
      f.notRoot(next, "join");
      if (next === key) throw f.err(`cannot join "${shorten(key)}" with itself`);
      const nextVersion = f.versionField("next_version");
      const prop = f.prop();
      return { op: "join", key, version, next, nextVersion, prop };
    }
    default:
      throw invalidOp(i, `unknown op "${shorten(opv)}" (${OPS})`);
  }
}

/**
 * Parses and validates a patch (Rust's `patch::parse`): a JSON value (or JSON text) in, a typed
 * `Patch` out, or a `PatchError` (never anything else). `limits` defaults to `LOG_LIMITS`, what
 * the Rust replica reads `changes_since` rows with; pass `DEFAULT_LIMITS` for the server's.
 */
export function parsePatch(json: unknown, limits: Readonly<Limits> = LOG_LIMITS): Patch {
  try {
    let v = json;
    if (typeof v === "string") {
      try {
        v = JSON.parse(v) as unknown;
      } catch (e) {
        throw invalidPatch(`not JSON text: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    return parseValue(v, limits);
  } catch (e) {
    if (e instanceof PatchError) throw e;
    // a bug or a hostile value (e.g. a throwing getter): still a typed error
    throw invalidPatch(e instanceof Error ? e.message : String(e));
  }
}

/** Rust's name for `parsePatch`. */
export const parse = parsePatch;

function parseValue(v: unknown, limits: Readonly<Limits>): Patch {
  if (!isObject(v)) throw invalidPatch(`a patch is a JSON object, got ${typeName(v)}`);
  for (const k of Object.keys(v)) {
    if (k !== "base" && k !== "ops") throw invalidPatch(`unknown field "${shorten(k)}" (a patch has "base" and "ops")`);
  }
  let base: number | null = null;
  if (Object.prototype.hasOwnProperty.call(v, "base") && v["base"] !== null && v["base"] !== undefined) {
    const b = v["base"];
    if (isI64(b) && b >= 0) base = b;
    else throw invalidPatch(`"base" must be a generation (an integer >= 0), got ${jsonString(b)}`);
  }
  if (!Object.prototype.hasOwnProperty.call(v, "ops")) throw invalidPatch(`missing "ops" (a list of ops, possibly empty)`);
  const opsV = v["ops"];
  if (!Array.isArray(opsV)) throw invalidPatch(`"ops" must be an array, got ${typeName(opsV)}`);
  if (opsV.length > limits.maxOps) throw limitError("nodesync.max_ops_per_patch", limits.maxOps, opsV.length, "patch has", " ops", null);
  const ops = opsV.map((o, i) => parseOp(i, o, limits));
  // each edit of a text op counts as an op: the work of a patch stays bounded by the limit
  let units = 0;
  for (const o of ops) units += o.op === "text" ? o.edits.length : 1;
  if (units > limits.maxOps) {
    throw limitError("nodesync.max_ops_per_patch", limits.maxOps, units, "patch has", " ops (each text edit counts as one)", null);
  }
  const p: Patch = { ops };
  if (base !== null) p.base = base;
  return p;
}
