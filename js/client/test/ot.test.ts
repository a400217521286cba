// ot.ts: the Rust unit tests of core/src/ot/tests.rs, and its property tests run on random
// inputs from a fixed-seed PRNG.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Assoc, type Comp, Mismatch, TextOp, diff, myersOps, transform } from "../src/ot.js";
import { type Edit, Misfit, apply, cpLen, cps, newEdit, splitAt } from "../src/text.js";
import { prng } from "@pg-nodesync/testkit";

const E = newEdit;

function op(len: number, edits: [number, number, string][]): TextOp {
  return TextOp.fromSplices(
    len,
    edits.map(([a, d, i]) => E(a, d, i)),
  );
}

test("splices round trip and canonical form", () => {
  const o = op(11, [
    [5, 0, ","],
    [0, 1, "H"],
  ]);
  assert.equal(o.apply("hello world"), "Hello, world");
  assert.deepEqual(o.toSplices(), [E(0, 1, "H"), E(5, 0, ",")]);
  assert.equal(apply("hello world", o.toSplices()), "Hello, world");
  // delete then insert at one offset == insert then delete
  const x = new TextOp().retain(1).delete(2).insert("é😀").retain(1);
  const y = new TextOp().retain(1).insert("é😀").delete(2).retain(1);
  assert.ok(x.equals(y));
  assert.deepEqual(x.comps(), y.comps());
  assert.deepEqual(x.toSplices(), [E(1, 2, "é😀")]);
  assert.deepEqual(TextOp.identity(4).toSplices(), []);
  assert.throws(() => TextOp.fromSplices(2, [E(1, 2, "")]), Misfit);
  assert.throws(
    () => TextOp.fromSplices(3, [E(0, 3, ""), E(1, 0, "x")]),
    (e: unknown) => e instanceof Misfit && e.index === 1 && e.len === 0,
  );
  assert.equal(x.baseLen(), 4);
  assert.equal(x.targetLen(), 4);
  assert.equal(x.inserted(), 2);
  assert.equal(x.deleted(), 2);
  assert.ok(!x.isIdentity());
  assert.ok(TextOp.identity(3).isIdentity());
  assert.ok(new TextOp().isIdentity());
});

test("mismatches throw", () => {
  assert.throws(() => TextOp.identity(3).apply("ab"), (e: unknown) => e instanceof Mismatch && e.expected === 3 && e.got === 2);
  assert.throws(() => TextOp.identity(3).compose(TextOp.identity(2)), Mismatch);
  assert.throws(() => transform(TextOp.identity(3), TextOp.identity(2)), Mismatch);
  assert.throws(() => TextOp.identity(3).cut(4, true), Mismatch);
  assert.throws(() => TextOp.identity(3).applyVec([1, 2], 0), Mismatch);
  assert.equal(new Mismatch(3, 2).message, "a text op for 3 code points met a text of 2");
});

test("server text first at ties", () => {
  const a = op(2, [[2, 0, " there"]]);
  const b = op(2, [[2, 0, "!"]]);
  const [ap, bp] = transform(a, b);
  assert.equal(bp.apply(a.apply("Hi")), "Hi there!");
  assert.equal(ap.apply(b.apply("Hi")), "Hi there!");
});

test("typing inside a deleted range survives and deletes take the union", () => {
  const base = "the quick brown fox";
  const a = op(19, [[4, 6, ""]]);
  const b = op(19, [
    [7, 0, "XY"],
    [14, 3, ""],
  ]);
  const [ap, bp] = transform(a, b);
  const r1 = bp.apply(a.apply(base));
  const r2 = ap.apply(b.apply(base));
  assert.equal(r1, r2);
  assert.equal(r1, "the XYbr fox");
  const a2 = op(10, [[2, 4, ""]]);
  const b2 = op(10, [[4, 4, ""]]);
  const [ap2, bp2] = transform(a2, b2);
  assert.equal(bp2.apply(a2.apply("0123456789")), "0189");
  assert.equal(ap2.apply(b2.apply("0123456789")), "0189");
});

test("cursor maps after inserts and into deleted ranges", () => {
  const a = op(5, [
    [5, 0, " world"],
    [1, 2, ""],
  ]);
  assert.equal(a.apply("hello"), "hlo world");
  assert.equal(a.map(5, Assoc.After), 9);
  assert.equal(a.map(5, Assoc.Before), 3);
  assert.equal(a.map(2, Assoc.After), 1);
  assert.equal(a.map(0, Assoc.After), 0);
  assert.equal(a.map(99, Assoc.After), 9);
});

