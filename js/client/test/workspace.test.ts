// Workspace tests (ports of cases of client/tests/text_rebase.rs) against a tiny in-test server,
// for the rules the text rebase reports (delete-kept-typing, delete-over-server-edit,
// join-separated, joined-into-deleted, deleted-with-subtree, edit-of-deleted), plus the edit
// errors and the rule coverage of the shared vectors (which hold the exact Rust behaviour).
//
// The server: a tree at a gen and its log of committed patches. A patch based on the current
// gen commits (it is replayed on the tree by blocks.replay, which applies every op kind); a
// stale one is refused, and the workspace rebases (with the log since its shadow, or without
// it: the diff fallback) and resends. Versions are not checked (the real server checks them;
// the client's behaviour here does not depend on it).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { replay } from "../src/blocks.js";
import { EditError, type EditErrorKind } from "../src/errors.js";
import { type Patch, parsePatch, patchToJson } from "../src/patch.js";
import { type Dropped, type Policy, type RuleName, RULE_ORDER, isWarning } from "../src/rebase.js";
import { Node, Tree } from "../src/tree.js";
import { Workspace } from "../src/workspace.js";

class TinyServer {
  tree: Tree;
  log: [number, Patch][] = [];
  withLog = true;

  constructor(t: Tree) {
    this.tree = t;
  }

  /** Applies a patch directly (setup). */
  apply(json: unknown): void {
    this.commit(parsePatch(json));
  }

  private commit(p: Patch): number {
    const gen = this.tree.gen + 1;
    const [t] = replay(this.tree, [[gen, p]]);
    t.gen = gen;
    this.tree = t;
    this.log.push([gen, p]);
    return gen;
  }

  since(gen: number): [number, Patch][] | null {
    return this.withLog ? this.log.filter(([g]) => g > gen) : null;
  }

  /** Sends the workspace's edits; on a refusal rebases and resends (at most `attempts` sends). Returns what the rebases dropped. */
  push(w: Workspace, policy: Policy = "server_wins", attempts = 4): Dropped[] {
    const dropped: Dropped[] = [];
    for (let i = 0; i < attempts; i++) {
      const p = w.patch();
      if (p.ops.length === 0) {
        w.forgetNoopEdits();
        return dropped;
      }
      if (p.base === this.tree.gen) {
        const from = w.shadow().gen;
        const gen = this.commit(p);
        w.committedWith(this.tree.clone(), this.since(from), gen);
        return dropped;
      }
      dropped.push(...w.rebaseWith(this.tree.clone(), this.since(w.shadow().gen), policy)[1]);
    }
    throw new Error(`contention after ${attempts} attempts`);
  }

  pull(w: Workspace, policy: Policy = "server_wins"): Dropped[] {
    return w.rebaseWith(this.tree.clone(), this.since(w.shadow().gen), policy)[1];
  }
}

/** A server with paragraphs p1.. holding `texts`, and `n` workspaces on it. */
function setup(texts: string[], n: number): [TinyServer, Workspace[]] {
  const s = new TinyServer(Tree.withRoot("doc", {}));
  s.apply({ ops: texts.map((t, i) => ({ op: "create", key: `p${i + 1}`, kind: "para", parent: "root", props: { text: t } })) });
  const ws = Array.from({ length: n }, (_, i) => new Workspace(s.tree.clone(), `w${i}.`));
  return [s, ws];
}

const text = (w: Workspace, k: string): string => w.text(k, "text") ?? "<none>";
const rules = (d: Dropped[]): [string, RuleName][] => d.map((x) => [x.key, x.rule.name]);

function flat(t: Tree): unknown {
  const out: Record<string, unknown> = {};
  for (const [k, e] of t.flat()) out[k] = e;
  return out;
}

/** Pushes everyone, then pulls everyone, and checks every workspace equals the server. */
function settle(s: TinyServer, ws: Workspace[]): void {
  for (const w of ws) s.push(w);
  for (const w of ws) {
    s.pull(w);
    assert.ok(!w.hasLocalEdits());
    assert.deepEqual(flat(w.tree()), flat(s.tree));
  }
}

const onServer = (s: TinyServer, word: string): boolean =>
  [...s.tree.nodes.values()].some((n) => Object.values(n.props).some((v) => typeof v === "string" && v.includes(word)));

