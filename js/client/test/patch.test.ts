// patch.ts: the wire JSON (exactly Rust's Op::to_json / Patch::to_json) and parsePatch (the
// Rust parser's tests of core/src/patch/tests.rs).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DEFAULT_LIMITS,
  type Op,
  type Patch,
  PatchError,
  Place,
  cloneOp,
  opEqual,
  opToJson,
  opVersion,
  parsePatch,
  patchEqual,
  patchToJson,
  placeEqual,
} from "../src/patch.js";
import { NodesyncError } from "../src/errors.js";

const p = (v: unknown): Patch => parsePatch(v, DEFAULT_LIMITS);

function invalidAt(v: unknown): number | null {
  try {
    p(v);
  } catch (e) {
    assert.ok(e instanceof PatchError, `expected a PatchError, got ${String(e)}`);
    assert.equal(e.code, "22023");
    return e.opIndex;
  }
  assert.fail(`expected an invalid patch: ${JSON.stringify(v)}`);
}

test("the wire JSON of every op", () => {
  const ops: Op[] = [
    { op: "create", key: "p9", kind: "paragraph", props: { text: "Hi" }, parent: "root", place: { after: "p1" } },
    { op: "create", key: "p10", kind: "p", props: {}, parent: "root", place: "last" },
    { op: "update", key: "p1", version: 3, props: { text: "Hello", bold: null } },
    { op: "update", key: "h1", version: 2, kind: "heading" },
    { op: "move", key: "p4", version: 2, parent: "sec2", place: "first" },
    { op: "delete", key: "p2", version: 5 },
    { op: "text", key: "p1", version: 4, prop: "text", edits: [{ at: 5, delete: 2, insert: "xy" }, { at: 0, delete: 0, insert: "A" }] },
    { op: "split", key: "p1", version: 4, prop: "text", at: 5, new: "p9" },
    { op: "join", key: "p1", version: 4, next: "p2", nextVersion: 7, prop: "text" },
  ];
  const wire = [
    '{"op":"create","key":"p9","kind":"paragraph","props":{"text":"Hi"},"parent":"root","after":"p1"}',
    '{"op":"create","key":"p10","kind":"p","props":{},"parent":"root"}',
    '{"op":"update","key":"p1","version":3,"props":{"text":"Hello","bold":null}}',
    '{"op":"update","key":"h1","version":2,"kind":"heading"}',
    '{"op":"move","key":"p4","version":2,"parent":"sec2","after":null}',
    '{"op":"delete","key":"p2","version":5}',
    '{"op":"text","key":"p1","version":4,"prop":"text","edits":[[5,2,"xy"],[0,0,"A"]]}',
    '{"op":"split","key":"p1","version":4,"prop":"text","at":5,"new":"p9"}',
    '{"op":"join","key":"p1","version":4,"next":"p2","next_version":7,"prop":"text"}',
  ];
  ops.forEach((o, i) => assert.equal(JSON.stringify(opToJson(o)), wire[i]));
  assert.equal(JSON.stringify(patchToJson({ base: 41, ops: ops.slice(5, 6) })), '{"base":41,"ops":[{"op":"delete","key":"p2","version":5}]}');
  assert.equal(JSON.stringify(patchToJson({ ops: [] })), '{"ops":[]}');
  assert.equal(JSON.stringify(patchToJson({ base: null, ops: [] })), '{"ops":[]}');
  // round trip
  const patch: Patch = { base: 41, ops };
  const back = p(JSON.parse(JSON.stringify(patchToJson(patch))));
  assert.ok(patchEqual(back, patch));
  assert.deepEqual(back, patch);
  assert.deepEqual(p(JSON.stringify(patchToJson(patch))), patch, "JSON text is parsed too");
  for (const o of ops) assert.ok(opEqual(cloneOp(o), o));
  assert.equal(opVersion(ops[0]!), null);
  assert.equal(opVersion(ops[8]!), 4);
});

test("parses every op", () => {
  const patch = p({
    base: 41,
    ops: [
      { op: "create", key: "p9", kind: "paragraph", props: { text: "Hi", gone: null }, parent: "root", after: "p1" },
      { op: "update", key: "p1", version: 3, props: { text: "Hello", bold: null } },
      { op: "update", key: "h1", version: 2, kind: "heading" },
      { op: "move", key: "p4", version: 2, parent: "sec2", after: null },
      { op: "delete", key: "p2", version: 5 },
      { op: "create", key: "p10", kind: "p", parent: "root" },
    ],
  });
  assert.equal(patch.base, 41);
  assert.equal(patch.ops.length, 6);
  assert.deepEqual(patch.ops[0], { op: "create", key: "p9", kind: "paragraph", props: { text: "Hi" }, parent: "root", place: { after: "p1" } });
  assert.deepEqual(patch.ops[1], { op: "update", key: "p1", version: 3, props: { text: "Hello", bold: null } });
  assert.deepEqual(patch.ops[2], { op: "update", key: "h1", version: 2, kind: "heading" });
  assert.deepEqual(patch.ops[3], { op: "move", key: "p4", version: 2, parent: "sec2", place: "first" });
  assert.deepEqual(patch.ops[5], { op: "create", key: "p10", kind: "p", props: {}, parent: "root", place: "last" });
  assert.equal(p({ ops: [] }).ops.length, 0);
  assert.equal(p({ ops: [] }).base, undefined);
  assert.equal(p({ base: null, ops: [] }).base, undefined);
});

