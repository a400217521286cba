// Mirrors client/src/workspace.rs: the local edit state of a replica, without I/O. The Replica
// wraps one with a connection; the tests drive one against the shared vectors.
//
// State:
// - the shadow: the last known server state;
// - the text log: the text edits, splits and joins made locally since the shadow, as BOps in
//   the order they were made (consecutive splices of one block are composed into one op). Only
//   blocks that exist on the server (or that an earlier split in the log creates) are logged;
//   text of nodes created locally rides in their `create`;
// - the projection: the shadow with the log applied;
// - the local tree the app edits: the projection plus the state-based edits (creates, moves,
//   deletes, other props, kinds), tracked by the dirty keys (touched locally) and the placed
//   keys (created or moved locally: their place follows the local tree);
// - named cursors (carets) that follow every local edit, rebase and pull.
//
// A patch is the log (as `text`, `split`, `join` ops, with the shadow's versions) followed by
// the state diff from the projection to the local tree (`makePatch`).
//
// Rebase (`rebaseWith`):
// 1. the server's changes since the shadow as block ops (`replay` of `changes_since`, checked
//    against the server's state; below the horizon, or if the replay does not agree,
//    `diffOps`: a character diff per block);
// 2. the log and the cursors transformed over them, then applied to the new shadow: the new
//    log and the new projection. A join whose blocks someone moved to different parents is
//    dropped ("join-separated"); a join whose blocks are still siblings but not adjacent is sent
//    with a `move` of `next` first;
// 3. local deletes of nodes the others typed text into: the node is kept, with only the text
//    the others typed ("delete-kept-typing");
// 4. the state rebase (`rebase`) of the local tree from the old projection onto the new one.
//
// Ownership: as in Rust, trees passed in (`new Workspace(shadow)`, `committed(remote)`,
// `rebaseWith(remote)`) belong to the workspace afterwards (do not change them), and `tree()`,
// `shadow()`, `projection()`, `get()` return the workspace's own objects (read them, do not
// change them). Where Rust iterates a BTreeMap/BTreeSet this iterates in `cmpKeys` order.
// Pure code, no I/O.

import { EditError } from "./errors.js";
import { type Props, jsonClone, jsonEqual } from "./json.js";
import { SortedMap, SortedSet, cmpKeys, cmpNumberArrays } from "./order.js";
import { TextOp, diff as otDiff } from "./ot.js";
import { type Op, type Patch, type Place, ROOT } from "./patch.js";
import { cpLen } from "./text.js";
import { Node, Tree } from "./tree.js";
import {
  type BOp,
  type Flags,
  type Lost,
  type Unfit,
  agrees,
  apply as applyBOp,
  bopKey,
  diffOps,
  newFlags,
  textOf,
  touches,
  transform as transformBOps,
  tryApply as tryApplyBOp,
  tryReplay,
} from "./blocks.js";
import { type Dropped, type Policy, type Rule, makePatch, rebase } from "./rebase.js";

/** A caret: an offset (code points) in a string property of a node. */
export interface Cursor {
  key: string;
  prop: string;
  at: number;
}

/** One logged op; for a join, the parent under which `next` must first be moved right after `key` (when they were not adjacent on the server). */
interface Logged {
  op: BOp;
  moveNext: string | null;
}

/** The server's committed patches after some gen, oldest first: `[gen, patch]` (what `changes_since` returns). */
export type Log = readonly (readonly [number, Patch])[];

/** Caret ids from here on are probes of `rebaseWith`, not cursors. */
const PROBE = 2 ** 40;

function clen(s: string): number {
  return cpLen(s);
}

/** Rust's `{:?}` of a string (JSON quoting). */
function dbg(s: string): string {
  return JSON.stringify(s);
}

/** Rust's `{:?}` of an `Unfit`. */
function unfitDebug(u: Unfit): string {
  return u.unfit === "separated" ? "Separated" : `Misfit(${dbg(u.message)})`;
}

function isCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

// ---- EditError, with the messages of Rust's Display

function noSuchNode(k: string): EditError {
  return new EditError("NoSuchNode", `no node ${dbg(k)} in the local tree`);
}
function rootError(): EditError {
  return new EditError("Root", "the root cannot be moved, deleted, split or joined");
}
function badAnchor(k: string): EditError {
  return new EditError("BadAnchor", `${dbg(k)} is not a child of the new parent`);
}
function cycleError(): EditError {
  return new EditError("Cycle", "a node cannot move under itself");
}
function keyExists(k: string): EditError {
  return new EditError("KeyExists", `key ${dbg(k)} exists already`);
}
function notText(key: string, prop: string): EditError {
  return new EditError("NotText", `${dbg(prop)} of ${dbg(key)} is not a string`);
}
function outOfRange(key: string, at: number, del: number, len: number): EditError {
  return new EditError("OutOfRange", `[${at}, ${del}] reaches past the end of the text of ${dbg(key)} (${len} code points)`);
}
function notAdjacent(key: string, next: string): EditError {
  return new EditError("NotAdjacent", `${dbg(next)} is not the next sibling of ${dbg(key)}`);
}

