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
//
// This class holds the state (workspace/state.ts), the reads and the patch; its edits are
// workspace/edits.ts (as in Rust), its commits and rebase workspace/rebase.ts, and the
// cursors' carets workspace/cursors.ts.

import { textOf } from "./blocks.js";
import type { Props } from "./json.js";
import { SortedMap, SortedSet } from "./order.js";
import type { Op, Patch, Place } from "./patch.js";
import { type Dropped, type Policy, makePatch } from "./rebase.js";
import type { Node, Tree } from "./tree.js";
import { createWithKey, deleteNode, freshKey, join, moveTo, splice, split, update } from "./workspace/edits.js";
import { committed, committedAlone, committedWith, rebaseWith, wantsServerLog } from "./workspace/rebase.js";
import { type State, hasLocalEdits } from "./workspace/state.js";

/** A caret: an offset (code points) in a string property of a node. */
export interface Cursor {
  key: string;
  prop: string;
  at: number;
}

/** The server's committed patches after some gen, oldest first: `[gen, patch]` (what `changes_since` returns). */
export type Log = readonly (readonly [number, Patch])[];

export class Workspace {
  private s: State;

  /** A workspace on `shadow` with no local edits; created keys are `<keyPrefix><n>`. */
  constructor(shadow: Tree, keyPrefix: string) {
    this.s = {
      local: shadow.clone(),
      proj: shadow.clone(),
      shadowTree: shadow,
      placed: new SortedSet<string>(),
      dirty: new SortedSet<string>(),
      log: [],
      cursorMap: new SortedMap<string, Cursor>(),
      keyPrefix,
      nextKey: 0,
    };
  }

  /** A deep copy (Rust's derived `Clone`; logged ops are immutable values and shared). */
  clone(): Workspace {
    const w = new Workspace(this.s.shadowTree.clone(), this.s.keyPrefix);
    w.s.proj = this.s.proj.clone();
    w.s.local = this.s.local.clone();
    w.s.placed = this.s.placed.clone();
    w.s.dirty = this.s.dirty.clone();
    w.s.log = this.s.log.map((e) => ({ op: e.op, moveNext: e.moveNext }));
    w.s.cursorMap = new SortedMap<string, Cursor>();
    for (const [name, c] of this.s.cursorMap) w.s.cursorMap.set(name, { ...c });
    w.s.nextKey = this.s.nextKey;
    return w;
  }

  /** The local tree. */
  tree(): Tree {
    return this.s.local;
  }

  shadow(): Tree {
    return this.s.shadowTree;
  }

  /** The shadow with the logged text edits, splits and joins applied. */
  projection(): Tree {
    return this.s.proj;
  }

  get(key: string): Node | undefined {
    return this.s.local.get(key);
  }

  /** The text of `prop` of `key` in the local tree (`""` if absent; undefined if there is no such node or the value is not a string). */
  text(key: string, prop: string): string | undefined {
    const n = this.s.local.get(key);
    return n === undefined ? undefined : (textOf(n, prop) ?? undefined);
  }

  children(key: string): readonly string[] {
    return this.s.local.children(key);
  }

  hasLocalEdits(): boolean {
    return hasLocalEdits(this.s);
  }

  /**
   * Every key the local edits touch: dirty and placed keys, and the blocks of the logged text,
   * split and join ops (for change reports: a rebase can change these nodes although the
   * server's diff does not name them). Workspace::touched_keys in Rust.
   */
  touchedKeys(): string[] {
    const out = new Set<string>([...this.s.dirty, ...this.s.placed]);
    for (const e of this.s.log) {
      const op = e.op;
      if (op.type === "text" || op.type === "split" || op.type === "join") out.add(op.key);
      if (op.type === "split") out.add(op.new);
      if (op.type === "join") out.add(op.next);
    }
    return [...out];
  }

  /** Number of logged text/split/join ops waiting to be sent. */
  loggedOps(): number {
    return this.s.log.length;
  }

  /**
   * True if a rebase needs the server's change log (text intent or cursors to carry over, or
   * local deletes that must not discard the others' typing).
   */
  wantsServerLog(): boolean {
    return wantsServerLog(this.s);
  }

