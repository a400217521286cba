// The demo page (bundled by bundle.ts): a ProseMirror editor on one pg_nodesync document
// through nodesync-relay, a status line, notices for dropped edits, and a history slider that
// shows snapshot(doc, at_gen) read-only. `window.nodesync` is the handle the browser tests use.
import { EditorState, NodeSelection, TextSelection, type Command, type Transaction } from "prosemirror-state";
import { EditorView } from "prosemirror-view";
import { history, undo, redo } from "prosemirror-history";
import { keymap } from "prosemirror-keymap";
import { baseKeymap, setBlockType, toggleMark, wrapIn, chainCommands, exitCode } from "prosemirror-commands";
import { splitListItem, liftListItem, sinkListItem, wrapInList } from "prosemirror-schema-list";
import { RelayTransport, Tree } from "@pg-nodesync/client";
import type { Applied, Change, DiffResult, Notification, PatchJson, Snapshot, Transport } from "@pg-nodesync/client";
import { NodesyncBinding, StorageJournal, cpToPos, docFromTree, journalKey, schema } from "@pg-nodesync/prosemirror";

interface Config {
  relay: string;
  token: string;
  doc: string;
}

// ---------------------------------------------------------------------- test hooks

type Hold = "send" | "answer" | null;

/** The relay transport, with a switch that holds patches before they are sent or holds their answers (tests). */
class HookedTransport implements Transport {
  hold: Hold = null;
  private waiting: (() => void)[] = [];
  constructor(readonly inner: RelayTransport) {}
  release(): void {
    this.hold = null;
    for (const w of this.waiting.splice(0)) w();
  }
  private gate(): Promise<void> {
    return new Promise((r) => this.waiting.push(r));
  }
  ensureDoc(doc: string, rootKind?: string): Promise<boolean> {
    return this.inner.ensureDoc(doc, rootKind);
  }
  snapshot(doc: string, atGen?: number): Promise<Snapshot> {
    return this.inner.snapshot(doc, atGen);
  }
  async applyPatch(doc: string, patch: PatchJson, client: string, seq: number): Promise<Applied> {
    if (this.hold === "send") await this.gate();
    const a = await this.inner.applyPatch(doc, patch, client, seq);
    if (this.hold === "answer") await this.gate();
    return a;
  }
  diffSince(doc: string, since: number): Promise<DiffResult> {
    return this.inner.diffSince(doc, since);
  }
  changesSince(doc: string, since: number, upto?: number): Promise<Change[]> {
    return this.inner.changesSince(doc, since, upto);
  }
  subscribe(doc: string, fn: (n: Notification) => void): Promise<() => Promise<void>> {
    return this.inner.subscribe(doc, fn);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

// ---------------------------------------------------------------------- client id

/**
 * This tab's client id: kept in sessionStorage, so a reload keeps it (and the journal, keyed
 * by document and client, is found again); a lease in localStorage tells a duplicated tab (same
 * sessionStorage) to take a new one.
 */
function clientId(): { id: string; release: () => void } {
  const nonce = Math.random().toString(36).slice(2);
  const leaseKey = (id: string) => `nodesync-lease:${id}`;
  let id = sessionStorage.getItem("nodesync-client");
  if (id) {
    try {
      const l = JSON.parse(localStorage.getItem(leaseKey(id)) ?? "null") as { nonce: string; at: number } | null;
      if (l && l.nonce !== nonce && Date.now() - l.at < 3000) id = null; // another live tab has it
    } catch {
      // a broken lease: take the id
    }
  }
  if (!id) {
    id = `web-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    sessionStorage.setItem("nodesync-client", id);
  }
  const mine = id;
  const beat = () => localStorage.setItem(leaseKey(mine), JSON.stringify({ nonce, at: Date.now() }));
  beat();
  const t = setInterval(beat, 1000);
  return {
    id: mine,
    release: () => {
      clearInterval(t);
      localStorage.removeItem(leaseKey(mine));
    },
  };
}

// ---------------------------------------------------------------------- the page

const $ = (id: string) => document.getElementById(id)!;

async function main(): Promise<void> {
  const cfg = (await (await fetch("/config.json")).json()) as Config;
  const doc = new URLSearchParams(location.search).get("doc") || cfg.doc;
  const client = clientId();
  const statusEl = $("status");
  let conn = "connecting";
  const relay = await RelayTransport.connect(cfg.relay, {
    token: cfg.token,
    reconnectMinMs: 100,
    reconnectMaxMs: 1000,
    timeoutMs: 10_000,
    onStateChange: (s) => {
      conn = s;
      paint();
    },
  });
  conn = relay.connectionState;
  const transport = new HookedTransport(relay);
  await transport.ensureDoc(doc);
  const journal = new StorageJournal(localStorage, doc, client.id);
  const binding = await NodesyncBinding.open(transport, { doc, client: client.id, journal, live: true }, { pushDelayMs: 10, retryMs: 500 });
  const replica = binding.replica;

  const mark = (name: string): Command => toggleMark(schema.marks[name]!);
  const listItem = schema.nodes["list_item"]!;
  const keys = keymap({
    "Mod-z": undo,
    "Shift-Mod-z": redo,
    "Mod-y": redo,
    "Mod-b": mark("strong"),
    "Mod-i": mark("em"),
    "Mod-`": mark("code"),
    Enter: splitListItem(listItem),
    "Mod-[": liftListItem(listItem),
    "Mod-]": sinkListItem(listItem),
    "Shift-Enter": chainCommands(exitCode, (state, dispatch) => {
      dispatch?.(state.tr.replaceSelectionWith(schema.nodes["hard_break"]!.create()).scrollIntoView());
      return true;
    }),
  });
  const state: EditorState = binding.createState([history(), keys, keymap(baseKeymap)]);
  const view = new EditorView($("editor"), {
    state,
    dispatchTransaction(tr: Transaction) {
      view.updateState(view.state.apply(tr));
    },
  });
  view.focus();

  // toolbar
  const tools: [string, Command][] = [
    ["B", mark("strong")],
    ["I", mark("em")],
    ["code", mark("code")],
    [
      "link",
      (s, d) => {
        if (s.selection.empty) return false;
        const t = schema.marks["link"]!;
        if (s.doc.rangeHasMark(s.selection.from, s.selection.to, t)) return toggleMark(t)(s, d);
        const href = prompt("Link to", "https://");
        return href ? toggleMark(t, { href })(s, d) : false;
      },
    ],
    ["¶", setBlockType(schema.nodes["paragraph"]!)],
    ["H1", setBlockType(schema.nodes["heading"]!, { level: 1 })],
    ["H2", setBlockType(schema.nodes["heading"]!, { level: 2 })],
    ["quote", wrapIn(schema.nodes["blockquote"]!)],
    ["• list", wrapInList(schema.nodes["bullet_list"]!)],
    ["1. list", wrapInList(schema.nodes["ordered_list"]!)],
    ["lift", liftListItem(listItem)],
    ["code block", setBlockType(schema.nodes["code_block"]!)],
    [
      "—",
      (s, d) => {
        d?.(s.tr.replaceSelectionWith(schema.nodes["horizontal_rule"]!.create()));
        return true;
      },
    ],
    ["undo", undo],
    ["redo", redo],
  ];
  for (const [label, cmd] of tools) {
    const b = document.createElement("button");
    b.textContent = label;
    b.addEventListener("mousedown", (e) => {
      e.preventDefault();
      cmd(view.state, view.dispatch, view);
      view.focus();
    });
    $("toolbar").appendChild(b);
  }

  // notices
  const notices: string[] = [];
  binding.on("notice", (n) => {
    notices.push(n.message);
    const el = document.createElement("div");
    el.className = "notice";
    el.textContent = n.message;
    $("notices").appendChild(el);
    setTimeout(() => el.remove(), 12_000);
  });

  // status line
  const slider = $("history") as HTMLInputElement;
  let live = true;
  function paint(): void {
    const s = replica.stats;
    const pending = replica.hasLocalEdits ? replica.workspace.patch().ops.length + (replica.inFlight ? 1 : 0) : 0;
    statusEl.textContent = `${conn === "open" ? "connected" : conn} · doc ${doc} · gen ${replica.gen} · pending edits ${pending} · conflicts rebased ${s.rebases} · commits ${s.commits} · notices ${binding.stats.notices}`;
    statusEl.className = conn === "open" ? "" : "offline";
    if (live) {
      slider.max = String(replica.gen);
      slider.value = String(replica.gen);
    } else slider.max = String(Math.max(Number(slider.max), replica.gen));
  }
  binding.on("status", paint);
  setInterval(paint, 250);
  paint();

  // history: snapshot(doc, at_gen), read-only
  let past: EditorView | null = null;
  let want = 0;
  slider.addEventListener("input", async () => {
    const g = Number(slider.value);
    want = g;
    if (g >= replica.gen) {
      live = true;
      $("history-label").textContent = "live";
      $("history-view").hidden = true;
      document.querySelector("main")!.classList.remove("past");
      paint();
      return;
    }
    live = false;
    try {
      const snap = await transport.snapshot(doc, g);
      if (want !== g) return;
      const pdoc = docFromTree(Tree.fromSnapshot(snap), schema);
      const st = EditorState.create({ schema, doc: pdoc });
      if (past) past.updateState(st);
      else past = new EditorView($("history-view"), { state: st, editable: () => false });
      $("history-label").textContent = `gen ${g} (read-only)`;
      $("history-view").hidden = false;
      document.querySelector("main")!.classList.add("past");
    } catch (e) {
      $("history-label").textContent = `gen ${g}: ${(e as Error).message}`;
    }
  });

  // leaving: best effort to get the unsent edits into the journal (the patch in flight is there already)
  addEventListener("pagehide", () => {
    if (replica.hasLocalEdits && !replica.inFlight) void replica.push().catch(() => {});
    client.release();
  });

  // the handle for tests and the console
  const textblocks = (): { id: string; pos: number; node: import("prosemirror-model").Node }[] => {
    const out: { id: string; pos: number; node: import("prosemirror-model").Node }[] = [];
    view.state.doc.descendants((node, pos) => {
      if (node.isTextblock) out.push({ id: String(node.attrs["id"]), pos, node });
      return !node.isTextblock;
    });
    return out;
  };
  const api = {
    ready: true,
    doc,
    client: client.id,
    binding,
    view,
    transport,
    texts: () => textblocks().map((b) => b.node.textContent),
    blockIds: () => textblocks().map((b) => b.id),
    json: () => view.state.doc.toJSON(),
    serverEquals: async () => {
      const snap = await transport.snapshot(doc);
      return docFromTree(Tree.fromSnapshot(snap), schema).eq(view.state.doc);
    },
    setCaret: (i: number, cp: number, toCp?: number) => {
      const b = textblocks()[i];
      if (!b) throw new Error(`no text block ${i}`);
      const a = cpToPos(b.node, b.pos + 1, cp);
      const h = toCp === undefined ? a : cpToPos(b.node, b.pos + 1, toCp);
      view.dispatch(view.state.tr.setSelection(TextSelection.create(view.state.doc, a, h)));
      view.focus();
    },
    selectBlock: (i: number) => {
      const b = textblocks()[i];
      if (!b) throw new Error(`no text block ${i}`);
      view.dispatch(view.state.tr.setSelection(NodeSelection.create(view.state.doc, b.pos)));
      view.focus();
    },
    status: () => ({
      connection: conn,
      gen: replica.gen,
      pending: replica.hasLocalEdits,
      inFlight: replica.inFlight,
      commits: replica.stats.commits,
      conflicts: replica.stats.conflicts,
      rebases: replica.stats.rebases,
      heals: binding.stats.heals,
      pushErrors: binding.stats.pushErrors,
      reconnects: relay.stats.reconnects,
    }),
    notices: () => notices.slice(),
    hold: (h: Hold) => {
      transport.hold = h;
    },
    release: () => transport.release(),
    journal: () => localStorage.getItem(journalKey(doc, client.id)),
    recovery: () => replica.recovery ?? null,
  };
  (window as unknown as { nodesync: typeof api }).nodesync = api;
}

main().catch((e) => {
  $("status").textContent = `failed: ${(e as Error).message}`;
  $("status").className = "offline";
  (window as unknown as { nodesyncError: string }).nodesyncError = String((e as Error).stack ?? e);
});
