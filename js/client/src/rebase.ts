// Mirrors client/src/rebase.rs: the pure half of the client: turning local edits into one patch
// (`makePatch`) and rebasing local edits onto a newer server state (`rebase`). Pure code, no
// I/O.
//
// Local edits are kept as state, not as an op log: the local tree, the set of `dirty` keys
// (touched locally since the shadow) and the set of `placed` keys (created or moved locally:
// their place follows the local tree, everything else follows the server).
//
// Rebase rules (three-way, per node: base = old shadow, local, remote = new shadow), as in Rust:
//
// 1. props merge per key: a key changed only locally survives; a key changed only on the
//    server takes the server's value. A string changed on both sides merges as text (the local
//    change, as a character diff, transformed over the server's; an absent property counts as
//    ""), under either policy. A string the server changed is never replaced by a local
//    non-string value or removal ("prop-conflict"). Other values changed on both sides take the
//    server's value ("prop-conflict" reported) unless the policy is "local_wins". `kind` is
//    merged like a non-string value ("kind-conflict").
// 2. child order follows anchors: nodes not placed locally are in the server's order; each
//    locally placed node goes right after its local predecessor (or the nearest earlier local
//    sibling that survived, or first).
// 3. an edit of a node the server deleted is dropped ("edit-of-deleted"); a local create under
//    a node the server deleted is dropped ("create-under-deleted"), a local move into one falls
//    back to the server's place ("move-under-deleted").
// 4. a local delete of a node the server edited is re-sent against the new version (nodes with
//    local edits the server moved into that subtree: "deleted-with-subtree"; server changes the
//    delete discards: "delete-over-server-edit", a warning).
// 5. a local move that would now form a cycle is dropped ("move-cycle").
//
// Where Rust iterates a BTreeMap/BTreeSet this iterates in `cmpKeys` order.

import { jsonClone, jsonEqual, type Props } from "./json.js";
import { SortedMap, SortedSet, cmpKeys, cmpNumberArrays } from "./order.js";
import { diff as otDiff, transform as otTransform } from "./ot.js";
import { type Op, type Patch, type Place, ROOT } from "./patch.js";
import { Node, Tree } from "./tree.js";

/**
 * Who wins when the same non-string property (or the kind) was changed on both sides. Strings
 * changed on both sides merge as text whatever the policy.
 */
export type Policy = "server_wins" | "local_wins";

/** Why a local edit was dropped during a rebase (Rust's `Rule`; `name` is `Rule::name()`). */
export type Rule =
  /** Rule 1: property `prop` changed on both sides; the server's value was kept. */
  | { name: "prop-conflict"; prop: string }
  /** Rule 1: `kind` changed on both sides; the server's kind was kept. */
  | { name: "kind-conflict" }
  /** Rule 3: local edits (props, kind, move) of a node the server deleted. */
  | { name: "edit-of-deleted" }
  /** Rule 3: a node created locally under a node that no longer exists. */
  | { name: "create-under-deleted" }
  /** Rule 3: a local move into a node that no longer exists. */
  | { name: "move-under-deleted" }
  /** Rule 4: a node with local edits that the server moved into a subtree this replica deleted. */
  | { name: "deleted-with-subtree" }
  /** Rule 5: a local move that would put the node under its own descendant. */
  | { name: "move-cycle" }
  /** A node this replica deleted was kept: others typed text into it meanwhile. */
  | { name: "delete-kept-typing" }
  /** A warning: this replica's delete (or join) was sent over a change the server made to the node or its subtree. */
  | { name: "delete-over-server-edit" }
  /** A local join of two blocks that someone moved to different parents meanwhile: dropped. */
  | { name: "join-separated" }
  /** Text typed into a block that someone joined meanwhile into a block this replica deleted. */
  | { name: "joined-into-deleted" }
  /** A recorded text edit that did not fit the server's text after the rebase (internal error). */
  | { name: "text-misfit" };

export type RuleName = Rule["name"];