test("concurrent splices in one paragraph all survive (with and without the log)", () => {
  for (const withLog of [true, false]) {
    const [s, ws] = setup(["Hello world"], 2);
    s.withLog = withLog;
    ws[0]!.splice("p1", "text", 5, 0, " brave");
    ws[1]!.splice("p1", "text", 11, 0, "!");
    ws[1]!.splice("p1", "text", 5, 0, ",");
    assert.deepEqual(patchToJson(ws[1]!.patch()).ops, [{ op: "text", key: "p1", version: 1, prop: "text", edits: [[5, 0, ","], [12, 0, "!"]] }]);
    s.push(ws[0]!);
    assert.deepEqual(s.push(ws[1]!), []);
    settle(s, ws);
    assert.equal(text(ws[0]!, "p1"), "Hello brave, world!", `withLog=${withLog}`);
  }
});

test("typing and a cursor follow a split made by someone else", () => {
  const [s, ws] = setup(["Hello world"], 2);
  ws[0]!.split("p1", "text", 5, "n1");
  s.push(ws[0]!);
  ws[1]!.splice("p1", "text", 11, 0, "!");
  ws[1]!.splice("p1", "text", 0, 0, "Oh, ");
  ws[1]!.setCursor("c", "p1", "text", 16);
  s.pull(ws[1]!);
  assert.equal(text(ws[1]!, "p1"), "Oh, Hello");
  assert.equal(text(ws[1]!, "n1"), " world!");
  assert.deepEqual(ws[1]!.cursor("c"), { key: "n1", prop: "text", at: 7 });
  settle(s, ws);
  assert.deepEqual(ws[0]!.children("root"), ["p1", "n1"]);
});

test("a join keeps what others typed into next", () => {
  const [s, ws] = setup(["First.", "Second"], 2);
  ws[1]!.splice("p2", "text", 6, 0, " words by ws1");
  s.push(ws[1]!);
  assert.equal(ws[0]!.join("p1", "p2", "text"), "p1");
  ws[0]!.splice("p1", "text", 6, 0, " ");
  ws[0]!.setCursor("c", "p1", "text", 7);
  assert.equal(patchToJson(ws[0]!.patch()).ops[0]!["op"], "join");
  assert.deepEqual(s.push(ws[0]!), []);
  settle(s, ws);
  assert.equal(text(ws[0]!, "p1"), "First. Second words by ws1");
  assert.equal(ws[0]!.get("p2"), undefined);
});

test("concurrent Enter and Backspace compose", () => {
  const [s, ws] = setup(["one", "two three"], 3);
  ws[0]!.split("p2", "text", 4, "n0");
  ws[1]!.join("p1", "p2", "text");
  ws[2]!.splice("p2", "text", 9, 0, " four");
  settle(s, ws);
  assert.deepEqual(ws[0]!.children("root"), ["p1", "n0"]);
  assert.deepEqual([text(ws[0]!, "p1"), text(ws[0]!, "n0")], ["onetwo ", "three four"]);
});

test("delete-kept-typing: a plain delete of a block others typed into keeps their text", () => {
  for (const withLog of [true, false]) {
    const [s, ws] = setup(["keep", "old text", "other"], 2);
    s.withLog = withLog;
    ws[1]!.splice("p2", "text", 8, 0, " new words");
    s.push(ws[1]!);
    ws[0]!.delete("p2");
    ws[0]!.delete("p3");
    const d = s.push(ws[0]!);
    assert.deepEqual(rules(d), [["p2", "delete-kept-typing"]], `withLog=${withLog}`);
    settle(s, ws);
    assert.equal(text(ws[0]!, "p2"), " new words");
    assert.equal(ws[0]!.get("p3"), undefined);
  }
});

test("delete-kept-typing: a deleted section stays as a shell for the paragraph others typed into", () => {
  const s = new TinyServer(Tree.withRoot("doc", {}));
  s.apply({
    ops: [
      { op: "create", key: "sec", kind: "section", parent: "root", props: { text: "Title" } },
      { op: "create", key: "a", kind: "para", parent: "sec", props: { text: "A" } },
      { op: "create", key: "b", kind: "para", parent: "sec", props: { text: "B" } },
    ],
  });
  const ws = [0, 1].map((i) => new Workspace(s.tree.clone(), `w${i}.`));
  ws[1]!.splice("b", "text", 1, 0, " typed");
  s.push(ws[1]!);
  ws[0]!.delete("sec");
  const d = s.push(ws[0]!);
  assert.deepEqual(rules(d), [["b", "delete-kept-typing"]]);
  settle(s, ws);
  assert.deepEqual(ws[0]!.children("sec"), ["b"]);
  assert.deepEqual([text(ws[0]!, "sec"), text(ws[0]!, "b")], ["", " typed"]);
});