function lostRule(l: Lost): [string, Rule] {
  switch (l.lost) {
    case "deleted":
      return [l.key, { name: "edit-of-deleted" }];
    case "non-text":
      return [l.key, { name: "prop-conflict", prop: l.prop }];
    case "drops-server-edit":
      return [l.key, { name: "delete-over-server-edit" }];
    case "separated":
      return [l.key, { name: "join-separated" }];
    case "misfit":
      return [l.key, { name: "text-misfit" }];
  }
}

function own(p: Props, k: string): unknown {
  return Object.prototype.hasOwnProperty.call(p, k) ? p[k] : undefined;
}

export class Workspace {
  private shadowTree: Tree;
  private proj: Tree;
  private local: Tree;
  private placed: SortedSet<string>;
  private dirty: SortedSet<string>;
  private log: Logged[];
  private cursorMap: SortedMap<string, Cursor>;
  private readonly keyPrefix: string;
  private nextKey: number;

  /** A workspace on `shadow` with no local edits; created keys are `<keyPrefix><n>`. */
  constructor(shadow: Tree, keyPrefix: string) {
    this.local = shadow.clone();
    this.proj = shadow.clone();
    this.shadowTree = shadow;
    this.placed = new SortedSet<string>();
    this.dirty = new SortedSet<string>();
    this.log = [];
    this.cursorMap = new SortedMap<string, Cursor>();
    this.keyPrefix = keyPrefix;
    this.nextKey = 0;
  }

  /** A deep copy (Rust's derived `Clone`; logged ops are immutable values and shared). */
  clone(): Workspace {
    const w = new Workspace(this.shadowTree.clone(), this.keyPrefix);
    w.proj = this.proj.clone();
    w.local = this.local.clone();
    w.placed = this.placed.clone();
    w.dirty = this.dirty.clone();
    w.log = this.log.map((e) => ({ op: e.op, moveNext: e.moveNext }));
    w.cursorMap = new SortedMap<string, Cursor>();
    for (const [name, c] of this.cursorMap) w.cursorMap.set(name, { ...c });
    w.nextKey = this.nextKey;
    return w;
  }

  /** The local tree. */
  tree(): Tree {
    return this.local;
  }

  shadow(): Tree {
    return this.shadowTree;
  }

  /** The shadow with the logged text edits, splits and joins applied. */
  projection(): Tree {
    return this.proj;
  }

  get(key: string): Node | undefined {
    return this.local.get(key);
  }

  /** The text of `prop` of `key` in the local tree (`""` if absent; undefined if there is no such node or the value is not a string). */
  text(key: string, prop: string): string | undefined {
    const n = this.local.get(key);
    return n === undefined ? undefined : (textOf(n, prop) ?? undefined);
  }

  children(key: string): readonly string[] {
    return this.local.children(key);
  }

  hasLocalEdits(): boolean {
    return !this.dirty.isEmpty() || !this.placed.isEmpty() || this.log.length > 0;
  }

  /**
   * Every key the local edits touch: dirty and placed keys, and the blocks of the logged text,
   * split and join ops (for change reports: a rebase can change these nodes although the
   * server's diff does not name them). Workspace::touched_keys in Rust.
   */
  touchedKeys(): string[] {
    const out = new Set<string>([...this.dirty, ...this.placed]);
    for (const e of this.log) {
      const op = e.op;
      if (op.type === "text" || op.type === "split" || op.type === "join") out.add(op.key);
      if (op.type === "split") out.add(op.new);
      if (op.type === "join") out.add(op.next);
    }
    return [...out];
  }

  /** Number of logged text/split/join ops waiting to be sent. */
  loggedOps(): number {
    return this.log.length;
  }

  /**
   * True if a rebase needs the server's change log (text intent or cursors to carry over, or
   * local deletes that must not discard the others' typing).
   */
  wantsServerLog(): boolean {
    if (this.log.length > 0 || !this.cursorMap.isEmpty()) return true;
    for (const k of this.shadowTree.nodes.keys()) if (!this.local.contains(k)) return true;
    return false;
  }

