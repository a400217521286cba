// Mirrors client/src/blocks/server.rs: the server's side of the block ops: the committed
// patches of `changes_since` replayed as BOps on the shadow (`replay`), checked against the
// server's state (`agrees`), or, without the log, a character diff per block (`diffOps`).

import { jsonClone, jsonEqual } from "../json.js";
import { SortedSet, cmpKeys } from "../order.js";
import { TextOp, diff as otDiff } from "../ot.js";
import type { Patch } from "../patch.js";
import { cpLen as clen } from "../text.js";
import { Node, type Tree } from "../tree.js";
import { type Flags, UnfitError, apply, dbg, flagsOf, getText, newFlags, setFlags, textOf } from "./apply.js";
import { type BOp, gone, join, split } from "./bop.js";

function hasProp(props: Record<string, unknown>, p: string): boolean {
  return Object.prototype.hasOwnProperty.call(props, p);
}

/** What `replay` returns: the replayed tree, the block ops with their gens, the flags of the text the server inserted. */
export type Replayed = [Tree, [number, BOp][], Flags];

/** Thrown by `replay` where Rust returns `Err(String)`: the log does not replay on the shadow. */
export class ReplayError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReplayError";
  }
}

function unfitText(e: unknown): string {
  if (e instanceof UnfitError) return e.unfit.unfit === "separated" ? "Separated" : `Misfit(${JSON.stringify(e.unfit.message)})`;
  return e instanceof Error ? e.message : String(e);
}

/**
 * The server's changes as block ops: the committed patches from `changes_since` replayed on
 * the shadow `base`. Text ops are taken as sent, a whole-value `update` of a string becomes
 * the character diff against the value right before it, `split` and `join` as such, a
 * `delete` is a `gone` (with its subtree). Also returns the replayed tree (to check it against
 * the server's state) and the flags of the text the server inserted. Throws `ReplayError` if
 * the log does not replay.
 */
export function replay(base: Tree, log: readonly (readonly [number, Patch])[]): Replayed {
  const t = base.clone();
  const out: [number, BOp][] = [];
  const flags = newFlags();
  const fail = (m: string): never => {
    throw new ReplayError(m);
  };
  for (const [gen, patch] of log) {
    const emit = (b: BOp): void => {
      out.push([gen, b]);
    };
    for (const op of patch.ops) {
      switch (op.op) {
        case "create": {
          const { key, kind, props, parent, place } = op;
          if (t.contains(key) || !t.contains(parent)) fail(`gen ${gen}: create ${dbg(key)}`);
          const n = new Node(kind, jsonClone(props), parent);
          n.version = 1;
          t.nodes.set(key, n);
          try {
            t.attach(key, parent, place);
          } catch (e) {
            fail(`gen ${gen}: create ${dbg(key)}: ${e instanceof Error ? e.message : String(e)}`);
          }
          for (const p of sortedProps(props)) {
            const v = props[p];
            if (typeof v === "string") setFlags(flags, key, p, new Array<boolean>(clen(v)).fill(true));
          }
          break;
        }
        case "update": {
          const { key } = op;
          const n0 = t.nodes.get(key);
          if (n0 === undefined) return fail(`gen ${gen}: update of missing ${dbg(key)}`);
          const n = { props: jsonClone(n0.props) };
          const props = op.props ?? null;
          const pkeys = props === null ? [] : sortedProps(props);
          for (const p of pkeys) {
            const v = (props as Record<string, unknown>)[p];
            const oldText: string | null = !hasProp(n.props, p) ? "" : typeof n.props[p] === "string" ? (n.props[p] as string) : null;
            if (oldText !== null && typeof v === "string") {
              const d = otDiff(oldText, v);
              const f = flagsOf(flags, key, p, clen(oldText));
              let f2: boolean[] | null = null;
              try {
                f2 = d.applyVec(f, true);
              } catch {
                f2 = null;
              }
              if (f2 !== null) setFlags(flags, key, p, f2);
              if (!d.isIdentity()) emit({ type: "text", key, prop: p, op: d });
            } else if (oldText !== null && v === null) {
              if (oldText !== "") emit({ type: "text", key, prop: p, op: new TextOp().delete(clen(oldText)) });
              flags.remove([key, p]);
            } else if (oldText !== null) {
              emit({ type: "nontext", key, prop: p });
              flags.remove([key, p]);
            } else if (typeof v === "string") {
              setFlags(flags, key, p, new Array<boolean>(clen(v)).fill(true));
            }
          }
          const node = t.nodes.get(key);
          if (node !== undefined) {
            if (op.kind !== undefined && op.kind !== null) node.kind = op.kind;
            for (const p of pkeys) {
              const v = (props as Record<string, unknown>)[p];
              if (v === null) delete node.props[p];
              else node.props[p] = jsonClone(v);
            }
          }
          break;
        }
        case "move": {
          const { key, parent, place } = op;
          if (!t.contains(key) || !t.contains(parent)) fail(`gen ${gen}: move ${dbg(key)}`);
          t.detach(key);
          try {
            t.attach(key, parent, place);
          } catch (e) {
            fail(`gen ${gen}: move ${dbg(key)}: ${e instanceof Error ? e.message : String(e)}`);
          }
          break;
        }
        case "delete": {
          const { key } = op;
          if (!t.contains(key)) fail(`gen ${gen}: delete of missing ${dbg(key)}`);
          const sub = t.subtree(key);
          t.detach(key);
          for (const k of sub) t.nodes.remove(k);
          const subSet = new Set(sub);
          flags.retain(([k]) => !subSet.has(k));
          emit(gone(sub));
          break;
        }
        case "text": {
          const { key, prop, edits } = op;
          let cur: string;
          try {
            cur = getText(t, key, prop);
          } catch (e) {
            return fail(`gen ${gen}: ${unfitText(e)}`);
          }
          let top: TextOp;
          try {
            top = TextOp.fromSplices(clen(cur), edits);
          } catch (e) {
            return fail(`gen ${gen}: text of ${dbg(key)}: ${e instanceof Error ? e.message : String(e)}`);
          }
          const b: BOp = { type: "text", key, prop, op: top };
          try {
            apply(t, b, { flags, server: true });
          } catch (e) {
            fail(`gen ${gen}: ${unfitText(e)}`);
          }
          emit(b);
          break;
        }
        case "split": {
          const { key, prop, at } = op;
          let cur: string;
          try {
            cur = getText(t, key, prop);
          } catch (e) {
            return fail(`gen ${gen}: ${unfitText(e)}`);
          }
          const b = split(key, prop, at, op.new, clen(cur));
          try {
            apply(t, b, { flags, server: true });
          } catch (e) {
            fail(`gen ${gen}: ${unfitText(e)}`);
          }
          emit(b);
          break;
        }
        case "join": {
          const { key, next, prop } = op;
          let a: string;
          let b2: string;
          try {
            a = getText(t, key, prop);
            b2 = getText(t, next, prop);
          } catch (e) {
            return fail(`gen ${gen}: ${unfitText(e)}`);
          }
          const b = join(key, next, prop, clen(a), clen(b2));
          let moved: string | null = null;
          let ok = true;
          try {
            moved = apply(t, b, { flags, server: true });
          } catch {
            ok = false;
          }
          if (!ok || moved !== null) fail(`gen ${gen}: join of ${dbg(key)} and ${dbg(next)} does not replay`);
          emit(b);
          break;
        }
      }
    }
  }
  return [t, out, flags];
}

