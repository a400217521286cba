// Mirrors client/src/tree.rs: an in-memory document tree, the shape both the shadow (last
// known server state) and the local tree (what the app edits) have. Children are ordered
// arrays; in the shadow they are kept sorted by the server's `pos` (byte order, then key, as
// `snapshot()` does).
//
// TypeScript forms:
// - `Tree.nodes` is a `SortedMap<string, Node>` (Rust's BTreeMap): iterating it yields keys in
//   code point (= UTF-8 byte) order, as the Rust code iterates.
// - `Option<String>` fields (`parent`, `pos`) are `string | null`; methods returning an
//   `Option` return `null` for None, except `get` (`undefined`, like Map.get).
// - Rust's `Clone` is `clone()` (deep: props are copied), `PartialEq` is `equals()`.
// - Functions that return `Result<_, String>` in Rust throw `TreeError` with the same message.
// - `attach`/`detach` replace the parent's `children` array instead of changing it in place,
//   so an array obtained from `children()` earlier stays as it was.
// Also here: the TREE format of tests/vectors/README.md (`treeToVectorJson`,
// `treeFromVectorJson`). Pure code, no I/O.

import { NodesyncError } from "./errors.js";
import { type Json, type Props, ShapeError, isObject, jsonClone, jsonEqual, jsonString, utf8Len } from "./json.js";
import { SortedMap, SortedSet, cmpKeys } from "./order.js";
import { type Place, ROOT } from "./patch.js";

export { ROOT } from "./patch.js";

/** A tree operation that cannot be done, or JSON (snapshot, diff) that is not a tree (Rust's `Err(String)`). */
export class TreeError extends NodesyncError {
  constructor(message: string) {
    super(message);
    this.name = "TreeError";
  }
}

/** Rust's `{:?}` of a string (approximately: JSON quoting). */
function dbg(s: string): string {
  return JSON.stringify(s);
}

function dbgOpt(s: string | null): string {
  return s === null ? "None" : `Some(${dbg(s)})`;
}

/**
 * One node. `version`, `gen` and `pos` are the server's and only meaningful in the shadow
 * (local nodes carry the shadow's values, or 0/null for nodes not yet on the server).
 */
export class Node {
  kind: string;
  props: Props;
  parent: string | null;
  children: string[];
  version: number;
  gen: number;
  pos: string | null;

  /** `Node::new(kind, props, parent)` (no children, version 0, gen 0, no pos); the other fields optional. */
  constructor(kind: string, props: Props, parent: string | null, children: string[] = [], version = 0, gen = 0, pos: string | null = null) {
    this.kind = kind;
    this.props = props;
    this.parent = parent;
    this.children = children;
    this.version = version;
    this.gen = gen;
    this.pos = pos;
  }

  /** Same content (kind and props), ignoring place and server fields. */
  sameContent(other: Node): boolean {
    return this.kind === other.kind && jsonEqual(this.props, other.props);
  }

  /** A deep copy. */
  clone(): Node {
    return new Node(this.kind, jsonClone(this.props), this.parent, this.children.slice(), this.version, this.gen, this.pos);
  }

  /** Every field equal (Rust's `==`). */
  equals(other: Node): boolean {
    return (
      this.kind === other.kind &&
      this.parent === other.parent &&
      this.version === other.version &&
      this.gen === other.gen &&
      this.pos === other.pos &&
      this.children.length === other.children.length &&
      this.children.every((c, i) => c === other.children[i]) &&
      jsonEqual(this.props, other.props)
    );
  }
}

/** One node of `Tree.flat`: where it is and what it holds (no server fields). */
export interface FlatEntry {
  parent: string | null;
  place: number;
  kind: string;
  props: Props;
}

/** One node row of a `diff_since` result. */
export interface DiffNode {
  key: string;
  parent: string | null;
  pos: string | null;
  kind: string;
  props: Props;
  version: number;
  gen: number;
}

function short(v: unknown): string {
  const s = jsonString(v);
  if (utf8Len(s) <= 120) return s;
  // the chars starting before byte 120
  let bytes = 0;
  let i = 0;
  while (i < s.length && bytes < 120) {
    const c = s.codePointAt(i)!;
    const w = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    bytes += w;
    i += c >= 0x10000 ? 2 : 1;
  }
  return s.slice(0, i) + "…";
}

function field(v: unknown, name: string): unknown {
  if (!isObject(v) || !Object.prototype.hasOwnProperty.call(v, name)) throw new TreeError(`missing "${name}" in ${short(v)}`);
  return v[name];
}

