// ProseMirror document ⇄ pg_nodesync tree (docs/prosemirror.md, "Mapping").
//
//   doc                     root (kind "doc")
//   <block id=K ...attrs>   node K, kind = the node type's name, props = the attrs but `id`
//   textblock content       props.text (code points; a hard_break is "\n") and props.marks
//                           (ranges, marks.ts); code blocks have no marks
//   container content       the node's children, in order
import { Fragment, type Mark, type Node as PMNode, type Schema } from "prosemirror-model";
import type { Tree } from "@pg-nodesync/client";
import { KINDS, MARK_NAMES, PM_MARKS, isKnownKind } from "./schema.js";
import { clip, marksToJson, normalize, parseMarks, type MarkRange } from "./marks.js";

export const ROOT = "root";

/** Code points of a string. */
export function cpLen(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/** The text and marks of a textblock (offsets in code points). */
export function textOfBlock(node: PMNode): { text: string; marks: MarkRange[] } {
  let text = "";
  let at = 0;
  const marks: MarkRange[] = [];
  node.forEach((child) => {
    let s: string;
    if (child.isText) s = child.text ?? "";
    else if (child.type.name === "hard_break") s = "\n";
    else return; // other inline leaves are not mapped
    const n = cpLen(s);
    if (child.isText) {
      for (const m of child.marks) {
        const name = MARK_NAMES[m.type.name];
        if (!name) continue;
        const attrs = markAttrs(m);
        marks.push(attrs ? { from: at, to: at + n, name, attrs } : { from: at, to: at + n, name });
      }
    }
    text += s;
    at += n;
  });
  return { text, marks: normalize(marks) };
}

function markAttrs(m: Mark): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m.attrs)) if (v !== null && v !== undefined) out[k] = v;
  return Object.keys(out).length > 0 ? out : undefined;
}

/** The inline content of a textblock from its text and marks. */
export function inlineContent(schema: Schema, text: string, ranges: readonly MarkRange[], withMarks: boolean, breaks: boolean): PMNode[] {
  const cps = Array.from(text);
  const len = cps.length;
  const rs = withMarks ? clip(ranges, len) : [];
  const cuts = new Set<number>([0, len]);
  for (const r of rs) {
    cuts.add(r.from);
    cuts.add(r.to);
  }
  const points = [...cuts].filter((p) => p >= 0 && p <= len).sort((a, b) => a - b);
  const out: PMNode[] = [];
  for (let i = 0; i + 1 < points.length; i++) {
    const s = points[i]!;
    const e = points[i + 1]!;
    let set: readonly Mark[] = [];
    for (const r of rs) {
      if (r.from <= s && e <= r.to) {
        const t = schema.marks[PM_MARKS[r.name] ?? ""];
        if (!t) continue;
        try {
          set = t.create(r.attrs ?? null).addToSet(set);
        } catch {
          // attrs the mark type refuses: skip the mark
        }
      }
    }
    const piece = cps.slice(s, e).join("");
    if (!breaks) {
      if (piece !== "") out.push(schema.text(piece, set));
      continue;
    }
    const lines = piece.split("\n");
    lines.forEach((line, j) => {
      if (j > 0) out.push(schema.nodes["hard_break"]!.create());
      if (line !== "") out.push(schema.text(line, set));
    });
  }
  return out;
}

function attrsOf(kind: string, props: Record<string, unknown>, id: string): Record<string, unknown> {
  const attrs: Record<string, unknown> = { id };
  for (const a of KINDS[kind]!.attrs) if (props[a] !== undefined && props[a] !== null) attrs[a] = props[a];
  return attrs;
}

/**
 * The ProseMirror document of a tree: every node of a known kind that fits its parent's
 * content (others are left out, and left alone by the binding). A document without blocks
 * gets one empty paragraph without an id (the binding creates it on the first edit).
 */
export function docFromTree(tree: Tree, schema: Schema): PMNode {
  const build = (key: string): PMNode | null => {
    const n = tree.get(key);
    if (!n || !isKnownKind(n.kind)) return null;
    const type = schema.nodes[n.kind];
    if (!type) return null;
    const spec = KINDS[n.kind]!;
    const attrs = attrsOf(n.kind, n.props, key);
    if (spec.text) {
      const t = typeof n.props["text"] === "string" ? (n.props["text"] as string) : "";
      const content = inlineContent(schema, t, spec.marks ? parseMarks(n.props["marks"]) : [], spec.marks, n.kind !== "code_block");
      try {
        return type.create(attrs, content);
      } catch {
        return null;
      }
    }
    return type.createAndFill(attrs, fitChildren(type, tree.children(key).map(build))) ?? null;
  };
  const content = fitChildren(schema.topNodeType, tree.children(ROOT).map(build));
  if (content.length === 0) content.push(schema.nodes["paragraph"]!.create({ id: null }));
  return schema.topNodeType.create(null, content);
}