  /**
   * The local edits as one patch against the shadow (`base` = shadow gen): the logged text,
   * split and join ops, then the state diff from the projection to the local tree.
   */
  patch(): Patch {
    const ver = (k: string): number => this.shadowTree.get(k)?.version ?? 1;
    const ops: Op[] = [];
    for (const e of this.log) {
      const op = e.op;
      switch (op.type) {
        case "text": {
          const edits = op.op.toSplices();
          if (edits.length > 0) ops.push({ op: "text", key: op.key, version: ver(op.key), prop: op.prop, edits });
          break;
        }
        case "split":
          ops.push({ op: "split", key: op.key, version: ver(op.key), prop: op.prop, at: op.at, new: op.new });
          break;
        case "join":
          if (e.moveNext !== null) ops.push({ op: "move", key: op.next, version: ver(op.next), parent: e.moveNext, place: { after: op.key } });
          ops.push({ op: "join", key: op.key, version: ver(op.key), next: op.next, nextVersion: ver(op.next), prop: op.prop });
          break;
        default:
          break;
      }
    }
    const state = makePatch(this.proj, this.local, this.placed, this.dirty);
    ops.push(...state.ops);
    return { base: this.shadowTree.gen, ops };
  }

  /** Dirty marks that turned out to change nothing (e.g. a prop set back to its value). */
  forgetNoopEdits(): void {
    this.dirty.clear();
    this.placed.clear();
    if (this.log.every((e) => e.op.type === "text" && e.op.op.isIdentity())) {
      this.log = [];
      this.proj = this.shadowTree.clone();
    }
  }

  /**
   * Every local edit is on the server, which is now at `remote`: the local tree becomes
   * `remote`. Returns the local tree from before. Cursors stay where they are (use
   * `committedWith` to carry them over what others committed meanwhile).
   */
  committed(remote: Tree): Tree {
    const before = this.local;
    this.local = remote.clone();
    this.proj = remote.clone();
    this.shadowTree = remote;
    this.placed.clear();
    this.dirty.clear();
    this.log = [];
    this.dropStaleCursors();
    return before;
  }

  /**
   * `committed`, with the cursors carried over the server's log since the old shadow (`log`,
   * which holds this replica's own patch at gen `own`; null if unknown).
   */
  committedWith(remote: Tree, log: Log | null, own: number): Tree {
    if (!this.cursorMap.isEmpty()) {
      const carets = this.carets();
      const mine: BOp[] = this.log.map((e) => e.op);
      let mapped: BOp[] | null = null;
      const rep = log === null ? null : tryReplay(this.shadowTree, log);
      if (rep !== null && agrees(rep[0], remote)) {
        const ops = rep[1];
        const before = ops.filter(([g]) => g < own).map(([, o]) => o);
        const after = ops.filter(([g]) => g > own).map(([, o]) => o);
        const l = mine.concat(carets);
        const [lp] = transformBOps(before, l);
        const c1 = lp.filter((o) => o.type === "caret");
        const [c2] = transformBOps(after, c1);
        mapped = c2;
      }
      if (mapped !== null) {
        this.setCarets(mapped);
      } else {
        // without the log: through the diff of what changed, as well as it goes
        const [ops] = diffOps(this.local, remote);
        const [c] = transformBOps(ops, carets);
        this.setCarets(c);
      }
    }
    return this.committed(remote);
  }

  /** The server moved on to `remote`, its log unknown: rebase the local edits onto it, taking the server's text changes as character diffs. See `rebaseWith`. */
  rebaseOnto(remote: Tree, policy: Policy = "server_wins"): [Tree, Dropped[]] {
    return this.rebaseWith(remote, null, policy);
  }

