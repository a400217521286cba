// tree.ts: the Rust unit test of client/src/tree.rs and more: snapshots, diffs, check errors,
// attach/detach, the TREE vector format.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Diff, Node, Tree, TreeError, diffFromJson, treeFromVectorJson, treeToVectorJson } from "../src/tree.js";
import { ShapeError } from "../src/json.js";
import { cmpNumberArrays } from "../src/order.js";

const snap = () => ({
  doc: "d",
  gen: 3,
  root: {
    key: "root",
    kind: "doc",
    props: {},
    version: 1,
    gen: 1,
    pos: null,
    children: [
      {
        key: "a",
        kind: "p",
        props: { t: 1 },
        version: 1,
        gen: 2,
        pos: "a0",
        children: [{ key: "a1", kind: "p", props: {}, version: 1, gen: 2, pos: "a0", children: [] }],
      },
      { key: "b", kind: "p", props: {}, version: 2, gen: 3, pos: "a1", children: [] },
    ],
  },
});

test("snapshot and diff round trip", () => {
  const t = Tree.fromSnapshot(snap());
  t.check();
  assert.deepEqual(t.children("root"), ["a", "b"]);
  assert.deepEqual(t.path("a1"), [0, 0]);
  assert.equal(t.gen, 3);
  assert.equal(t.len(), 4);
  assert.equal(t.get("a")!.version, 1);
  assert.equal(t.get("a")!.pos, "a0");
  assert.equal(t.parent("a1"), "a");
  assert.equal(t.parent("root"), null);
  const diff = Diff.fromJson({
    doc: "d",
    from: 3,
    to: 5,
    reset: false,
    nodes: [
      { key: "c", parent: "root", pos: "a0V", kind: "p", props: {}, version: 1, gen: 4 },
      { key: "b", parent: "root", pos: "Zz", kind: "h", props: { x: 2 }, version: 3, gen: 5 },
    ],
    deleted: ["a", "a1"],
  });
  assert.ok(!diff.isEmpty());
  t.applyDiff(diff);
  t.check();
  assert.equal(t.gen, 5);
  assert.deepEqual(t.children("root"), ["b", "c"]);
  assert.equal(t.get("b")!.kind, "h");
  assert.ok(!t.contains("a1"));
  assert.ok(t.outline(10).includes('  b [h] {"x":2}'), t.outline(10));
  assert.equal(t.outline(1), 'root [doc] {}\n… (3 nodes in all)\n');
});

test("a reset diff rebuilds the tree; children sorted by pos bytes then key", () => {
  const t = Tree.fromSnapshot(snap());
  t.applyDiff(
    diffFromJson({
      from: 0,
      to: 9,
      reset: true,
      nodes: [
        { key: "root", parent: null, pos: null, kind: "doc", props: {}, version: 1, gen: 1 },
        { key: "z", parent: "root", pos: "\u{1F600}", kind: "p", props: {}, version: 1, gen: 2 },
        { key: "y", parent: "root", pos: "\uFFFD", kind: "p", props: {}, version: 1, gen: 2 },
        { key: "x", parent: "root", pos: "m", kind: "p", props: {}, version: 1, gen: 2 },
        { key: "w", parent: "root", pos: "m", kind: "p", props: {}, version: 1, gen: 2 },
      ],
      deleted: [],
    }),
  );
  assert.equal(t.gen, 9);
  // byte order: "m" < U+FFFD < U+1F600 (JS's default order would put the astral one first)
  assert.deepEqual(t.children("root"), ["w", "x", "y", "z"]);
  assert.deepEqual(Array.from(t.nodes.keys()), ["root", "w", "x", "y", "z"]);
  assert.throws(() => Tree.fromDiffNodes(1, [{ key: "a", parent: "nope", pos: null, kind: "p", props: {}, version: 1, gen: 1 }]), TreeError);
  assert.throws(() => Tree.fromDiffNodes(1, [{ key: "a", parent: null, pos: null, kind: "p", props: {}, version: 1, gen: 1 }]), /no root in reset diff/);
  assert.ok(new Diff(3, 3, false, [], []).isEmpty());
  assert.ok(!new Diff(3, 3, true, [], []).isEmpty());
});

test("inconsistent diffs and malformed JSON throw TreeError", () => {
  const t = Tree.fromSnapshot(snap());
  assert.throws(() => t.clone().applyDiff(new Diff(2, 4, false, [], [])), /diff from gen 2 applied to a tree at gen 3/);
  assert.throws(
    () => t.clone().applyDiff(new Diff(3, 4, false, [{ key: "q", parent: "nope", pos: "a", kind: "p", props: {}, version: 1, gen: 4 }], [])),
    /diff puts "q" under unknown node "nope"/,
  );
  assert.throws(() => Diff.fromJson({ nodes: 1 }), /"nodes" is not an array/);
  assert.throws(() => Diff.fromJson({ nodes: [], deleted: [3] }), /a deleted key is not a string/);
  assert.throws(() => Diff.fromJson({ nodes: [], deleted: [], from: 1, to: 2, reset: "no" }), /"reset" is not a boolean/);
  assert.throws(() => Diff.fromJson({ nodes: [{ key: "a" }], deleted: [] }), /missing "kind"/);
  assert.throws(() => Diff.fromJson(null), TreeError);
  assert.throws(() => Tree.fromSnapshot({ gen: 1 }), /missing "root"/);
  assert.throws(() => Tree.fromSnapshot({ gen: "1", root: {} }), /"gen" is not an integer/);
  const s = snap();
  (s.root.children[1] as { props: unknown }).props = [];
  assert.throws(() => Tree.fromSnapshot(s), /"props" is not an object/);
});