function asStr(v: unknown, name: string): string {
  const x = field(v, name);
  if (typeof x !== "string") throw new TreeError(`"${name}" is not a string in ${short(v)}`);
  return x;
}

function asOptStr(v: unknown, name: string): string | null {
  const x = isObject(v) && Object.prototype.hasOwnProperty.call(v, name) ? v[name] : undefined;
  if (x === undefined || x === null) return null;
  if (typeof x === "string") return x;
  throw new TreeError(`"${name}" is not a string in ${short(v)}`);
}

function asI64(v: unknown, name: string): number {
  const x = field(v, name);
  if (typeof x !== "number" || !Number.isSafeInteger(x)) throw new TreeError(`"${name}" is not an integer in ${short(v)}`);
  return x;
}

function asObj(v: unknown, name: string): Props {
  const x = field(v, name);
  if (!isObject(x)) throw new TreeError(`"${name}" is not an object in ${short(v)}`);
  return jsonClone(x);
}

/** A `diff_since` result. */
export class Diff {
  constructor(
    public from: number,
    public to: number,
    public reset: boolean,
    public nodes: DiffNode[],
    public deleted: string[],
  ) {}

  /** From `nodesync.diff_since(doc, gen)`'s JSON; throws `TreeError`. */
  static fromJson(v: unknown): Diff {
    const nodesV = field(v, "nodes");
    if (!Array.isArray(nodesV)) throw new TreeError(`"nodes" is not an array`);
    const nodes: DiffNode[] = nodesV.map((n: unknown) => ({
      key: asStr(n, "key"),
      parent: asOptStr(n, "parent"),
      pos: asOptStr(n, "pos"),
      kind: asStr(n, "kind"),
      props: asObj(n, "props"),
      version: asI64(n, "version"),
      gen: asI64(n, "gen"),
    }));
    const delV = field(v, "deleted");
    if (!Array.isArray(delV)) throw new TreeError(`"deleted" is not an array`);
    const deleted = delV.map((k: unknown) => {
      if (typeof k !== "string") throw new TreeError("a deleted key is not a string");
      return k;
    });
    const from = asI64(v, "from");
    const to = asI64(v, "to");
    const reset = field(v, "reset");
    if (typeof reset !== "boolean") throw new TreeError(`"reset" is not a boolean`);
    return new Diff(from, to, reset, nodes, deleted);
  }

  isEmpty(): boolean {
    return !this.reset && this.nodes.length === 0 && this.deleted.length === 0;
  }
}

/** `Diff::from_json` as a function. */
export function diffFromJson(v: unknown): Diff {
  return Diff.fromJson(v);
}

function nodeOfRow(r: DiffNode): Node {
  return new Node(r.kind, jsonClone(r.props), r.parent, [], r.version, r.gen, r.pos);
}

/** A document: nodes by key, the root is `"root"`. */
export class Tree {
  /** The generation this tree reflects (shadow) or was last rebased on (local). */
  gen: number;
  nodes: SortedMap<string, Node>;

  constructor(gen = 0, nodes?: SortedMap<string, Node>) {
    this.gen = gen;
    this.nodes = nodes ?? new SortedMap<string, Node>();
  }

  /** A document with only its root (version 1, gen 1; the tree at gen 1). */
  static withRoot(kind: string, props: Props): Tree {
    const root = new Node(kind, props, null);
    root.version = 1;
    root.gen = 1;
    const nodes = new SortedMap<string, Node>();
    nodes.set(ROOT, root);
    return new Tree(1, nodes);
  }

  /** From `nodesync.snapshot(doc)` (`{"doc", "gen", "root": {...}}`); throws `TreeError`. Walks with a stack. */
  static fromSnapshot(snap: unknown): Tree {
    const gen = asI64(snap, "gen");
    const root = field(snap, "root");
    const nodes = new SortedMap<string, Node>();
    const stack: [unknown, string | null][] = [[root, null]];
    for (;;) {
      const top = stack.pop();
      if (!top) break;
      const [n, parent] = top;
      const key = asStr(n, "key");
      const kidsV = isObject(n) ? n["children"] : undefined;
      const kids: unknown[] = Array.isArray(kidsV) ? kidsV : [];
      const children: string[] = [];
      for (const c of kids) children.push(asStr(c, "key"));
      for (const c of kids) stack.push([c, key]);
      nodes.set(key, new Node(asStr(n, "kind"), asObj(n, "props"), parent, children, asI64(n, "version"), asI64(n, "gen"), asOptStr(n, "pos")));
    }
    return new Tree(gen, nodes);
  }

