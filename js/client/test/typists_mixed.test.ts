// Rust and TypeScript typists on one document at the same time: 2 `nodesync-typist` processes
// (the Rust client, client/src/bin/nodesync-typist.rs) and 2 TS replicas over PgTransport,
// each typing unique words at its own caret, erasing some of its own, pressing Enter and
// Backspace, with random push / pull / live interleavings. At quiescence every word of all
// four (kept: present exactly once; erased: absent; each typist's in typing order) is in
// snapshot(), the TS replicas equal snapshot(), and the Rust processes report
// `equal_snapshot` and nothing dropped.
//
// The binary is built once here (`cargo build -q -p pg_nodesync_client --features sim --bin
// nodesync-typist`, cwd the repository), and run with the PG* variables of the test database.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import * as path from "node:path";
import type pg from "pg";

import { PgTransport } from "../src/transport/pg.js";
import { Replica } from "../src/replica.js";
import { Tree } from "../src/tree.js";
import type { Dropped } from "../src/rebase.js";
import { REPO, dbEnv, freshDb, startCluster, stopCluster } from "./helpers/cluster.js";
import { PgTransports } from "./helpers/transports.js";
import type { Cluster } from "./helpers/cluster.js";
import { Rng, Typist, afterWord, blocksText, checkWords, count, percentile, sleep } from "./helpers/typist.js";
import type { TypistRecord } from "./helpers/typist.js";
import { assertAllEqual, assertInOrder, quiesce, typeAway, withStructure } from "./helpers/typing.js";
import type { TypingStats } from "./helpers/typing.js";

const run = promisify(execFile);
const STROKES = Number(process.env.NODESYNC_TYPIST_STROKES ?? 40);
const SEED = Number(process.env.NODESYNC_TYPIST_SEED ?? 7);
const TEXTS = ["one two three", "four five six", "seven eight nine"];

let cluster: Cluster;
let cfg: pg.ClientConfig;

const pool = new PgTransports("ts-typist");
const connect = (): Promise<PgTransport> => pool.connect();

before(async () => {
  cluster = await startCluster();
  cfg = pool.cfg = await freshDb(cluster, "nodesync_js_typists_mixed");
});

after(async () => {
  await pool.closeAll();
  await stopCluster();
});

interface RustReport {
  id: string;
  typed: string[];
  erased: string[];
  keystrokes?: number;
  commits: number;
  conflicts: number;
  dropped: unknown[];
  equal_snapshot: boolean;
  gen?: number;
}

/** Runs one Rust typist; resolves with its report (rejects with its stderr if it fails). */
function rustTypist(bin: string, env: Record<string, string>, args: string[]): Promise<RustReport> {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr.on("data", (d: Buffer) => (err += d.toString()));
    p.on("error", reject);
    p.on("close", (code) => {
      const line = out.trim().split("\n").pop() ?? "";
      let report: RustReport | undefined;
      try {
        report = JSON.parse(line) as RustReport;
      } catch {
        // below
      }
      if (code !== 0 || !report) return reject(new Error(`nodesync-typist ${args.join(" ")} exited ${code}: ${err.trim()} ${out.trim()}`));
      resolve(report);
    });
  });
}