  /**
   * The local edits as one patch against the shadow (`base` = shadow gen): the logged text,
   * split and join ops, then the state diff from the projection to the local tree.
   */
  patch(): Patch {
    const ver = (k: string): number => this.s.shadowTree.get(k)?.version ?? 1;
    const ops: Op[] = [];
    for (const e of this.s.log) {
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
    const state = makePatch(this.s.proj, this.s.local, this.s.placed, this.s.dirty);
    ops.push(...state.ops);
    return { base: this.s.shadowTree.gen, ops };
  }

  /** Dirty marks that turned out to change nothing (e.g. a prop set back to its value). */
  forgetNoopEdits(): void {
    this.s.dirty.clear();
    this.s.placed.clear();
    if (this.s.log.every((e) => e.op.type === "text" && e.op.op.isIdentity())) {
      this.s.log = [];
      this.s.proj = this.s.shadowTree.clone();
    }
  }

  /**
   * Every local edit is on the server, which is now at `remote`: the local tree becomes
   * `remote`. Returns the local tree from before. Cursors stay where they are (use
   * `committedWith` to carry them over what others committed meanwhile).
   */
  committed(remote: Tree): Tree {
    return committed(this.s, remote);
  }

  /**
   * `patch` (this workspace's `patch()`, unchanged since) committed at `gen` with `versions`
   * (apply_patch's result): if nobody else committed in between (`gen` = shadow gen + 1) and
   * the patch only changed nodes in place (`text`, `update` without non-integer numbers), the
   * server now holds the local tree, and the versions and gen are folded in without a read
   * (true). Otherwise nothing changes (false): read the server (`committed` after
   * `diff_since`). As Rust's `Workspace::committed_alone`.
   */
  committedAlone(patch: Patch, gen: number, versions: unknown): boolean {
    return committedAlone(this.s, patch, gen, versions);
  }

  /**
   * `committed`, with the cursors carried over the server's log since the old shadow (`log`,
   * which holds this replica's own patch at gen `own`; null if unknown).
   */
  committedWith(remote: Tree, log: Log | null, own: number): Tree {
    return committedWith(this.s, remote, log, own);
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
    return rebaseWith(this.s, remote, log, policy);
  }

  // ------------------------------------------------------------------ cursors

  /** Sets (or moves) the named cursor. It follows local edits, rebases and pulls; it is removed when its node goes. */
  setCursor(name: string, key: string, prop: string, at: number): void {
    this.s.cursorMap.set(name, { key, prop, at });
  }

  /** The named cursor (a copy), or undefined. */
  cursor(name: string): Cursor | undefined {
    const c = this.s.cursorMap.get(name);
    return c === undefined ? undefined : { ...c };
  }

  /** Every cursor (copies), by name, in name order. */
  cursors(): Map<string, Cursor> {
    const out = new Map<string, Cursor>();
    for (const [name, c] of this.s.cursorMap) out.set(name, { ...c });
    return out;
  }

  hasCursors(): boolean {
    return !this.s.cursorMap.isEmpty();
  }

  removeCursor(name: string): void {
    this.s.cursorMap.remove(name);
  }

  // ------------------------------------------------------------------ edits (workspace/edits.ts)

  /** A fresh key `<keyPrefix><n>` (for `split`). */
  freshKey(): string {
    return freshKey(this.s);
  }

  /** Creates a node under `parent` at `place` with a fresh key, which it returns. */
  create(parent: string, place: Place, kind: string, props: Props = {}): string {
    const key = this.freshKey();
    this.createWithKey(key, parent, place, kind, props);
    return key;
  }

  /** Creates a node with a key chosen by the caller (it must never have existed). */
  createWithKey(key: string, parent: string, place: Place, kind: string, props: Props = {}): void {
    createWithKey(this.s, key, parent, place, kind, props);
  }

  /**
   * Replaces `del` code points at offset `at` of the string property `prop` of `key` with
   * `insert` (an absent property is ""). Pushing sends it as a `text` op.
   */
  splice(key: string, prop: string, at: number, del: number, insert: string): void {
    splice(this.s, key, prop, at, del, insert);
  }

  /**
   * Updates a node: `props` is a delta (null removes a property), `kind` if given. A string
   * given for a string property becomes splices (a character diff against the local value),
   * so it merges with what others type like `splice` does.
   */
  update(key: string, kind: string | null | undefined, props: Props = {}): void {
    update(this.s, key, kind, props);
  }

  /**
   * Splits a text block (Enter): `key` keeps the first `at` code points of `prop`; a new node
   * `newKey` right after it (same kind, a copy of the other props) gets the rest. `key`'s
   * children stay with it. Pushing sends a `split` op.
   */
  split(key: string, prop: string, at: number, newKey: string): void {
    split(this.s, key, prop, at, newKey);
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
    return join(this.s, key, next, prop);
  }

  /** Moves a node (with its subtree) under `parent` at `place`. */
  moveTo(key: string, parent: string, place: Place): void {
    moveTo(this.s, key, parent, place);
  }

  /** Deletes a node and its subtree. */
  delete(key: string): void {
    deleteNode(this.s, key);
  }
}
