// The patch in flight and the edits made meanwhile. When a replica sends a patch its workspace
// is forked: the one that made the patch (`Pending.base`) stays as it was, and the app edits a
// new one on its local tree (`forkOf`); each edit made meanwhile is also kept as a `Replay`. If
// the patch is not applied, `replayOnto` redoes those edits on the base workspace (following
// keys a join kept under the other block), which becomes the live one again.

import { Place as PlaceCtor } from "../patch.js";
import type { Patch, Place } from "../patch.js";
import type { PatchJson } from "../transport/types.js";
import { Workspace } from "../workspace.js";

/** A local edit made while a patch was in flight, to be replayed onto the workspace that made the patch if it is refused. */
export type Replay = (ws: Workspace, rename: (k: string) => string, renames: Map<string, string>) => void;

export interface Pending {
  /** The workspace that made the patch, as it was when the patch was made. */
  base: Workspace;
  patch: PatchJson;
  /** The same patch as `base.patch()` made it (for `Workspace.committedAlone`). */
  made: Patch;
  seq: number;
  ops: number;
  /** The edits made since, in order. */
  replay: Replay[];
  /**
   * Set once the server said it committed (at this gen) but the new state could not be read
   * yet; unset (with `pending` still there after a send) the answer was lost and the outcome
   * is unknown until the patch is resent with its seq.
   */
  committedGen?: number;
  /** The commit's `versions` (apply_patch's result), when it was this send's answer. */
  versions?: unknown;
}

/** The workspace the app edits while `base`'s patch is in flight: a new one on base's local tree, with its cursors. */
export function forkOf(base: Workspace, keyPrefix: string): Workspace {
  const live = new Workspace(base.tree().clone(), keyPrefix);
  for (const [name, c] of base.cursors()) live.setCursor(name, c.key, c.prop, c.at);
  return live;
}

/** Replays `p`'s edits, in order, onto `p.base`: the keys they were renamed to and what the edits that failed threw. */
export function replayOnto(p: Pending): { renames: Map<string, string>; failed: unknown[] } {
  const ws = p.base;
  const renames = new Map<string, string>();
  const rn = (k: string) => renames.get(k) ?? k;
  const failed: unknown[] = [];
  for (const r of p.replay) {
    try {
      r(ws, rn, renames);
    } catch (e) {
      failed.push(e);
    }
  }
  return { renames, failed };
}

/** `p` with its anchor renamed by `rn`. */
export function renamePlace(p: Place, rn: (k: string) => string): Place {
  return typeof p === "object" ? PlaceCtor.after(rn(p.after)) : p;
}