test("text, split and join parse and round trip", () => {
  const v = {
    ops: [
      { op: "text", key: "p1", version: 4, prop: "text", edits: [[5, 2, "xy"], [0, 0, "A"]] },
      { op: "split", key: "p1", version: 4, prop: "text", at: 5, new: "p9" },
      { op: "join", key: "p1", version: 4, next: "p2", next_version: 7, prop: "text" },
    ],
  };
  const patch = p(v);
  assert.deepEqual(patchToJson(patch), v);
  assert.deepEqual(patch.ops[2], { op: "join", key: "p1", version: 4, next: "p2", nextVersion: 7, prop: "text" });
});

test("rejects bad text, split and join ops", () => {
  const text = (extra: Record<string, unknown>) => {
    const o: Record<string, unknown> = { op: "text", key: "p", version: 1, prop: "text", edits: [[0, 0, "x"]] };
    for (const [k, v] of Object.entries(extra)) {
      if (v === null) delete o[k];
      else o[k] = v;
    }
    return { ops: [o] };
  };
  for (const bad of [
    { edits: [] },
    { edits: null },
    { edits: [[0, 0]] },
    { edits: [[-1, 0, "x"]] },
    { edits: [[1.5, 0, "x"]] },
    { edits: [[0, 0, 5]] },
    { edits: "x" },
    { prop: null },
    { prop: "" },
    { prop: "p".repeat(201) },
    { version: null },
    { extra: 1 },
  ]) {
    assert.equal(invalidAt(text(bad)), 0, JSON.stringify(bad));
  }
  p(text({}));
  for (const bad of [
    { op: "split", key: "root", version: 1, prop: "text", at: 0, new: "q" },
    { op: "split", key: "p", version: 1, prop: "text", at: -1, new: "q" },
    { op: "split", key: "p", version: 1, prop: "text", at: 0 },
    { op: "split", key: "p", version: 1, prop: "text", at: 0, new: "" },
    { op: "split", key: "p", version: 1, prop: "text", at: 0, new: "p" },
    { op: "split", key: "p", version: 1, at: 0, new: "q" },
    { op: "join", key: "p", version: 1, next: "p", next_version: 1, prop: "text" },
    { op: "join", key: "root", version: 1, next: "p", next_version: 1, prop: "text" },
    { op: "join", key: "p", version: 1, next: "root", next_version: 1, prop: "text" },
    { op: "join", key: "p", version: 1, next: "q", prop: "text" },
    { op: "join", key: "p", version: 1, next: "q", next_version: 0, prop: "text" },
    { op: "join", key: "p", version: 1, next_version: 1, prop: "text" },
  ]) {
    assert.equal(invalidAt({ ops: [bad] }), 0, JSON.stringify(bad));
  }
});

