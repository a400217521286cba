// The binding at state level (no DOM): two (or three) editors, each a HeadlessEditor on its own
// Replica over PgTransport, against a real private cluster. Edits are made concurrently (both
// editors edit before either pushes), then pushed and pulled in turn.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type pg from "pg";
import { PgTransport } from "@pg-nodesync/client/pg";
import { Tree } from "@pg-nodesync/client";
import { docFromTree, modelOfDoc, schema } from "../src/index.js";
import { freshDb, startCluster, stopCluster } from "./helpers/cluster.js";
import { backspace, backspaceChar, bold, caret, closeEd, del, enter, ids, openEd, run, serverTree, settle, texts, type, undo, where, type Ed } from "./helpers/editor.js";

let cfg: pg.ClientConfig;
let admin: PgTransport;
let n = 0;
const open: Ed[] = [];

before(async () => {
  const c = await startCluster();
  cfg = await freshDb(c, "nodesync_pm_binding");
  admin = await PgTransport.connect({ ...cfg, max: 2 });
});

after(async () => {
  for (const e of open) await closeEd(e).catch(() => {});
  await admin.close();
  await stopCluster();
});

/** A document with paragraphs p0.. (kind paragraph) holding `paras`. */
async function newDoc(...paras: (string | { text: string; marks?: unknown[]; kind?: string; props?: Record<string, unknown> })[]): Promise<string> {
  const doc = `pm${++n}`;
  await admin.ensureDoc(doc);
  if (paras.length > 0) {
    const ops = paras.map((p, i) => {
      const o = typeof p === "string" ? { text: p } : p;
      const props: Record<string, unknown> = { text: o.text, ...(o.props ?? {}) };
      if (o.marks) props["marks"] = o.marks;
      return { op: "create", key: `p${i}`, kind: o.kind ?? "paragraph", parent: "root", props };
    });
    await admin.applyPatch(doc, { ops }, "setup", 1);
  }
  return doc;
}

async function eds(doc: string, ...names: string[]): Promise<Ed[]> {
  const out: Ed[] = [];
  for (const name of names) {
    const e = await openEd(cfg, doc, name);
    open.push(e);
    out.push(e);
  }
  return out;
}

/** Every editor shows the server's document, and has nothing unsent. */
async function converged(doc: string, ...es: Ed[]): Promise<Tree> {
  const server = await serverTree(admin, doc);
  const want = docFromTree(server, schema);
  for (const e of es) {
    assert.ok(e.editor.state.doc.eq(want), `${e.name}'s editor differs from snapshot():\n${e.editor.state.doc}\n${want}`);
    assert.equal(e.replica.hasLocalEdits, false, `${e.name} has unsent edits`);
    assert.equal(e.binding.stats.heals, 0, `${e.name} needed a re-render after a local edit`);
  }
  return server;
}

async function log(doc: string, since = 2): Promise<Record<string, unknown>[]> {
  return (await admin.changesSince(doc, since)).flatMap((c) => c.patch.ops);
}

