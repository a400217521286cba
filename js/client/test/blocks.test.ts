// Port of client/src/blocks/tests.rs: the block transform against a small list model (the
// property tests, on a seeded generator), and the unit cases; plus apply/replay/diff_ops on trees.
import { test } from "node:test";
import assert from "node:assert/strict";
import { type BOp, type Lost, apply, agrees, bopEqual, bopToString, diffOps, mapCaretThrough, replay, transform } from "../src/blocks.js";
import { SortedSet } from "../src/order.js";
import { TextOp } from "../src/ot.js";
import { parsePatch } from "../src/patch.js";
import { type Edit } from "../src/text.js";
import { Node, Tree } from "../src/tree.js";

// A list of blocks under one parent, each a list of characters, all distinct (base characters
// below U+E000, the server's inserts from U+E000, the local side's from U+F000).
type World = [string, string[]][];

const SERVER = 0xe000;
const LOCAL = 0xf000;

function find(w: World, k: string): number {
  return w.findIndex(([x]) => x === k);
}

function worldApply(w: World, op: BOp): void {
  switch (op.type) {
    case "text": {
      const i = find(w, op.key);
      if (i < 0) throw new Error(`no block ${op.key}`);
      const out = op.op.apply(w[i]![1].join(""));
      w[i]![1] = Array.from(out);
      return;
    }
    case "split": {
      const i = find(w, op.key);
      if (i < 0) throw new Error("split: no key");
      const b = w[i]![1];
      if (b.length !== op.len || op.at > op.len || find(w, op.new) >= 0) throw new Error(`split misfit ${bopToString(op)} on ${JSON.stringify(w[i])}`);
      const tail = b.splice(op.at);
      w.splice(i + 1, 0, [op.new, tail]);
      return;
    }
    case "join": {
      const i = find(w, op.key);
      if (i < 0) throw new Error("join: no key");
      if (find(w, op.next) !== i + 1) throw new Error(`join of non-adjacent ${op.key} ${op.next}: ${JSON.stringify(w)}`);
      if (w[i]![1].length !== op.len || w[i + 1]![1].length !== op.nextLen) throw new Error(`join misfit ${bopToString(op)}`);
      const [[, t]] = w.splice(i + 1, 1) as [[string, string[]]];
      w[i]![1].push(...t);
      return;
    }
    case "gone":
      for (let i = w.length - 1; i >= 0; i--) if (op.keys.has(w[i]![0])) w.splice(i, 1);
      return;
    default:
      return;
  }
}

const flat = (w: World): string[] => w.flatMap(([, v]) => v);
const clone = (w: World): World => w.map(([k, v]) => [k, v.slice()]);

/** A small deterministic generator (xorshift). */
class Rng {
  constructor(private s: number) {}
  next(): number {
    let x = this.s | 0;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x;
    return (x >>> 0) / 2 ** 32;
  }
  below(n: number): number {
    return Math.floor(this.next() * n);
  }
}

type Raw = [number, number, number, number][];

function raw(r: Rng): Raw {
  const n = r.below(7);
  const out: Raw = [];
  for (let i = 0; i < n; i++) out.push([r.below(256), r.below(8), r.below(12), r.below(12)]);
  return out;
}

