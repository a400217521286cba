// Marks as ranges in a prop: `marks: [[from, to, "bold"], [from, to, "link", {"href": "..."}]]`
// over the code points of the block's `text` prop, half-open, at the same gen as the text.
//
// Canonical form (what the binding writes, so equal mark sets are equal JSON): per mark (name
// plus attrs) the ranges are disjoint, non-adjacent and non-empty; the list is sorted by
// (from, to, name, attrs). An empty list is written as "no `marks` prop".
//
// Offsets move through text edits like the client's carets (docs/client.md "Cursors"): text
// inserted exactly at an offset ends up before it. So text typed at the end of a range is
// inside it (the range grows, like ProseMirror's inclusive marks), text typed at its start is
// outside; a range whose text is deleted disappears. A split cuts ranges at the split point
// (the part after goes to the new block); a join appends `next`'s ranges shifted by the
// length of `key`'s text.

import { ot, text as txt } from "@pg-nodesync/client";

export interface MarkRange {
  from: number;
  to: number;
  /** "bold", "italic", "code", "link" (or any other name the schema maps). */
  name: string;
  /** e.g. `{href}` of a link; absent for marks without attributes. */
  attrs?: Record<string, unknown>;
}

/** The wire form of one range. */
export type MarkJson = [number, number, string] | [number, number, string, Record<string, unknown>];

function sortedJson(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(sortedJson).join(",")}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .sort()
    .filter((k) => o[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${sortedJson(o[k])}`)
    .join(",")}}`;
}

/** The identity of a mark: its name and attrs (two links with different hrefs are different marks). */
export function markId(m: { name: string; attrs?: Record<string, unknown> | undefined }): string {
  return m.attrs && Object.keys(m.attrs).length > 0 ? `${m.name}\u0000${sortedJson(m.attrs)}` : m.name;
}

function cleanAttrs(a: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!a) return undefined;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(a).sort()) if (a[k] !== undefined && a[k] !== null) out[k] = a[k];
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * Reads a `marks` prop value; anything malformed is skipped (a bad range never breaks the
 * editor). Ranges are clipped to `len` (the text's length in code points) when given.
 */
export function parseMarks(v: unknown, len?: number): MarkRange[] {
  if (!Array.isArray(v)) return [];
  const out: MarkRange[] = [];
  for (const r of v) {
    if (!Array.isArray(r) || r.length < 3) continue;
    let [from, to] = r as [unknown, unknown];
    const name = r[2];
    if (typeof from !== "number" || typeof to !== "number" || typeof name !== "string" || name === "") continue;
    if (!Number.isFinite(from) || !Number.isFinite(to)) continue;
    from = Math.max(0, Math.floor(from as number));
    to = Math.floor(to as number);
    if (len !== undefined) to = Math.min(to as number, len);
    if ((to as number) <= (from as number)) continue;
    const attrs = r.length > 3 && r[3] !== null && typeof r[3] === "object" && !Array.isArray(r[3]) ? cleanAttrs(r[3] as Record<string, unknown>) : undefined;
    out.push(attrs ? { from: from as number, to: to as number, name, attrs } : { from: from as number, to: to as number, name });
  }
  return normalize(out);
}

/** The canonical form (see the header): merged per mark, sorted. */
export function normalize(ranges: readonly MarkRange[]): MarkRange[] {
  const byId = new Map<string, MarkRange[]>();
  for (const r of ranges) {
    if (r.to <= r.from) continue;
    const id = markId(r);
    let l = byId.get(id);
    if (!l) byId.set(id, (l = []));
    l.push(r);
  }
  const out: MarkRange[] = [];
  for (const l of byId.values()) {
    l.sort((a, b) => a.from - b.from || a.to - b.to);
    let cur: MarkRange | null = null;
    for (const r of l) {
      if (cur && r.from <= cur.to) {
        cur.to = Math.max(cur.to, r.to);
      } else {
        if (cur) out.push(cur);
        cur = r.attrs ? { from: r.from, to: r.to, name: r.name, attrs: r.attrs } : { from: r.from, to: r.to, name: r.name };
      }
    }
    if (cur) out.push(cur);
  }
  out.sort((a, b) => a.from - b.from || a.to - b.to || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) || (markId(a) < markId(b) ? -1 : markId(a) > markId(b) ? 1 : 0));
  return out;
}

/** The prop value: the JSON list, or null (remove the prop) for no marks. */
export function marksToJson(ranges: readonly MarkRange[]): MarkJson[] | null {
  const n = normalize(ranges);
  if (n.length === 0) return null;
  return n.map((r) => (r.attrs ? [r.from, r.to, r.name, r.attrs] : [r.from, r.to, r.name]));
}

export function marksEqual(a: readonly MarkRange[], b: readonly MarkRange[]): boolean {
  return JSON.stringify(marksToJson(a)) === JSON.stringify(marksToJson(b));
}