describe("mapping", () => {
  test("every block kind, attrs and marks round-trip through the tree", async () => {
    const doc = await newDoc();
    const [a] = await eds(doc, "ann");
    // build a document by transactions: heading, paragraph with marks, quote, lists, code, rule
    const s = a!.editor.state;
    const p = (t: string, marks: Parameters<typeof schema.text>[1] = []) => schema.nodes["paragraph"]!.create(null, t ? schema.text(t, marks) : null);
    const li = (t: string) => schema.nodes["list_item"]!.create(null, p(t));
    const content = [
      schema.nodes["heading"]!.create({ level: 2 }, schema.text("Title")),
      schema.nodes["paragraph"]!.create(null, [
        schema.text("plain "),
        schema.text("bold", [schema.marks["strong"]!.create()]),
        schema.text(" and "),
        schema.text("link", [schema.marks["link"]!.create({ href: "https://example.com/x" }), schema.marks["em"]!.create()]),
        schema.nodes["hard_break"]!.create(),
        schema.text("😀 code", [schema.marks["code"]!.create()]),
      ]),
      schema.nodes["blockquote"]!.create(null, [p("quoted")]),
      schema.nodes["bullet_list"]!.create(null, [li("one"), li("two")]),
      schema.nodes["ordered_list"]!.create({ order: 3 }, [li("three")]),
      schema.nodes["code_block"]!.create(null, schema.text("let x = 1;\nx += 1;")),
      schema.nodes["horizontal_rule"]!.create(),
    ];
    a!.editor.dispatch(s.tr.replaceWith(0, s.doc.content.size, content));
    await a!.binding.flush();
    const server = await converged(doc, a!);
    const kinds = [...server.nodes.keyArray()].map((k) => server.get(k)!.kind).sort();
    assert.deepEqual(kinds, ["blockquote", "bullet_list", "code_block", "doc", "heading", "horizontal_rule", "list_item", "list_item", "list_item", "ordered_list", "paragraph", "paragraph", "paragraph", "paragraph", "paragraph"].sort());
    const para = [...server.nodes.keyArray()].map((k) => server.get(k)!).find((x) => x.kind === "paragraph" && String(x.props["text"]).startsWith("plain"))!;
    assert.equal(para.props["text"], "plain bold and link\n😀 code");
    assert.deepEqual(para.props["marks"], [
      [6, 10, "bold"],
      [15, 19, "italic"],
      [15, 19, "link", { href: "https://example.com/x" }],
      [20, 26, "code"],
    ]);
    const h = [...server.nodes.keyArray()].map((k) => server.get(k)!).find((x) => x.kind === "heading")!;
    assert.deepEqual(h.props, { level: 2, text: "Title" });
    const ol = [...server.nodes.keyArray()].map((k) => server.get(k)!).find((x) => x.kind === "ordered_list")!;
    assert.deepEqual(ol.props, { order: 3 });
    // a second editor opened on it shows the same document
    const [b] = await eds(doc, "bob");
    assert.ok(b!.editor.state.doc.eq(a!.editor.state.doc));
    assert.deepEqual(modelOfDoc(b!.editor.state.doc), modelOfDoc(a!.editor.state.doc));
  });
});

describe("local transactions become replica edits", () => {
  test("typing and deleting are splices, Enter a split, Backspace a join, drag a move", async () => {
    const doc = await newDoc("Hello world", "Second");
    const [a] = await eds(doc, "ann");
    caret(a!, "p0", 5);
    type(a!, ",");
    run(a!, backspaceChar);
    type(a!, "!");
    await a!.binding.flush();
    caret(a!, "p0", 6);
    run(a!, enter);
    const [id2] = where(a!.editor.state);
    assert.notEqual(id2, "p0");
    type(a!, "new ");
    await a!.binding.flush();
    assert.deepEqual(texts(a!.editor.state), ["Hello!", "new  world", "Second"]);
    // Backspace at the start of the new block joins it back
    caret(a!, id2, 0);
    run(a!, backspace);
    await a!.binding.flush();
    assert.deepEqual(texts(a!.editor.state), ["Hello!new  world", "Second"]);
    // Delete at the end of p0 joins p1 into it
    caret(a!, "p0", 16);
    run(a!, del);
    await a!.binding.flush();
    assert.deepEqual(texts(a!.editor.state), ["Hello!new  worldSecond"]);
    const ops = await log(doc);
    assert.deepEqual(
      ops.map((o) => o["op"]),
      ["text", "split", "text", "join", "join"],
    );
    // the three keystrokes composed into one op of the patch
    assert.deepEqual(ops[0]!["edits"], [[5, 0, "!"]]);
    // no whole-value rewrite anywhere
    assert.ok(ops.every((o) => o["op"] !== "update" || !("text" in ((o["props"] as object) ?? {}))));
    await converged(doc, a!);
  });

  test("dragging a block is a move; typing Enter at the end of a heading makes a paragraph", async () => {
    const doc = await newDoc("one", "two", "three");
    const [a] = await eds(doc, "ann");
    // drag p2 to the top: delete + insert of the same node in one transaction (as a drop does)
    const s = a!.editor.state;
    const node = s.doc.child(2);
    const from = s.doc.child(0).nodeSize + s.doc.child(1).nodeSize;
    a!.editor.dispatch(s.tr.delete(from, from + node.nodeSize).insert(0, node));
    await a!.binding.flush();
    assert.deepEqual(ids(a!.editor.state), ["p2", "p0", "p1"]);
    let ops = await log(doc);
    assert.deepEqual(ops.map((o) => [o["op"], o["key"]]), [["move", "p2"]]);
    // heading: setBlockType, then Enter at its end
    const s2 = a!.editor.state;
    a!.editor.dispatch(s2.tr.setBlockType(1, 2, schema.nodes["heading"]!, { level: 1 }));
    caret(a!, "p2", 5);
    run(a!, enter);
    type(a!, "x");
    await a!.binding.flush();
    const server = await converged(doc, a!);
    assert.equal(server.get("p2")!.kind, "heading");
    assert.equal(server.get("p2")!.props["level"], 1);
    const newId = server.children("root")[1]!;
    assert.equal(server.get(newId)!.kind, "paragraph");
    assert.equal(server.get(newId)!.props["text"], "x");
    ops = await log(doc, 3);
    assert.ok(ops.some((o) => o["op"] === "split"), JSON.stringify(ops));
  });
});