/** The rules in Rust's declaration order (the order `Rule` sorts in). */
export const RULE_ORDER: readonly RuleName[] = [
  "prop-conflict",
  "kind-conflict",
  "edit-of-deleted",
  "create-under-deleted",
  "move-under-deleted",
  "deleted-with-subtree",
  "move-cycle",
  "delete-kept-typing",
  "delete-over-server-edit",
  "join-separated",
  "joined-into-deleted",
  "text-misfit",
];

/** A rule without fields (every rule but "prop-conflict"). */
export function rule(name: Exclude<RuleName, "prop-conflict">): Rule {
  return { name };
}

/** `Rule::PropConflict { prop }`. */
export function propConflict(prop: string): Rule {
  return { name: "prop-conflict", prop };
}

/** `Rule::name()`. */
export function ruleName(r: Rule): RuleName {
  return r.name;
}

/** A dropped local edit: which node, which rule, and the server gen it was rebased onto. */
export interface Dropped {
  key: string;
  rule: Rule;
  gen: number;
}

/** True for reports that do not mean a local edit was lost ("delete-over-server-edit"); takes a Rule or a Dropped. */
export function isWarning(x: Rule | Dropped): boolean {
  const r = "rule" in x ? x.rule : x;
  return r.name === "delete-over-server-edit";
}

/** Same rule (Rust's `==`). */
export function ruleEqual(a: Rule, b: Rule): boolean {
  if (a.name !== b.name) return false;
  return a.name !== "prop-conflict" || a.prop === (b as { prop: string }).prop;
}

/** Rust's derived `Ord` of `Rule`: declaration order, then `prop`. */
export function cmpRule(a: Rule, b: Rule): number {
  const d = RULE_ORDER.indexOf(a.name) - RULE_ORDER.indexOf(b.name);
  if (d !== 0) return d;
  if (a.name === "prop-conflict" && b.name === "prop-conflict") return cmpKeys(a.prop, b.prop);
  return 0;
}

/** Rust's derived `Ord` of `Dropped`: key, rule, gen. */
export function cmpDropped(a: Dropped, b: Dropped): number {
  return cmpKeys(a.key, b.key) || cmpRule(a.rule, b.rule) || (a.gen < b.gen ? -1 : a.gen > b.gen ? 1 : 0);
}

/** Same report (Rust's `==`). */
export function droppedEqual(a: Dropped, b: Dropped): boolean {
  return a.key === b.key && a.gen === b.gen && ruleEqual(a.rule, b.rule);
}

/** The JSON form of the vectors: `{"key", "rule": name, "prop" (prop-conflict only), "gen"}`. */
export function droppedToJson(d: Dropped): { key: string; rule: RuleName; prop?: string; gen: number } {
  const o: { key: string; rule: RuleName; prop?: string; gen: number } = { key: d.key, rule: d.rule.name, gen: d.gen };
  if (d.rule.name === "prop-conflict") o.prop = d.rule.prop;
  return o;
}

/** What `rebase` returns: the new local tree and edit sets, and what was dropped (in Rust's order: sorted). */
export interface Rebased {
  local: Tree;
  placed: SortedSet<string>;
  dirty: SortedSet<string>;
  dropped: Dropped[];
}

/** Three-way merge of one optional value (`undefined` = None); returns the value and whether the local side lost. */
export function mergeValue<T>(
  base: T | undefined,
  local: T | undefined,
  remote: T | undefined,
  policy: Policy,
  eq: (a: T | undefined, b: T | undefined) => boolean = (a, b) => jsonEqual(a, b),
): [T | undefined, boolean] {
  if (eq(local, base) || eq(local, remote)) return [remote, false];
  if (eq(remote, base)) return [local, false];
  return policy === "server_wins" ? [remote, true] : [local, false];
}


function asText(v: unknown): string | null {
  if (v === undefined) return "";
  return typeof v === "string" ? v : null;
}

/**
 * Three-way merge of a string changed on both sides: the local change (a character diff of
 * `base` → `local`) transformed over the server's (`base` → `remote`), the server's text first
 * where both inserted at one offset.
 */
