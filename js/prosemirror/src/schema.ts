// The editor schema: prosemirror-schema-basic's blocks (without images) and
// prosemirror-schema-list's lists, every block node with a stable `id` attribute (the
// pg_nodesync key of its node), and the four marks the binding maps.
import { Schema, type NodeSpec, type MarkSpec, type AttributeSpec } from "prosemirror-model";
import { nodes as basicNodes, marks as basicMarks } from "prosemirror-schema-basic";
import { orderedList, bulletList, listItem } from "prosemirror-schema-list";

const idAttr: AttributeSpec = { default: null };

function withId(spec: NodeSpec): NodeSpec {
  const attrs = { ...(spec.attrs ?? {}), id: idAttr };
  return { ...spec, attrs };
}

const nodes: Record<string, NodeSpec> = {
  doc: { content: "block+" },
  paragraph: withId(basicNodes.paragraph),
  blockquote: withId(basicNodes.blockquote),
  horizontal_rule: withId(basicNodes.horizontal_rule),
  heading: withId(basicNodes.heading),
  code_block: withId(basicNodes.code_block),
  ordered_list: withId({ ...orderedList, content: "list_item+", group: "block" }),
  bullet_list: withId({ ...bulletList, content: "list_item+", group: "block" }),
  list_item: withId({ ...listItem, content: "paragraph block*" }),
  text: basicNodes.text,
  hard_break: basicNodes.hard_break,
};

const marks: Record<string, MarkSpec> = {
  link: basicMarks.link,
  em: basicMarks.em,
  strong: basicMarks.strong,
  code: basicMarks.code,
};

/** The schema the binding works with (any schema with the same node names, `id` attrs and mark names works). */
export const schema = new Schema({ nodes, marks });

/** ProseMirror mark name → name in the `marks` prop. */
export const MARK_NAMES: Readonly<Record<string, string>> = { strong: "bold", em: "italic", code: "code", link: "link" };
/** Name in the `marks` prop → ProseMirror mark name. */
export const PM_MARKS: Readonly<Record<string, string>> = { bold: "strong", italic: "em", code: "code", link: "link" };

/** How a kind is stored: text blocks carry `text` (and `marks` unless `code`), the others are containers or leaves. */
export interface KindSpec {
  /** The node holds its inline content in the `text` prop. */
  text: boolean;
  /** Its text carries marks (not in code blocks). */
  marks: boolean;
  /** Attributes stored as props of the same name (all but `id`). */
  attrs: readonly string[];
}

export const KINDS: Readonly<Record<string, KindSpec>> = {
  paragraph: { text: true, marks: true, attrs: [] },
  heading: { text: true, marks: true, attrs: ["level"] },
  code_block: { text: true, marks: false, attrs: [] },
  blockquote: { text: false, marks: false, attrs: [] },
  bullet_list: { text: false, marks: false, attrs: [] },
  ordered_list: { text: false, marks: false, attrs: ["order"] },
  list_item: { text: false, marks: false, attrs: [] },
  horizontal_rule: { text: false, marks: false, attrs: [] },
};

export function isKnownKind(kind: string): boolean {
  return Object.prototype.hasOwnProperty.call(KINDS, kind);
}
