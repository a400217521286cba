// The binding: one ProseMirror editor and one Replica kept in step (docs/prosemirror.md).
//
// - local: every transaction that changes the document is turned into replica edits
//   (sync.ts) when the editor's state is updated (the plugin's view update, or
//   `HeadlessEditor.dispatch`), then pushed; the selection is kept as the replica's named
//   cursors `sel.anchor` / `sel.head`, so rebases and pulls carry it;
// - remote: on the replica's "change" the marks of blocks with local edits are recomputed
//   (below), the replica's local tree is rendered and the difference dispatched as one
//   transaction (`addToHistory: false`, so undo stays local), the selection put where the
//   cursors are;
// - drops: local edits a rebase could not keep are reported as notices.
//
// Marks across rebases. The `marks` prop is a non-string value: the replica merges it per key
// (the server's value wins when both sides changed it). The binding keeps the rule that the
// `marks` a replica sends fit the text it sends: on every change event, for each block with
// unsent text edits or mark changes, it sets `marks` to the server's marks mapped through the
// unsent text ops (the caret rule, marks.ts), with this replica's unsent mark changes
// (add/remove a mark over a range, kept as pairs of named cursors so they follow every edit
// and rebase) applied on top. A mark change counts as sent once the patch that carried it
// committed (the journal wrapper sees each patch being sent; `stats.commits` tells a commit
// from a refusal).
import { EditorState, Plugin, PluginKey, TextSelection, type Transaction } from "prosemirror-state";
import type { Node as PMNode, Schema } from "prosemirror-model";
import { MemoryJournal, Replica, isWarning } from "@pg-nodesync/client";
import type { Changes, Dropped, ReplicaOptions, Transport } from "@pg-nodesync/client";
import { schema as defaultSchema, KINDS } from "./schema.js";
import { ROOT, cpLen, cpToPos, docFromTree, findBlock, modelOfDoc, posToCp } from "./mapping.js";
import { applyChange, clip, joinMarks, mapThroughSplice, marksEqual, marksToJson, parseMarks, splitMarks, type MarkChange, type MarkRange } from "./marks.js";
import { syncDoc, type SyncHint, type SyncResult } from "./sync.js";
import { reconcile } from "./remote.js";
import { ForkTracker } from "./journal.js";
import { type Notice, ruleMessage } from "./notices.js";

export const nodesyncKey = new PluginKey<null>("nodesync");

/** What a remote transaction carries as `tr.getMeta(nodesyncKey)`. */
export interface RemoteMeta {
  remote: true;
}

/** Something that holds an EditorState and takes transactions: an EditorView, or a HeadlessEditor. */
export interface EditorHost {
  readonly state: EditorState;
  dispatch(tr: Transaction): void;
}


export interface BindingOptions {
  schema?: Schema;
  /** Delay between a local edit and the push (ms; default 0: the next tick). */
  pushDelayMs?: number;
  /** Delay before a push that failed (no connection, contention) is tried again (ms; default 1000). */
  retryMs?: number;
  /** Push automatically after local edits (default true). */
  autoPush?: boolean;
}

export interface BindingStats {
  /** Local transactions turned into edits. */
  localTransactions: number;
  /** Replica edits made from them. */
  edits: number;
  /** Remote transactions dispatched. */
  remoteTransactions: number;
  /** Marks props recomputed after a rebase. */
  marksRecomputed: number;
  /** Times the editor had to be re-rendered from the replica after a local sync (should stay 0 but for joins that kept the other block). */
  heals: number;
  /** Failed pushes. */
  pushErrors: number;
  notices: number;
}

export interface BindingEvents {
  notice: (n: Notice) => void;
  /** Something the status line shows changed (gen, pending, conflicts...). */
  status: () => void;
  error: (e: unknown) => void;
}

interface Intent {
  id: number;
  change: MarkChange;
  epoch: number;
}

const SEL_ANCHOR = "sel.anchor";
const SEL_HEAD = "sel.head";