  /** From a reset diff (every live node); throws `TreeError`. */
  static fromDiffNodes(gen: number, rows: readonly DiffNode[]): Tree {
    const t = new Tree(gen);
    for (const r of rows) t.nodes.set(r.key, nodeOfRow(r));
    const pairs: [string, string][] = [];
    for (const [k, n] of t.nodes) if (n.parent !== null) pairs.push([n.parent, k]);
    const parents = new SortedSet<string>();
    for (const [p, k] of pairs) {
      const pn = t.nodes.get(p);
      if (!pn) throw new TreeError(`node ${dbg(k)} has unknown parent ${dbg(p)}`);
      pn.children.push(k);
      parents.add(p);
    }
    t.sortChildren(parents);
    if (!t.nodes.has(ROOT)) throw new TreeError("no root in reset diff");
    t.check();
    return t;
  }

  private posOrder(a: string, b: string): number {
    const pa = this.nodes.get(a)?.pos ?? "";
    const pb = this.nodes.get(b)?.pos ?? "";
    return cmpKeys(pa, pb) || cmpKeys(a, b);
  }

  private sortChildren(parents: SortedSet<string>): void {
    for (const p of parents) {
      const n = this.nodes.get(p);
      if (!n) continue;
      n.children = n.children.slice().sort((a, b) => this.posOrder(a, b));
    }
  }

  /**
   * Applies a (non-reset) diff in place: the shadow at `diff.from` becomes the shadow at
   * `diff.to`. An inconsistent diff throws `TreeError` (the caller then reloads a snapshot;
   * the tree may be partly changed, as in Rust).
   */
  applyDiff(diff: Diff): void {
    if (diff.reset) {
      const t = Tree.fromDiffNodes(diff.to, diff.nodes);
      this.gen = t.gen;
      this.nodes = t.nodes;
      return;
    }
    if (diff.from !== this.gen) throw new TreeError(`diff from gen ${diff.from} applied to a tree at gen ${this.gen}`);
    for (const k of diff.deleted) {
      const n = this.nodes.remove(k);
      if (n && n.parent !== null) {
        const pn = this.nodes.get(n.parent);
        if (pn) pn.children = pn.children.filter((c) => c !== k);
      }
    }
    const attach: string[] = [];
    for (const dn of diff.nodes) {
      const n = this.nodes.get(dn.key);
      if (n) {
        const replaced = n.parent !== dn.parent || n.pos !== dn.pos;
        const oldParent = n.parent;
        n.kind = dn.kind;
        n.props = jsonClone(dn.props);
        n.version = dn.version;
        n.gen = dn.gen;
        if (replaced) {
          n.parent = dn.parent;
          n.pos = dn.pos;
          if (oldParent !== null) {
            const pn = this.nodes.get(oldParent);
            if (pn) pn.children = pn.children.filter((c) => c !== dn.key);
          }
          attach.push(dn.key);
        }
      } else {
        this.nodes.set(dn.key, nodeOfRow(dn));
        attach.push(dn.key);
      }
    }
    const parents = new SortedSet<string>();
    for (const k of attach) {
      const p = this.nodes.get(k)!.parent;
      if (p === null) continue;
      const pn = this.nodes.get(p);
      if (!pn) throw new TreeError(`diff puts ${dbg(k)} under unknown node ${dbg(p)}`);
      pn.children.push(k);
      parents.add(p);
    }
    this.sortChildren(parents);
    this.gen = diff.to;
  }

  /** Structural self-check: parent/children agree, every node reachable from the root. Throws `TreeError`. */
  check(): void {
    let seen = 0;
    const stack = [ROOT];
    for (;;) {
      const k = stack.pop();
      if (k === undefined) break;
      const n = this.nodes.get(k);
      if (!n) throw new TreeError(`child ${dbg(k)} is not a node`);
      seen += 1;
      if (seen > this.nodes.size) throw new TreeError("cycle");
      for (const c of n.children) {
        const cn = this.nodes.get(c);
        if (!cn) throw new TreeError(`child ${dbg(c)} of ${dbg(k)} is not a node`);
        if (cn.parent !== k) throw new TreeError(`${dbg(c)} is listed under ${dbg(k)} but its parent is ${dbgOpt(cn.parent)}`);
        stack.push(c);
      }
    }
    if (seen !== this.nodes.size) throw new TreeError(`${this.nodes.size - seen} nodes are not reachable from the root`);
  }