test("cut and pad", () => {
  const o = op(6, [
    [3, 0, "X"],
    [0, 0, "A"],
    [5, 2, ""],
  ]);
  assert.equal(o.apply("abcdef"), "AabcXf");
  let [l, r] = o.cut(3, true);
  assert.deepEqual([l.apply("abc"), r.apply("def")], ["Aabc", "Xf"]);
  [l, r] = o.cut(3, false);
  assert.deepEqual([l.apply("abc"), r.apply("def")], ["AabcX", "f"]);
  assert.equal(o.padded(2, 1).apply("--abcdef+"), "--AabcXf+");
});

test("compose", () => {
  const a = op(5, [[5, 0, "!"]]); // hello -> hello!
  const b = op(6, [
    [0, 1, "J"],
    [6, 0, "?"],
  ]); // hello! -> Jello!?
  const c = a.compose(b);
  assert.equal(c.apply("hello"), "Jello!?");
  assert.deepEqual(c.toSplices(), [E(0, 1, "J"), E(5, 0, "!?")]);
  // an insert deleted again vanishes
  const d = op(3, [[1, 0, "xyz"]]).compose(op(6, [[1, 3, ""]]));
  assert.ok(d.isIdentity());
  assert.ok(d.equals(TextOp.identity(3)));
});

test("astral characters count as one everywhere", () => {
  const base = "a😀b😀c";
  assert.equal(cpLen(base), 5);
  const s = op(5, [[1, 1, ""]]); // delete the first 😀
  const l = op(5, [
    [2, 0, "é"],
    [5, 0, "😀"],
  ]);
  const [s2, l2] = transform(s, l);
  const result = l2.apply(s.apply(base));
  assert.equal(result, "aéb😀😀c");
  assert.equal(s2.apply(l.apply(base)), result);
  assert.equal(s.map(2, Assoc.After), 1);
  assert.equal(s.map(4, Assoc.After), 3);
  assert.deepEqual(op(2, [[1, 0, "😀😀"]]).applyVec(["x", "y"], "-"), ["x", "-", "-", "y"]);
  assert.deepEqual(diff("😀a😀", "😀😀").toSplices(), [E(1, 1, "")]);
  assert.deepEqual(diff("x😀", "x😀😀y").toSplices(), [E(2, 0, "😀y")]);
  const [h, t] = op(3, [[1, 1, "😀"]]).cut(1, true);
  assert.equal(h.apply("a") + t.apply("bc"), "a😀c");
});

test("diff keeps words whole", () => {
  const d = diff("w3 w4 w6", "w3 w5 w4 w6");
  assert.equal(d.apply("w3 w4 w6"), "w3 w5 w4 w6");
  const s = d.toSplices();
  assert.equal(s.length, 1);
  assert.ok(s[0]!.insert === " w5" || s[0]!.insert === "w5 ", JSON.stringify(s));
  const server = op(8, [[2, 3, ""]]);
  const [, local] = transform(server, d);
  assert.equal(local.apply(server.apply("w3 w4 w6")), "w3 w5 w6");
  assert.ok(diff("same", "same").isIdentity());
  assert.deepEqual(diff("", "é😀").toSplices(), [E(0, 0, "é😀")]);
  assert.deepEqual(diff("abc", "").toSplices(), [E(0, 3, "")]);
  // the Rust crate's outputs for these (checked against similar 3.2.1)
  assert.deepEqual(diff("hello world", "hello brave new world").toSplices(), [E(5, 0, " brave new")]);
  assert.deepEqual(diff("w3 w4 w6", "w3 w5 w4 w6").toSplices(), [E(2, 0, " w5")]);
  assert.deepEqual(diff("the cat sat", "the hat sat").toSplices(), [E(4, 1, "h")]);
});

test("similar's Myers: raw ops of its own test cases", () => {
  const ops = (a: number[], b: number[]) => myersOps(a, b).map((o) => [o.tag, o.oldIndex, o.oldLen, o.newIndex, o.newLen]);
  // similar's test_diff: [0,1,2,3,4] -> [0,1,2,9,4]
  assert.deepEqual(ops([0, 1, 2, 3, 4], [0, 1, 2, 9, 4]), [
    ["equal", 0, 3, 0, 3],
    ["replace", 3, 1, 3, 1],
    ["equal", 4, 1, 4, 1],
  ]);
  // test_myers_reduction_preserves_sparse_match (preflight reduction)
  const old = Array.from({ length: 4096 }, (_, i) => i);
  const nw = Array.from({ length: 4096 }, (_, i) => 10_000 + i);
  nw[2048] = old[1024]!;
  assert.deepEqual(ops(old, nw), [
    ["replace", 0, 1024, 0, 2048],
    ["equal", 1024, 1, 2048, 1],
    ["replace", 1025, 3071, 2049, 2047],
  ]);
  // test_myers_reduction_preserves_sparse_anchor_chain_with_common_edges
  const nw2 = Array.from({ length: 4096 }, (_, i) => 10_000 + i);
  nw2[0] = old[0]!;
  nw2[4095] = old[4095]!;
  for (const [o, n] of [
    [100, 200],
    [500, 700],
    [900, 1200],
    [1500, 1800],
    [2400, 2700],
    [3500, 3600],
  ] as const) {
    nw2[n] = old[o]!;
  }
  const eq = myersOps(old, nw2)
    .filter((o) => o.tag === "equal")
    .reduce((s, o) => s + o.oldLen, 0);
  assert.equal(eq, 8);
  // the cross-type guard test: a rotation by one keeps n - 1 equal
  const r = Array.from({ length: 512 }, (_, i) => i);
  const rot = r.slice(1).concat([0]);
  assert.equal(
    myersOps(r, rot)
      .filter((o) => o.tag === "equal")
      .reduce((s, o) => s + o.oldLen, 0),
    511,
  );
});