export class NodesyncBinding {
  readonly schema: Schema;
  readonly stats: BindingStats = { localTransactions: 0, edits: 0, remoteTransactions: 0, marksRecomputed: 0, heals: 0, pushErrors: 0, notices: 0 };
  readonly notices: Notice[] = [];
  /** The last error of a push or a background pull (null after a successful push). */
  lastError: unknown = null;
  private host: EditorHost | null = null;
  private applyingRemote = false;
  private readonly intents: Intent[] = [];
  private nextIntent = 1;
  private epoch = 1;
  private inflight: { epoch: number; commits: number } | null = null;
  private readonly minted = new Set<string>();
  private readonly retired = new Set<string>();
  private known = new Set<string>();
  private pushTimer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  private readonly pushDelayMs: number;
  private readonly retryMs: number;
  private readonly autoPush: boolean;
  private readonly listeners: { [K in keyof BindingEvents]: Set<BindingEvents[K]> } = { notice: new Set(), status: new Set(), error: new Set() };
  private readonly offs: (() => void)[] = [];

  /** Opens a replica (with the journal wrapped so mark changes can be tracked) and binds it. */
  static async open(transport: Transport, opts: ReplicaOptions, bopts: BindingOptions = {}): Promise<NodesyncBinding> {
    const tracker = new ForkTracker(opts.journal ?? new MemoryJournal());
    const replica = await Replica.open(transport, { live: true, ...opts, journal: tracker });
    return new NodesyncBinding(replica, bopts, tracker);
  }

  /**
   * Binds an open replica. Without the `ForkTracker` its journal was opened with, mark changes
   * count as sent at the next commit (close enough when one patch is in flight at a time).
   */
  constructor(
    readonly replica: Replica,
    opts: BindingOptions = {},
    tracker?: ForkTracker,
  ) {
    this.schema = opts.schema ?? defaultSchema;
    this.pushDelayMs = opts.pushDelayMs ?? 0;
    this.retryMs = opts.retryMs ?? 1000;
    this.autoPush = opts.autoPush ?? true;
    if (tracker) tracker.onSend = () => this.onSend();
    const onChange = (c: Changes) => this.onChange(c);
    const onDropped = (d: Dropped[]) => this.onDropped(d);
    // a commit or a rebase after a refusal can change the local tree without a "change"
    // event (e.g. typing the server put into a block this replica had joined away): the same
    // work as for a change (marks, render) runs then too
    const onCommit = () => {
      if (!tracker) this.onSend();
      this.onChange(null);
    };
    const onConflict = () => this.onChange(null);
    const onError = (e: unknown) => this.emit("error", e);
    replica.on("change", onChange).on("dropped", onDropped).on("commit", onCommit).on("conflict", onConflict).on("error", onError);
    this.offs.push(() => {
      replica.off("change", onChange).off("dropped", onDropped).off("commit", onCommit).off("conflict", onConflict).off("error", onError);
    });
    // a document without blocks gets its first paragraph (ProseMirror needs one)
    if (!replica.children(ROOT).some((k) => KINDS[replica.get(k)?.kind ?? ""] !== undefined)) {
      const k = replica.freshKey();
      replica.createWithKey(k, ROOT, "last", "paragraph", { text: "" });
      this.schedulePush();
    }
    this.rememberKeys();
  }

  // ---------------------------------------------------------------- events

  on<K extends keyof BindingEvents>(event: K, fn: BindingEvents[K]): this {
    (this.listeners[event] as Set<BindingEvents[K]>).add(fn);
    return this;
  }

  off<K extends keyof BindingEvents>(event: K, fn: BindingEvents[K]): this {
    (this.listeners[event] as Set<BindingEvents[K]>).delete(fn);
    return this;
  }

  private emit<K extends keyof BindingEvents>(event: K, ...args: Parameters<BindingEvents[K]>): void {
    for (const fn of [...(this.listeners[event] as Set<(...a: unknown[]) => void>)]) {
      try {
        fn(...args);
      } catch {
        // a listener's exception must not break the binding
      }
    }
  }

  // ---------------------------------------------------------------- editor side

  /** The document the replica's local tree renders to. */
  doc(): PMNode {
    return docFromTree(this.replica.tree(), this.schema);
  }

  /** An EditorState of the replica's document with the binding's plugin (first) and `plugins`. */
  createState(plugins: Plugin[] = []): EditorState {
    return EditorState.create({ schema: this.schema, doc: this.doc(), plugins: [this.plugin(), ...plugins] });
  }

  /** The plugin: assigns ids to new blocks, turns local transactions into replica edits (in its view), and receives remote changes. */
  plugin(): Plugin {
    return new Plugin({
      key: nodesyncKey,
      appendTransaction: (trs, _old, state) => {
        if (!trs.some((tr) => tr.docChanged && !tr.getMeta(nodesyncKey))) return null;
        return this.fixIds(state, _old, trs);
      },
      view: (view) => {
        this.attach(view);
        return {
          update: (v, prev) => this.update(prev, v.state),
          destroy: () => {
            if (this.host === view) this.host = null;
          },
        };
      },
    });
  }