  /** `check()` as a boolean. */
  isValid(): boolean {
    try {
      this.check();
      return true;
    } catch {
      return false;
    }
  }

  get(key: string): Node | undefined {
    return this.nodes.get(key);
  }

  contains(key: string): boolean {
    return this.nodes.has(key);
  }

  len(): number {
    return this.nodes.size;
  }

  isEmpty(): boolean {
    return this.nodes.size === 0;
  }

  /** The parent's key (null for the root or an unknown key). */
  parent(key: string): string | null {
    return this.nodes.get(key)?.parent ?? null;
  }

  /** The children's keys (the node's own array: do not mutate; empty for an unknown key). */
  children(key: string): readonly string[] {
    return this.nodes.get(key)?.children ?? [];
  }

  /** The 0-based place of `key` among its siblings (null if it has no parent or is not listed). */
  indexOf(key: string): number | null {
    const p = this.parent(key);
    if (p === null) return null;
    const i = this.children(p).indexOf(key);
    return i < 0 ? null : i;
  }

  /** True if `of` is `key` or one of its descendants. */
  isDescendantOrSelf(of: string, key: string): boolean {
    let cur: string | null = of;
    let steps = 0;
    while (cur !== null) {
      if (cur === key) return true;
      steps += 1;
      if (steps > this.nodes.size) return false;
      cur = this.parent(cur);
    }
    return false;
  }

  /** `key` and all its descendants (pre-order); empty for an unknown key. */
  subtree(key: string): string[] {
    const out: string[] = [];
    const stack = [key];
    for (;;) {
      const k = stack.pop();
      if (k === undefined) break;
      const n = this.nodes.get(k);
      if (n) {
        for (let i = n.children.length - 1; i >= 0; i--) stack.push(n.children[i]!);
        out.push(k);
      }
    }
    return out;
  }

  /** The path of sibling indexes from the root: sorting by it (`cmpNumberArrays`) gives pre-order. */
  path(key: string): number[] {
    const out: number[] = [];
    let cur = key;
    for (;;) {
      const p = this.parent(cur);
      if (p === null) break;
      const i = this.children(p).indexOf(cur);
      out.push(i < 0 ? 0 : i);
      cur = p;
      if (out.length > this.nodes.size) break;
    }
    out.reverse();
    return out;
  }

  /** Removes `key` from its parent's children (the node keeps its `parent` field). */
  detach(key: string): void {
    const p = this.parent(key);
    if (p !== null) {
      const pn = this.nodes.get(p);
      if (pn) pn.children = pn.children.filter((c) => c !== key);
    }
  }

  /** Inserts `key` (already in `nodes`) under `parent` at `place`; throws `TreeError` (as Rust, after inserting if only `key` is missing). */
  attach(key: string, parent: string, place: Place): void {
    const pn = this.nodes.get(parent);
    if (!pn) throw new TreeError(`no node ${dbg(parent)}`);
    const kids = pn.children;
    let at: number;
    if (place === "last") at = kids.length;
    else if (place === "first") at = 0;
    else {
      const i = kids.indexOf(place.after);
      if (i < 0) throw new TreeError(`${dbg(place.after)} is not a child of ${dbg(parent)}`);
      at = i + 1;
    }
    pn.children = kids.slice(0, at).concat(key, kids.slice(at));
    const n = this.nodes.get(key);
    if (!n) throw new TreeError(`no node ${dbg(key)}`);
    n.parent = parent;
  }

  /** One entry per node (in key order): parent, place among siblings, kind, props. */
  flat(): SortedMap<string, FlatEntry> {
    const out = new SortedMap<string, FlatEntry>();
    for (const [k, n] of this.nodes) {
      out.set(k, { parent: n.parent, place: this.indexOf(k) ?? 0, kind: n.kind, props: jsonClone(n.props) });
    }
    return out;
  }

