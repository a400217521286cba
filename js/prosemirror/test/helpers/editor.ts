// Editors for the tests: a HeadlessEditor per replica, and the user's actions as the
// transactions ProseMirror's keymap would make.
import { TextSelection, type Command, type EditorState, type Transaction } from "prosemirror-state";
import { baseKeymap, chainCommands, deleteSelection, joinBackward, joinForward, selectNodeBackward, toggleMark, splitBlock } from "prosemirror-commands";
import { history, undo as pmUndo } from "prosemirror-history";
import { Replica, Tree } from "@pg-nodesync/client";
import type { Transport } from "@pg-nodesync/client";
import { PgTransport } from "@pg-nodesync/client/pg";
import type pg from "pg";
import { HeadlessEditor, NodesyncBinding, cpToPos, findBlock, posToCp, schema } from "../../src/index.js";

export { schema };

export interface Ed {
  name: string;
  binding: NodesyncBinding;
  editor: HeadlessEditor;
  transport: Transport;
  replica: Replica;
}

export async function openEd(cfg: pg.ClientConfig, doc: string, name: string, opts: { autoPush?: boolean } = {}): Promise<Ed> {
  const transport = await PgTransport.connect({ ...cfg, max: 2 });
  const binding = await NodesyncBinding.open(transport, { doc, client: name, keyPrefix: `${name}.` }, { autoPush: opts.autoPush ?? false });
  const editor = new HeadlessEditor(binding, [history()]);
  return { name, binding, editor, transport, replica: binding.replica };
}

export async function closeEd(e: Ed): Promise<void> {
  await e.binding.close();
  await e.transport.close();
}

export function run(e: Ed, cmd: Command): boolean {
  return cmd(e.editor.state, (tr: Transaction) => e.editor.dispatch(tr));
}

/** Puts the caret (or a selection to `toCp`) in block `id` at code point `cp`. */
export function caret(e: Ed, id: string, cp: number, toCp?: number): void {
  const s = e.editor.state;
  const b = findBlock(s.doc, id);
  if (!b) throw new Error(`no block ${id}`);
  const a = cpToPos(b.node, b.pos + 1, cp);
  const h = toCp === undefined ? a : cpToPos(b.node, b.pos + 1, toCp);
  e.editor.dispatch(s.tr.setSelection(TextSelection.create(s.doc, a, h)));
}

/** Types `text` at the selection, one transaction per character (as keystrokes do). */
export function type(e: Ed, text: string): void {
  for (const ch of text) e.editor.dispatch(e.editor.state.tr.insertText(ch));
}

/** Backspace inside text (the browser deletes the character; ProseMirror sees a ReplaceStep). */
export const backspaceChar: Command = (state, dispatch) => {
  const { $from, empty } = state.selection;
  if (!empty || $from.parentOffset === 0) return false;
  const before = $from.parent.textBetween(0, $from.parentOffset);
  const ch = [...before].pop()!;
  dispatch?.(state.tr.delete($from.pos - ch.length, $from.pos));
  return true;
};

export const backspace: Command = chainCommands(deleteSelection, joinBackward, selectNodeBackward);
export const del: Command = chainCommands(deleteSelection, joinForward);
export const enter: Command = baseKeymap["Enter"] ?? splitBlock;
export const bold: Command = toggleMark(schema.marks["strong"]!);
export const undo: Command = pmUndo;

/** Where the caret is: [block id, code point]. */
export function where(s: EditorState): [string, number] {
  const $h = s.selection.$head;
  return [String($h.parent.attrs["id"]), posToCp($h.parent, $h.start(), $h.pos)];
}

/** The document as [id, kind, text] rows (text blocks) in document order. */
export function texts(s: EditorState): string[] {
  const out: string[] = [];
  s.doc.descendants((n) => {
    if (n.isTextblock) out.push(n.textContent);
    return !n.isTextblock;
  });
  return out;
}

export function ids(s: EditorState): string[] {
  const out: string[] = [];
  s.doc.descendants((n) => {
    if (n.isBlock) out.push(String(n.attrs["id"]));
    return !n.isTextblock;
  });
  return out;
}

/** push then pull, for each editor in turn, until nobody has anything to send and all are at the server's gen. */
export async function settle(...eds: Ed[]): Promise<void> {
  for (let round = 0; round < 20; round++) {
    for (const e of eds) await e.binding.flush();
    for (const e of eds) await e.replica.pull();
    if (eds.every((e) => !e.replica.hasLocalEdits)) {
      const gens = new Set(eds.map((e) => e.replica.gen));
      if (gens.size === 1) return;
    }
  }
  throw new Error("editors did not settle");
}

export async function serverTree(t: Transport, doc: string): Promise<Tree> {
  return Tree.fromSnapshot(await t.snapshot(doc));
}