  /**
   * The server moved on to `remote` by the committed patches `log` (from `changes_since` of
   * the shadow's gen, up to `remote.gen`; null if unknown): rebase the local edits onto it.
   * Returns the local tree from before and what was dropped or reported.
   */
  rebaseWith(remote: Tree, log: Log | null, policy: Policy = "server_wins"): [Tree, Dropped[]] {
    if (!this.hasLocalEdits()) {
      if (this.cursorMap.isEmpty()) return [this.committed(remote), []];
      return [this.committedWith(remote, log, Number.MAX_SAFE_INTEGER), []];
    }
    const gen = remote.gen;
    const dropped: Dropped[] = [];
    const report = (key: string, rule: Rule): void => {
      dropped.push({ key, rule, gen });
    };
    const newLog: Logged[] = [];
    const proj2 = remote.clone();
    const newCursors: BOp[] = [];
    let flags2: Flags = newFlags();
    const joinedIntoDeleted: [string, string][] = [];
    const textWorld = this.wantsServerLog();
    if (textWorld) {
      // 1. the server's changes as block ops
      let sops: BOp[];
      let flags: Flags;
      const rep = log === null ? null : tryReplay(this.shadowTree, log);
      if (rep !== null && agrees(rep[0], remote)) {
        sops = rep[1].map(([, o]) => o);
        flags = rep[2];
      } else {
        [sops, flags] = diffOps(this.shadowTree, remote);
      }
      flags2 = flags;
      // 2. the log and the cursors over them, then onto the new shadow
      const localOps: BOp[] = this.log.map((e) => e.op);
      localOps.push(...this.carets());
      // probes: where the typing of each block this replica typed into (and did not delete)
      // ends up — a server join may carry it into a block this replica deleted
      const typedInto: [string, string][] = [];
      for (const e of this.log) {
        const op = e.op;
        if (op.type !== "text") continue;
        if (
          op.op.toSplices().some((x) => x.insert !== "") &&
          this.local.contains(op.key) &&
          !typedInto.some(([k, p]) => k === op.key && p === op.prop)
        ) {
          typedInto.push([op.key, op.prop]);
        }
      }
      typedInto.forEach(([key, prop], i) => {
        localOps.push({ type: "caret", id: PROBE + i, key, prop, at: 0 });
      });
      const [lp0, , lost] = transformBOps(sops, localOps);
      for (const op of lp0) {
        if (op.type !== "caret" || op.id < PROBE) continue;
        const t = typedInto[op.id - PROBE];
        if (t === undefined) continue;
        const from = t[0];
        if (op.key !== from && this.proj.contains(op.key) && !this.local.contains(op.key)) joinedIntoDeleted.push([from, op.key]);
      }
      const lp = lp0.filter((o) => !(o.type === "caret" && o.id >= PROBE));
      for (const l of lost) report(...lostRule(l));
      let queue: BOp[] = lp;
      while (queue.length > 0) {
        const op = queue.shift()!;
        if (op.type === "caret") {
          newCursors.push(op);
          continue;
        }
        const r = tryApplyBOp(proj2, op, { flags: flags2, server: false });
        if (r.err === undefined) {
          newLog.push({ op, moveNext: r.ok });
        } else if (r.err.unfit === "separated") {
          // undo the join for what follows: the `next` part goes back to `next`
          if (op.type !== "join") continue;
          report(op.next, { name: "join-separated" });
          const unjoin: BOp = { type: "split", key: op.key, prop: op.prop, at: op.len, new: op.next, len: op.len + op.nextLen };
          const rest = queue;
          queue = [];
          const [rest2, , lost2] = transformBOps([unjoin], rest);
          for (const l of lost2) report(...lostRule(l));
          queue.push(...rest2);
        } else {
          report(bopKey(op), { name: "text-misfit" });
        }
      }
    }
    // the blocks this replica's own text ops (typing, Enter, Backspace) edit
    const ownText = new SortedSet<string>();
    for (const e of newLog) {
      const op = e.op;
      if (op.type === "text" && !op.op.isIdentity()) ownText.add(op.key);
      else if (op.type === "split") {
        ownText.add(op.key);
        ownText.add(op.new);
      } else if (op.type === "join") ownText.add(op.key);
    }
    // 3. local deletes must not discard what others typed
    const local = this.local.clone();
    if (textWorld) {
      const kept = this.keepTyping(proj2, flags2, newLog, local);
      for (const k of kept) report(k, { name: "delete-kept-typing" });
    }
    // 4. the state rebase from the old projection onto the new one
    const placed = this.placed.filter((k) => local.contains(k));
    const r = rebase(this.proj, local, placed, proj2, policy);
    // Rule 4 for text: a block this replica typed into that the server moved into a subtree
    // this replica deletes goes with the re-sent delete (`deleted-with-subtree`)
    for (const k of ownText) {
      const goneNow = local.contains(k) && proj2.contains(k) && !r.local.contains(k);
      const reported = r.dropped.some((d) => d.key === k && d.rule.name === "deleted-with-subtree");
      if (goneNow && !reported) report(k, { name: "deleted-with-subtree" });
    }
    // typing that a server join carried into a block this replica deleted goes with the delete
    // (unless the block was kept for others' typing)
    for (const [from, into] of joinedIntoDeleted) {
      if (!r.local.contains(into) && !r.dropped.concat(dropped).some((d) => d.key === from && d.rule.name === "joined-into-deleted")) {
        dropped.push({ key: from, rule: { name: "joined-into-deleted" }, gen });
      }
    }
    dropped.push(...r.dropped);
    const before = this.local;
    this.local = r.local;
    this.placed = r.placed;
    this.dirty = r.dirty;
    this.shadowTree = remote;
    this.proj = proj2;
    this.log = newLog;
    this.setCarets(newCursors);
    if (!textWorld) this.cursorMap.clear();
    // a cursor on a node (or string) the state rebase removed goes with it
    this.dropStaleCursors();
    return [before, dropped];
  }