/** Random valid ops on `w`, made by `side` (new keys side + n, inserted characters from next.v), applied to `w`. */
function randomOps(w: World, side: string, rs: Raw, next: { v: number }, allowGone: boolean): BOp[] {
  const ops: BOp[] = [];
  let n = 0;
  for (const [kind, b, x, y] of rs) {
    if (w.length === 0) break;
    const i = b % w.length;
    const [key, cur] = w[i]!;
    const len = cur.length;
    let op: BOp;
    const k = kind % 8;
    if (k <= 3) {
      const at = x % (len + 1);
      const del = k === 3 ? y % (len - at + 1) : 0;
      let ins = "";
      if (!(k === 3 && y % 2 === 0)) {
        next.v += 2;
        ins = String.fromCodePoint(next.v - 1) + String.fromCodePoint(next.v);
      }
      op = { type: "text", key, prop: "t", op: new TextOp().retain(at).insert(ins).delete(del).retain(len - at - del) };
    } else if (k === 4 || k === 5) {
      n += 1;
      op = { type: "split", key, prop: "t", at: x % (len + 1), new: `${side}${n}`, len };
    } else if (k === 6 && i + 1 < w.length) {
      const [nk, nt] = w[i + 1]!;
      op = { type: "join", key, next: nk, prop: "t", len, nextLen: nt.length };
    } else if (k === 7 && allowGone && w.length > 1) {
      op = { type: "gone", keys: new SortedSet([key]) };
    } else {
      continue;
    }
    worldApply(w, op);
    ops.push(op);
  }
  return ops;
}

function start(n: number, per: number): World {
  const c = (i: number): string => String.fromCodePoint(0x100 + i);
  const out: World = [];
  for (let i = 0; i < n; i++) {
    const v: string[] = [];
    for (let j = i * per; j < (i + 1) * per; j++) v.push(c(j));
    out.push([`b${i}`, v]);
  }
  return out;
}

const side = (v: string[], lo: number, hi: number): string[] => v.filter((c) => c.codePointAt(0)! >= lo && c.codePointAt(0)! < hi);

test("blocks converge and keep every character (seeded property test)", () => {
  const rng = new Rng(0x2545f491);
  for (let iter = 0; iter < 1500; iter++) {
    const nb = 1 + rng.below(3);
    const rs = raw(rng);
    const rl = raw(rng);
    const gone = rng.below(2) === 1;
    const w0 = start(nb, 3);
    const ws = clone(w0);
    const wl = clone(w0);
    const s = randomOps(ws, "s", rs, { v: SERVER }, gone);
    const l = randomOps(wl, "l", rl, { v: LOCAL }, false);
    const [lp, sp, lost] = transform(s, l);
    const ctx = () => `iter ${iter}\ns=${s.map(bopToString).join("; ")}\nl=${l.map(bopToString).join("; ")}\nlp=${lp.map(bopToString).join("; ")}\nsp=${sp.map(bopToString).join("; ")}`;
    assert.ok(!lost.some((x) => x.lost === "misfit"), `misfit ${JSON.stringify(lost)} ${ctx()}`);
    const a = clone(ws);
    for (const op of lp) worldApply(a, op);
    const b = clone(wl);
    for (const op of sp) worldApply(b, op);
    assert.deepEqual(a, b, ctx());
    const fa = flat(a);
    const keepL = side(flat(wl), LOCAL, 0x10000);
    const gotL = side(fa, LOCAL, 0x10000);
    if (lost.some((x) => x.lost === "deleted")) assert.ok(gotL.every((c) => keepL.includes(c)), ctx());
    else assert.deepEqual(gotL, keepL, ctx());
    assert.deepEqual(side(fa, SERVER, LOCAL), side(flat(ws), SERVER, LOCAL), ctx());
    const baseSet = (v: string[]) => new Set(side(v, 0, SERVER));
    const bs = baseSet(flat(ws));
    const want = [...baseSet(flat(wl))].filter((c) => bs.has(c)).sort();
    assert.deepEqual([...baseSet(fa)].sort(), want, ctx());
    // each side's characters keep that side's order in the result
    for (const view of [flat(wl), flat(ws)]) {
      const present = view.map((c) => fa.indexOf(c)).filter((i) => i >= 0);
      for (let i = 1; i < present.length; i++) assert.ok(present[i - 1]! < present[i]!, `order broken ${ctx()}`);
    }
  }
});

