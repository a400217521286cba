// A Workspace catching up with the server: after its own patch committed (`committed`,
// `committedWith`, which carries the cursors over the others' patches), or onto a newer server
// state with the local edits still to send (`rebaseWith`, the four steps of workspace.ts's
// header: the server's changes as block ops, the text log and cursors over them, local deletes
// kept where others typed (`keepTyping`), then the state rebase of ../rebase.ts).

import { type BOp, type Flags, type Lost, agrees, bopKey, diffOps, newFlags, transform as transformBOps, tryApply as tryApplyBOp, tryReplay } from "../blocks.js";
import { SortedSet, cmpKeys, cmpNumberArrays } from "../order.js";
import { TextOp } from "../ot.js";
import { type Patch, ROOT } from "../patch.js";
import { type Dropped, type Policy, type Rule, rebase } from "../rebase.js";
import { cpLen as clen } from "../text.js";
import type { Tree } from "../tree.js";
import type { Log } from "../workspace.js";
import { caretsOf, dropStaleCursors, setCarets } from "./cursors.js";
import { type Logged, type State, hasLocalEdits } from "./state.js";

/** Caret ids from here on are probes of `rebaseWith`, not cursors. */
const PROBE = 2 ** 40;

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

export function wantsServerLog(s: State): boolean {
  if (s.log.length > 0 || !s.cursorMap.isEmpty()) return true;
  for (const k of s.shadowTree.nodes.keys()) if (!s.local.contains(k)) return true;
  return false;
}

export function committed(s: State, remote: Tree): Tree {
  const before = s.local;
  s.local = remote.clone();
  s.proj = remote.clone();
  s.shadowTree = remote;
  s.placed.clear();
  s.dirty.clear();
  s.log = [];
  dropStaleCursors(s);
  return before;
}

/** False if `v` holds a number that is not an integer (Rust's `exact_json`: the same rule in both clients). */
function exactJson(v: unknown): boolean {
  if (typeof v === "number") return Number.isInteger(v);
  if (Array.isArray(v)) return v.every(exactJson);
  if (v !== null && typeof v === "object") return Object.values(v).every(exactJson);
  return true;
}

/**
 * Rust's `Workspace::committed_alone`: `patch` (this workspace's patch, unchanged since)
 * committed at `gen` with `versions`, and `gen` is the shadow's gen + 1, so the server holds
 * exactly the local tree. If the patch only changed nodes in place (`text`, `update` without
 * non-integer numbers) the new state is known without reading it: the changed nodes get their
 * version and gen in the shadow, projection and local tree, the local edits are done (true).
 * Otherwise nothing changes (false).
 */
export function committedAlone(s: State, patch: Patch, gen: number, versions: unknown): boolean {
  if (patch.base !== s.shadowTree.gen || gen !== s.shadowTree.gen + 1 || !s.placed.isEmpty()) return false;
  if (versions === null || typeof versions !== "object" || Array.isArray(versions)) return false;
  const vs = versions as Record<string, unknown>;
  const named = new Set<string>();
  for (const op of patch.ops) {
    if (op.op !== "text" && op.op !== "update") return false;
    if (op.op === "update" && op.props && !Object.values(op.props).every(exactJson)) return false;
    if (!s.shadowTree.contains(op.key) || !Number.isSafeInteger(vs[op.key])) return false;
    named.add(op.key);
  }
  const changed: [string, number][] = [];
  for (const [k, v] of Object.entries(vs)) {
    if (!named.has(k) || !s.local.contains(k) || !Number.isSafeInteger(v)) return false;
    changed.push([k, v as number]);
  }
  for (const [k, v] of changed) {
    const l = s.local.get(k);
    if (!l) continue;
    l.version = v;
    l.gen = gen;
    for (const t of [s.proj, s.shadowTree]) {
      const n = t.get(k);
      if (!n) continue;
      n.kind = l.kind;
      n.props = structuredClone(l.props);
      n.version = v;
      n.gen = gen;
    }
  }
  s.local.gen = gen;
  s.proj.gen = gen;
  s.shadowTree.gen = gen;
  s.dirty.clear();
  s.log = [];
  dropStaleCursors(s);
  return true;
}