test("delete-over-server-edit: a delete re-sent over a non-text edit is reported as a warning", () => {
  const [s, ws] = setup(["a", "b"], 2);
  ws[1]!.update("p2", null, { bold: true });
  s.push(ws[1]!);
  ws[0]!.delete("p2");
  const d = s.push(ws[0]!);
  assert.deepEqual(rules(d), [["p2", "delete-over-server-edit"]]);
  assert.ok(isWarning(d[0]!));
  settle(s, ws);
  assert.equal(ws[1]!.get("p2"), undefined);
});

test("edit-of-deleted: typing in a block the server deleted is dropped and reported", () => {
  const [s, ws] = setup(["a", "b"], 2);
  ws[1]!.delete("p2");
  s.push(ws[1]!);
  ws[0]!.splice("p2", "text", 1, 0, "x");
  assert.deepEqual(rules(s.push(ws[0]!)), [["p2", "edit-of-deleted"]]);
  settle(s, ws);
});

test("join-separated: a local join of blocks someone moved to different parents", () => {
  const [s, ws] = setup(["sec", "one", "two"], 2);
  ws[1]!.moveTo("p3", "p1", "last");
  s.push(ws[1]!);
  ws[0]!.join("p2", "p3", "text");
  ws[0]!.splice("p2", "text", 6, 0, "!");
  const d = s.push(ws[0]!);
  assert.deepEqual(rules(d), [["p3", "join-separated"]]);
  settle(s, ws);
  // the blocks stay apart; what was typed after the join stays in the block it was typed into
  assert.deepEqual([text(ws[0]!, "p2"), text(ws[0]!, "p3")], ["one", "two!"]);
  assert.deepEqual(ws[0]!.children("p1"), ["p3"]);
});

test("joined-into-deleted: typing carried by someone's join into a block deleted locally is reported", () => {
  const [s, ws] = setup(["first", "second"], 2);
  ws[1]!.join("p1", "p2", "text");
  s.push(ws[1]!);
  ws[0]!.splice("p2", "text", 6, 0, " [word]");
  ws[0]!.delete("p1");
  const d = s.push(ws[0]!);
  assert.ok(!onServer(s, "[word]"));
  assert.ok(d.some((x) => x.key === "p2" && x.rule.name === "joined-into-deleted"), JSON.stringify(rules(d)));
  assert.ok(!d.some((x) => x.rule.name === "text-misfit"));
  settle(s, ws);
});

test("deleted-with-subtree: typing into a block the server moved into a local delete is reported", () => {
  for (const withLog of [true, false]) {
    for (const split of [false, true]) {
      const [s, ws] = setup(["doomed", "moved block"], 2);
      s.withLog = withLog;
      ws[1]!.moveTo("p2", "p1", "last");
      s.push(ws[1]!);
      if (split) ws[0]!.split("p2", "text", 5, ws[0]!.freshKey());
      ws[0]!.splice("p2", "text", 0, 0, "[word] ");
      ws[0]!.delete("p1");
      const d = s.push(ws[0]!);
      const reported = d.some((x) => x.key === "p2" && x.rule.name === "deleted-with-subtree");
      assert.ok(onServer(s, "[word]") || reported, `withLog=${withLog} split=${split}: ${JSON.stringify(rules(d))}`);
      assert.ok(!d.some((x) => x.rule.name === "text-misfit"));
      settle(s, ws);
    }
  }
});

test("the result does not depend on how pulls are grouped", () => {
  const [s, ws] = setup(["a b c", "d e"], 1);
  const other = ws[0]!;
  const mk = (): Workspace => {
    const w = new Workspace(s.tree.clone(), "l.");
    w.splice("p1", "text", 2, 0, "L1 ");
    w.splice("p2", "text", 0, 0, "L2 ");
    w.setCursor("c", "p2", "text", 3);
    return w;
  };
  const local = mk();
  const step = local.clone();
  other.splice("p1", "text", 2, 0, "S1 ");
  s.push(other);
  s.pull(step);
  other.split("p1", "text", 5, "o1");
  s.push(other);
  s.pull(step);
  other.join("o1", "p2", "text");
  s.push(other);
  s.pull(step);
  s.pull(local);
  assert.deepEqual(flat(step.tree()), flat(local.tree()));
  assert.deepEqual(step.cursor("c"), local.cursor("c"));
  assert.equal(text(local, "p1"), "a S1 ");
  assert.equal(text(local, "o1"), "L1 b cL2 d e");
  assert.deepEqual(local.cursor("c"), { key: "o1", prop: "text", at: 9 });
});

