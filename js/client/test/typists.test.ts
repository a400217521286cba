// Concurrent typists (the TypeScript version of client/tests/typists.rs): replicas over
// PgTransport, each on its own pg connections, type unique words `[<id>.<n>]` (with a space
// before) at their own caret with splice, erase some of their own earlier words, press Enter
// (split) and Backspace at a block start (join), with random push / pull interleavings (some
// awaited, some left running while typing goes on, so edits are made while a patch is in
// flight), live pulls on notifications and small random delays. At quiescence:
//
// - every word not erased by its author is present exactly once, erased words are absent;
// - each typist's words are in the order typed (in whichever block they ended up);
// - every replica's tree equals snapshot() (compared as JSON); no rebase dropped anything;
// - the change log holds exactly the replicas' commits, no (client, seq) twice.
//
// Sizes: NODESYNC_TYPIST_STROKES strokes per typist (default 40), NODESYNC_TYPIST_SEED (fixed
// by default; the interleaving still varies with timing), NODESYNC_TYPISTS (4).

import { after, before, test } from "node:test";
import assert from "node:assert/strict";

import { PgTransport } from "../src/transport/pg.js";
import { Replica } from "../src/replica.js";
import { Tree } from "../src/tree.js";
import type { Dropped } from "../src/rebase.js";
import { freshDb, startCluster, stopCluster } from "./helpers/cluster.js";
import { PgTransports } from "./helpers/transports.js";
import { Rng, Typist, afterWord, blocksText, checkWords, count, percentile } from "./helpers/typist.js";
import type { Stroke } from "./helpers/typist.js";
import { assertAllEqual, assertInOrder, quiesce, typeAway, withStructure, wordsAndErasures } from "./helpers/typing.js";
import type { TypingStats } from "./helpers/typing.js";

const STROKES = Number(process.env.NODESYNC_TYPIST_STROKES ?? 40);
const SEED = Number(process.env.NODESYNC_TYPIST_SEED ?? 165032);
const N = Number(process.env.NODESYNC_TYPISTS ?? 4);

const pool = new PgTransports("ts-typist");
const connect = (): Promise<PgTransport> => pool.connect();

before(async () => {
  pool.cfg = await freshDb(await startCluster(), "nodesync_js_typists");
});

after(async () => {
  await pool.closeAll();
  await stopCluster();
});

interface Run {
  doc: string;
  texts: string[];
  pick: (rng: Rng) => Stroke;
  /** Block index and word offset where typist i starts. */
  place: (i: number) => [number, number];
  whole: (i: number) => boolean;
  label: string;
}

async function run(o: Run): Promise<void> {
  const setup = await connect();
  await setup.ensureDoc(o.doc);
  await setup.applyPatch(
    o.doc,
    { ops: [{ op: "create", key: "sec", kind: "section", parent: "root" }, ...o.texts.map((t, i) => ({ op: "create", key: `b${i}`, kind: "para", parent: "sec", props: { text: t } }))] },
    "setup",
    1,
  );
  const reps: Replica[] = [];
  const typists: Typist[] = [];
  const errors: unknown[] = [];
  const dropped: Dropped[] = [];
  for (let i = 0; i < N; i++) {
    const r = await Replica.open(await connect(), { doc: o.doc, client: `ty${i}`, keyPrefix: `t${i}.`, maxAttempts: 60, live: true, seed: SEED * 100 + i });
    r.on("error", (e) => errors.push(e));
    r.on("dropped", (d) => dropped.push(...d));
    const [block, word] = o.place(i);
    const key = `b${block}`;
    typists.push(new Typist(r, `t${i}`, "sec", key, afterWord(r.text(key, "text") ?? "", word), o.whole(i)));
    reps.push(r);
  }
  const stats: TypingStats = { inFlightStrokes: 0 };
  const t0 = performance.now();
  await Promise.all(reps.map((r, i) => typeAway(r, typists[i]!, new Rng(SEED * 7919 + i + 1), STROKES, o.pick, errors, stats)));
  const secs = (performance.now() - t0) / 1000;
  await quiesce(reps);
  assert.deepEqual(errors.map(String), [], "no push, pull or live pull failed");
  assert.deepEqual(dropped, [], "no rebase dropped anything");

  const server = Tree.fromSnapshot(await setup.snapshot(o.doc));
  assertAllEqual(server, reps);
  const text = blocksText(server, "sec");
  const wrong = checkWords(text, typists);
  assert.equal(wrong, undefined, `${wrong}\ntext: ${text}`);
  const typed = typists.reduce((a, t) => a + t.typed.length, 0);
  const kept = typists.flatMap((t) => t.kept());
  const present = kept.filter((w) => count(text, w) === 1).length;
  assert.equal(present, kept.length);
  assertInOrder(text, o.texts.join(" ").split(" "));
  assert.ok(stats.inFlightStrokes > 0, "no edit was made while a patch was in flight");

  const commits = reps.reduce((a, r) => a + r.stats.commits, 0);
  const conflicts = reps.reduce((a, r) => a + r.stats.conflicts, 0);
  const lat = reps.flatMap((r) => r.stats.pushLatenciesMs);
  const log = await setup.changesSince(o.doc, 2);
  assert.equal(log.length, commits, "the log holds exactly the replicas' commits");
  assert.equal(new Set(log.map((c) => `${c.client}/${c.seq}`)).size, log.length, "no (client, seq) twice");
  const splits = typists.reduce((a, t) => a + t.splits, 0);
  const joins = typists.reduce((a, t) => a + t.joins, 0);
  console.log(
    `ts typists: words typed ${kept.length}, present ${present}, commits ${commits}, conflicts ${conflicts}, ` +
      `commits/s ${(commits / secs).toFixed(0)}, push p50 ${percentile(lat, 50).toFixed(1)} ms p99 ${percentile(lat, 99).toFixed(1)} ms ` +
      `(${o.label}: ${N} typists x ${STROKES} strokes, seed ${SEED}; ${typed} typed, ${typed - kept.length} erased, ${splits} Enter, ${joins} Backspace, ` +
      `${stats.inFlightStrokes} strokes while a patch was in flight, ${server.children("sec").length} blocks, ${secs.toFixed(1)} s)`,
  );
  return void (o.pick === withStructure && assert.ok(splits > 0 && joins > 0, "no Enter or no Backspace happened"));
}

test(`${N} TS typists with Enter and Backspace converge`, { timeout: 300_000 }, async () => {
  await run({
    doc: "typists-structure",
    texts: ["one two three", "four five six", "seven eight nine"],
    pick: withStructure,
    place: (i) => [i % 3, 1 + (i % 2)],
    whole: () => false,
    label: "Enter and Backspace",
  });
});

test(`${N} TS typists in one paragraph (splices and whole-value updates) converge`, { timeout: 300_000 }, async () => {
  await run({
    doc: "typists-paragraph",
    texts: ["alpha beta gamma delta epsilon zeta eta theta"],
    pick: wordsAndErasures,
    place: (i) => [0, (i * 3) % 9],
    whole: (i) => i % 2 === 1,
    label: "one paragraph, mixed",
  });
});