/** Maps the ranges through one splice of a text of `len` code points (the caret rule). */
export function mapThroughSplice(ranges: readonly MarkRange[], len: number, at: number, del: number, insert: string): MarkRange[] {
  if (del === 0 && insert === "") return ranges.slice();
  const op = ot.TextOp.splice(len, txt.newEdit(at, del, insert));
  return mapThroughOp(ranges, op);
}

/** Maps the ranges through a text op (the caret rule, `Assoc.After`, at both ends). */
export function mapThroughOp(ranges: readonly MarkRange[], op: ot.TextOp): MarkRange[] {
  const out: MarkRange[] = [];
  for (const r of ranges) {
    const from = op.map(r.from, ot.Assoc.After);
    const to = op.map(r.to, ot.Assoc.After);
    if (to > from) out.push({ ...r, from, to });
  }
  return normalize(out);
}

/** A split at `at`: [the ranges that stay, the ranges of the new block (shifted to start at 0)]. */
export function splitMarks(ranges: readonly MarkRange[], at: number): [MarkRange[], MarkRange[]] {
  const a: MarkRange[] = [];
  const b: MarkRange[] = [];
  for (const r of ranges) {
    if (r.from < at) a.push({ ...r, to: Math.min(r.to, at) });
    if (r.to > at) b.push({ ...r, from: Math.max(r.from, at) - at, to: r.to - at });
  }
  return [normalize(a), normalize(b)];
}

/** A join: `key`'s ranges, then `next`'s shifted by `len` (the length of `key`'s text). */
export function joinMarks(key: readonly MarkRange[], next: readonly MarkRange[], len: number): MarkRange[] {
  return normalize([...key, ...next.map((r) => ({ ...r, from: r.from + len, to: r.to + len }))]);
}

/** One local mark change not yet known to be on the server: add or remove a mark over a range. */
export interface MarkChange {
  add: boolean;
  from: number;
  to: number;
  name: string;
  attrs?: Record<string, unknown>;
}

/**
 * The changes that turn `from` into `to` (same text): per mark, the maximal ranges where it
 * was added and where it was removed.
 */
export function markChanges(from: readonly MarkRange[], to: readonly MarkRange[]): MarkChange[] {
  const ids = new Map<string, { name: string; attrs?: Record<string, unknown> }>();
  for (const r of [...from, ...to]) ids.set(markId(r), r.attrs ? { name: r.name, attrs: r.attrs } : { name: r.name });
  const out: MarkChange[] = [];
  for (const [id, m] of ids) {
    const a = from.filter((r) => markId(r) === id);
    const b = to.filter((r) => markId(r) === id);
    const points = new Set<number>();
    for (const r of [...a, ...b]) {
      points.add(r.from);
      points.add(r.to);
    }
    const ps = [...points].sort((x, y) => x - y);
    const inA = (p: number) => a.some((r) => r.from <= p && p < r.to);
    const inB = (p: number) => b.some((r) => r.from <= p && p < r.to);
    let cur: MarkChange | null = null;
    for (let i = 0; i + 1 < ps.length; i++) {
      const s = ps[i]!;
      const e = ps[i + 1]!;
      const x = inA(s);
      const y = inB(s);
      if (x === y) {
        if (cur) out.push(cur);
        cur = null;
        continue;
      }
      const add = y;
      if (cur && cur.add === add && cur.to === s) cur.to = e;
      else {
        if (cur) out.push(cur);
        cur = m.attrs ? { add, from: s, to: e, name: m.name, attrs: m.attrs } : { add, from: s, to: e, name: m.name };
      }
    }
    if (cur) out.push(cur);
  }
  return out;
}

/**
 * Applies one change. Adding a mark removes the other marks of the same name over the range
 * when `exclusive(name)` (a link replaces a link, as ProseMirror's `excludes` does).
 */
export function applyChange(ranges: readonly MarkRange[], c: MarkChange, exclusive: (name: string) => boolean = (n) => n === "link"): MarkRange[] {
  if (c.to <= c.from) return ranges.slice();
  const out: MarkRange[] = [];
  const id = markId(c);
  for (const r of ranges) {
    const cut = markId(r) === id || (c.add && r.name === c.name && exclusive(c.name));
    if (!cut || r.to <= c.from || r.from >= c.to) {
      out.push(r);
      continue;
    }
    if (r.from < c.from) out.push({ ...r, to: c.from });
    if (r.to > c.to) out.push({ ...r, from: c.to });
  }
  if (c.add) out.push(c.attrs ? { from: c.from, to: c.to, name: c.name, attrs: c.attrs } : { from: c.from, to: c.to, name: c.name });
  return normalize(out);
}

/** Clips the ranges to a text of `len` code points. */
export function clip(ranges: readonly MarkRange[], len: number): MarkRange[] {
  return normalize(ranges.map((r) => ({ ...r, to: Math.min(r.to, len) })).filter((r) => r.to > r.from));
}