test("2 Rust and 2 TS typists on one document converge", { timeout: 600_000 }, async () => {
  await run("cargo", ["build", "-q", "-p", "pg_nodesync_client", "--features", "sim", "--bin", "nodesync-typist"], { cwd: REPO, maxBuffer: 1 << 24 });
  const bin = path.join(REPO, "target/debug/nodesync-typist");

  const setup = await connect();
  const doc = "mixed";
  await setup.ensureDoc(doc);
  await setup.applyPatch(
    doc,
    { ops: [{ op: "create", key: "sec", kind: "section", parent: "root" }, ...TEXTS.map((t, i) => ({ op: "create", key: `b${i}`, kind: "para", parent: "sec", props: { text: t } }))] },
    "setup",
    1,
  );

  // the TS typists, open before the Rust ones start
  const reps: Replica[] = [];
  const typists: Typist[] = [];
  const errors: unknown[] = [];
  const dropped: Dropped[] = [];
  for (let i = 0; i < 2; i++) {
    const id = `ts${i + 1}`;
    const r = await Replica.open(await connect(), { doc, client: id, keyPrefix: `${id}.`, maxAttempts: 60, live: true, seed: SEED * 100 + i });
    r.on("error", (e) => errors.push(e));
    r.on("dropped", (d) => dropped.push(...d));
    const key = `b${1 + i}`;
    typists.push(new Typist(r, id, "sec", key, afterWord(r.text(key, "text") ?? "", 1 + i)));
    reps.push(r);
  }

  const env = dbEnv(cluster, cfg.database!);
  const t0 = performance.now();
  const rust = [
    rustTypist(bin, env, ["--doc", doc, "--id", "rs1", "--parent", "sec", "--key", "b0", "--at", "3", "--strokes", String(STROKES), "--seed", String(SEED)]),
    rustTypist(bin, env, ["--doc", doc, "--id", "rs2", "--parent", "sec", "--key", "b1", "--at", "13", "--strokes", String(STROKES), "--seed", String(SEED + 1)]),
  ];
  rust.forEach((p) => p.catch(() => {}));
  // start typing once a Rust typist has committed, so that both sides type at the same time
  const firstRust = performance.now();
  for (;;) {
    const log = await setup.changesSince(doc, 2);
    if (log.some((c) => c.client?.startsWith("rs"))) break;
    if (performance.now() - firstRust > 30_000) throw new Error("no Rust typist committed in 30 s");
    await sleep(2);
  }
  const stats: TypingStats = { inFlightStrokes: 0 };
  await Promise.all(reps.map((r, i) => typeAway(r, typists[i]!, new Rng(SEED * 7919 + i + 1), STROKES, withStructure, errors, stats)));
  // the Rust typists settle (pull until the gen has stood still for 1.5 s) and report
  const reports = await Promise.all(rust);
  const secs = (performance.now() - t0) / 1000;
  await quiesce(reps);
  assert.deepEqual(errors.map(String), [], "no TS push, pull or live pull failed");
  assert.deepEqual(dropped, [], "no TS rebase dropped anything");
  for (const rep of reports) {
    assert.equal(rep.equal_snapshot, true, `${rep.id} does not equal snapshot()`);
    assert.deepEqual(rep.dropped, [], `${rep.id} dropped edits`);
  }

  const server = Tree.fromSnapshot(await setup.snapshot(doc));
  assertAllEqual(server, reps);
  for (const rep of reports) assert.equal(rep.gen ?? server.gen, server.gen, `${rep.id} settled at another gen`);
  const text = blocksText(server, "sec");
  const all: TypistRecord[] = [...typists, ...reports.map((r) => ({ id: r.id, typed: r.typed, erased: new Set(r.erased) }))];
  const wrong = checkWords(text, all);
  assert.equal(wrong, undefined, `${wrong}\ntext: ${text}`);
  const kept = all.flatMap((t) => t.typed.filter((w) => !t.erased.has(w)));
  const present = kept.filter((w) => count(text, w) === 1).length;
  assert.equal(present, kept.length);
  for (const t of all) assert.ok(t.typed.length > 0, `${t.id} typed nothing`);
  assertInOrder(text, TEXTS.join(" ").split(" "));

  // both sides committed while the other was typing
  const log = await setup.changesSince(doc, 2);
  const rustGens = log.filter((c) => c.client?.startsWith("rs")).map((c) => c.gen);
  const tsGens = log.filter((c) => c.client?.startsWith("ts")).map((c) => c.gen);
  const between = (xs: number[], ys: number[]) => xs.some((g) => g > Math.min(...ys) && g < Math.max(...ys));
  assert.ok(between(tsGens, rustGens) || between(rustGens, tsGens), `the runs did not overlap (rust ${rustGens.join(",")}; ts ${tsGens.join(",")})`);
  const commits = reps.reduce((a, r) => a + r.stats.commits, 0) + reports.reduce((a, r) => a + r.commits, 0);
  assert.equal(log.length, commits, "the log holds exactly the typists' commits");
  assert.equal(new Set(log.map((c) => `${c.client}/${c.seq}`)).size, log.length, "no (client, seq) twice");
  const conflicts = reps.reduce((a, r) => a + r.stats.conflicts, 0) + reports.reduce((a, r) => a + r.conflicts, 0);
  const lat = reps.flatMap((r) => r.stats.pushLatenciesMs);
  console.log(
    `mixed typists: words typed ${kept.length}, present ${present}, commits ${commits} (rust ${rustGens.length}, ts ${tsGens.length}), conflicts ${conflicts}, ` +
      `ts push p50 ${percentile(lat, 50).toFixed(1)} ms p99 ${percentile(lat, 99).toFixed(1)} ms, ${stats.inFlightStrokes} TS strokes while a patch was in flight, ` +
      `${server.children("sec").length} blocks, ${secs.toFixed(1)} s (2 Rust + 2 TS typists x ${STROKES} strokes, seed ${SEED})`,
  );
});
