// What a pull or a commit changed in a replica's local tree, as its "change" event reports it:
// the nodes created, updated, moved or deleted, and the local edits a rebase dropped.

import { cmpKeys } from "../order.js";
import type { Dropped } from "../rebase.js";
import type { Diff, Tree } from "../tree.js";
import type { Workspace } from "../workspace.js";
import type { ChangeKind, Changes } from "./types.js";

/**
 * What changed in the local tree of `ws` from `before`: the nodes the server's diff names,
 * those a rebase reported, and those the local edits touched (`touched`, taken before the
 * rebase: a rebase can change them, e.g. text the server typed into a block this replica
 * joined away lands in the block it was joined into).
 */
export function changesOf(ws: Workspace, before: Tree, diff: Diff | undefined, dropped: Dropped[], from: number, touched: string[] = []): Changes {
  const after = ws.tree();
  const keys = new Set<string>();
  if (diff && !diff.reset) {
    for (const n of diff.nodes) keys.add(n.key);
    for (const k of diff.deleted) keys.add(k);
    for (const d of dropped) keys.add(d.key);
    for (const k of touched) keys.add(k);
  } else {
    for (const k of before.nodes.keyArray()) keys.add(k);
    for (const k of after.nodes.keyArray()) keys.add(k);
  }
  const changed: { key: string; kind: ChangeKind }[] = [];
  for (const k of [...keys].sort(cmpKeys)) {
    const a = before.get(k);
    const b = after.get(k);
    if (!a && b) changed.push({ key: k, kind: "created" });
    else if (a && !b) changed.push({ key: k, kind: "deleted" });
    else if (a && b) {
      if (a.parent !== b.parent || before.indexOf(k) !== after.indexOf(k)) changed.push({ key: k, kind: "moved" });
      if (!a.sameContent(b)) changed.push({ key: k, kind: "updated" });
    }
  }
  return { from, to: ws.shadow().gen, changed, dropped };
}
