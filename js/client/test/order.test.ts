// order.ts (code point order, SortedMap, SortedSet) and json.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SortedMap, SortedSet, cmpKeys, cmpPair, sortedKeys } from "../src/order.js";
import { jsonClone, jsonEqual, jsonString, shorten, utf8Len } from "../src/json.js";

const utf8Cmp = (a: string, b: string) => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));

test("cmpKeys is UTF-8 byte order", () => {
  assert.ok(cmpKeys("a", "b") < 0);
  assert.ok(cmpKeys("b", "a") > 0);
  assert.equal(cmpKeys("é", "é"), 0);
  assert.ok(cmpKeys("ab", "abc") < 0);
  // JS's default order puts the surrogate pair first; bytes (and Rust) put U+FFFD first
  assert.ok("\u{1F600}" < "\uFFFD");
  assert.ok(cmpKeys("\uFFFD", "\u{1F600}") < 0);
  assert.ok(cmpKeys("\uE000", "\u{10000}") < 0);
  assert.ok(cmpKeys("\uD7FF", "\u{10000}") < 0);
  assert.ok(cmpKeys("\u{1F600}", "\u{1F601}") < 0);
  const alpha = ["a", "Z", "é", "\uFFFD", "\uE000", "\u{1F600}", "\u{10FFFF}", "\u{10000}", "\uD7FF", "0", ""];
  let seed = 7;
  const ri = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  for (let i = 0; i < 2000; i++) {
    const s = () => Array.from({ length: ri(4) }, () => alpha[ri(alpha.length)]).join("");
    const a = s();
    const b = s();
    assert.equal(Math.sign(cmpKeys(a, b)), Math.sign(utf8Cmp(a, b)), `${JSON.stringify(a)} ${JSON.stringify(b)}`);
  }
  assert.deepEqual(sortedKeys(["\u{1F600}", "\uFFFD", "a"]), ["a", "\uFFFD", "\u{1F600}"]);
  assert.ok(cmpPair(["a", "z"], ["ab", "a"]) < 0);
  assert.ok(cmpPair(["a", "z"], ["a", "y"]) > 0);
});

test("SortedMap iterates in key order", () => {
  const m = new SortedMap<string, number>();
  m.set("b", 2).set("\u{1F600}", 4).set("\uFFFD", 3).set("a", 1);
  assert.deepEqual(Array.from(m.keys()), ["a", "b", "\uFFFD", "\u{1F600}"]);
  assert.deepEqual(Array.from(m.values()), [1, 2, 3, 4]);
  assert.equal(m.insert("b", 20), 2);
  assert.equal(m.get("b"), 20);
  assert.equal(m.remove("a"), 1);
  assert.equal(m.remove("a"), undefined);
  assert.ok(!m.has("a"));
  assert.equal(m.size, 3);
  assert.deepEqual(m.first(), ["b", 20]);
  assert.deepEqual(m.last(), ["\u{1F600}", 4]);
  // deleting while iterating is safe
  for (const [k] of m) m.delete(k);
  assert.ok(m.isEmpty());
  const n = new SortedMap<string, number[]>([
    ["x", [1]],
    ["y", [2]],
  ]);
  const c = n.clone((v) => v.slice());
  c.get("x")!.push(9);
  assert.deepEqual(n.get("x"), [1]);
  n.retain((k) => k !== "x");
  assert.deepEqual(n.keyArray(), ["y"]);
  assert.equal(n.getOrInsertWith("z", () => [3]).length, 1);
  assert.ok(n.equals(new SortedMap([["y", n.get("y")!], ["z", n.get("z")!]])));
  const pairs = SortedMap.pairs<boolean[]>();
  pairs.set(["b", "text"], [true]).set(["a", "z"], []).set(["a", "text"], [false]);
  assert.deepEqual(pairs.keyArray(), [
    ["a", "text"],
    ["a", "z"],
    ["b", "text"],
  ]);
  assert.deepEqual(pairs.get(["a", "text"]), [false]);
});

test("SortedSet iterates in order", () => {
  const s = new SortedSet(["c", "\u{1F600}", "a", "\uFFFD", "a"]);
  assert.equal(s.size, 4);
  assert.deepEqual(s.toArray(), ["a", "c", "\uFFFD", "\u{1F600}"]);
  assert.ok(s.insert("b"));
  assert.ok(!s.insert("b"));
  assert.equal(s.popFirst(), "a");
  assert.equal(s.popLast(), "\u{1F600}");
  assert.deepEqual(Array.from(s), ["b", "c", "\uFFFD"]);
  const t = s.clone();
  t.add("0");
  assert.ok(!s.has("0"));
  assert.ok(s.isSubset(t));
  assert.ok(!t.isSubset(s));
  assert.deepEqual(t.filter((k) => k !== "c").toArray(), ["0", "b", "\uFFFD"]);
  t.retain((k) => k === "b");
  assert.ok(t.equals(new SortedSet(["b"])));
  const ps = SortedSet.pairs([
    ["b", "x"],
    ["a", "y"],
  ]);
  assert.deepEqual(ps.first(), ["a", "y"]);
  assert.ok(ps.has(["b", "x"]));
});

test("json helpers", () => {
  assert.ok(jsonEqual({ a: 1, b: [1, { c: null }] }, { b: [1, { c: null }], a: 1 }));
  assert.ok(!jsonEqual({ a: 1 }, { a: 1, b: 2 }));
  assert.ok(!jsonEqual({ a: 1, b: undefined }, { a: 1, c: undefined }));
  assert.ok(!jsonEqual([1, 2], [2, 1]));
  assert.ok(!jsonEqual([], {}));
  assert.ok(!jsonEqual(null, {}));
  assert.ok(!jsonEqual("1", 1));
  assert.ok(jsonEqual(1.0, 1));
  const v = { a: [1, { b: "x" }] };
  const c = jsonClone(v);
  assert.deepEqual(c, v);
  (c.a[1] as { b: string }).b = "y";
  assert.equal((v.a[1] as { b: string }).b, "x");
  assert.equal(jsonString({ b: 1, a: "x\n", "\u{1F600}": null, "\uFFFD": [true] }), '{"a":"x\\n","b":1,"\uFFFD":[true],"\u{1F600}":null}');
  assert.equal(utf8Len("aé😀"), 1 + 2 + 4);
  assert.equal(shorten("x".repeat(40)), "x".repeat(40));
  assert.equal(shorten("😀".repeat(41)), "😀".repeat(40) + "…");
});
