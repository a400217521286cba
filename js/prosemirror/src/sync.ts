// Local edits: how a changed ProseMirror document becomes replica edits (docs/prosemirror.md,
// "Local transactions").
//
// The replica's local tree always renders to the editor's previous document; `syncDoc` makes
// it render to the new one with the most intentful edits it can find, in this order:
//
//   A. joins: a text block that disappeared while the text block before it (in document
//      order) now ends with its text: `join` (after splicing away what was deleted of either
//      side, and a `move` first if the two were not adjacent siblings) — Backspace at a
//      block's start, Delete at its end, a selection deleted across blocks;
//   B. splits: a new text block right after an existing one whose old text is the two new
//      texts (around what was typed or deleted): `split` — Enter, also with a selection;
//   C. text: every text block whose text changed gets `splice`s (one per keystroke: the edit
//      at the caret; Myers' diff for long replacements), never its whole value;
//   D. structure: creates and moves in document order (a block keeps its key when dragged,
//      lifted or wrapped: `move`), then deletes, then kind/attr/marks updates.
//
// Marks are mapped through A–C with the caret rule (marks.ts); where the new document's marks
// differ from the mapped ones, the difference is a local mark change (returned, so the binding
// can keep it across rebases) and the `marks` prop is updated.
import type { Replica } from "@pg-nodesync/client";
import { ot } from "@pg-nodesync/client";
import { KINDS } from "./schema.js";
import { type Block, type Model, ROOT, cpLen, propsOfBlock } from "./mapping.js";
import { joinMarks, mapThroughSplice, markChanges, marksEqual, marksToJson, parseMarks, splitMarks, type MarkChange, type MarkRange } from "./marks.js";

/** The subset of Replica the sync uses (a Replica, or anything with the same edit methods). */
export type Editable = Pick<Replica, "tree" | "get" | "children" | "text" | "splice" | "split" | "join" | "createWithKey" | "move" | "delete" | "update">;

export interface SyncHint {
  /** The block holding the selection head after the transaction, and its offset (code points). */
  id: string;
  at: number;
}

export interface SyncResult {
  /** Replica edits made. */
  edits: number;
  /** Local mark changes per block (the difference between the mapped and the new marks). */
  markChanges: { key: string; change: MarkChange }[];
  /** Blocks whose key the replica changed (a join that kept the other block): old → new. */
  renames: Map<string, string>;
  /** Counts per kind of edit (tests, status). */
  counts: { splice: number; split: number; join: number; create: number; move: number; delete: number; update: number };
}

