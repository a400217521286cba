// Mirrors client/src/workspace/edits.rs: the local edits of a Workspace: creates, moves,
// deletes, props and kinds (state edits: the node is marked dirty, and placed if its place
// changed), and the text edits (splices, splits, joins), logged as block ops when the block is
// on the server (else applied to the local tree as state edits). Every edit checks first and
// throws an EditError, with the messages of Rust's Display, changing nothing.

import { type BOp, type Unfit, apply as applyBOp, bopKey, textOf, touches, tryApply as tryApplyBOp } from "../blocks.js";
import { EditError } from "../errors.js";
import { type Props, jsonClone, jsonEqual } from "../json.js";
import { cmpKeys } from "../order.js";
import { TextOp, diff as otDiff } from "../ot.js";
import { type Place, ROOT } from "../patch.js";
import { cpLen as clen } from "../text.js";
import { Node, type Tree } from "../tree.js";
import { caretsOf, cursorNames, mapCursors, setCaretsNamed } from "./cursors.js";
import type { Logged, State } from "./state.js";

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

function own(p: Props, k: string): unknown {
  return Object.prototype.hasOwnProperty.call(p, k) ? p[k] : undefined;
}

function checkPlace(s: State, parent: string, place: Place, key: string | null): void {
  if (!s.local.contains(parent)) throw noSuchNode(parent);
  if (typeof place === "object") {
    const a = place.after;
    if (a === key || s.local.parent(a) !== parent) throw badAnchor(a);
  }
}

function keyUsed(s: State, key: string): boolean {
  return s.local.contains(key) || s.shadowTree.contains(key) || s.proj.contains(key);
}

export function freshKey(s: State): string {
  for (;;) {
    s.nextKey += 1;
    const k = `${s.keyPrefix}${s.nextKey}`;
    if (!keyUsed(s, k)) return k;
  }
}

export function createWithKey(s: State, key: string, parent: string, place: Place, kind: string, props: Props = {}): void {
  checkPlace(s, parent, place, key);
  if (keyUsed(s, key)) throw keyExists(key);
  const p: Props = {};
  for (const k of Object.keys(props)) {
    const v = props[k];
    if (v !== null && v !== undefined) p[k] = jsonClone(v);
  }
  s.local.nodes.set(key, new Node(kind, p, parent));
  try {
    s.local.attach(key, parent, place);
  } catch {
    throw badAnchor(key);
  }
  s.placed.add(key);
  s.dirty.add(key);
}

/**
 * True if `prop` of `key` can be edited through the log: the node is in the projection and
 * its value there is the local one and a string (or absent).
 */
function loggable(s: State, key: string, prop: string): boolean {
  const p = s.proj.get(key);
  const l = s.local.get(key);
  if (p === undefined || l === undefined) return false;
  return textOf(p, prop) !== null && jsonEqual(own(p.props, prop), own(l.props, prop));
}

/**
 * Applies `op` to the projection and the local tree and logs it (composing a text op into
 * the previous one of the same block when nothing else touched the node since).
 */
