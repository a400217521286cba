// Remote changes: the transaction that turns the editor's document into the replica's new
// one with small steps, so the local undo history (prosemirror-history maps its steps through
// these) keeps what it can: blocks are matched by id; a block whose content changed gets
// steps inside it (a text block: one replace of the changed characters); only the blocks
// between the first and the last unmatched one of a list are replaced as a whole.
import { Slice, type Node as PMNode } from "prosemirror-model";
import type { Transaction } from "prosemirror-state";

function same(a: PMNode, b: PMNode): boolean {
  const id = a.attrs["id"];
  return a.type === b.type && typeof id === "string" && id === b.attrs["id"];
}

function kids(n: PMNode): PMNode[] {
  const out: PMNode[] = [];
  n.forEach((c) => out.push(c));
  return out;
}

/** Adds to `tr` the steps that turn `tr.doc` (which must be `old`) into `neu`. */
export function reconcile(tr: Transaction, neu: PMNode): void {
  reconcileChildren(tr, tr.doc, neu, 0);
}

function reconcileChildren(tr: Transaction, a: PMNode, b: PMNode, start: number): void {
  const old = kids(a);
  const nw = kids(b);
  let p = 0;
  while (p < old.length && p < nw.length && same(old[p]!, nw[p]!)) p++;
  let s = 0;
  while (s < old.length - p && s < nw.length - p && same(old[old.length - 1 - s]!, nw[nw.length - 1 - s]!)) s++;
  const pos: number[] = [];
  let at = start;
  for (const c of old) {
    pos.push(at);
    at += c.nodeSize;
  }
  pos.push(at);
  // from the end, so the positions before stay valid
  for (let k = old.length - 1; k >= old.length - s; k--) reconcileNode(tr, old[k]!, nw[k - old.length + nw.length]!, pos[k]!);
  if (old.length - s > p || nw.length - s > p) {
    tr.replaceWith(pos[p]!, pos[old.length - s]!, nw.slice(p, nw.length - s));
  }
  for (let k = p - 1; k >= 0; k--) reconcileNode(tr, old[k]!, nw[k]!, pos[k]!);
}

function reconcileNode(tr: Transaction, a: PMNode, b: PMNode, pos: number): void {
  if (a.eq(b)) return;
  if (!a.hasMarkup(b.type, b.attrs, b.marks)) tr.setNodeMarkup(pos, b.type, b.attrs, b.marks);
  if (a.isTextblock) {
    const ds = a.content.findDiffStart(b.content);
    if (ds === null) return;
    const de = a.content.findDiffEnd(b.content)!;
    let endA = de.a;
    let endB = de.b;
    const overlap = ds - Math.min(endA, endB);
    if (overlap > 0) {
      endA += overlap;
      endB += overlap;
    }
    tr.replace(pos + 1 + ds, pos + 1 + endA, new Slice(b.content.cut(ds, endB), 0, 0));
  } else if (a.isLeaf) {
    return;
  } else {
    reconcileChildren(tr, a, b, pos + 1);
  }
}
