// The cursors of a Workspace as carets (BOps of type "caret", ids in name order) and back, so
// that they follow every local edit, rebase and pull; a cursor whose node or text is gone is
// dropped.

import { type BOp, textOf, transform as transformBOps } from "../blocks.js";
import { SortedMap } from "../order.js";
import { cpLen as clen } from "../text.js";
import type { Cursor } from "../workspace.js";
import type { State } from "./state.js";

/** The cursors as carets, their ids in name order. */
export function caretsOf(s: State): BOp[] {
  const out: BOp[] = [];
  let id = 0;
  for (const c of s.cursorMap.values()) out.push({ type: "caret", id: id++, key: c.key, prop: c.prop, at: c.at });
  return out;
}

/** Cursors on a node that is gone, on a prop that is not a string, or past the end of the text are removed. */
export function dropStaleCursors(s: State): void {
  s.cursorMap.retain((_, c) => {
    const n = s.local.get(c.key);
    if (n === undefined) return false;
    const t = textOf(n, c.prop);
    return t !== null && c.at <= clen(t);
  });
}

/** The cursor names in caret id order (ids are positions in this list, see `caretsOf`). */
export function cursorNames(s: State): string[] {
  return s.cursorMap.keyArray();
}

export function setCarets(s: State, carets: readonly BOp[]): void {
  setCaretsNamed(s, cursorNames(s), carets);
}

/** Sets the cursors from carets whose ids index `names` (the names when the carets were taken: edits in between may have removed cursors). */
export function setCaretsNamed(s: State, names: readonly string[], carets: readonly BOp[]): void {
  const out = new SortedMap<string, Cursor>();
  for (const c of carets) {
    if (c.type !== "caret") continue;
    const name = names[c.id];
    if (name !== undefined) out.set(name, { key: c.key, prop: c.prop, at: c.at });
  }
  s.cursorMap = out;
}

export function mapCursors(s: State, op: BOp): void {
  const carets = caretsOf(s);
  const [c] = transformBOps([op], carets);
  setCarets(s, c);
}