function commonPrefix(a: readonly string[], b: readonly string[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

function commonSuffix(a: readonly string[], b: readonly string[], limit = Infinity): number {
  let i = 0;
  while (i < a.length && i < b.length && i < limit && a[a.length - 1 - i] === b[b.length - 1 - i]) i++;
  return i;
}

function sameArr(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** A longer middle than this on both sides is diffed with Myers instead of one replacing splice. */
const MYERS_ABOVE = 64;

/** The splices (each applied to the result of the one before) that turn `old` into `neu`; `caret`: where the caret is in `neu`. */
export function diffEdits(old: string, neu: string, caret?: number): [number, number, string][] {
  if (old === neu) return [];
  const a = Array.from(old);
  const b = Array.from(neu);
  const pre = commonPrefix(a, b);
  const suf = commonSuffix(a, b, Math.min(a.length, b.length) - pre);
  const delN = a.length - pre - suf;
  const insN = b.length - pre - suf;
  if (delN === 0 || insN === 0) {
    // a pure insert or delete: among the equivalent offsets, the one at the caret
    if (caret !== undefined) {
      if (insN > 0) {
        const at = caret - insN;
        if (at >= 0 && at <= a.length && sameArr(a.slice(0, at), b.slice(0, at)) && sameArr(a.slice(at), b.slice(at + insN))) {
          return [[at, 0, b.slice(at, at + insN).join("")]];
        }
      } else {
        const at = caret;
        if (at >= 0 && at + delN <= a.length && sameArr(a.slice(0, at), b.slice(0, at)) && sameArr(a.slice(at + delN), b.slice(at))) {
          return [[at, delN, ""]];
        }
      }
    }
    return [[pre, delN, b.slice(pre, pre + insN).join("")]];
  }
  if (delN > MYERS_ABOVE && insN > MYERS_ABOVE) {
    return ot
      .diff(old, neu)
      .toSplices()
      .map((e) => [e.at, e.delete, e.insert] as [number, number, string]);
  }
  return [[pre, delN, b.slice(pre, pre + insN).join("")]];
}

interface Cur {
  text: string;
  marks: MarkRange[];
}

/**
 * Makes the replica's local tree render to `after` (it renders to `before` now). See the
 * header for the order of edits.
 */
export function syncDoc(r: Editable, before: Model, afterIn: Model, hint?: SyncHint): SyncResult {
  const after = cloneModel(afterIn);
  const res: SyncResult = { edits: 0, markChanges: [], renames: new Map(), counts: { splice: 0, split: 0, join: 0, create: 0, move: 0, delete: 0, update: 0 } };
  const count = (k: keyof SyncResult["counts"]) => {
    res.counts[k]++;
    res.edits++;
  };
  const cur = new Map<string, Cur>();
  for (const [id, b] of before.blocks) {
    if (b.text !== undefined && r.get(id)) cur.set(id, { text: r.text(id, "text") ?? b.text, marks: b.marks ?? [] });
  }
  /** The blocks whose marks are the before-marks mapped (existing, or split off an existing one). */
  const mappedKeys = new Set(cur.keys());

  const splice = (key: string, at: number, del: number, ins: string) => {
    if (del === 0 && ins === "") return;
    const c = cur.get(key)!;
    const len = cpLen(c.text);
    r.splice(key, "text", at, del, ins);
    c.marks = mapThroughSplice(c.marks, len, at, del, ins);
    const cps = Array.from(c.text);
    cps.splice(at, del, ...Array.from(ins));
    c.text = cps.join("");
    count("splice");
  };
  const spliceTo = (key: string, target: string, caret?: number) => {
    const c = cur.get(key)!;
    for (const [at, del, ins] of diffEdits(c.text, target, caret)) splice(key, at, del, ins);
  };
  const nextSibling = (key: string): string | undefined => {
    const p = r.tree().parent(key);
    if (p === null) return undefined;
    const kids = r.children(p);
    const i = kids.indexOf(key);
    return i >= 0 ? kids[i + 1] : undefined;
  };
  const isText = (m: Model, id: string) => m.blocks.get(id)?.text !== undefined;

  // A. joins
  const tbBefore = before.order.filter((id) => isText(before, id) && cur.has(id));
  for (let i = 0; i < tbBefore.length; i++) {
    const x = tbBefore[i]!;
    const xa = after.blocks.get(x);
    if (!xa || xa.text === undefined || !cur.has(x)) continue;
    const run: string[] = [];
    for (let j = i + 1; j < tbBefore.length && !after.blocks.has(tbBefore[j]!); j++) run.push(tbBefore[j]!);
    if (run.length === 0) continue;
    const tx = Array.from(cur.get(x)!.text);
    const nx = Array.from(xa.text);
    let y: string | undefined;
    let p = 0;
    let s = 0;
    const first = cur.get(run[0]!)!;
    if (xa.text === cur.get(x)!.text + first.text) {
      y = run[0];
      p = tx.length;
      s = cpLen(first.text);
    } else {
      p = commonPrefix(tx, nx);
      let best = 0;
      for (const cand of run) {
        const ty = Array.from(cur.get(cand)!.text);
        const sc = commonSuffix(ty, nx, nx.length - p);
        if (sc > best) {
          best = sc;
          y = cand;
        }
      }
      s = best;
    }
    if (y === undefined) continue;
    const ty = Array.from(cur.get(y)!.text);
    splice(x, p, tx.length - p, nx.slice(p, nx.length - s).join(""));
    splice(y, 0, ty.length - s, "");
    const px = r.tree().parent(x);
    if (px === null) continue;
    if (r.tree().parent(y) !== px || nextSibling(x) !== y) {
      r.move(y, px, { after: x });
      count("move");
    }
    const xLen = cpLen(cur.get(x)!.text);
    const kept = r.join(x, y, "text");
    count("join");
    const joined: Cur = { text: cur.get(x)!.text + cur.get(y)!.text, marks: joinMarks(cur.get(x)!.marks, cur.get(y)!.marks, xLen) };
    cur.delete(x);
    cur.delete(y);
    mappedKeys.delete(y);
    cur.set(kept, joined);
    mappedKeys.add(kept);
    if (kept !== x) {
      res.renames.set(x, kept);
      mappedKeys.delete(x);
      renameInModel(after, x, kept);
      if (hint && hint.id === x) hint = { id: kept, at: hint.at };
    }
  }

  // B. splits
  const tbAfter = after.order.filter((id) => isText(after, id));
  for (let i = 0; i < tbAfter.length; i++) {
    const p = tbAfter[i]!;
    if (!cur.has(p) || !r.get(p) || !KINDS[r.get(p)!.kind]?.text) continue;
    const run: string[] = [];
    for (let j = i + 1; j < tbAfter.length && !before.blocks.has(tbAfter[j]!) && !r.get(tbAfter[j]!); j++) run.push(tbAfter[j]!);
    if (run.length === 0) continue;
    const tp = Array.from(cur.get(p)!.text);
    const A = after.blocks.get(p)!.text!;
    const pre = commonPrefix(tp, Array.from(A));
    const rest = tp.slice(pre);
    let S = run[0]!;
    let best = 0;
    for (const cand of run) {
      const sc = commonSuffix(rest, Array.from(after.blocks.get(cand)!.text!));
      if (sc > best) {
        best = sc;
        S = cand;
      }
    }
    const B = after.blocks.get(S)!.text!;
    const caret = hint && (hint.id === p || hint.id === S) ? (hint.id === p ? hint.at : cpLen(A) + hint.at) : undefined;
    spliceTo(p, A + B, caret);
    const aLen = cpLen(A);
    r.split(p, "text", aLen, S);
    count("split");
    const [ma, mb] = splitMarks(cur.get(p)!.marks, aLen);
    cur.set(p, { text: A, marks: ma });
    cur.set(S, { text: B, marks: mb });
    mappedKeys.add(S);
  }

  // C. text
  for (const id of tbAfter) {
    const c = cur.get(id);
    if (!c || !r.get(id)) continue;
    const t = after.blocks.get(id)!.text!;
    if (c.text !== t) spliceTo(id, t, hint && hint.id === id ? hint.at : undefined);
  }

  // D. structure: creates and moves in document order
  const desiredOf = (p: string): string[] => (p === ROOT ? after.top : (after.blocks.get(p)?.children ?? []));
  const parents = [ROOT, ...after.order.filter((id) => !isText(after, id))];
  for (const P of parents) {
    const desired = desiredOf(P);
    if (P !== ROOT && !r.get(P)) continue;
    const want = new Set(desired);
    const current = r.children(P).filter((k) => want.has(k));
    const stable = lcs(current, desired);
    let prev: string | null = null;
    for (const k of desired) {
      const place = prev === null ? ("first" as const) : { after: prev };
      if (!r.get(k)) {
        const b = after.blocks.get(k)!;
        r.createWithKey(k, P, place, b.kind, propsOfBlock(b));
        count("create");
      } else if (!stable.has(k) || r.tree().parent(k) !== P) {
        r.move(k, P, place);
        count("move");
      }
      prev = k;
    }
  }
  // deletes: the topmost nodes that are gone
  for (const k of before.order) {
    if (after.blocks.has(k) || !r.get(k)) continue;
    const p = r.tree().parent(k);
    if (p === ROOT || (p !== null && after.blocks.has(p))) {
      r.delete(k);
      count("delete");
    }
  }
  // kind, attrs and marks
  for (const k of after.order) {
    const n = r.get(k);
    if (!n) continue;
    const b = after.blocks.get(k)!;
    const delta: Record<string, unknown> = {};
    const oldSpec = KINDS[n.kind];
    const newSpec = KINDS[b.kind]!;
    for (const a of new Set([...(oldSpec?.attrs ?? []), ...newSpec.attrs])) {
      const want = b.attrs[a] ?? null;
      const have = n.props[a] ?? null;
      if (JSON.stringify(want) !== JSON.stringify(have)) delta[a] = want;
    }
    if (newSpec.text) {
      const target = b.marks ?? [];
      const have = parseMarks(n.props["marks"]);
      if (!marksEqual(target, have)) delta["marks"] = marksToJson(target);
      if (mappedKeys.has(k) && newSpec.marks) {
        for (const change of markChanges(cur.get(k)?.marks ?? [], target)) res.markChanges.push({ key: k, change });
      }
    }
    const kind = n.kind !== b.kind ? b.kind : undefined;
    if (kind !== undefined || Object.keys(delta).length > 0) {
      r.update(k, delta, kind);
      count("update");
    }
  }
  return res;
}

function cloneModel(m: Model): Model {
  const blocks = new Map<string, Block>();
  for (const [k, b] of m.blocks) blocks.set(k, { ...b, children: b.children.slice() });
  return { blocks, order: m.order.slice(), top: m.top.slice() };
}

/** Block `from` of the model is called `to` (the replica kept the other block of a join). */
function renameInModel(m: Model, from: string, to: string): void {
  const b = m.blocks.get(from);
  if (!b) return;
  m.blocks.delete(from);
  m.blocks.set(to, { ...b, id: to });
  const sub = (l: string[]) => l.map((k) => (k === from ? to : k));
  m.order = sub(m.order);
  m.top = sub(m.top);
  for (const x of m.blocks.values()) {
    x.children = sub(x.children);
    if (x.parent === from) x.parent = to;
  }
}

/** The keys of a longest common subsequence of `a` and `b` (keys unique in each). */
export function lcs(a: readonly string[], b: readonly string[]): Set<string> {
  if (a.length === 0 || b.length === 0) return new Set();
  // the common case: identical, or one moved/inserted/removed element
  const pre = commonPrefix(a, b);
  if (pre === a.length && pre === b.length) return new Set(a);
  const n = a.length;
  const m = b.length;
  if (n * m > 4_000_000) {
    // huge lists: keep the common prefix and suffix only
    const suf = commonSuffix(a, b, Math.min(n, m) - pre);
    return new Set([...a.slice(0, pre), ...a.slice(n - suf)]);
  }
  const dp: Uint32Array[] = [];
  for (let i = 0; i <= n; i++) dp.push(new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      dp[i]![j] = a[i] === b[j] ? dp[i + 1]![j + 1]! + 1 : Math.max(dp[i + 1]![j]!, dp[i]![j + 1]!);
    }
  }
  const out = new Set<string>();
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      out.add(a[i]!);
      i++;
      j++;
    } else if (dp[i + 1]![j]! >= dp[i]![j + 1]!) i++;
    else j++;
  }
  return out;
}

/** Do two models describe the same document (ids, kinds, attrs, texts, marks, order)? */
export function sameModel(a: Model, b: Model): boolean {
  if (a.order.length !== b.order.length || !sameArr(a.top, b.top)) return false;
  for (const id of a.order) {
    const x = a.blocks.get(id)!;
    const y = b.blocks.get(id);
    if (!y || !sameBlock(x, y)) return false;
  }
  return true;
}

function sameBlock(x: Block, y: Block): boolean {
  return (
    x.kind === y.kind &&
    x.parent === y.parent &&
    x.text === y.text &&
    JSON.stringify(x.attrs) === JSON.stringify(y.attrs) &&
    sameArr(x.children, y.children) &&
    JSON.stringify(marksToJson(x.marks ?? [])) === JSON.stringify(marksToJson(y.marks ?? []))
  );
}