describe("lists and quotes", () => {
  test("wrap in a list, Enter in an item, Tab-less lift, quote: moves and creates, text kept, other editor in step", async () => {
    const doc = await newDoc("item one", "plain");
    const [a, b] = await eds(doc, "ann", "bob");
    caret(a!, "p0", 4);
    assert.ok(run(a!, wrapInList(schema.nodes["bullet_list"]!)));
    caret(a!, "p0", 8);
    assert.ok(run(a!, splitListItem(schema.nodes["list_item"]!)));
    type(a!, "item two");
    caret(b!, "p0", 0);
    type(b!, "* ");
    await a!.binding.flush();
    await b!.binding.flush();
    await settle(a!, b!);
    let server = await converged(doc, a!, b!);
    const list = server.get(server.children("root")[0]!)!;
    assert.equal(list.kind, "bullet_list");
    assert.deepEqual(texts(a!.editor.state), ["* item one", "item two", "plain"]);
    // the first paragraph kept its key inside the list (a move, not a re-create)
    assert.equal(server.get("p0")!.kind, "paragraph");
    assert.equal(server.get(server.get("p0")!.parent!)!.kind, "list_item");
    // lift the second item out of the list; wrap "plain" in a quote
    const [id2] = where(a!.editor.state).length ? [ids(a!.editor.state).find((k) => server.get(k)?.props["text"] === "item two")!] : [""];
    caret(a!, id2!, 0);
    assert.ok(run(a!, liftListItem(schema.nodes["list_item"]!)));
    caret(a!, "p1", 0);
    assert.ok(run(a!, wrapIn(schema.nodes["blockquote"]!)));
    await a!.binding.flush();
    await settle(a!, b!);
    server = await converged(doc, a!, b!);
    assert.deepEqual(server.children("root").map((k) => server.get(k)!.kind), ["bullet_list", "paragraph", "blockquote"]);
    assert.equal(server.get(server.get("p1")!.parent!)!.kind, "blockquote");
    const ops = await log(doc);
    assert.ok(!ops.some((o) => o["op"] === "delete" && (o["key"] === "p0" || o["key"] === "p1")), "no paragraph was deleted and re-created");
  });
});