function record(s: State, op: BOp): void {
  const r = tryApplyBOp(s.proj, op, null);
  if (r.err !== undefined) throw noSuchNode(`${bopKey(op)}: ${unfitDebug(r.err)}`);
  const moveNext = r.ok;
  const r2 = tryApplyBOp(s.local, op, null);
  if (r2.err !== undefined) {
    // cannot happen (the local tree holds the projection's text); keep them equal
    s.proj = blocksUndo(s.shadowTree, s.log);
    throw noSuchNode(`${bopKey(op)}: ${unfitDebug(r2.err)}`);
  }
  mapCursors(s, op);
  if (op.type === "text") {
    for (let i = s.log.length - 1; i >= 0; i--) {
      const e = s.log[i]!;
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
  s.log.push({ op, moveNext });
}

/** A local text op on a node that is not logged (created locally, or the property was changed some other way): applied to the local tree only, the node marked dirty. */
function stateText(s: State, key: string, prop: string, op: TextOp): void {
  const b: BOp = { type: "text", key, prop, op };
  const r = tryApplyBOp(s.local, b, null);
  if (r.err !== undefined) throw noSuchNode(`${key}: ${unfitDebug(r.err)}`);
  s.dirty.add(key);
  mapCursors(s, b);
}

function textForEdit(s: State, key: string, prop: string): string {
  const n = s.local.get(key);
  if (n === undefined) throw noSuchNode(key);
  const t = textOf(n, prop);
  if (t === null) throw notText(key, prop);
  return t;
}

export function splice(s: State, key: string, prop: string, at: number, del: number, insert: string): void {
  const cur = textForEdit(s, key, prop);
  const len = clen(cur);
  if (!isCount(at) || !isCount(del) || at + del > len) throw outOfRange(key, at, del, len);
  const op = TextOp.splice(len, { at, delete: del, insert });
  if (op.isIdentity()) return;
  if (loggable(s, key, prop)) record(s, { type: "text", key, prop, op });
  else stateText(s, key, prop, op);
}

export function update(s: State, key: string, kind: string | null | undefined, props: Props = {}): void {
  if (!s.local.contains(key)) throw noSuchNode(key);
  for (const k of Object.keys(props).sort(cmpKeys)) {
    const v = props[k];
    if (v === undefined) continue;
    if (typeof v === "string") {
      let cur: string | null = null;
      try {
        cur = textForEdit(s, key, k);
      } catch (e) {
        if (!(e instanceof EditError)) throw e;
        cur = null;
      }
      if (cur !== null) {
        const op = otDiff(cur, v);
        if (!op.isIdentity()) {
          if (loggable(s, key, k)) record(s, { type: "text", key, prop: k, op });
          else stateText(s, key, k, op);
        }
        // an absent property set to "" becomes present
        const n = s.local.nodes.get(key);
        if (n !== undefined && !Object.prototype.hasOwnProperty.call(n.props, k)) {
          n.props[k] = "";
          s.dirty.add(key);
        }
        continue;
      }
    }
    const n = s.local.nodes.get(key);
    if (n === undefined) continue;
    if (v === null) delete n.props[k];
    else n.props[k] = jsonClone(v);
    s.dirty.add(key);
    s.cursorMap.retain((_, c) => !(c.key === key && c.prop === k));
  }
  if (kind !== null && kind !== undefined) {
    const n = s.local.nodes.get(key);
    if (n !== undefined) n.kind = kind;
    s.dirty.add(key);
  }
}

export function split(s: State, key: string, prop: string, at: number, newKey: string): void {
  if (key === ROOT) throw rootError();
  const cur = textForEdit(s, key, prop);
  const len = clen(cur);
  if (!isCount(at) || at > len) throw outOfRange(key, at, 0, len);
  if (keyUsed(s, newKey)) throw keyExists(newKey);
  const op: BOp = { type: "split", key, prop, at, new: newKey, len };
  if (loggable(s, key, prop)) {
    // the new block is not "placed": like the other blocks it keeps the place the (rebased)
    // split gives it. It is dirty: the server copies its own version of the other props,
    // which local edits may have changed
    record(s, op);
    s.dirty.add(newKey);
    // a block moved here locally is still at its old place on the server when the split
    // runs: the new block must then be moved too
    if (s.placed.has(key)) s.placed.add(newKey);
    return;
  }
  const r = tryApplyBOp(s.local, op, null);
  if (r.err !== undefined) throw noSuchNode(`${key}: ${unfitDebug(r.err)}`);
  const n = s.local.nodes.get(newKey);
  if (n !== undefined) n.version = 0;
  mapCursors(s, op);
  s.dirty.add(key);
  s.dirty.add(newKey);
  s.placed.add(newKey);
}

export function join(s: State, key: string, next: string, prop: string): string {
  if (key === ROOT || next === ROOT) throw rootError();
  const a = textForEdit(s, key, prop);
  const b = textForEdit(s, next, prop);
  const parent = s.local.parent(key);
  if (parent === null) throw rootError();
  const kids = s.local.children(parent);
  const ik = kids.indexOf(key);
  const inx = kids.indexOf(next);
  if (!(ik >= 0 ? inx === ik + 1 : inx < 0)) throw notAdjacent(key, next);
  const la = clen(a);
  const lb = clen(b);
  const jk = loggable(s, key, prop);
  const jn = loggable(s, next, prop) && s.proj.parent(next) === s.proj.parent(key);
  const joinOp: BOp = { type: "join", key, next, prop, len: la, nextLen: lb };
  if (jk && jn) {
    record(s, joinOp);
    return key;
  }
  // cursors follow the join, whatever ops express it (the deletes below remove cursors on
  // the deleted block: the carets keep the names they were taken with)
  const names = cursorNames(s);
  const carets: BOp[] = caretsOf(s).map((c) =>
    c.type === "caret" && c.key === next && c.prop === prop ? { type: "caret", id: c.id, key, prop: c.prop, at: la + c.at } : c,
  );
  if (s.proj.contains(key) || !loggable(s, next, prop)) {
    // `key` takes `next`'s text (logged if it can be) and children; `next` is deleted
    const append = TextOp.identity(la).insert(b);
    if (jk) record(s, { type: "text", key, prop, op: append });
    else stateText(s, key, prop, append);
    const nkids = s.local.children(next).slice();
    for (const c of nkids) moveTo(s, c, key, "last");
    deleteNode(s, next);
    setCaretsNamed(s, names, carets);
    return key;
  }
  // `key` is local only, `next` is on the server: `next` stays, with `key`'s text in front,
  // `key`'s kind and other props, and `key`'s children before its own
  const prepend = new TextOp().insert(a).retain(lb);
  record(s, { type: "text", key: next, prop, op: prepend });
  const moved: BOp[] = carets.map((c) =>
    c.type === "caret" && c.key === key && c.prop === prop ? { type: "caret", id: c.id, key: next, prop: c.prop, at: c.at } : c,
  );
  const kn = s.local.get(key);
  if (kn === undefined) throw noSuchNode(key);
  const kindK = kn.kind;
  const delta: Props = jsonClone(kn.props);
  delete delta[prop];
  const nn = s.local.get(next);
  if (nn !== undefined) {
    for (const k of Object.keys(nn.props).sort(cmpKeys)) {
      if (k !== prop && !Object.prototype.hasOwnProperty.call(delta, k)) delta[k] = null;
    }
  }
  update(s, next, kindK, delta);
  const kkids = s.local.children(key).slice();
  let after: string | null = null;
  for (const c of kkids) {
    const place: Place = after === null ? "first" : { after };
    moveTo(s, c, next, place);
    after = c;
  }
  deleteNode(s, key);
  setCaretsNamed(s, names, moved);
  return next;
}

export function moveTo(s: State, key: string, parent: string, place: Place): void {
  if (key === ROOT) throw rootError();
  if (!s.local.contains(key)) throw noSuchNode(key);
  checkPlace(s, parent, place, key);
  if (s.local.isDescendantOrSelf(parent, key)) throw cycleError();
  s.local.detach(key);
  try {
    s.local.attach(key, parent, place);
  } catch {
    throw badAnchor(parent);
  }
  s.placed.add(key);
  s.dirty.add(key);
}

export function deleteNode(s: State, key: string): void {
  if (key === ROOT) throw rootError();
  if (!s.local.contains(key)) throw noSuchNode(key);
  const sub = s.local.subtree(key);
  s.local.detach(key);
  for (const k of sub) {
    s.local.nodes.remove(k);
    s.placed.remove(k);
    s.cursorMap.retain((_, c) => c.key !== k);
    s.dirty.add(k);
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