  /**
   * Rule 3 of the rebase: nodes inside regions this replica deleted that hold text the server
   * inserted since the shadow are put back into `local` (with their ancestors in the region),
   * their seen text deleted by logged text ops. Returns the nodes kept for their own text.
   */
  private keepTyping(proj2: Tree, flags: Flags, log: Logged[], local: Tree): string[] {
    const deleted = (k: string): boolean => this.proj.contains(k) && !this.local.contains(k);
    const typed = new SortedSet<string>();
    for (const [[k], v] of flags.entries()) if (v.some((x) => x)) typed.add(k);
    const keep = new SortedSet<string>();
    const ownKept: string[] = [];
    for (const y of typed) {
      if (!proj2.contains(y)) continue;
      // up from `y` through the parents the state rebase will give: the local one for a node
      // placed locally, else the server's. A deleted node on the way means the delete takes
      // `y`. `path`: the nodes to bring back.
      const path: string[] = [];
      let cur: string | null = y;
      let inRegion = false;
      let reached = false;
      let hops = 0;
      while (cur !== null) {
        const c: string = cur;
        cur = null;
        hops += 1;
        if (c === ROOT) {
          reached = true;
          break;
        }
        if (hops > proj2.len() + this.local.len()) break; // a cycle (a local move the state rebase will drop): leave it to it
        inRegion = inRegion || deleted(c);
        const placed = this.placed.has(c) && this.local.contains(c);
        cur = placed ? this.local.parent(c) : (proj2.parent(c) ?? this.local.parent(c));
        if (!this.local.contains(c)) path.push(c);
      }
      if (inRegion && reached) {
        ownKept.push(y);
        keep.extend(path);
      }
    }
    if (keep.isEmpty()) return ownKept;
    // the seen text of each kept node goes, as the local user asked
    for (const k of keep) {
      const n = proj2.get(k)?.clone();
      if (n === undefined) continue;
      for (const p of Object.keys(n.props).sort(cmpKeys)) {
        const v = n.props[p];
        if (typeof v !== "string") continue;
        const f = flags.get([k, p])?.slice() ?? new Array<boolean>(clen(v)).fill(false);
        if (f.length !== clen(v) || f.every((x) => x)) continue;
        const op = new TextOp();
        for (const x of f) {
          if (x) op.retain(1);
          else op.delete(1);
        }
        const b: BOp = { type: "text", key: k, prop: p, op };
        if (tryApplyBOp(proj2, b, { flags, server: false }).err === undefined) log.push({ op: b, moveNext: null });
      }
    }
    // back into the local tree, where the server has them (nodes the server created are
    // brought in by the state rebase)
    const order: [number[], string][] = keep
      .toArray()
      .filter((k) => this.proj.contains(k))
      .map((k) => [proj2.path(k), k]);
    order.sort((a, b) => cmpNumberArrays(a[0], b[0]) || cmpKeys(a[1], b[1]));
    for (const [, k] of order) {
      const n = proj2.get(k)?.clone();
      if (n === undefined) continue;
      const p = n.parent;
      if (p === null) continue;
      if (!local.contains(p)) continue;
      n.children = [];
      local.nodes.set(k, n);
      try {
        local.attach(k, p, "last");
      } catch {
        local.nodes.remove(k);
      }
    }
    return ownKept;
  }

  // ------------------------------------------------------------------ cursors

  /** Sets (or moves) the named cursor. It follows local edits, rebases and pulls; it is removed when its node goes. */
  setCursor(name: string, key: string, prop: string, at: number): void {
    this.cursorMap.set(name, { key, prop, at });
  }

  /** The named cursor (a copy), or undefined. */
  cursor(name: string): Cursor | undefined {
    const c = this.cursorMap.get(name);
    return c === undefined ? undefined : { ...c };
  }

  /** Every cursor (copies), by name, in name order. */
  cursors(): Map<string, Cursor> {
    const out = new Map<string, Cursor>();
    for (const [name, c] of this.cursorMap) out.set(name, { ...c });
    return out;
  }

  hasCursors(): boolean {
    return !this.cursorMap.isEmpty();
  }

  removeCursor(name: string): void {
    this.cursorMap.remove(name);
  }

  private carets(): BOp[] {
    const out: BOp[] = [];
    let id = 0;
    for (const c of this.cursorMap.values()) out.push({ type: "caret", id: id++, key: c.key, prop: c.prop, at: c.at });
    return out;
  }