test("edit errors: the kind and the Rust message, the state unchanged", () => {
  const [, ws] = setup(["abc", "def"], 1);
  const w = ws[0]!;
  w.update("p2", null, { n: 1 });
  const before = JSON.stringify(patchToJson(w.patch()));
  const err = (kind: EditErrorKind, message: string, f: () => unknown): void => {
    assert.throws(f, (e: unknown) => e instanceof EditError && e.kind === kind && e.message === message);
    assert.equal(JSON.stringify(patchToJson(w.patch())), before);
  };
  err("NoSuchNode", 'no node "zz" in the local tree', () => w.splice("zz", "text", 0, 0, "x"));
  err("Root", "the root cannot be moved, deleted, split or joined", () => w.delete("root"));
  err("BadAnchor", '"zz" is not a child of the new parent', () => w.moveTo("p1", "root", { after: "zz" }));
  err("Cycle", "a node cannot move under itself", () => w.moveTo("p1", "p1", "last"));
  err("KeyExists", 'key "p2" exists already', () => w.createWithKey("p2", "root", "last", "para", {}));
  err("NotText", '"n" of "p2" is not a string', () => w.splice("p2", "n", 0, 0, "x"));
  err("OutOfRange", '[2, 5] reaches past the end of the text of "p1" (3 code points)', () => w.splice("p1", "text", 2, 5, ""));
  err("NotAdjacent", '"p1" is not the next sibling of "p2"', () => w.join("p2", "p1", "text"));
});

test("cursors follow local edits and are listed by name in code point order", () => {
  const [, ws] = setup(["Hello"], 1);
  const w = ws[0]!;
  w.setCursor("\u{1F600}", "p1", "text", 5);
  w.setCursor("\uFF5E", "p1", "text", 0);
  w.setCursor("a", "p1", "text", 2);
  w.splice("p1", "text", 0, 0, "😀 ");
  assert.deepEqual([...w.cursors().keys()], ["a", "\uFF5E", "\u{1F600}"]);
  assert.deepEqual(w.cursor("a"), { key: "p1", prop: "text", at: 4 });
  assert.deepEqual(w.cursor("\uFF5E"), { key: "p1", prop: "text", at: 2 });
  assert.deepEqual(w.cursor("\u{1F600}"), { key: "p1", prop: "text", at: 7 });
  w.split("p1", "text", 4, "n");
  assert.deepEqual(w.cursor("\u{1F600}"), { key: "n", prop: "text", at: 3 });
  w.delete("n");
  assert.equal(w.cursor("\u{1F600}"), undefined);
  assert.ok(w.hasCursors());
  w.removeCursor("a");
  w.removeCursor("\uFF5E");
  assert.ok(!w.hasCursors());
});

test("the shared vectors exercise every rule a rebase reports", () => {
  const path = fileURLToPath(new URL("../../../../tests/vectors/workspace.json", import.meta.url));
  assert.ok(existsSync(path), `${path} is missing`);
  const file = JSON.parse(readFileSync(path, "utf8")) as { cases: { steps: { call: string; result?: { rule: string }[] }[] }[] };
  const seen = new Set<string>();
  for (const c of file.cases) for (const s of c.steps) if (s.call === "rebase_with") for (const d of s.result ?? []) seen.add(d.rule);
  // every rule but text-misfit (an internal error, never expected)
  for (const r of RULE_ORDER.filter((n) => n !== "text-misfit")) {
    assert.ok(seen.has(r), `no vector reports ${r}`);
  }
});


test("a workspace takes a shadow with a root only", () => {
  const t = Tree.withRoot("doc", {});
  t.nodes.get("root")!.props = { title: "x" };
  const w = new Workspace(t, "k.");
  assert.ok(!w.hasLocalEdits());
  const k = w.create("root", "first", "para", { text: "hi", gone: null });
  assert.equal(k, "k.1");
  assert.ok(w.get(k) instanceof Node);
  assert.deepEqual(w.get(k)!.props, { text: "hi" });
  assert.deepEqual(patchToJson(w.patch()), { base: 1, ops: [{ op: "create", key: "k.1", kind: "para", props: { text: "hi" }, parent: "root", after: null }] });
});