  /** A readable outline: one line per node, indented by depth, at most `maxLines` lines. */
  outline(maxLines: number): string {
    let out = "";
    let lines = 0;
    const stack: [string, number][] = [[ROOT, 0]];
    for (;;) {
      const top = stack.pop();
      if (!top) break;
      const [k, depth] = top;
      const n = this.nodes.get(k);
      if (!n) continue;
      if (lines === maxLines) {
        out += `… (${this.nodes.size} nodes in all)\n`;
        break;
      }
      let props = jsonString(n.props);
      if (utf8Len(props) > 60) {
        // keep the chars that start before byte 57
        let bytes = 0;
        let i = 0;
        while (i < props.length && bytes < 57) {
          const c = props.codePointAt(i)!;
          bytes += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
          i += c >= 0x10000 ? 2 : 1;
        }
        props = props.slice(0, i) + "…";
      }
      out += `${"  ".repeat(depth)}${k} [${n.kind}] ${props}\n`;
      lines += 1;
      for (let i = n.children.length - 1; i >= 0; i--) stack.push([n.children[i]!, depth + 1]);
    }
    return out;
  }

  /** Depth of the deepest node (root = 0). */
  depth(): number {
    let max = 0;
    const stack: [string, number][] = [[ROOT, 0]];
    for (;;) {
      const top = stack.pop();
      if (!top) break;
      const [k, d] = top;
      max = Math.max(max, d);
      for (const c of this.children(k)) stack.push([c, d + 1]);
    }
    return max;
  }

  /** A deep copy (Rust's `clone()`). */
  clone(): Tree {
    return new Tree(
      this.gen,
      this.nodes.clone((n) => n.clone()),
    );
  }

  /** Same gen and the same nodes, every field (Rust's `==`). */
  equals(other: Tree): boolean {
    return this.gen === other.gen && this.nodes.equals(other.nodes, (a, b) => a.equals(b));
  }
}

// ---- the TREE format of tests/vectors/README.md

/** `{"gen": g, "nodes": {KEY: {"kind", "props", "parent", "children", "version", "gen", "pos"}}}`, keys in order. */
export function treeToVectorJson(t: Tree): { gen: number; nodes: Record<string, Json> } {
  const nodes: Record<string, Json> = {};
  for (const [k, n] of t.nodes) {
    nodes[k] = {
      kind: n.kind,
      props: jsonClone(n.props) as Json,
      parent: n.parent,
      children: n.children.slice(),
      version: n.version,
      gen: n.gen,
      pos: n.pos,
    };
  }
  return { gen: t.gen, nodes };
}

/** Reads the TREE format; throws `ShapeError` if `v` is not one. No structural check (see `Tree.check`). */
export function treeFromVectorJson(v: unknown): Tree {
  const bad = (what: string): never => {
    throw new ShapeError(`not a TREE: ${what}`);
  };
  if (!isObject(v)) bad("not an object");
  const o = v as Record<string, unknown>;
  const gen = o["gen"];
  if (typeof gen !== "number" || !Number.isSafeInteger(gen)) bad(`"gen" is not an integer`);
  const nodesV = o["nodes"];
  if (!isObject(nodesV)) bad(`"nodes" is not an object`);
  const nodes = new SortedMap<string, Node>();
  for (const [k, nv] of Object.entries(nodesV as Record<string, unknown>)) {
    if (!isObject(nv)) bad(`node ${dbg(k)} is not an object`);
    const n = nv as Record<string, unknown>;
    const kind = n["kind"];
    if (typeof kind !== "string") bad(`node ${dbg(k)}: "kind" is not a string`);
    const props = n["props"];
    if (!isObject(props)) bad(`node ${dbg(k)}: "props" is not an object`);
    const parent = n["parent"] ?? null;
    if (parent !== null && typeof parent !== "string") bad(`node ${dbg(k)}: "parent" is not a string or null`);
    const children = n["children"] ?? [];
    if (!Array.isArray(children) || !children.every((c) => typeof c === "string")) bad(`node ${dbg(k)}: "children" is not a list of keys`);
    const version = n["version"] ?? 0;
    const g = n["gen"] ?? 0;
    if (typeof version !== "number" || !Number.isSafeInteger(version)) bad(`node ${dbg(k)}: "version" is not an integer`);
    if (typeof g !== "number" || !Number.isSafeInteger(g)) bad(`node ${dbg(k)}: "gen" is not an integer`);
    const pos = n["pos"] ?? null;
    if (pos !== null && typeof pos !== "string") bad(`node ${dbg(k)}: "pos" is not a string or null`);
    nodes.set(
      k,
      new Node(kind as string, jsonClone(props as Props), parent as string | null, (children as string[]).slice(), version as number, g as number, pos as string | null),
    );
  }
  return new Tree(gen as number, nodes);
}