describe("concurrent editing", () => {
  test("two editors type into the same paragraph at once: both texts survive", async () => {
    const doc = await newDoc("The quick fox.");
    const [a, b] = await eds(doc, "ann", "bob");
    caret(a!, "p0", 9);
    caret(b!, "p0", 14);
    // interleaved keystrokes, each pushed/pulled at different moments
    const sa = " brown";
    const sb = " It jumps.";
    for (let i = 0; i < Math.max(sa.length, sb.length); i++) {
      if (i < sa.length) type(a!, sa[i]!);
      if (i < sb.length) type(b!, sb[i]!);
      if (i % 3 === 0) await a!.binding.flush();
      if (i % 4 === 1) await b!.binding.flush();
      if (i % 5 === 2) await a!.replica.pull();
    }
    await settle(a!, b!);
    const server = await converged(doc, a!, b!);
    assert.equal(server.get("p0")!.props["text"], "The quick brown fox. It jumps.");
    // each caret stayed after its own typing
    assert.deepEqual(where(a!.editor.state), ["p0", 15]);
    assert.deepEqual(where(b!.editor.state), ["p0", 30]);
  });

  test("Enter in the middle of a paragraph while the other types in its second half", async () => {
    const doc = await newDoc("first half second half");
    const [a, b] = await eds(doc, "ann", "bob");
    caret(a!, "p0", 11);
    run(a!, enter);
    caret(b!, "p0", 18);
    type(b!, "typed ");
    await a!.binding.flush();
    await b!.binding.flush();
    await settle(a!, b!);
    const server = await converged(doc, a!, b!);
    const [k0, k1] = server.children("root");
    assert.equal(k0, "p0");
    assert.equal(server.get("p0")!.props["text"], "first half ");
    assert.equal(server.get(k1!)!.props["text"], "second typed half");
    // bob's caret followed his typing into the new block
    assert.deepEqual(where(b!.editor.state), [k1, 13]);
    const ops = await log(doc);
    assert.deepEqual(ops.map((o) => o["op"]), ["split", "text"]);
  });

  test("Backspace at a block's start while the other types in that block", async () => {
    const doc = await newDoc("alpha", "beta");
    const [a, b] = await eds(doc, "ann", "bob");
    caret(a!, "p1", 0);
    run(a!, backspace);
    caret(b!, "p1", 4);
    type(b!, "!!");
    await b!.binding.flush();
    await a!.binding.flush();
    await settle(a!, b!);
    const server = await converged(doc, a!, b!);
    assert.deepEqual(server.children("root"), ["p0"]);
    assert.equal(server.get("p0")!.props["text"], "alphabeta!!");
  });

  test("bold a word while the other edits the same word: the bold covers the edited word", async () => {
    const doc = await newDoc("say hello world");
    const [a, b] = await eds(doc, "ann", "bob");
    caret(a!, "p0", 4, 9); // "hello"
    run(a!, bold);
    caret(b!, "p0", 6);
    type(b!, "LL"); // heLLllo
    caret(b!, "p0", 0);
    type(b!, ">> "); // text before the word: the range must shift
    await a!.binding.flush();
    await b!.binding.flush();
    await settle(a!, b!);
    const server = await converged(doc, a!, b!);
    assert.equal(server.get("p0")!.props["text"], ">> say heLLllo world");
    assert.deepEqual(server.get("p0")!.props["marks"], [[7, 14, "bold"]]);
    // and the other way round: bob's edit first
    const doc2 = await newDoc("say hello world");
    const [c, d] = await eds(doc2, "cat", "dan");
    caret(c!, "p0", 4, 9);
    run(c!, bold);
    caret(d!, "p0", 6);
    type(d!, "LL");
    caret(d!, "p0", 0);
    type(d!, ">> ");
    await d!.binding.flush();
    await c!.binding.flush();
    await settle(c!, d!);
    const server2 = await converged(doc2, c!, d!);
    assert.equal(server2.get("p0")!.props["text"], ">> say heLLllo world");
    assert.deepEqual(server2.get("p0")!.props["marks"], [[7, 14, "bold"]]);
  });

  test("typing inside and around a bold word of the other's shifts the ranges on both sides", async () => {
    const doc = await newDoc({ text: "one two three", marks: [[4, 7, "bold"]] });
    const [a, b] = await eds(doc, "ann", "bob");
    caret(a!, "p0", 0);
    type(a!, "zero ");
    caret(b!, "p0", 13);
    type(b!, " four");
    caret(b!, "p0", 8);
    run(b!, toggleItalic);
    type(b!, "X");
    await a!.binding.flush();
    await b!.binding.flush();
    await settle(a!, b!);
    const server = await converged(doc, a!, b!);
    assert.equal(server.get("p0")!.props["text"], "zero one two Xthree four");
    assert.deepEqual(server.get("p0")!.props["marks"], [[9, 12, "bold"], [13, 14, "italic"]]);
  });

  test("a remote change keeps the local selection where the user was", async () => {
    const doc = await newDoc("0123456789", "second");
    const [a, b] = await eds(doc, "ann", "bob");
    caret(a!, "p0", 4, 7); // "456" selected
    caret(b!, "p0", 0);
    type(b!, "abc");
    caret(b!, "p1", 0);
    run(b!, enter);
    await b!.binding.flush();
    await a!.replica.pull();
    const s = a!.editor.state;
    assert.equal(s.doc.textBetween(s.selection.from, s.selection.to), "456");
    assert.deepEqual(where(s), ["p0", 10]);
    // the remote transaction is not in the local undo history
    run(a!, undo);
    assert.deepEqual(texts(a!.editor.state), ["abc0123456789", "", "second"]);
  });

  test("undo undoes only local edits, also after remote ones", async () => {
    const doc = await newDoc("base");
    const [a, b] = await eds(doc, "ann", "bob");
    caret(a!, "p0", 4);
    type(a!, " ann");
    await a!.binding.flush();
    await b!.replica.pull();
    caret(b!, "p0", 0);
    type(b!, "bob ");
    await b!.binding.flush();
    await a!.replica.pull();
    assert.deepEqual(texts(a!.editor.state), ["bob base ann"]);
    run(a!, undo);
    await a!.binding.flush();
    await settle(a!, b!);
    await converged(doc, a!, b!);
    assert.deepEqual(texts(b!.editor.state), ["bob base"]);
  });

  test("deleting a block the other types in: the typing editor gets a notice, the documents converge", async () => {
    const doc = await newDoc("keep", "doomed");
    const [a, b] = await eds(doc, "ann", "bob");
    const notices: string[] = [];
    b!.binding.on("notice", (x) => notices.push(x.message));
    // ann deletes the whole block (as selecting it and pressing Delete does)
    const sa = a!.editor.state;
    const p1 = sa.doc.child(1);
    const at = sa.doc.child(0).nodeSize;
    a!.editor.dispatch(sa.tr.delete(at, at + p1.nodeSize));
    caret(b!, "p1", 6);
    type(b!, " text");
    await a!.binding.flush();
    await b!.binding.flush();
    await settle(a!, b!);
    const server = await converged(doc, a!, b!);
    assert.deepEqual(server.children("root"), ["p0"]);
    assert.equal(notices.length, 1, notices.join("; "));
    assert.match(notices[0]!, /dropped/);
  });

  test("three editors: typing, Enter and Backspace in each other's blocks converge with every typed word", async () => {
    const doc = await newDoc("aaa bbb ccc", "ddd eee", "fff");
    const es = await eds(doc, "x1", "x2", "x3");
    const words = ["w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8", "w9"];
    let seed = 7;
    const rnd = (k: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % k;
    };
    for (let i = 0; i < words.length; i++) {
      const e = es[i % 3]!;
      const s = e.editor.state;
      // somewhere in some text block
      // at a word boundary of some text block (so nobody types into another's word)
      const spots: [string, number][] = [];
      s.doc.descendants((node) => {
        if (node.isTextblock) {
          const cps = [...node.textContent];
          for (let p = 0; p <= cps.length; p++) if (p === 0 || p === cps.length || cps[p - 1] === " ") spots.push([String(node.attrs["id"]), p]);
        }
        return !node.isTextblock;
      });
      const [id, at] = spots[rnd(spots.length)]!;
      caret(e, id, at);
      type(e, ` ${words[i]} `);
      if (rnd(3) === 0) run(e, enter);
      if (rnd(4) === 0) {
        caret(e, id, 0);
        run(e, backspace);
      }
      if (rnd(2) === 0) await e.binding.flush();
      if (rnd(2) === 0) await es[rnd(3)]!.replica.pull();
    }
    await settle(...es);
    const server = await converged(doc, ...es);
    const all = [...server.nodes.keyArray()].map((k) => String(server.get(k)!.props["text"] ?? "")).join("\n");
    for (const w of words) assert.equal(all.split(w).length - 1, 1, `${w} once in ${JSON.stringify(all)}`);
  });
});

import { toggleMark, wrapIn } from "prosemirror-commands";
import { wrapInList, splitListItem, liftListItem } from "prosemirror-schema-list";
const toggleItalic = toggleMark(schema.marks["em"]!);
