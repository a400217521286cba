// Port of client/src/rebase/tests.rs: the state rebase (rules 1-5) and make_patch.
import { test } from "node:test";
import assert from "node:assert/strict";
import { type Props } from "../src/json.js";
import { type Place, patchToJson } from "../src/patch.js";
import { type Rebased, type Rule, isWarning, makePatch, mergeText, rebase, ruleName } from "../src/rebase.js";
import { Node, Tree } from "../src/tree.js";

/** A tree from `[key, parent, props]` in child order. */
function tree(gen: number, rows: [string, string, Props][]): Tree {
  const t = Tree.withRoot("doc", {});
  t.gen = gen;
  rows.forEach(([k, p, props], i) => {
    const n = new Node("p", structuredClone(props), p);
    n.version = 1;
    n.pos = `a${String(i).padStart(3, "0")}`;
    t.nodes.set(k, n);
    const pn = t.nodes.get(p)!;
    pn.children = [...pn.children, k];
  });
  t.check();
  return t;
}

const kids = (t: Tree, k: string): string[] => t.children(k).slice();

function moveLocal(t: Tree, k: string, parent: string, place: Place): void {
  t.detach(k);
  t.attach(k, parent, place);
}

function addLocal(t: Tree, k: string, parent: string, place: Place, kind = "p", props: Props = {}): void {
  t.nodes.set(k, new Node(kind, props, null));
  t.attach(k, parent, place);
}

function removeNode(t: Tree, k: string): void {
  t.detach(k);
  t.nodes.remove(k);
}

const rules = (r: Rebased): [string, Rule][] => r.dropped.map((d) => [d.key, d.rule]);
const node = (t: Tree, k: string): Node => t.get(k)!;

// ---- rule 1: props per key ----

test("props changed only locally survive and server changes come in", () => {
  const base = tree(2, [["a", "root", { x: 1, y: 1, z: 1 }]]);
  const local = base.clone();
  node(local, "a").props = { x: 2, y: 1, z: 1 };
  const remote = base.clone();
  remote.gen = 3;
  node(remote, "a").props = { x: 1, y: 5 };
  const r = rebase(base, local, [], remote, "server_wins");
  assert.deepEqual(node(r.local, "a").props, { x: 2, y: 5 });
  assert.deepEqual(r.dropped, []);
  assert.ok(r.dirty.has("a"));
});

test("prop-conflict and kind-conflict: server wins and it is reported; local wins", () => {
  const base = tree(2, [["a", "root", { x: 1 }]]);
  const local = base.clone();
  node(local, "a").props["x"] = 2;
  node(local, "a").kind = "h1";
  const remote = base.clone();
  node(remote, "a").props["x"] = [3];
  node(remote, "a").kind = "h2";
  let r = rebase(base, local, [], remote, "server_wins");
  assert.deepEqual(node(r.local, "a").props["x"], [3]);
  assert.equal(node(r.local, "a").kind, "h2");
  assert.deepEqual(rules(r), [
    ["a", { name: "prop-conflict", prop: "x" }],
    ["a", { name: "kind-conflict" }],
  ]);
  assert.deepEqual(r.dropped.map((d) => ruleName(d.rule)), ["prop-conflict", "kind-conflict"]);
  assert.ok(!r.dirty.has("a"), "nothing left to send");
  // local wins
  r = rebase(base, local, [], remote, "local_wins");
  assert.equal(node(r.local, "a").props["x"], 2);
  assert.equal(node(r.local, "a").kind, "h1");
  assert.deepEqual(r.dropped, []);
  const p = makePatch(remote, r.local, r.placed, r.dirty);
  assert.deepEqual(p.ops, [{ op: "update", key: "a", version: 1, kind: "h1", props: { x: 2 } }]);
});

test("strings changed on both sides merge as text under either policy", () => {
  const base = tree(2, [["a", "root", { t: "Hello world", n: 1 }]]);
  const local = base.clone();
  node(local, "a").props["t"] = "Hello brave world";
  const remote = base.clone();
  node(remote, "a").props["t"] = "Hello world, again";
  for (const policy of ["server_wins", "local_wins"] as const) {
    const r = rebase(base, local, [], remote, policy);
    assert.equal(node(r.local, "a").props["t"], "Hello brave world, again", policy);
    assert.deepEqual(r.dropped, []);
    assert.ok(r.dirty.has("a"));
  }
  // a local non-string value never replaces text the server changed, even if local wins
  for (const mine of [5, { t: "x" }]) {
    const l2 = base.clone();
    node(l2, "a").props["t"] = mine;
    const r = rebase(base, l2, [], remote, "local_wins");
    assert.equal(node(r.local, "a").props["t"], "Hello world, again");
    assert.deepEqual(rules(r), [["a", { name: "prop-conflict", prop: "t" }]]);
  }
  // a string the local side removed while the server typed: only the server's new text stays
  const l3 = base.clone();
  delete node(l3, "a").props["t"];
  const r = rebase(base, l3, [], remote, "local_wins");
  assert.equal(node(r.local, "a").props["t"], ", again");
});