export function mergeText(base: string, local: string, remote: string): string {
  const server = otDiff(base, remote);
  const mine = otDiff(base, local);
  try {
    const [, mine2] = otTransform(server, mine);
    return mine2.apply(remote);
  } catch {
    // cannot happen (both diffs are of `base`); keep the server's text rather than lose it
    return remote;
  }
}


/** Rule 1 for one property (`undefined` = absent). Returns the merged value and the conflict lost by the local side. */
function mergeProp(base: unknown, local: unknown, remote: unknown, policy: Policy): [unknown, boolean] {
  if (jsonEqual(local, base) || jsonEqual(local, remote)) return [jsonClone(remote), false];
  if (jsonEqual(remote, base)) return [jsonClone(local), false];
  const b = asText(base);
  const l = asText(local);
  const r = asText(remote);
  if (b !== null && l !== null && r !== null) {
    const m = mergeText(b, l, r);
    if (m === "" && (local === undefined || remote === undefined)) return [undefined, false];
    return [m, false];
  }
  // text the server changed is never replaced by a local non-string value or removal
  if (typeof remote === "string") return [remote, true];
  const [v, lost] = mergeValue<unknown>(base, local, remote, policy);
  return [jsonClone(v), lost];
}

function own(p: Props, k: string): unknown {
  return Object.prototype.hasOwnProperty.call(p, k) ? p[k] : undefined;
}

/**
 * Rule 1: props per key and kind, three-way. Returns the merged kind and props and the
 * conflicts lost by the local side.
 */
export function mergeContent(base: Node, local: Node, remote: Node, policy: Policy): [string, Props, Rule[]] {
  const lost: Rule[] = [];
  const [kind, kLost] = mergeValue<string>(base.kind, local.kind, remote.kind, policy, (a, b) => a === b);
  if (kLost) lost.push({ name: "kind-conflict" });
  const keys = new SortedSet<string>([...Object.keys(base.props), ...Object.keys(local.props), ...Object.keys(remote.props)]);
  const props: Props = {};
  for (const k of keys) {
    const [v, l] = mergeProp(own(base.props, k), own(local.props, k), own(remote.props, k), policy);
    if (l) lost.push({ name: "prop-conflict", prop: k });
    if (v !== undefined) props[k] = v;
  }
  return [kind ?? "", props, lost];
}


