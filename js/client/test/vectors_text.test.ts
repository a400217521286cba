// The shared text vectors (tests/vectors/README.md), written by the Rust tests:
// - text_transform.json (client/tests/text_vectors.rs): the text transform;
// - text_diff.json, section "diff" (client/tests/workspace_vectors/): ot::diff as splices.
// The TypeScript implementation must compute exactly the stored cases.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Assoc, TextOp, diff, transform } from "../src/ot.js";
import { type Edit, apply, cpLen, editFromJson, editToJson } from "../src/text.js";

// this file runs from js/client/dist/test/
const VECTORS = new URL("../../../../tests/vectors/", import.meta.url);

function load(name: string): Record<string, unknown> {
  const path = fileURLToPath(new URL(name, VECTORS));
  if (!existsSync(path)) {
    assert.fail(
      `${path} is missing: it is written by the Rust tests (NODESYNC_WRITE_VECTORS=1 cargo test -p pg_nodesync_client --test ${name === "text_diff.json" ? "workspace_vectors" : "text_vectors"})`,
    );
  }
  return JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
}

const edits = (v: unknown): Edit[] => (v as unknown[]).map(editFromJson);
const wire = (e: Edit[]) => e.map(editToJson);

interface TransformCase {
  name: string;
  base: string;
  server: unknown;
  local: unknown;
  local_after_server: unknown;
  server_after_local: unknown;
  result: string;
  carets: [number, number][];
}

test("vectors: text_transform.json", () => {
  const file = load("text_transform.json");
  const cases = file["cases"] as TransformCase[];
  assert.ok(Array.isArray(cases) && cases.length > 0, "no cases");
  for (const c of cases) {
    const s = edits(c.server);
    const l = edits(c.local);
    // both orders give the stored result, with the stored rebased splices
    assert.equal(apply(apply(c.base, s), edits(c.local_after_server)), c.result, c.name);
    assert.equal(apply(apply(c.base, l), edits(c.server_after_local)), c.result, c.name);
    // and this implementation computes exactly the stored case
    const n = cpLen(c.base);
    const so = TextOp.fromSplices(n, s);
    const lo = TextOp.fromSplices(n, l);
    const [s2, l2] = transform(so, lo);
    assert.deepEqual(wire(l2.toSplices()), c.local_after_server, `${c.name}: local_after_server`);
    assert.deepEqual(wire(s2.toSplices()), c.server_after_local, `${c.name}: server_after_local`);
    assert.equal(l2.apply(so.apply(c.base)), c.result, `${c.name}: result`);
    assert.deepEqual(
      c.carets.map(([p]) => [p, so.map(p, Assoc.After)]),
      c.carets,
      `${c.name}: carets`,
    );
  }
});

interface DiffCase {
  name: string;
  old: string;
  new: string;
  splices: unknown;
}

test("vectors: text_diff.json (diff)", () => {
  const file = load("text_diff.json");
  const cases = file["diff"] as DiffCase[];
  assert.ok(Array.isArray(cases) && cases.length > 0, 'no "diff" cases');
  for (const c of cases) {
    assert.equal(apply(c.old, edits(c.splices)), c.new, `${c.name}: the stored splices`);
    assert.deepEqual(wire(diff(c.old, c.new).toSplices()), c.splices, c.name);
  }
});