test("a caret maps to where a local insert at it lands (seeded property test)", () => {
  const rng = new Rng(0x1badb002);
  for (let iter = 0; iter < 1500; iter++) {
    const nb = 1 + rng.below(3);
    const rs = raw(rng);
    const bi = rng.below(4);
    const x = rng.below(12);
    const w0 = start(nb, 3);
    const ws = clone(w0);
    const s = randomOps(ws, "s", rs, { v: SERVER }, true);
    const [key, cur] = w0[bi % nb]!;
    const at = x % (cur.length + 1);
    const mark: BOp = { type: "text", key, prop: "t", op: new TextOp().retain(at).insert("\u2022").retain(cur.length - at) };
    const [lp] = transform(s, [mark]);
    const a = clone(ws);
    for (const op of lp) worldApply(a, op);
    let want: [string, number] | null = null;
    for (const [k, v] of a) {
      const i = v.indexOf("\u2022");
      if (i >= 0) {
        want = [k, i];
        break;
      }
    }
    assert.deepEqual(mapCaretThrough(s, key, "t", at), want, `iter ${iter}: ${s.map(bopToString).join("; ")}`);
  }
});

function t(len: number, edits: [number, number, string][]): TextOp {
  const e: Edit[] = edits.map(([at, d, i]) => ({ at, delete: d, insert: i }));
  return TextOp.fromSplices(len, e);
}

function assertOps(got: BOp[], want: BOp[]): void {
  assert.ok(got.length === want.length && got.every((g, i) => bopEqual(g, want[i]!)), `got ${got.map(bopToString).join("; ")}\nwant ${want.map(bopToString).join("; ")}`);
}

const split = (key: string, prop: string, at: number, neu: string, len: number): BOp => ({ type: "split", key, prop, at, new: neu, len });
const join = (key: string, next: string, prop: string, len: number, nextLen: number): BOp => ({ type: "join", key, next, prop, len, nextLen });

test("typing follows a split and a join", () => {
  // server split "Hello world" after "Hello"; local typed "!" at the end and "," after "Hello":
  // "," goes to the new block's start (server boundary first), "!" to its end
  let [lp, sp, lost] = transform(
    [split("p", "t", 5, "q", 11)],
    [{ type: "text", key: "p", prop: "t", op: t(11, [[11, 0, "!"], [5, 0, ","]]) }],
  );
  assert.deepEqual(lost, []);
  assertOps(lp, [{ type: "text", key: "q", prop: "t", op: t(6, [[0, 0, ","], [7, 0, "!"]]) }]);
  // server joined q into p ("ab" + "cd"); local typed "X" at 1 of q
  [lp] = transform([join("p", "q", "t", 2, 2)], [{ type: "text", key: "q", prop: "t", op: t(2, [[1, 0, "X"]]) }]);
  assertOps(lp, [{ type: "text", key: "p", prop: "t", op: t(4, [[3, 0, "X"]]) }]);
  // local join of p and q, server typed into q: the join is re-sent, lengths updated
  [lp, sp] = transform([{ type: "text", key: "q", prop: "t", op: t(2, [[2, 0, "Z"]]) }], [join("p", "q", "t", 2, 2)]);
  assertOps(lp, [join("p", "q", "t", 2, 3)]);
  assertOps(sp, [{ type: "text", key: "p", prop: "t", op: t(4, [[4, 0, "Z"]]) }]);
});

test("deleted blocks drop local edits and report them", () => {
  const s: BOp[] = [{ type: "gone", keys: new SortedSet(["p"]) }];
  let [lp, , lost] = transform(s, [{ type: "text", key: "p", prop: "t", op: t(2, [[0, 0, "x"]]) }]);
  assert.deepEqual(lp, []);
  assert.deepEqual(lost, [{ lost: "deleted", key: "p" }] satisfies Lost[]);
  // local join p+q, server deleted p: the text typed into the q part goes back to q
  [lp, , lost] = transform(s, [
    join("p", "q", "t", 2, 2),
    { type: "text", key: "p", prop: "t", op: t(4, [[3, 0, "x"], [0, 0, "y"]]) },
  ]);
  assertOps(lp, [{ type: "text", key: "q", prop: "t", op: t(2, [[1, 0, "x"]]) }]);
  assert.deepEqual(lost, [
    { lost: "deleted", key: "p" },
    { lost: "deleted", key: "p" },
  ]);
});