export function committedWith(s: State, remote: Tree, log: Log | null, own: number): Tree {
  if (!s.cursorMap.isEmpty()) {
    const carets = caretsOf(s);
    const mine: BOp[] = s.log.map((e) => e.op);
    let mapped: BOp[] | null = null;
    const rep = log === null ? null : tryReplay(s.shadowTree, log);
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
      setCarets(s, mapped);
    } else {
      // without the log: through the diff of what changed, as well as it goes
      const [ops] = diffOps(s.local, remote);
      const [c] = transformBOps(ops, carets);
      setCarets(s, c);
    }
  }
  return committed(s, remote);
}

export function rebaseWith(s: State, remote: Tree, log: Log | null, policy: Policy = "server_wins"): [Tree, Dropped[]] {
  if (!hasLocalEdits(s)) {
    if (s.cursorMap.isEmpty()) return [committed(s, remote), []];
    return [committedWith(s, remote, log, Number.MAX_SAFE_INTEGER), []];
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
  const textWorld = wantsServerLog(s);
  if (textWorld) {
    // 1. the server's changes as block ops
    let sops: BOp[];
    let flags: Flags;
    const rep = log === null ? null : tryReplay(s.shadowTree, log);
    if (rep !== null && agrees(rep[0], remote)) {
      sops = rep[1].map(([, o]) => o);
      flags = rep[2];
    } else {
      [sops, flags] = diffOps(s.shadowTree, remote);
    }
    flags2 = flags;
    // 2. the log and the cursors over them, then onto the new shadow
    const localOps: BOp[] = s.log.map((e) => e.op);
    localOps.push(...caretsOf(s));
    // probes: where the typing of each block this replica typed into (and did not delete)
    // ends up — a server join may carry it into a block this replica deleted
    const typedInto: [string, string][] = [];
    for (const e of s.log) {
      const op = e.op;
      if (op.type !== "text") continue;
      if (
        op.op.toSplices().some((x) => x.insert !== "") &&
        s.local.contains(op.key) &&
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
      if (op.key !== from && s.proj.contains(op.key) && !s.local.contains(op.key)) joinedIntoDeleted.push([from, op.key]);
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
  const local = s.local.clone();
  if (textWorld) {
    const kept = keepTyping(s, proj2, flags2, newLog, local);
    for (const k of kept) report(k, { name: "delete-kept-typing" });
  }
  // 4. the state rebase from the old projection onto the new one
  const placed = s.placed.filter((k) => local.contains(k));
  const r = rebase(s.proj, local, placed, proj2, policy);
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
  const before = s.local;
  s.local = r.local;
  s.placed = r.placed;
  s.dirty = r.dirty;
  s.shadowTree = remote;
  s.proj = proj2;
  s.log = newLog;
  setCarets(s, newCursors);
  if (!textWorld) s.cursorMap.clear();
  // a cursor on a node (or string) the state rebase removed goes with it
  dropStaleCursors(s);
  return [before, dropped];
}

/**
 * Rule 3 of the rebase: nodes inside regions this replica deleted that hold text the server
 * inserted since the shadow are put back into `local` (with their ancestors in the region),
 * their seen text deleted by logged text ops. Returns the nodes kept for their own text.
 */
function keepTyping(s: State, proj2: Tree, flags: Flags, log: Logged[], local: Tree): string[] {
  const deleted = (k: string): boolean => s.proj.contains(k) && !s.local.contains(k);
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
      if (hops > proj2.len() + s.local.len()) break; // a cycle (a local move the state rebase will drop): leave it to it
      inRegion = inRegion || deleted(c);
      const placed = s.placed.has(c) && s.local.contains(c);
      cur = placed ? s.local.parent(c) : (proj2.parent(c) ?? s.local.parent(c));
      if (!s.local.contains(c)) path.push(c);
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
    .filter((k) => s.proj.contains(k))
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
