// The shared workspace vectors (tests/vectors/README.md), written by the Rust tests
// (client/tests/workspace_vectors/):
// - workspace.json: scripted and random workspaces; every step is replayed on TypeScript
//   Workspaces and its result (or error) and the whole state after it are checked;
// - text_diff.json, section "merge": rebase::merge_text.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { EditError } from "../src/errors.js";
import { type Patch, type Place, parsePatch, patchToJson } from "../src/patch.js";
import { type Policy, droppedToJson, mergeText } from "../src/rebase.js";
import { treeFromVectorJson, treeToVectorJson } from "../src/tree.js";
import { Workspace } from "../src/workspace.js";

// this file runs from js/client/dist/test/
const VECTORS = new URL("../../../../tests/vectors/", import.meta.url);

function load(name: string): Record<string, unknown> {
  const path = fileURLToPath(new URL(name, VECTORS));
  if (!existsSync(path)) {
    assert.fail(`${path} is missing: it is written by the Rust tests (NODESYNC_WRITE_VECTORS=1 cargo test -p pg_nodesync_client --test workspace_vectors)`);
  }
  return JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
}

interface Expect {
  tree: unknown;
  shadow_gen: number;
  has_local_edits: boolean;
  patch: unknown;
  cursors: Record<string, { key: string; prop: string; at: number }>;
}

interface Step {
  ws: number;
  call: string;
  args: unknown[];
  result?: unknown;
  error?: string;
  expect: Expect;
}

interface Case {
  name: string;
  base: unknown;
  workspaces: string[];
  steps: Step[];
}

function log(v: unknown): [number, Patch][] | null {
  if (v === null) return null;
  return (v as [number, unknown][]).map(([g, p]) => [g, parsePatch(p)]);
}

const str = (v: unknown): string => v as string;
const num = (v: unknown): number => v as number;
const place = (v: unknown): Place => v as Place;
const props = (v: unknown): Record<string, unknown> => structuredClone(v) as Record<string, unknown>;

/** Runs one call; returns its result in the vector form. */
function call(w: Workspace, name: string, a: unknown[]): unknown {
  switch (name) {
    case "splice":
      w.splice(str(a[0]), str(a[1]), num(a[2]), num(a[3]), str(a[4]));
      return null;
    case "create":
      return w.create(str(a[0]), place(a[1]), str(a[2]), props(a[3]));
    case "create_with_key":
      w.createWithKey(str(a[0]), str(a[1]), place(a[2]), str(a[3]), props(a[4]));
      return null;
    case "update":
      w.update(str(a[0]), a[1] === null ? null : str(a[1]), props(a[2]));
      return null;
    case "move_to":
      w.moveTo(str(a[0]), str(a[1]), place(a[2]));
      return null;
    case "delete":
      w.delete(str(a[0]));
      return null;
    case "split":
      w.split(str(a[0]), str(a[1]), num(a[2]), str(a[3]));
      return null;
    case "join":
      return w.join(str(a[0]), str(a[1]), str(a[2]));
    case "fresh_key":
      return w.freshKey();
    case "set_cursor":
      w.setCursor(str(a[0]), str(a[1]), str(a[2]), num(a[3]));
      return null;
    case "remove_cursor":
      w.removeCursor(str(a[0]));
      return null;
    case "forget_noop_edits":
      w.forgetNoopEdits();
      return null;
    case "committed_alone":
      return w.committedAlone(parsePatch(a[0]), num(a[1]), a[2]);
    case "committed_with":
      w.committedWith(treeFromVectorJson(a[0]), log(a[1]), num(a[2]));
      return null;
    case "rebase_with": {
      const [, dropped] = w.rebaseWith(treeFromVectorJson(a[0]), log(a[1]), a[2] as Policy);
      return dropped.map(droppedToJson);
    }
    default:
      throw new Error(`unknown call ${name}`);
  }
}

function state(w: Workspace): Expect {
  const cursors: Expect["cursors"] = {};
  for (const [name, c] of w.cursors()) cursors[name] = { key: c.key, prop: c.prop, at: c.at };
  return {
    tree: treeToVectorJson(w.tree()),
    shadow_gen: w.shadow().gen,
    has_local_edits: w.hasLocalEdits(),
    patch: patchToJson(w.patch()),
    cursors,
  };
}

/** A JSON round trip: `undefined` fields dropped, as in the vector file. */
function plain(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v));
}

const file = load("workspace.json");
const cases = file["cases"] as Case[];

test("vectors: workspace.json", async (t) => {
  assert.ok(cases.length > 0, "no cases");
  for (const c of cases) {
    await t.test(c.name, () => {
      const base = treeFromVectorJson(c.base);
      base.check();
      const ws = c.workspaces.map((prefix) => new Workspace(base.clone(), prefix));
      c.steps.forEach((s, i) => {
        const w = ws[s.ws];
        assert.ok(w, `step ${i}: no workspace ${s.ws}`);
        const where = `step ${i} (ws ${s.ws} ${s.call} ${JSON.stringify(s.args).slice(0, 300)})`;
        if (s.error !== undefined) {
          assert.throws(
            () => call(w, s.call, s.args),
            (e: unknown) => e instanceof EditError && e.kind === s.error,
            `${where}: expected EditError ${s.error}`,
          );
        } else {
          let got: unknown;
          try {
            got = call(w, s.call, s.args);
          } catch (e) {
            assert.fail(`${where}: threw ${e instanceof Error ? e.stack : String(e)}`);
          }
          assert.deepStrictEqual(plain(got), s.result ?? null, `${where}: result`);
        }
        const st = plain(state(w)) as Expect;
        const ex = s.expect;
        assert.deepStrictEqual(st.tree, ex.tree, `${where}: tree`);
        assert.deepStrictEqual(st.patch, ex.patch, `${where}: patch`);
        assert.equal(st.shadow_gen, ex.shadow_gen, `${where}: shadow_gen`);
        assert.equal(st.has_local_edits, ex.has_local_edits, `${where}: has_local_edits`);
        assert.deepStrictEqual(st.cursors, ex.cursors, `${where}: cursors`);
        // the local tree stays a tree
        w.tree().check();
      });
    });
  }
});

interface MergeCase {
  name: string;
  base: string;
  local: string;
  remote: string;
  result: string;
}

test("vectors: text_diff.json merge (merge_text)", async (t) => {
  const f = load("text_diff.json");
  const merge = f["merge"] as MergeCase[];
  assert.ok(merge.length > 0);
  for (const m of merge) {
    await t.test(m.name, () => {
      assert.equal(mergeText(m.base, m.local, m.remote), m.result);
    });
  }
});