test("the same change on both sides is not a conflict", () => {
  const base = tree(2, [["a", "root", { x: 1 }]]);
  const local = base.clone();
  delete node(local, "a").props["x"];
  const remote = base.clone();
  delete node(remote, "a").props["x"];
  const r = rebase(base, local, [], remote, "server_wins");
  assert.deepEqual(r.dropped, []);
  assert.deepEqual(node(r.local, "a").props, {});
});

test("merge_text: the server's text first where both inserted at one offset", () => {
  assert.equal(mergeText("Hello world", "Hello, world", "Hello brave world"), "Hello brave, world");
  assert.equal(mergeText("abc", "abc", "abXc"), "abXc");
  assert.equal(mergeText("😀b", "😀xb", "😀by"), "😀xby");
});

// ---- rule 2: anchors ----

test("placed nodes follow their anchor among the server's order", () => {
  // base: a b c ; local creates n after b ; server inserts s after a and moves c first
  const base = tree(2, [
    ["a", "root", {}],
    ["b", "root", {}],
    ["c", "root", {}],
  ]);
  const local = base.clone();
  addLocal(local, "n", "root", { after: "b" });
  const remote = base.clone();
  remote.nodes.set("s", new Node("p", {}, "root"));
  node(remote, "root").children = ["c", "a", "s", "b"];
  const r = rebase(base, local, ["n"], remote, "server_wins");
  assert.deepEqual(kids(r.local, "root"), ["c", "a", "s", "b", "n"]);
  const p = makePatch(remote, r.local, r.placed, r.dirty);
  assert.deepEqual(p.ops, [{ op: "create", key: "n", kind: "p", props: {}, parent: "root", place: { after: "b" } }]);
});

test("a missing anchor falls back to the nearest surviving sibling", () => {
  const base = tree(2, [
    ["a", "root", {}],
    ["b", "root", {}],
    ["c", "root", {}],
  ]);
  const local = base.clone();
  addLocal(local, "n1", "root", { after: "b" });
  addLocal(local, "n2", "root", { after: "n1" });
  const remote = base.clone();
  removeNode(remote, "b");
  let r = rebase(base, local, ["n1", "n2"], remote, "server_wins");
  assert.deepEqual(kids(r.local, "root"), ["a", "n1", "n2", "c"]);
  // and when no earlier sibling survives: first
  const remote2 = remote.clone();
  removeNode(remote2, "a");
  r = rebase(base, local, ["n1", "n2"], remote2, "server_wins");
  assert.deepEqual(kids(r.local, "root"), ["n1", "n2", "c"]);
  const p = makePatch(remote2, r.local, r.placed, r.dirty);
  assert.equal(p.ops[0]!.op, "create");
  assert.deepEqual([p.ops[0]!.key, (p.ops[0] as { place: Place }).place], ["n1", "first"]);
  assert.deepEqual([p.ops[1]!.key, (p.ops[1] as { place: Place }).place], ["n2", { after: "n1" }]);
});

// ---- rule 3: edits of deleted nodes ----

test("edit-of-deleted, move-under-deleted, create-under-deleted", () => {
  const base = tree(2, [
    ["a", "root", { x: 1 }],
    ["b", "root", {}],
    ["a1", "a", {}],
  ]);
  const local = base.clone();
  node(local, "a").props["x"] = 2;
  // a create under a, and a move of b under a1
  addLocal(local, "n", "a", "last");
  moveLocal(local, "b", "a1", "last");
  const remote = base.clone();
  for (const k of ["a", "a1"]) remote.nodes.remove(k);
  node(remote, "root").children = ["b"];
  const r = rebase(base, local, ["n", "b"], remote, "server_wins");
  assert.deepEqual(rules(r), [
    ["a", { name: "edit-of-deleted" }],
    ["b", { name: "move-under-deleted" }],
    ["n", { name: "create-under-deleted" }],
  ]);
  assert.deepEqual(kids(r.local, "root"), ["b"]);
  assert.equal(r.local.len(), 2);
  assert.deepEqual(makePatch(remote, r.local, r.placed, r.dirty).ops, []);
});