// ---- property tests (fixed seed)

const rnd = prng(20240607);
const ri = (n: number) => Math.floor(rnd() * n);
const ALPHA = ["a", "b", " ", "é", "😀", "\u0301", "\n", "z"];
const text = (max: number) => Array.from({ length: ri(max) }, () => ALPHA[ri(ALPHA.length)]!).join("");
type Raw = [number, number, string][];
const rawSplices = (): Raw => Array.from({ length: ri(6) }, () => [ri(40), ri(6), text(5)] as [number, number, string]);

/** Raw splices made to fit `len`, in order. */
function fit(len: number, raw: Raw): Edit[] {
  let cur = len;
  const out: Edit[] = [];
  for (const [at0, del0, ins] of raw) {
    const at = cur === 0 ? 0 : at0 % (cur + 1);
    const del = Math.min(del0, cur - at);
    out.push(E(at, del, ins));
    cur = cur - del + cpLen(ins);
  }
  return out;
}

const CASES = 600;

test("property: transform converges (TP1) and the transformed splices fit", () => {
  for (let c = 0; c < CASES; c++) {
    const base = text(20);
    const n = cpLen(base);
    const ea = fit(n, rawSplices());
    const eb = fit(n, rawSplices());
    const a = TextOp.fromSplices(n, ea);
    const b = TextOp.fromSplices(n, eb);
    assert.equal(a.apply(base), apply(base, ea));
    const [ap, bp] = transform(a, b);
    assert.equal(ap.baseLen(), b.targetLen());
    assert.equal(bp.baseLen(), a.targetLen());
    const viaA = apply(a.apply(base), bp.toSplices());
    const viaB = apply(b.apply(base), ap.toSplices());
    assert.equal(viaA, viaB);
    assert.equal(ap.targetLen(), cpLen(viaA));
    // and as ops
    assert.ok(a.compose(bp).equals(b.compose(ap)));
  }
});

type Id = [number, number]; // (side, n): side 0 = base, 1 = a, 2 = b

function applyIds(o: TextOp, ids: Id[], side: number, next: { n: number }): Id[] {
  const out: Id[] = [];
  let i = 0;
  for (const c of o.comps()) {
    if (c.tag === "retain") {
      out.push(...ids.slice(i, i + c.n));
      i += c.n;
    } else if (c.tag === "delete") i += c.n;
    else for (let k = 0; k < cpLen(c.text); k++) out.push([side, ++next.n]);
  }
  return out;
}

test("property: transform keeps intent", () => {
  const key = (x: Id) => `${x[0]}:${x[1]}`;
  for (let c = 0; c < CASES; c++) {
    const n = ri(16);
    const base: Id[] = Array.from({ length: n }, (_, i) => [0, i]);
    const a = TextOp.fromSplices(n, fit(n, rawSplices()));
    const b = TextOp.fromSplices(n, fit(n, rawSplices()));
    const next = { n: 1000 };
    const sa = applyIds(a, base, 1, next);
    const sb = applyIds(b, base, 2, next);
    const [ap, bp] = transform(a, b);
    const bids = sb.filter((x) => x[0] === 2);
    let bi = 0;
    const r: Id[] = [];
    let i = 0;
    for (const comp of bp.comps() as Comp[]) {
      if (comp.tag === "retain") {
        r.push(...sa.slice(i, i + comp.n));
        i += comp.n;
      } else if (comp.tag === "delete") i += comp.n;
      else for (let k = 0; k < cpLen(comp.text); k++) r.push(bids[bi++] ?? [9, 0]);
    }
    assert.equal(bi, bids.length, "b' inserts fewer characters than b");
    assert.equal(r.length, ap.targetLen());
    assert.deepEqual(
      r.filter((x) => x[0] === 1),
      sa.filter((x) => x[0] === 1),
    );
    assert.deepEqual(
      r.filter((x) => x[0] === 2),
      sb.filter((x) => x[0] === 2),
    );
    const kept = (s: Id[]) => s.filter((x) => x[0] === 0);
    const kb = new Set(kept(sb).map(key));
    const both = kept(sa).filter((x) => kb.has(key(x)));
    const bothSet = new Set(both.map(key));
    assert.deepEqual(kept(r), both);
    const view = (s: Id[], side: number) => s.filter((x) => x[0] === side || (x[0] === 0 && bothSet.has(key(x))));
    assert.deepEqual(view(r, 1), view(sa, 1));
    assert.deepEqual(view(r, 2), view(sb, 2));
  }
});