test("a server non-string value drops local text edits of that property", () => {
  const [lp, , lost] = transform([{ type: "nontext", key: "p", prop: "t" }], [{ type: "text", key: "p", prop: "t", op: t(2, [[0, 0, "x"]]) }]);
  assert.deepEqual(lp, []);
  assert.deepEqual(lost, [{ lost: "non-text", key: "p", prop: "t" }]);
});

function doc(texts: string[]): Tree {
  const tr = Tree.withRoot("doc", {});
  texts.forEach((s, i) => {
    const n = new Node("para", { text: s }, "root", [], 1, 1);
    tr.nodes.set(`p${i + 1}`, n);
    tr.attach(`p${i + 1}`, "root", "last");
  });
  return tr;
}

test("apply: split and join on a tree, with the server's flags", () => {
  const tr = doc(["Hello world", "!"]);
  apply(tr, split("p1", "text", 5, "n", 11));
  assert.deepEqual(tr.children("root"), ["p1", "n", "p2"]);
  assert.equal(tr.get("n")!.props["text"], " world");
  assert.equal(tr.get("n")!.version, 1);
  // a join of non-adjacent siblings moves `next` first and says under which parent
  assert.equal(apply(tr, join("p1", "p2", "text", 5, 1)), "root");
  assert.deepEqual(tr.children("root"), ["p1", "n"]);
  assert.equal(tr.get("p1")!.props["text"], "Hello!");
  assert.throws(() => apply(tr, join("p1", "n", "text", 9, 6)), /Misfit/);
});

test("replay, agrees and diff_ops", () => {
  const base = doc(["ab", "cd"]);
  const log: [number, ReturnType<typeof parsePatch>][] = [
    [2, parsePatch({ ops: [{ op: "text", key: "p1", version: 1, prop: "text", edits: [[2, 0, "X"]] }] })],
    [3, parsePatch({ ops: [{ op: "update", key: "p2", version: 1, props: { text: "cde", n: 5 } }, { op: "delete", key: "p1", version: 2 }] })],
  ];
  const [t2, ops, flags] = replay(base, log);
  assert.deepEqual(
    ops.map(([g, o]) => [g, bopToString(o)]),
    [
      [2, bopToString({ type: "text", key: "p1", prop: "text", op: t(2, [[2, 0, "X"]]) })],
      // an absent prop set to a non-string: "no longer text" (props in key order)
      [3, bopToString({ type: "nontext", key: "p2", prop: "n" })],
      [3, bopToString({ type: "text", key: "p2", prop: "text", op: t(2, [[2, 0, "e"]]) })],
      [3, bopToString({ type: "gone", keys: new SortedSet(["p1"]) })],
    ],
  );
  assert.deepEqual(flags.get(["p2", "text"]), [false, false, true]);
  assert.equal(flags.get(["p1", "text"]), undefined);
  const remote = base.clone();
  remote.nodes.remove("p1");
  remote.get("root")!.children = ["p2"];
  remote.get("p2")!.props = { text: "cde", n: 5 };
  assert.ok(agrees(t2, remote));
  const [dops, dflags] = diffOps(base, remote);
  assert.deepEqual(dops.map(bopToString), [
    bopToString({ type: "nontext", key: "p2", prop: "n" }),
    bopToString({ type: "text", key: "p2", prop: "text", op: t(2, [[2, 0, "e"]]) }),
    bopToString({ type: "gone", keys: new SortedSet(["p1"]) }),
  ]);
  assert.deepEqual(dflags.get(["p2", "text"]), [false, false, true]);
  assert.throws(() => replay(base, [[2, parsePatch({ ops: [{ op: "delete", key: "zz", version: 1 }] })]]), /delete of missing/);
});