/** `replay`, or null where Rust returns `Err`. */
export function tryReplay(base: Tree, log: readonly (readonly [number, Patch])[]): Replayed | null {
  try {
    return replay(base, log);
  } catch (e) {
    if (e instanceof ReplayError) return null;
    throw e;
  }
}

function sortedProps(props: Record<string, unknown>): string[] {
  return Object.keys(props).sort(cmpKeys);
}

function propsEqual(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const x = Object.keys(a);
  if (x.length !== Object.keys(b).length) return false;
  for (const k of x) if (!hasProp(b, k) || !jsonEqual(a[k], b[k])) return false;
  return true;
}

/** True if the replayed tree holds what the server says (same nodes, parents, kinds, props). */
export function agrees(replayed: Tree, remote: Tree): boolean {
  if (replayed.nodes.size !== remote.nodes.size) return false;
  for (const [k, r] of remote.nodes.entries()) {
    const n = replayed.get(k);
    if (n === undefined || (n.parent ?? null) !== (r.parent ?? null) || n.kind !== r.kind || !propsEqual(n.props, r.props)) return false;
  }
  return true;
}

/**
 * The server's changes when its log is not available (below the horizon): per block, the
 * character diff from `base` to `remote`, and a `gone` for deleted nodes. Splits and joins show
 * as shortened and lengthened texts and created and deleted nodes.
 */
export function diffOps(base: Tree, remote: Tree): [BOp[], Flags] {
  const ops: BOp[] = [];
  const flags = newFlags();
  const goneKeys = new SortedSet<string>();
  for (const k of base.nodes.keys()) if (!remote.contains(k)) goneKeys.add(k);
  for (const [k, r] of remote.nodes.entries()) {
    const b = base.get(k);
    if (b === undefined) {
      for (const p of sortedProps(r.props)) {
        const v = r.props[p];
        if (typeof v === "string") setFlags(flags, k, p, new Array<boolean>(clen(v)).fill(true));
      }
      continue;
    }
    const props = new SortedSet<string>([...Object.keys(b.props), ...Object.keys(r.props)]);
    for (const p of props) {
      const x = textOf(b, p);
      const y = textOf(r, p);
      if (x !== null && y !== null) {
        if (x !== y) {
          const d = otDiff(x, y);
          try {
            setFlags(flags, k, p, d.applyVec(new Array<boolean>(clen(x)).fill(false), true));
          } catch {
            // (cannot happen: the diff is of `x`)
          }
          ops.push({ type: "text", key: k, prop: p, op: d });
        }
      } else if (x !== null && y === null) {
        ops.push({ type: "nontext", key: k, prop: p });
      } else if (x === null && y !== null) {
        setFlags(flags, k, p, new Array<boolean>(clen(y)).fill(true));
      }
    }
  }
  if (!goneKeys.isEmpty()) ops.push({ type: "gone", keys: goneKeys });
  return [ops, flags];
}