  /** Remote changes are dispatched to `host` from now on. */
  attach(host: EditorHost): void {
    this.host = host;
  }

  /** A fresh block id (a key this replica never used). */
  freshId(): string {
    const k = this.replica.freshKey();
    this.minted.add(k);
    return k;
  }

  private usableId(id: unknown): id is string {
    return typeof id === "string" && id !== "" && !this.retired.has(id) && (this.replica.get(id) !== undefined || this.minted.has(id));
  }

  /**
   * A transaction giving every block without a usable id one (null: all fine). A block that
   * lost its id to a command that replaced its attrs (setBlockType, setNodeMarkup) gets back
   * the id of the block it was (found by mapping its position back through `trs`); a copy (the
   * second half of a split, a paste) gets a fresh one.
   */
  fixIds(state: EditorState, old?: EditorState, trs?: readonly Transaction[]): Transaction | null {
    const seen = new Set<string>();
    const need: number[] = [];
    state.doc.descendants((node, pos) => {
      if (!node.isBlock) return false;
      if (node.type.spec.attrs && "id" in node.type.spec.attrs) {
        const id = node.attrs["id"];
        if (this.usableId(id) && !seen.has(id)) seen.add(id);
        else need.push(pos);
      }
      return !node.isTextblock;
    });
    if (need.length === 0) return null;
    const tr = state.tr;
    for (const pos of need) {
      let nid: string | null = null;
      if (old && trs) {
        let p = pos;
        for (let i = trs.length - 1; i >= 0; i--) p = trs[i]!.mapping.invert().map(p, 1);
        const was = p >= 0 && p < old.doc.content.size ? old.doc.nodeAt(p) : null;
        const id = was?.isBlock ? was.attrs["id"] : null;
        if (this.usableId(id) && !seen.has(id) && was!.isTextblock === state.doc.nodeAt(pos)!.isTextblock) nid = id;
      }
      nid ??= this.freshId();
      seen.add(nid);
      tr.setNodeAttribute(pos, "id", nid);
    }
    return tr;
  }

  /**
   * The editor went from `prev` to `next` (a local transaction, or a remote one this binding
   * dispatched): local document changes become replica edits.
   */
  update(prev: EditorState, next: EditorState): void {
    if (this.applyingRemote || this.closed) return;
    if (!prev.doc.eq(next.doc)) {
      const before = modelOfDoc(prev.doc);
      const after = modelOfDoc(next.doc);
      const hint = this.selectionPoint(next, "head");
      let res: SyncResult;
      try {
        res = syncDoc(this.replica, before, after, hint ?? undefined);
      } catch (e) {
        this.emit("error", e);
        res = { edits: 0, markChanges: [], renames: new Map(), counts: { splice: 0, split: 0, join: 0, create: 0, move: 0, delete: 0, update: 0 } };
      }
      this.stats.localTransactions++;
      this.stats.edits += res.edits;
      for (const { key, change } of res.markChanges) this.addIntent(key, change);
      this.setSelectionCursors(next);
      const rendered = this.doc();
      if (!rendered.eq(next.doc)) {
        this.stats.heals++;
        this.render();
      }
      this.rememberKeys();
      if (res.edits > 0) this.schedulePush();
      this.emit("status");
    } else if (!prev.selection.eq(next.selection)) {
      this.setSelectionCursors(next);
    }
  }

  private selectionPoint(state: EditorState, which: "anchor" | "head"): SyncHint | null {
    const $p = which === "head" ? state.selection.$head : state.selection.$anchor;
    const block = $p.parent;
    if (!block.isTextblock) return null;
    const id = block.attrs["id"];
    if (typeof id !== "string") return null;
    return { id, at: posToCp(block, $p.start(), $p.pos) };
  }

  private setSelectionCursors(state: EditorState): void {
    for (const [name, which] of [
      [SEL_ANCHOR, "anchor"],
      [SEL_HEAD, "head"],
    ] as const) {
      const p = this.selectionPoint(state, which);
      try {
        if (p && this.replica.get(p.id)) this.replica.setCursor(name, p.id, "text", Math.min(p.at, cpLen(this.replica.text(p.id, "text") ?? "")));
        else if (this.replica.cursor(name)) this.replica.removeCursor(name);
      } catch {
        // the block is not in the replica (yet): no cursor
      }
    }
  }