test("rejects bad shapes with the Rust messages", () => {
  assert.equal(invalidAt([]), null);
  assert.equal(invalidAt({}), null);
  assert.equal(invalidAt({ ops: {} }), null);
  assert.equal(invalidAt({ ops: [], extra: 1 }), null);
  assert.equal(invalidAt({ base: "x", ops: [] }), null);
  assert.equal(invalidAt({ base: -1, ops: [] }), null);
  assert.equal(invalidAt({ ops: [1] }), 0);
  assert.equal(invalidAt({ ops: [{ op: "explode", key: "a" }] }), 0);
  assert.equal(invalidAt({ ops: [{ key: "a" }] }), 0);
  const ok = { op: "update", key: "a", version: 1 };
  assert.equal(invalidAt({ ops: [ok, { op: "update", version: 1 }] }), 1);
  assert.equal(invalidAt({ ops: [{ op: "create", key: "", kind: "p", parent: "root" }] }), 0);
  assert.equal(invalidAt({ ops: [{ op: "create", key: "k".repeat(201), kind: "p", parent: "root" }] }), 0);
  assert.equal(invalidAt({ ops: [{ op: "create", key: "n", parent: "root" }] }), 0);
  assert.equal(invalidAt({ ops: [{ op: "create", key: "n", kind: "p" }] }), 0);
  assert.equal(invalidAt({ ops: [{ op: "create", key: "n", kind: "", parent: "root" }] }), 0);
  assert.equal(invalidAt({ ops: [{ op: "create", key: "n", kind: "p", parent: "root", after: 3 }] }), 0);
  assert.equal(invalidAt({ ops: [{ op: "create", key: "n", kind: "p", parent: "root", after: "n" }] }), 0);
  assert.equal(invalidAt({ ops: [{ op: "update", key: "a", version: 1, props: [1] }] }), 0);
  assert.equal(invalidAt({ ops: [{ op: "update", key: "a", props: {} }] }), 0);
  assert.equal(invalidAt({ ops: [{ op: "update", key: "a", version: "one" }] }), 0);
  assert.equal(invalidAt({ ops: [{ op: "update", key: "a", version: 0 }] }), 0);
  assert.equal(invalidAt({ ops: [{ op: "update", key: "a", version: 1.5 }] }), 0);
  assert.equal(invalidAt({ ops: [{ op: "update", key: "a", version: 1, parent: "x" }] }), 0);
  assert.equal(invalidAt({ ops: [{ op: "update", key: "a", version: 1, kind: null }] }), 0);
  assert.equal(invalidAt({ ops: [{ op: "delete", key: "root", version: 1 }] }), 0);
  assert.equal(invalidAt({ ops: [{ op: "move", key: "root", version: 1, parent: "a" }] }), 0);
  assert.equal(invalidAt({ ops: [{ op: "update", key: "a", version: 1, props: { x: Infinity } }] }), 0);
  // key length is in UTF-8 bytes: 67 × "é😀" is 67 × 6 = 402 bytes
  assert.equal(invalidAt({ ops: [{ op: "delete", key: "é😀".repeat(67), version: 1 }] }), 0);
  p({ ops: [{ op: "delete", key: "😀".repeat(50), version: 1 }] }); // 200 bytes
  const msg = (v: unknown) => {
    try {
      p(v);
    } catch (e) {
      return (e as Error).message;
    }
    return "";
  };
  assert.equal(msg({ ops: [{ op: "update", key: "a", version: 0 }] }), 'invalid patch: op 0: update "version" must be an integer >= 1, got 0');
  assert.equal(msg({ ops: {} }), 'invalid patch: "ops" must be an array, got an object');
  assert.equal(msg({ ops: [{ op: "nope" }] }), 'invalid patch: op 0: unknown op "nope" (create, update, move, delete, text, split or join)');
  assert.equal(msg({ base: "x", ops: [] }), 'invalid patch: "base" must be a generation (an integer >= 0), got "x"');
  assert.equal(
    msg({ ops: [{ op: "delete", key: "a", version: 1, x: 1 }] }),
    'invalid patch: op 0: delete has unknown field "x" (allowed: op, key, version)',
  );
  assert.equal(
    msg({ ops: [{ op: "text", key: "a", version: 1, prop: "t", edits: [[0, 0, 5]] }] }),
    "invalid patch: op 0: text edit 0: insert must be a string, got 5",
  );
});

test("limits", () => {
  const many = { ops: Array.from({ length: 10_001 }, (_, i) => ({ op: "delete", key: `k${i}`, version: 1 })) };
  assert.throws(() => p(many), (e: unknown) => e instanceof PatchError && e.guc === "nodesync.max_ops_per_patch" && e.message === "patch has 10001 ops, more than nodesync.max_ops_per_patch (10000)");
  parsePatch(many); // the log limits have no op limit
  const edits = { ops: [{ op: "text", key: "a", version: 1, prop: "t", edits: Array.from({ length: 10_001 }, () => [0, 0, "x"]) }] };
  assert.throws(() => p(edits), /each text edit counts as one/);
  const big = { ops: [{ op: "create", key: "a", kind: "p", parent: "root", props: { t: "x".repeat(1 << 20) } }] };
  assert.throws(() => p(big), (e: unknown) => e instanceof PatchError && e.guc === "nodesync.max_props_bytes");
  parsePatch(big);
});

test("parsePatch throws nothing but PatchError", () => {
  const hostile = {
    ops: [
      {
        get op(): string {
          throw new TypeError("boom");
        },
      },
    ],
  };
  for (const v of [undefined, null, 1, "not json", "[1", hostile, { ops: [null] }, { ops: [{ op: 1 }] }]) {
    assert.throws(() => parsePatch(v), (e: unknown) => e instanceof PatchError && e instanceof NodesyncError, String(v));
  }
});

test("places", () => {
  assert.ok(placeEqual(Place.after("a"), { after: "a" }));
  assert.ok(!placeEqual(Place.after("a"), { after: "b" }));
  assert.ok(placeEqual(Place.first(), "first"));
  assert.ok(!placeEqual(Place.Last, "first"));
});
