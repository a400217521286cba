// text.ts: the Rust unit tests of core/src/text.rs, and random splice lists against a naive model.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Misfit, apply, applyOne, cpLen, cpSlice, cps, editFromJson, editToJson, isNoop, newEdit, splitAt, unitOffset } from "../src/text.js";
import { ShapeError } from "../src/json.js";
import { NodesyncError } from "../src/errors.js";
import { prng } from "@pg-nodesync/testkit";

const E = newEdit;

test("splices in code points", () => {
  assert.equal(apply("hello world", [E(5, 0, ",")]), "hello, world");
  assert.equal(apply("é😀x", [E(2, 0, "-")]), "é😀-x");
  assert.equal(apply("é😀-x", [E(1, 1, "o")]), "éo-x");
  assert.equal(apply("éo-x", [E(4, 0, "ß")]), "éo-xß");
  // combining marks are code points of their own
  assert.equal(apply("e\u0301a", [E(1, 1, "")]), "ea");
  assert.equal(apply("there", [E(5, 0, "!"), E(0, 0, "oh "), E(3, 1, "T")]), "oh There!");
  assert.equal(apply("", [E(0, 0, "")]), "");
  assert.equal(apply("😀😀😀", [E(1, 1, "a😀b")]), "😀a😀b😀");
});

test("misfits name the edit", () => {
  assert.throws(() => apply("ab", [E(3, 0, "x")]), (e: unknown) => e instanceof Misfit && e.index === 0 && e.at === 3 && e.delete === 0 && e.len === 2);
  assert.throws(() => apply("ab", [E(1, 2, "")]), (e: unknown) => e instanceof Misfit && e.len === 2);
  try {
    apply("abcdefgh", [E(0, 8, ""), E(1, 0, "x")]);
    assert.fail("no misfit");
  } catch (e) {
    assert.ok(e instanceof Misfit && e instanceof NodesyncError);
    assert.equal(e.index, 1);
    assert.equal(e.len, 0);
    assert.match(e.message, /edit 1/);
    assert.equal(e.message, "edit 1 ([1, 0, …]) reaches code point 1 of a text 0 code points long");
  }
  assert.throws(() => apply("ab", [E(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, "")]), Misfit);
  // astral characters are one code point: "😀" is 1 long, not 2
  assert.throws(() => applyOne("😀", E(2, 0, "x")), Misfit);
  assert.equal(applyOne("😀", E(1, 0, "x")), "😀x");
});

test("wire form", () => {
  assert.deepEqual(editFromJson([1, 2, "x"]), E(1, 2, "x"));
  assert.deepEqual(editToJson(E(1, 2, "x")), [1, 2, "x"]);
  for (const bad of [[1, 2], [-1, 0, ""], [1.5, 0, ""], [0, "1", ""], [0, 0, 5], {}, [0, 0, "", 1], null, "x"]) {
    assert.throws(() => editFromJson(bad), ShapeError, JSON.stringify(bad));
  }
  assert.ok(isNoop(E(3, 0, "")));
  assert.ok(!isNoop(E(3, 1, "")));
});

test("code point helpers", () => {
  assert.equal(cpLen(""), 0);
  assert.equal(cpLen("é😀x"), 3);
  assert.equal(cpLen("😀😀"), 2);
  assert.equal(cpLen("\ud83d"), 1); // a lone surrogate counts as one
  assert.deepEqual(cps("a😀b"), ["a", "😀", "b"]);
  assert.equal(unitOffset("abc", 3), 3);
  assert.equal(unitOffset("abc", 4), null);
  assert.equal(unitOffset("a😀b", 2), 3);
  assert.equal(unitOffset("😀a", 1), 2);
  assert.deepEqual(splitAt("é😀x", 2), ["é😀", "x"]);
  assert.deepEqual(splitAt("é😀x", 3), ["é😀x", ""]);
  assert.equal(splitAt("é😀x", 4), null);
  assert.deepEqual(splitAt("", 0), ["", ""]);
  assert.equal(cpSlice("a😀b😀c", 1, 4), "😀b😀");
  assert.equal(cpSlice("a😀b😀c", 3), "😀c");
  assert.equal(cpSlice("a😀b", 2, 10), "b");
  assert.equal(cpSlice("a😀b", 5), "");
});

test("random edit lists agree with an array of code points", () => {
  const rnd = prng(42);
  const ri = (n: number) => Math.floor(rnd() * n);
  const alpha = ["a", "é", "😀", "\u0301", "z", "\n"];
  const text = () => Array.from({ length: ri(20) }, () => alpha[ri(alpha.length)]!).join("");
  for (let round = 0; round < 500; round++) {
    const start = text();
    const model = cps(start);
    const edits = [];
    let fits = true;
    for (let i = 0, n = 1 + ri(7); i < n; i++) {
      const e = E(ri(25), ri(6), text());
      if (fits && e.at + e.delete <= model.length) model.splice(e.at, e.delete, ...cps(e.insert));
      else fits = false;
      edits.push(e);
    }
    try {
      const got = apply(start, edits);
      assert.ok(fits);
      assert.equal(got, model.join(""));
    } catch (e) {
      assert.ok(e instanceof Misfit);
      assert.ok(!fits);
    }
  }
});