  private rememberKeys(): void {
    const now = new Set(this.replica.tree().nodes.keyArray());
    for (const k of this.known) if (!now.has(k)) this.retired.add(k);
    this.known = now;
  }

  // ---------------------------------------------------------------- marks across rebases

  private addIntent(key: string, change: MarkChange): void {
    const id = this.nextIntent++;
    try {
      this.replica.setCursor(`mk.${id}.f`, key, "text", change.from);
      this.replica.setCursor(`mk.${id}.t`, key, "text", change.to);
    } catch {
      return;
    }
    this.intents.push({ id, change, epoch: this.epoch });
  }

  private dropIntent(i: Intent): void {
    for (const end of ["f", "t"]) {
      const name = `mk.${i.id}.${end}`;
      try {
        if (this.replica.cursor(name)) this.replica.removeCursor(name);
      } catch {
        // closed
      }
    }
  }

  /** A patch is being sent: it carries every mark change made so far. */
  private onSend(): void {
    this.resolveInflight(true);
    this.inflight = { epoch: this.epoch, commits: this.replica.stats.commits };
    this.epoch++;
  }

  /** Settles the patch in flight: committed → its mark changes are on the server; refused → they are unsent again. */
  private resolveInflight(sending = false): void {
    const f = this.inflight;
    if (!f) return;
    if (this.replica.stats.commits > f.commits) {
      for (let i = this.intents.length - 1; i >= 0; i--) {
        const it = this.intents[i]!;
        if (it.epoch <= f.epoch) {
          this.dropIntent(it);
          this.intents.splice(i, 1);
        }
      }
      this.inflight = null;
    } else if (sending || !this.replica.inFlight) {
      this.inflight = null;
    }
  }

  /**
   * After a rebase: the marks of every block with unsent text ops or mark changes, as the
   * server's marks mapped through the unsent text ops, with the unsent mark changes on top.
   */
  private recomputeMarks(): void {
    const ws = this.replica.workspace;
    const shadow = ws.shadow();
    const state = new Map<string, { text: string; marks: MarkRange[] }>();
    const fromShadow = (k: string) => {
      const n = shadow.get(k);
      if (!n) return undefined;
      const t = typeof n.props["text"] === "string" ? (n.props["text"] as string) : "";
      return { text: t, marks: parseMarks(n.props["marks"], cpLen(t)) };
    };
    const get = (k: string) => {
      let s = state.get(k);
      if (!s) {
        s = fromShadow(k);
        if (s) state.set(k, s);
      }
      return s;
    };
    for (const op of ws.patch().ops) {
      if (op.op === "text" && op.prop === "text") {
        const s = get(op.key);
        if (!s) continue;
        for (const e of op.edits) {
          s.marks = mapThroughSplice(s.marks, cpLen(s.text), e.at, e.delete, e.insert);
          const cps = Array.from(s.text);
          cps.splice(e.at, e.delete, ...Array.from(e.insert));
          s.text = cps.join("");
        }
      } else if (op.op === "split" && op.prop === "text") {
        const s = get(op.key);
        if (!s) continue;
        const cps = Array.from(s.text);
        const [a, b] = splitMarks(s.marks, op.at);
        state.set(op.key, { text: cps.slice(0, op.at).join(""), marks: a });
        state.set(op.new, { text: cps.slice(op.at).join(""), marks: b });
      } else if (op.op === "join" && op.prop === "text") {
        const s = get(op.key);
        const n = get(op.next);
        if (!s || !n) continue;
        state.set(op.key, { text: s.text + n.text, marks: joinMarks(s.marks, n.marks, cpLen(s.text)) });
        state.delete(op.next);
      }
    }
    // the unsent mark changes, by the block their cursors are in now
    const changes = new Map<string, MarkChange[]>();
    const add = (k: string, c: MarkChange) => {
      let l = changes.get(k);
      if (!l) changes.set(k, (l = []));
      l.push(c);
    };
    for (let i = this.intents.length - 1; i >= 0; i--) {
      const it = this.intents[i]!;
      const f = this.replica.cursor(`mk.${it.id}.f`);
      const t = this.replica.cursor(`mk.${it.id}.t`);
      if (!f || !t) {
        this.dropIntent(it);
        this.intents.splice(i, 1);
      }
    }
    for (const it of this.intents) {
      const f = this.replica.cursor(`mk.${it.id}.f`)!;
      const t = this.replica.cursor(`mk.${it.id}.t`)!;
      if (f.key === t.key) add(f.key, { ...it.change, from: f.at, to: t.at });
      else {
        add(f.key, { ...it.change, from: f.at, to: cpLen(this.replica.text(f.key, "text") ?? "") });
        add(t.key, { ...it.change, from: 0, to: t.at });
      }
    }
    const keys = new Set([...state.keys(), ...changes.keys()]);
    for (const k of keys) {
      const n = this.replica.get(k);
      if (!n || !KINDS[n.kind]?.marks) continue;
      let base = state.get(k)?.marks ?? fromShadow(k)?.marks;
      if (base === undefined) continue; // created here and not sent yet: its marks are the local ones
      for (const c of changes.get(k) ?? []) base = applyChange(base, c);
      const len = cpLen(this.replica.text(k, "text") ?? "");
      const want = clip(base, len);
      if (!marksEqual(want, parseMarks(n.props["marks"]))) {
        this.replica.update(k, { marks: marksToJson(want) });
        this.stats.marksRecomputed++;
      }
    }
  }