  /** Cursors on a node that is gone, on a prop that is not a string, or past the end of the text are removed. */
  private dropStaleCursors(): void {
    this.cursorMap.retain((_, c) => {
      const n = this.local.get(c.key);
      if (n === undefined) return false;
      const t = textOf(n, c.prop);
      return t !== null && c.at <= clen(t);
    });
  }

  /** The cursor names in caret id order (ids are positions in this list, see `carets`). */
  private cursorNames(): string[] {
    return this.cursorMap.keyArray();
  }

  private setCarets(carets: readonly BOp[]): void {
    this.setCaretsNamed(this.cursorNames(), carets);
  }

  /** Sets the cursors from carets whose ids index `names` (the names when the carets were taken: edits in between may have removed cursors). */
  private setCaretsNamed(names: readonly string[], carets: readonly BOp[]): void {
    const out = new SortedMap<string, Cursor>();
    for (const c of carets) {
      if (c.type !== "caret") continue;
      const name = names[c.id];
      if (name !== undefined) out.set(name, { key: c.key, prop: c.prop, at: c.at });
    }
    this.cursorMap = out;
  }

  private mapCursors(op: BOp): void {
    const carets = this.carets();
    const [c] = transformBOps([op], carets);
    this.setCarets(c);
  }

  // ------------------------------------------------------------------ edits

  private checkPlace(parent: string, place: Place, key: string | null): void {
    if (!this.local.contains(parent)) throw noSuchNode(parent);
    if (typeof place === "object") {
      const a = place.after;
      if (a === key || this.local.parent(a) !== parent) throw badAnchor(a);
    }
  }

  private keyUsed(key: string): boolean {
    return this.local.contains(key) || this.shadowTree.contains(key) || this.proj.contains(key);
  }

  /** A fresh key `<keyPrefix><n>` (for `split`). */
  freshKey(): string {
    for (;;) {
      this.nextKey += 1;
      const k = `${this.keyPrefix}${this.nextKey}`;
      if (!this.keyUsed(k)) return k;
    }
  }

  /** Creates a node under `parent` at `place` with a fresh key, which it returns. */
  create(parent: string, place: Place, kind: string, props: Props = {}): string {
    const key = this.freshKey();
    this.createWithKey(key, parent, place, kind, props);
    return key;
  }

  /** Creates a node with a key chosen by the caller (it must never have existed). */
  createWithKey(key: string, parent: string, place: Place, kind: string, props: Props = {}): void {
    this.checkPlace(parent, place, key);
    if (this.keyUsed(key)) throw keyExists(key);
    const p: Props = {};
    for (const k of Object.keys(props)) {
      const v = props[k];
      if (v !== null && v !== undefined) p[k] = jsonClone(v);
    }
    this.local.nodes.set(key, new Node(kind, p, parent));
    try {
      this.local.attach(key, parent, place);
    } catch {
      throw badAnchor(key);
    }
    this.placed.add(key);
    this.dirty.add(key);
  }

  /**
   * True if `prop` of `key` can be edited through the log: the node is in the projection and
   * its value there is the local one and a string (or absent).
   */
  private loggable(key: string, prop: string): boolean {
    const p = this.proj.get(key);
    const l = this.local.get(key);
    if (p === undefined || l === undefined) return false;
    return textOf(p, prop) !== null && jsonEqual(own(p.props, prop), own(l.props, prop));
  }

  /**
   * Applies `op` to the projection and the local tree and logs it (composing a text op into
   * the previous one of the same block when nothing else touched the node since).
   */
  private record(op: BOp): void {
    const r = tryApplyBOp(this.proj, op, null);
    if (r.err !== undefined) throw noSuchNode(`${bopKey(op)}: ${unfitDebug(r.err)}`);
    const moveNext = r.ok;
    const r2 = tryApplyBOp(this.local, op, null);
    if (r2.err !== undefined) {
      // cannot happen (the local tree holds the projection's text); keep them equal
      this.proj = blocksUndo(this.shadowTree, this.log);
      throw noSuchNode(`${bopKey(op)}: ${unfitDebug(r2.err)}`);
    }
    this.mapCursors(op);
    if (op.type === "text") {
      for (let i = this.log.length - 1; i >= 0; i--) {
        const e = this.log[i]!;
        const prev = e.op;
        if (prev.type === "text" && prev.key === op.key && prev.prop === op.prop) {
          let c: TextOp | null = null;
          try {
            c = prev.op.compose(op.op);
          } catch {
            c = null;
          }
          if (c !== null) {
            e.op = { type: "text", key: prev.key, prop: prev.prop, op: c };
            return;
          }
          break;
        }
        // another property of the same block: look further back
        if (prev.type === "text" && prev.key === op.key) continue;
        if (touches(prev, op.key)) break;
      }
    }
    this.log.push({ op, moveNext });
  }

