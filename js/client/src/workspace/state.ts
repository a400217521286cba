// The fields of a Workspace, shared by the modules that implement it (workspace/*.ts, as
// Rust's workspace/*.rs share the struct's): the shadow, the projection, the local tree, the
// placed and dirty keys, the text log, the cursors and the key counter. See workspace.ts for
// what each holds.

import type { BOp } from "../blocks.js";
import type { SortedMap, SortedSet } from "../order.js";
import type { Tree } from "../tree.js";
import type { Cursor } from "../workspace.js";

/** One logged op; for a join, the parent under which `next` must first be moved right after `key` (when they were not adjacent on the server). */
export interface Logged {
  op: BOp;
  moveNext: string | null;
}

export interface State {
  shadowTree: Tree;
  proj: Tree;
  local: Tree;
  placed: SortedSet<string>;
  dirty: SortedSet<string>;
  log: Logged[];
  cursorMap: SortedMap<string, Cursor>;
  readonly keyPrefix: string;
  nextKey: number;
}

export function hasLocalEdits(s: State): boolean {
  return !s.dirty.isEmpty() || !s.placed.isEmpty() || s.log.length > 0;
}