test("check finds broken trees", () => {
  const t = Tree.fromSnapshot(snap());
  assert.ok(t.isValid());
  const u = t.clone();
  u.get("a1")!.parent = "b";
  assert.throws(() => u.check(), /"a1" is listed under "a" but its parent is Some\("b"\)/);
  const v = t.clone();
  v.nodes.set("orphan", new Node("p", {}, "root"));
  assert.throws(() => v.check(), /1 nodes are not reachable from the root/);
  const w = t.clone();
  w.get("b")!.children.push("ghost");
  assert.throws(() => w.check(), /child "ghost" of "b" is not a node/);
  const x = t.clone();
  x.get("a1")!.children.push("a");
  assert.throws(() => x.check(), TreeError);
  const y = new Tree(1);
  assert.throws(() => y.check(), /child "root" is not a node/);
});

test("attach, detach and the queries", () => {
  const t = Tree.withRoot("doc", { title: "x" });
  assert.equal(t.gen, 1);
  assert.equal(t.get("root")!.version, 1);
  for (const k of ["a", "b", "c"]) {
    t.nodes.set(k, new Node("p", {}, null));
  }
  t.attach("a", "root", "last");
  t.attach("c", "root", "last");
  t.attach("b", "root", { after: "a" });
  assert.deepEqual(t.children("root"), ["a", "b", "c"]);
  const before = t.children("root");
  t.nodes.set("d", new Node("p", {}, null));
  t.attach("d", "b", "first");
  t.nodes.set("e", new Node("p", {}, null));
  t.attach("e", "b", "first");
  assert.deepEqual(t.children("b"), ["e", "d"]);
  t.check();
  assert.deepEqual(t.subtree("root"), ["root", "a", "b", "e", "d", "c"]);
  assert.deepEqual(t.subtree("nope"), []);
  assert.equal(t.depth(), 2);
  assert.equal(t.indexOf("c"), 2);
  assert.equal(t.indexOf("root"), null);
  assert.ok(t.isDescendantOrSelf("d", "b"));
  assert.ok(t.isDescendantOrSelf("b", "b"));
  assert.ok(!t.isDescendantOrSelf("b", "d"));
  // sorting by path is pre-order
  const keys = Array.from(t.nodes.keys()).sort((p, q) => cmpNumberArrays(t.path(p), t.path(q)));
  assert.deepEqual(keys, t.subtree("root"));
  t.detach("b");
  assert.deepEqual(t.children("root"), ["a", "c"]);
  assert.deepEqual(before, ["a", "b", "c"], "arrays from children() are not changed later");
  assert.equal(t.get("b")!.parent, "root", "detach keeps the parent field");
  assert.throws(() => t.attach("b", "nope", "last"), /no node "nope"/);
  assert.throws(() => t.attach("b", "root", { after: "zz" }), /"zz" is not a child of "root"/);
  assert.throws(() => t.attach("zz", "root", "first"), /no node "zz"/);
  const flat = t.flat();
  assert.deepEqual(flat.get("c"), { parent: "root", place: 2, kind: "p", props: {} });
  assert.deepEqual(Array.from(flat.keys()), ["a", "b", "c", "d", "e", "root", "zz"].filter((k) => t.contains(k)));
});

test("clone is deep, equals compares every field", () => {
  const t = Tree.fromSnapshot(snap());
  const u = t.clone();
  assert.ok(t.equals(u));
  u.get("a")!.props["t"] = 2;
  assert.equal(t.get("a")!.props["t"], 1);
  assert.ok(!t.equals(u));
  const v = t.clone();
  v.get("b")!.pos = "zz";
  assert.ok(!t.equals(v));
  assert.ok(t.get("a")!.sameContent(v.get("a")!));
  const n = new Node("p", { a: [1, { b: 2 }] }, "root");
  const m = new Node("p", { a: [1, { b: 2 }] }, "x", ["c"], 5, 6, "q");
  assert.ok(n.sameContent(m));
  assert.ok(!n.equals(m));
  assert.ok(m.clone().equals(m));
});

test("the TREE vector format round trips", () => {
  const t = Tree.fromSnapshot(snap());
  const v = treeToVectorJson(t);
  assert.deepEqual(v.nodes["a"], { kind: "p", props: { t: 1 }, parent: "root", children: ["a1"], version: 1, gen: 2, pos: "a0" });
  assert.equal(v.gen, 3);
  const back = treeFromVectorJson(JSON.parse(JSON.stringify(v)));
  assert.ok(back.equals(t));
  assert.throws(() => treeFromVectorJson({ gen: 1, nodes: { a: { kind: 3 } } }), ShapeError);
  assert.throws(() => treeFromVectorJson([]), ShapeError);
});