/** Rebases the local edits (`local`, `placed`) made on top of `base` onto `remote`. */
export function rebase(base: Tree, local: Tree, placedIn: Iterable<string>, remote: Tree, policy: Policy): Rebased {
  const gen = remote.gen;
  const dropped: Dropped[] = [];
  const drop = (key: string, r: Rule): void => {
    const d: Dropped = { key, rule: r, gen };
    if (!dropped.some((x) => droppedEqual(x, d))) dropped.push(d);
  };
  const locallyDeleted = (k: string): boolean => base.contains(k) && !local.contains(k);
  const contentEdited = (k: string): boolean => {
    const b = base.get(k);
    const l = local.get(k);
    return b !== undefined && l !== undefined && !b.sameContent(l);
  };
  const placedSet = placedIn instanceof SortedSet ? (placedIn as SortedSet<string>) : new SortedSet<string>(placedIn);

  // Rule 3: edits of nodes the server deleted.
  for (const k of local.nodes.keys()) {
    if (!(base.contains(k) && !remote.contains(k))) continue;
    if (contentEdited(k) || placedSet.has(k)) drop(k, { name: "edit-of-deleted" });
  }

  // Candidates: the server's nodes minus local deletes (rule 4: the delete stands), plus local creates.
  const alive = new SortedSet<string>();
  for (const k of remote.nodes.keys()) if (!locallyDeleted(k)) alive.add(k);
  for (const k of local.nodes.keys()) if (!base.contains(k) && !remote.contains(k)) alive.add(k);
  const placed = new SortedSet<string>();
  for (const k of placedSet) {
    if (!(alive.has(k) && local.contains(k))) continue;
    if (!(remote.contains(k) || !base.contains(k))) continue;
    // a local create the server already has (a resent patch) is placed unless it sits where the server put it
    if (!(base.contains(k) || !remote.contains(k) || local.parent(k) !== remote.parent(k))) continue;
    placed.add(k);
  }
  // a local create is always placed locally
  for (const k of alive) if (!remote.contains(k)) placed.add(k);

  const dp = (k: string): string | null => (placed.has(k) ? local.parent(k) : (remote.parent(k) ?? local.parent(k)));

  for (;;) {
    let changed = false;
    // parents that no longer exist
    const keys = alive.toArray().filter((k) => k !== ROOT);
    for (const k of keys) {
      if (!alive.has(k)) continue;
      const p = dp(k);
      if (p !== null && alive.has(p)) continue;
      changed = true;
      if (placed.has(k) && remote.contains(k)) {
        placed.remove(k);
        drop(k, { name: "move-under-deleted" });
      } else if (placed.has(k)) {
        alive.remove(k);
        placed.remove(k);
        drop(k, { name: "create-under-deleted" });
      } else {
        // inside a subtree this replica deletes (rule 4)
        alive.remove(k);
        if (contentEdited(k)) drop(k, { name: "deleted-with-subtree" });
      }
    }
    if (changed) continue;
    // Rule 5: cycles (each contains a locally moved node: the server's tree has none)
    const cycle = findCycle(alive, dp);
    if (cycle !== null) {
      let k: string | null = null;
      for (const c of cycle) {
        if (placed.has(c) && remote.contains(c) && (k === null || cmpKeys(c, k) < 0)) k = c;
      }
      if (k === null) throw new Error(`a cycle without a local move: ${JSON.stringify(cycle)}`);
      placed.remove(k);
      drop(k, { name: "move-cycle" });
      continue;
    }
    break;
  }

  // Rule 4: a local delete that discards server changes is reported.
  for (const k of remote.nodes.keys()) {
    if (!locallyDeleted(k)) continue;
    const rp = remote.parent(k);
    if (rp !== null && locallyDeleted(rp)) continue; // not the top of a deleted region
    const changedSub = remote.subtree(k).some((d) => {
      const b = base.get(d);
      const r = remote.get(d);
      if (b !== undefined && r !== undefined) return !b.sameContent(r) || b.parent !== r.parent;
      return true;
    });
    if (changedSub) drop(k, { name: "delete-over-server-edit" });
  }

  // Content (rule 1) and the node set.
  const nodes = new SortedMap<string, Node>();
  for (const k of alive) {
    const b = base.get(k);
    const l = local.get(k);
    const r = remote.get(k);
    let n: Node;
    if (b !== undefined && l !== undefined && r !== undefined) {
      const [kind, props, lost] = mergeContent(b, l, r, policy);
      for (const ru of lost) drop(k, ru);
      n = r.clone();
      n.kind = kind;
      n.props = props;
    } else if (b === undefined && l !== undefined && r !== undefined) {
      // a local create the server already has (a resent patch): keep the local content
      n = r.clone();
      n.kind = l.kind;
      n.props = jsonClone(l.props);
    } else if (l !== undefined && r === undefined) {
      n = l.clone();
    } else if (l === undefined && r !== undefined) {
      n = r.clone();
    } else {
      continue;
    }
    n.parent = dp(k);
    n.children = [];
    nodes.set(k, n);
  }

  // Rule 2: children.
  for (const p of alive) {
    const list: string[] = remote.children(p).filter((c) => alive.has(c) && !placed.has(c));
    const lkids = local.children(p);
    for (let i = 0; i < lkids.length; i++) {
      const c = lkids[i]!;
      if (!(placed.has(c) && alive.has(c))) continue;
      let at = 0;
      for (let j = i - 1; j >= 0; j--) {
        const x = list.indexOf(lkids[j]!);
        if (x >= 0) {
          at = x + 1;
          break;
        }
      }
      list.splice(at, 0, c);
    }
    const n = nodes.get(p);
    if (n !== undefined) n.children = list;
  }

  const dirty = placed.clone();
  for (const [k, n] of nodes) {
    const r = remote.get(k);
    if (!(r !== undefined && r.sameContent(n))) dirty.add(k);
  }
  for (const k of remote.nodes.keys()) if (!alive.has(k)) dirty.add(k);

  dropped.sort(cmpDropped);
  return { local: new Tree(gen, nodes), placed, dirty, dropped };
}