/** The children that fit the content expression, in order (the others are left out). */
function fitChildren(type: PMNode["type"], kids: (PMNode | null)[]): PMNode[] {
  let match = type.contentMatch;
  const out: PMNode[] = [];
  for (const k of kids) {
    if (!k) continue;
    const next = match.matchType(k.type);
    if (!next) continue;
    out.push(k);
    match = next;
  }
  return out;
}

/** One block of a document, flattened (the unit the binding compares). */
export interface Block {
  id: string;
  kind: string;
  parent: string;
  /** Attrs stored as props (`level`, `order`). */
  attrs: Record<string, unknown>;
  /** Text blocks: the text (code points) and marks. */
  text?: string;
  marks?: MarkRange[];
  children: string[];
}

export interface Model {
  blocks: Map<string, Block>;
  /** Every block, in document order (pre-order). */
  order: string[];
  /** The root's children. */
  top: string[];
}

/** The flat model of a ProseMirror document (blocks without an id are skipped with their content). */
export function modelOfDoc(doc: PMNode): Model {
  const blocks = new Map<string, Block>();
  const order: string[] = [];
  const walk = (node: PMNode, parent: string): string[] => {
    const ids: string[] = [];
    node.forEach((child) => {
      if (!child.isBlock) return;
      const id = child.attrs["id"];
      if (typeof id !== "string" || id === "" || blocks.has(id) || !isKnownKind(child.type.name)) return;
      const kind = child.type.name;
      const spec = KINDS[kind]!;
      const attrs: Record<string, unknown> = {};
      for (const a of spec.attrs) if (child.attrs[a] !== undefined && child.attrs[a] !== null) attrs[a] = child.attrs[a];
      const b: Block = { id, kind, parent, attrs, children: [] };
      blocks.set(id, b);
      order.push(id);
      ids.push(id);
      if (spec.text) {
        const t = textOfBlock(child);
        b.text = t.text;
        if (spec.marks) b.marks = t.marks;
      } else {
        b.children = walk(child, id);
      }
    });
    return ids;
  };
  const top = walk(doc, ROOT);
  return { blocks, order, top };
}

/** The props a block is created with. */
export function propsOfBlock(b: Block): Record<string, unknown> {
  const props: Record<string, unknown> = { ...b.attrs };
  if (b.text !== undefined) props["text"] = b.text;
  if (b.marks !== undefined) {
    const m = marksToJson(b.marks);
    if (m) props["marks"] = m;
  }
  return props;
}

/** Where block `id` is: the position right before it and the node. */
export function findBlock(doc: PMNode, id: string): { pos: number; node: PMNode } | null {
  let found: { pos: number; node: PMNode } | null = null;
  doc.descendants((node, pos) => {
    if (found) return false;
    if (node.isBlock && node.attrs["id"] === id) {
      found = { pos, node };
      return false;
    }
    return !node.isTextblock;
  });
  return found;
}

/** The document position of code point `cp` inside a textblock whose content starts at `start`. */
export function cpToPos(block: PMNode, start: number, cp: number): number {
  let pos = start;
  let left = cp;
  let done = false;
  block.forEach((child) => {
    if (done) return;
    if (child.isText) {
      const s = child.text ?? "";
      let units = 0;
      for (const ch of s) {
        if (left === 0) break;
        units += ch.length;
        left--;
      }
      pos += units;
      if (left === 0 && units < s.length) done = true;
    } else {
      if (left === 0) {
        done = true;
        return;
      }
      if (child.type.name === "hard_break") left--;
      pos += child.nodeSize;
    }
  });
  return Math.min(pos, start + block.content.size);
}

/** The code point offset of document position `pos` inside a textblock whose content starts at `start`. */
export function posToCp(block: PMNode, start: number, pos: number): number {
  let cp = 0;
  let at = start;
  let done = false;
  block.forEach((child) => {
    if (done) return;
    if (child.isText) {
      const s = child.text ?? "";
      for (const ch of s) {
        if (at >= pos) {
          done = true;
          return;
        }
        at += ch.length;
        cp++;
      }
    } else {
      if (at >= pos) {
        done = true;
        return;
      }
      if (child.type.name === "hard_break") cp++;
      at += child.nodeSize;
    }
  });
  return cp;
}

export { Fragment };