  /** A local text op on a node that is not logged (created locally, or the property was changed some other way): applied to the local tree only, the node marked dirty. */
  private stateText(key: string, prop: string, op: TextOp): void {
    const b: BOp = { type: "text", key, prop, op };
    const r = tryApplyBOp(this.local, b, null);
    if (r.err !== undefined) throw noSuchNode(`${key}: ${unfitDebug(r.err)}`);
    this.dirty.add(key);
    this.mapCursors(b);
  }

  private textForEdit(key: string, prop: string): string {
    const n = this.local.get(key);
    if (n === undefined) throw noSuchNode(key);
    const t = textOf(n, prop);
    if (t === null) throw notText(key, prop);
    return t;
  }

  /**
   * Replaces `del` code points at offset `at` of the string property `prop` of `key` with
   * `insert` (an absent property is ""). Pushing sends it as a `text` op.
   */
  splice(key: string, prop: string, at: number, del: number, insert: string): void {
    const cur = this.textForEdit(key, prop);
    const len = clen(cur);
    if (!isCount(at) || !isCount(del) || at + del > len) throw outOfRange(key, at, del, len);
    const op = TextOp.splice(len, { at, delete: del, insert });
    if (op.isIdentity()) return;
    if (this.loggable(key, prop)) this.record({ type: "text", key, prop, op });
    else this.stateText(key, prop, op);
  }

  /**
   * Updates a node: `props` is a delta (null removes a property), `kind` if given. A string
   * given for a string property becomes splices (a character diff against the local value),
   * so it merges with what others type like `splice` does.
   */
  update(key: string, kind: string | null | undefined, props: Props = {}): void {
    if (!this.local.contains(key)) throw noSuchNode(key);
    for (const k of Object.keys(props).sort(cmpKeys)) {
      const v = props[k];
      if (v === undefined) continue;
      if (typeof v === "string") {
        let cur: string | null = null;
        try {
          cur = this.textForEdit(key, k);
        } catch (e) {
          if (!(e instanceof EditError)) throw e;
          cur = null;
        }
        if (cur !== null) {
          const op = otDiff(cur, v);
          if (!op.isIdentity()) {
            if (this.loggable(key, k)) this.record({ type: "text", key, prop: k, op });
            else this.stateText(key, k, op);
          }
          // an absent property set to "" becomes present
          const n = this.local.nodes.get(key);
          if (n !== undefined && !Object.prototype.hasOwnProperty.call(n.props, k)) {
            n.props[k] = "";
            this.dirty.add(key);
          }
          continue;
        }
      }
      const n = this.local.nodes.get(key);
      if (n === undefined) continue;
      if (v === null) delete n.props[k];
      else n.props[k] = jsonClone(v);
      this.dirty.add(key);
      this.cursorMap.retain((_, c) => !(c.key === key && c.prop === k));
    }
    if (kind !== null && kind !== undefined) {
      const n = this.local.nodes.get(key);
      if (n !== undefined) n.kind = kind;
      this.dirty.add(key);
    }
  }

  /**
   * Splits a text block (Enter): `key` keeps the first `at` code points of `prop`; a new node
   * `newKey` right after it (same kind, a copy of the other props) gets the rest. `key`'s
   * children stay with it. Pushing sends a `split` op.
   */
  split(key: string, prop: string, at: number, newKey: string): void {
    if (key === ROOT) throw rootError();
    const cur = this.textForEdit(key, prop);
    const len = clen(cur);
    if (!isCount(at) || at > len) throw outOfRange(key, at, 0, len);
    if (this.keyUsed(newKey)) throw keyExists(newKey);
    const op: BOp = { type: "split", key, prop, at, new: newKey, len };
    if (this.loggable(key, prop)) {
      // the new block is not "placed": like the other blocks it keeps the place the (rebased)
      // split gives it. It is dirty: the server copies its own version of the other props,
      // which local edits may have changed
      this.record(op);
      this.dirty.add(newKey);
      // a block moved here locally is still at its old place on the server when the split
      // runs: the new block must then be moved too
      if (this.placed.has(key)) this.placed.add(newKey);
      return;
    }
    const r = tryApplyBOp(this.local, op, null);
    if (r.err !== undefined) throw noSuchNode(`${key}: ${unfitDebug(r.err)}`);
    const n = this.local.nodes.get(newKey);
    if (n !== undefined) n.version = 0;
    this.mapCursors(op);
    this.dirty.add(key);
    this.dirty.add(newKey);
    this.placed.add(newKey);
  }