// ---- rule 4: local delete vs server edit ----

test("a local delete of a server-edited node is re-sent with the new version (delete-over-server-edit, deleted-with-subtree)", () => {
  const base = tree(2, [
    ["a", "root", {}],
    ["a1", "a", {}],
    ["b", "root", {}],
  ]);
  const local = base.clone();
  local.nodes.remove("a1");
  local.nodes.remove("a");
  node(local, "root").children = ["b"];
  const remote = base.clone();
  remote.gen = 4;
  node(remote, "a").version = 3;
  node(remote, "a").props["x"] = 1;
  // the server also added a child under a
  remote.nodes.set("s", new Node("p", {}, "a"));
  node(remote, "a").children = [...node(remote, "a").children, "s"];
  let r = rebase(base, local, [], remote, "server_wins");
  // re-sent, and reported: the server's prop change and new child go with it
  assert.deepEqual(rules(r), [["a", { name: "delete-over-server-edit" }]]);
  assert.ok(isWarning(r.dropped[0]!));
  assert.ok(isWarning({ name: "delete-over-server-edit" }));
  assert.ok(!isWarning({ name: "edit-of-deleted" }));
  assert.equal(r.local.len(), 2);
  const p = makePatch(remote, r.local, r.placed, r.dirty);
  assert.deepEqual(p.ops, [{ op: "delete", key: "a", version: 3 }]);
  assert.equal(p.base, 4);

  // the server moved b (with a local prop edit) into a
  const local2 = local.clone();
  node(local2, "b").props["y"] = 1;
  const remote2 = remote.clone();
  node(remote2, "root").children = ["a"];
  node(remote2, "a").children = [...node(remote2, "a").children, "b"];
  node(remote2, "b").parent = "a";
  r = rebase(base, local2, [], remote2, "server_wins");
  assert.deepEqual(rules(r), [
    ["a", { name: "delete-over-server-edit" }],
    ["b", { name: "deleted-with-subtree" }],
  ]);
  assert.equal(r.local.len(), 1);
});

// ---- rule 5: cycles ----

test("move-cycle: a local move that would form a cycle is dropped", () => {
  // base: a, b siblings. local: b under a. server: a under b.
  const base = tree(2, [
    ["a", "root", {}],
    ["b", "root", {}],
  ]);
  const local = base.clone();
  moveLocal(local, "b", "a", "last");
  const remote = base.clone();
  node(remote, "root").children = ["b"];
  node(remote, "b").children = ["a"];
  node(remote, "a").parent = "b";
  const r = rebase(base, local, ["b"], remote, "server_wins");
  assert.deepEqual(rules(r), [["b", { name: "move-cycle" }]]);
  assert.deepEqual(kids(r.local, "b"), ["a"]);
  assert.deepEqual(makePatch(remote, r.local, r.placed, r.dirty).ops, []);
});

// ---- make_patch ----

test("make_patch orders ops so they apply", () => {
  // base: a > x ; local: create n under root first, move x under n, delete a, update x
  const base = tree(5, [
    ["a", "root", {}],
    ["x", "a", { t: 1 }],
  ]);
  const local = base.clone();
  addLocal(local, "n", "root", "first", "sec", { t: "n" });
  moveLocal(local, "x", "n", "last");
  local.detach("a");
  local.nodes.remove("a");
  delete node(local, "x").props["t"];
  const patch = makePatch(base, local, ["n", "x"], ["n", "x", "a"]);
  assert.deepEqual(patchToJson(patch), {
    base: 5,
    ops: [
      { op: "create", key: "n", kind: "sec", props: { t: "n" }, parent: "root", after: null },
      { op: "move", key: "x", version: 1, parent: "n", after: null },
      { op: "update", key: "x", version: 1, props: { t: null } },
      { op: "delete", key: "a", version: 1 },
    ],
  });
});

test("make_patch and rebase iterate keys in code point order (not UTF-16 order)", () => {
  // U+FF5E sorts below U+1F600 in code point order, above it in UTF-16 order
  const base = tree(2, [["a", "root", {}]]);
  const local = base.clone();
  addLocal(local, "\u{1F600}", "a", "last");
  addLocal(local, "\uFF5E", "a", "last");
  const remote = base.clone();
  remote.nodes.remove("a");
  node(remote, "root").children = [];
  const r = rebase(base, local, ["\u{1F600}", "\uFF5E"], remote, "server_wins");
  assert.deepEqual(
    r.dropped.map((d) => d.key),
    ["\uFF5E", "\u{1F600}"],
  );
});