test("property: ties put the first side first", () => {
  for (let c = 0; c < CASES; c++) {
    const base = text(12);
    const n = cpLen(base);
    const p = Math.min(ri(14), n);
    const x = `<${text(4)}>`;
    const y = `[${text(4)}]`;
    const a = op(n, [[p, 0, x]]);
    const b = op(n, [[p, 0, y]]);
    const [, bp] = transform(a, b);
    const [h, t] = splitAt(base, p)!;
    assert.equal(bp.apply(a.apply(base)), `${h}${x}${y}${t}`);
  }
});

test("property: one op at a time", () => {
  for (let c = 0; c < CASES; c++) {
    const base = text(14);
    const n = cpLen(base);
    const s1 = TextOp.fromSplices(n, fit(n, rawSplices()));
    const s2 = TextOp.fromSplices(s1.targetLen(), fit(s1.targetLen(), rawSplices()));
    const l = TextOp.fromSplices(n, fit(n, rawSplices()));
    const [s1p, l1] = transform(s1, l);
    const [s2p, l2] = transform(s2, l1);
    const server = s2.apply(s1.apply(base));
    const local = l.apply(base);
    assert.equal(l2.apply(server), s2p.apply(s1p.apply(local)));
  }
});

test("property: cursor mapping", () => {
  for (let c = 0; c < CASES; c++) {
    const base = text(16);
    const n = cpLen(base);
    const a = TextOp.fromSplices(n, fit(n, rawSplices()));
    const p = Math.min(ri(20), n);
    const q = Math.min(ri(20), n);
    const mp = a.map(p, Assoc.After);
    const mq = a.map(q, Assoc.After);
    assert.ok(mp <= a.targetLen() && mq <= a.targetLen());
    if (p <= q) assert.ok(mp <= mq);
    assert.ok(a.map(p, Assoc.Before) <= mp);
    const caret = op(n, [[p, 0, "\u2022"]]);
    const [, cp] = transform(a, caret);
    const out = cps(cp.apply(a.apply(base)));
    assert.equal(out.indexOf("\u2022"), mp);
  }
});

test("property: diff is exact; pure inserts and deletes stay pure", () => {
  for (let c = 0; c < CASES; c++) {
    const old = text(24);
    const nw = text(24);
    assert.equal(diff(old, nw).apply(old), nw);
    const n = cpLen(old);
    const at = Math.min(ri(24), n);
    const ins = text(6);
    const [h, t] = splitAt(old, at)!;
    const grown = `${h}${ins}${t}`;
    let d = diff(old, grown);
    assert.equal(d.deleted(), 0);
    assert.equal(d.inserted(), cpLen(ins));
    d = diff(grown, old);
    assert.deepEqual([d.inserted(), d.deleted()], [0, cpLen(ins)]);
  }
});

test("property: compose, cut and padded agree with applying the parts", () => {
  for (let c = 0; c < CASES; c++) {
    const base = text(16);
    const n = cpLen(base);
    const a = TextOp.fromSplices(n, fit(n, rawSplices()));
    const b = TextOp.fromSplices(a.targetLen(), fit(a.targetLen(), rawSplices()));
    assert.equal(a.compose(b).apply(base), b.apply(a.apply(base)));
    const at = Math.min(ri(20), n);
    const [l, r] = a.cut(at, rnd() < 0.5);
    const [h, t] = splitAt(base, at)!;
    assert.equal(l.apply(h) + r.apply(t), a.apply(base));
    assert.equal(a.padded(2, 3).apply(`xy${base}123`), `xy${a.apply(base)}123`);
    assert.equal(a.applyVec(new Array<number>(n).fill(0), 1).length, a.targetLen());
    // toSplices/fromSplices round trip
    assert.ok(TextOp.fromSplices(n, a.toSplices()).equals(a));
    assert.ok(a.clone().equals(a));
  }
});