  /**
   * Joins two text blocks (Backspace at the start of `next`, Delete at the end of `key`):
   * `next` (the next sibling of `key`) is appended to `key` — its `prop` text, then its
   * children — and deleted. Pushing sends a `join` op. Returns the key of the joined block:
   * `key`, except when `key` is not on the server yet and `next` is: then `next` is kept (with
   * `key`'s kind and other props and `key`'s text in front), so that what others typed into
   * `next` meanwhile stays.
   */
  join(key: string, next: string, prop: string): string {
    if (key === ROOT || next === ROOT) throw rootError();
    const a = this.textForEdit(key, prop);
    const b = this.textForEdit(next, prop);
    const parent = this.local.parent(key);
    if (parent === null) throw rootError();
    const kids = this.local.children(parent);
    const ik = kids.indexOf(key);
    const inx = kids.indexOf(next);
    if (!(ik >= 0 ? inx === ik + 1 : inx < 0)) throw notAdjacent(key, next);
    const la = clen(a);
    const lb = clen(b);
    const jk = this.loggable(key, prop);
    const jn = this.loggable(next, prop) && this.proj.parent(next) === this.proj.parent(key);
    const joinOp: BOp = { type: "join", key, next, prop, len: la, nextLen: lb };
    if (jk && jn) {
      this.record(joinOp);
      return key;
    }
    // cursors follow the join, whatever ops express it (the deletes below remove cursors on
    // the deleted block: the carets keep the names they were taken with)
    const names = this.cursorNames();
    const carets: BOp[] = this.carets().map((c) =>
      c.type === "caret" && c.key === next && c.prop === prop ? { type: "caret", id: c.id, key, prop: c.prop, at: la + c.at } : c,
    );
    if (this.proj.contains(key) || !this.loggable(next, prop)) {
      // `key` takes `next`'s text (logged if it can be) and children; `next` is deleted
      const append = TextOp.identity(la).insert(b);
      if (jk) this.record({ type: "text", key, prop, op: append });
      else this.stateText(key, prop, append);
      const nkids = this.local.children(next).slice();
      for (const c of nkids) this.moveTo(c, key, "last");
      this.delete(next);
      this.setCaretsNamed(names, carets);
      return key;
    }
    // `key` is local only, `next` is on the server: `next` stays, with `key`'s text in front,
    // `key`'s kind and other props, and `key`'s children before its own
    const prepend = new TextOp().insert(a).retain(lb);
    this.record({ type: "text", key: next, prop, op: prepend });
    const moved: BOp[] = carets.map((c) =>
      c.type === "caret" && c.key === key && c.prop === prop ? { type: "caret", id: c.id, key: next, prop: c.prop, at: c.at } : c,
    );
    const kn = this.local.get(key);
    if (kn === undefined) throw noSuchNode(key);
    const kindK = kn.kind;
    const delta: Props = jsonClone(kn.props);
    delete delta[prop];
    const nn = this.local.get(next);
    if (nn !== undefined) {
      for (const k of Object.keys(nn.props).sort(cmpKeys)) {
        if (k !== prop && !Object.prototype.hasOwnProperty.call(delta, k)) delta[k] = null;
      }
    }
    this.update(next, kindK, delta);
    const kkids = this.local.children(key).slice();
    let after: string | null = null;
    for (const c of kkids) {
      const place: Place = after === null ? "first" : { after };
      this.moveTo(c, next, place);
      after = c;
    }
    this.delete(key);
    this.setCaretsNamed(names, moved);
    return next;
  }

  /** Moves a node (with its subtree) under `parent` at `place`. */
  moveTo(key: string, parent: string, place: Place): void {
    if (key === ROOT) throw rootError();
    if (!this.local.contains(key)) throw noSuchNode(key);
    this.checkPlace(parent, place, key);
    if (this.local.isDescendantOrSelf(parent, key)) throw cycleError();
    this.local.detach(key);
    try {
      this.local.attach(key, parent, place);
    } catch {
      throw badAnchor(parent);
    }
    this.placed.add(key);
    this.dirty.add(key);
  }

  /** Deletes a node and its subtree. */
  delete(key: string): void {
    if (key === ROOT) throw rootError();
    if (!this.local.contains(key)) throw noSuchNode(key);
    const sub = this.local.subtree(key);
    this.local.detach(key);
    for (const k of sub) {
      this.local.nodes.remove(k);
      this.placed.remove(k);
      this.cursorMap.retain((_, c) => c.key !== k);
      this.dirty.add(k);
    }
  }
}

/** The shadow with `log` applied (used to recover the projection after an internal error). */
function blocksUndo(shadow: Tree, log: readonly Logged[]): Tree {
  const t = shadow.clone();
  for (const e of log) {
    try {
      applyBOp(t, e.op, null);
    } catch {
      // ignored, as in Rust
    }
  }
  return t;
}