/** Some cycle in the parent function restricted to `alive`, if there is one. */
function findCycle(alive: SortedSet<string>, parent: (k: string) => string | null): string[] | null {
  // 1 = on the current path, 2 = done
  const state = new Map<string, number>();
  for (const start of alive) {
    if (state.has(start)) continue;
    const path: string[] = [];
    let cur: string | null = start;
    while (cur !== null) {
      const c: string = cur;
      const s = state.get(c);
      if (s === 2) break;
      if (s !== undefined) {
        const i = path.indexOf(c);
        return path.slice(i < 0 ? 0 : i);
      }
      state.set(c, 1);
      path.push(c);
      cur = alive.has(c) ? parent(c) : null;
    }
    for (const k of path) state.set(k, 2);
  }
  return null;
}

/**
 * Everything the local edits changed, as one patch against `shadow` (`base` = shadow gen):
 * creates and moves in local pre-order (so parents and anchors exist when they are used), each
 * placed after its local predecessor; then updates (props as a delta, kind if changed); then
 * one delete per deleted region, after the moves that rescued nodes out of it.
 */
export function makePatch(shadow: Tree, local: Tree, placed: Iterable<string>, dirty: Iterable<string>): Patch {
  const ops: Op[] = [];
  const placedKeys = placed instanceof SortedSet ? (placed as SortedSet<string>).toArray() : Array.from(new SortedSet<string>(placed));
  const dirtyKeys = dirty instanceof SortedSet ? (dirty as SortedSet<string>).toArray() : Array.from(new SortedSet<string>(dirty));
  const order: [number[], string][] = placedKeys.filter((k) => local.contains(k) && k !== ROOT).map((k) => [local.path(k), k]);
  order.sort((a, b) => cmpNumberArrays(a[0], b[0]) || cmpKeys(a[1], b[1]));
  for (const [, k] of order) {
    const n = local.nodes.get(k)!;
    const parent = n.parent ?? ROOT;
    const idx = local.indexOf(k) ?? 0;
    const place: Place = idx === 0 ? "first" : { after: local.children(parent)[idx - 1]! };
    const s = shadow.get(k);
    if (s !== undefined) ops.push({ op: "move", key: k, version: s.version, parent, place });
    else ops.push({ op: "create", key: k, kind: n.kind, props: jsonClone(n.props), parent, place });
  }
  for (const k of dirtyKeys) {
    const s = shadow.get(k);
    const l = local.get(k);
    if (s === undefined || l === undefined) continue;
    const delta: Props = {};
    let any = false;
    for (const key of [...Object.keys(s.props).sort(cmpKeys), ...Object.keys(l.props).sort(cmpKeys)]) {
      const sv = own(s.props, key);
      const lv = own(l.props, key);
      if (!jsonEqual(sv, lv)) {
        delta[key] = lv === undefined ? null : jsonClone(lv);
        any = true;
      }
    }
    const kindChanged = s.kind !== l.kind;
    if (any || kindChanged) {
      const op: Op = { op: "update", key: k, version: s.version };
      if (kindChanged) op.kind = l.kind;
      if (any) op.props = delta;
      ops.push(op);
    }
  }
  for (const k of dirtyKeys) {
    const s = shadow.get(k);
    if (s === undefined) continue;
    if (local.contains(k)) continue;
    if (s.parent !== null && local.contains(s.parent)) ops.push({ op: "delete", key: k, version: s.version });
  }
  return { base: shadow.gen, ops };
}