  // ---------------------------------------------------------------- replica side

  private onChange(_c: Changes | null): void {
    if (this.closed) return;
    this.resolveInflight();
    let edited = false;
    try {
      const before = this.stats.marksRecomputed;
      this.recomputeMarks();
      edited = this.stats.marksRecomputed > before;
    } catch (e) {
      this.emit("error", e);
    }
    this.render();
    this.rememberKeys();
    if (edited) this.schedulePush();
    this.emit("status");
  }

  /** Dispatches the transaction that brings the editor to the replica's document (if it differs). */
  render(): void {
    const host = this.host;
    if (!host) return;
    const doc = this.doc();
    const state = host.state;
    if (doc.eq(state.doc)) return;
    const tr = state.tr;
    reconcile(tr, doc);
    const sel = this.cursorSelection(tr.doc);
    if (sel) tr.setSelection(sel);
    tr.setMeta(nodesyncKey, { remote: true } satisfies RemoteMeta);
    tr.setMeta("addToHistory", false);
    this.applyingRemote = true;
    try {
      host.dispatch(tr);
      this.stats.remoteTransactions++;
    } finally {
      this.applyingRemote = false;
    }
  }

  private cursorSelection(doc: PMNode): TextSelection | null {
    const point = (name: string): number | null => {
      const c = this.replica.cursor(name);
      if (!c) return null;
      const b = findBlock(doc, c.key);
      if (!b || !b.node.isTextblock) return null;
      return cpToPos(b.node, b.pos + 1, c.at);
    };
    const head = point(SEL_HEAD);
    if (head === null) return null;
    const anchor = point(SEL_ANCHOR) ?? head;
    try {
      return TextSelection.create(doc, anchor, head);
    } catch {
      return null;
    }
  }

  private onDropped(ds: Dropped[]): void {
    // a marks conflict is resolved by recomputeMarks: not the user's business
    const real = ds.filter((d) => !isWarning(d) && !(d.rule.name === "prop-conflict" && "prop" in d.rule && d.rule.prop === "marks"));
    if (real.length === 0) return;
    const messages = [...new Set(real.map(ruleMessage))];
    const n: Notice = { message: messages.join(" "), dropped: real, at: Date.now() };
    this.notices.push(n);
    this.stats.notices++;
    this.emit("notice", n);
  }

  // ---------------------------------------------------------------- pushing

  /** Pushes soon (coalesced). */
  schedulePush(delay = this.pushDelayMs): void {
    if (this.closed || !this.autoPush || this.pushTimer !== null) return;
    this.pushTimer = setTimeout(() => {
      this.pushTimer = null;
      this.replica.push().then(
        () => {
          this.lastError = null;
          this.emit("status");
          if (this.replica.hasLocalEdits && !this.replica.inFlight) this.schedulePush();
        },
        (e) => {
          if (this.closed) return;
          this.lastError = e;
          this.stats.pushErrors++;
          this.emit("error", e);
          this.emit("status");
          this.schedulePush(this.retryMs);
        },
      );
    }, delay);
  }

  /** Pushes now and waits (tests). */
  async flush(): Promise<void> {
    if (this.pushTimer !== null) {
      clearTimeout(this.pushTimer);
      this.pushTimer = null;
    }
    while (this.replica.hasLocalEdits) await this.replica.push();
  }

  /** Stops pushing and closes the replica (the transport stays open). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.pushTimer !== null) clearTimeout(this.pushTimer);
    for (const f of this.offs) f();
    await this.replica.close();
  }
}
