// Concurrent typists through the relay: client/test/typists.test.ts with every replica over its
// OWN RelayTransport socket to one relay started here, instead of PgTransport. The relay's pool
// logs in as relay_login (no superuser; it may only SET ROLE), the tokens map to alice (who
// creates and owns the documents) and bob (who may write them through app.doc_access), so
// every call of the typists runs under RLS, and live pulls ride on the relay's NOTIFY fan-out.
//
// The typists (client/test/helpers/typist.ts, typing.ts) type unique words `[<id>.<n>]` at
// their own caret, erase some of their own, press Enter and Backspace, with random push / pull
// interleavings (some left running while typing goes on). At quiescence, as in typists.test.ts:
//
// - every word not erased by its author is present exactly once, erased words are absent;
// - each typist's words are in the order typed;
// - every replica's tree equals snapshot() read via SQL (PgTransport, not through the relay);
//   no rebase dropped anything, no push / pull / live pull failed;
// - the change log (read via SQL) holds exactly the replicas' commits, no (client, seq) twice;
// - no socket dropped or reconnected, the relay logged no internal error.
//
// Sizes: NODESYNC_TYPIST_STROKES (default 40), NODESYNC_TYPIST_SEED (fixed by default; the
// interleaving still varies with timing), NODESYNC_TYPISTS (4).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { WebSocket } from "ws";
import { Replica, RelayTransport, Tree } from "@pg-nodesync/client";
import type { Dropped } from "@pg-nodesync/client";
import { PgTransport } from "@pg-nodesync/client/pg";
import { startRelay, type RelayHandle } from "../src/index.js";
import { freshDatabase, pgBase, startCluster, stopCluster, withClient } from "../test-support/helpers.js";
import type * as TypistModule from "../../client/test/helpers/typist.js";
import type * as TypingModule from "../../client/test/helpers/typing.js";

/** relay_typists_<pid> (freshDatabase) */
let DB: string;
const STROKES = Number(process.env["NODESYNC_TYPIST_STROKES"] ?? 40);
const SEED = Number(process.env["NODESYNC_TYPIST_SEED"] ?? 165032);
const N = Number(process.env["NODESYNC_TYPISTS"] ?? 4);

/** Typist i's token: even typists are alice (the owner), odd ones bob (a write grant). */
const TOKENS: Record<string, { role: string }> = Object.fromEntries(
  Array.from({ length: N }, (_, i) => [`typist-${i}-token`, { role: i % 2 === 0 ? "alice" : "bob" }]),
);

/** The client's typist helpers, from its build output (js/relay/dist/test → js/client/dist/test/helpers). */
async function loadTypists(): Promise<{ typist: typeof TypistModule; typing: typeof TypingModule }> {
  const base = new URL("../../../client/dist/test/helpers/", import.meta.url);
  const typist = (await import(new URL("typist.js", base).href)) as typeof TypistModule;
  const typing = (await import(new URL("typing.js", base).href)) as typeof TypingModule;
  return { typist, typing };
}

interface Run {
  doc: string;
  texts: string[];
  pick: "withStructure" | "wordsAndErasures";
  /** Block index and word offset where typist i starts. */
  place: (i: number) => [number, number];
  whole: (i: number) => boolean;
  label: string;
}

describe("relay typists", () => {
  let relay: RelayHandle;
  let sql: PgTransport;
  const relayLog: string[] = [];
  const transports: RelayTransport[] = [];

  before(async () => {
    await startCluster();
    DB = await freshDatabase("relay_typists");
    relay = await startRelay({
      port: 0,
      // a login role that is no superuser: it may only SET ROLE to alice, bob and carol
      database: { ...pgBase, user: "relay_login", database: DB },
      tokens: TOKENS,
      // the relay's default rate limit (50 frames/s per socket, burst 100): these typists send
      // ~100 frames/s per socket, so some calls are refused unrun (rate_limited) and the
      // transport sends them again after a pause
      log: (l) => relayLog.push(l),
    });
    // the checks read the database directly, not through the relay
    sql = await PgTransport.connect({ ...pgBase, database: DB, max: 2 }, { applicationName: "relay-typists-check" });
  });
  after(async () => {
    for (const t of transports) await t.close().catch(() => {});
    await sql?.close();
    await relay?.close();
    await stopCluster();
  });

  async function connect(i: number): Promise<RelayTransport> {
    const t = await RelayTransport.connect(relay.url, { token: `typist-${i}-token`, WebSocket, timeoutMs: 30_000 });
    transports.push(t);
    return t;
  }

  async function run(o: Run): Promise<void> {
    const { typist: ty, typing } = await loadTypists();
    const pick = typing[o.pick];
    // alice creates the document (created_by = alice) and its blocks through the relay
    const setup = await connect(0);
    assert.equal(await setup.ensureDoc(o.doc), true);
    await setup.applyPatch(
      o.doc,
      { ops: [{ op: "create", key: "sec", kind: "section", parent: "root" }, ...o.texts.map((t, i) => ({ op: "create", key: `b${i}`, kind: "para", parent: "sec", props: { text: t } }))] },
      "setup",
      1,
    );
    await withClient(DB, (c) => c.query("INSERT INTO app.doc_access VALUES ($1, 'bob', true)", [o.doc]));

    const reps: Replica[] = [];
    const sockets: RelayTransport[] = [];
    const typists: TypistModule.Typist[] = [];
    const errors: unknown[] = [];
    const dropped: Dropped[] = [];
    for (let i = 0; i < N; i++) {
      const t = await connect(i);
      sockets.push(t);
      const r = await Replica.open(t, { doc: o.doc, client: `rty${i}`, keyPrefix: `t${i}.`, maxAttempts: 60, live: true, seed: SEED * 100 + i });
      r.on("error", (e) => errors.push(e));
      r.on("dropped", (d) => dropped.push(...d));
      const [block, word] = o.place(i);
      const key = `b${block}`;
      typists.push(new ty.Typist(r, `t${i}`, "sec", key, ty.afterWord(r.text(key, "text") ?? "", word), o.whole(i)));
      reps.push(r);
    }
    const { calls: calls0, notifications: notes0 } = relay.stats();
    const stats: TypingModule.TypingStats = { inFlightStrokes: 0 };
    const t0 = performance.now();
    await Promise.all(reps.map((r, i) => typing.typeAway(r, typists[i]!, new ty.Rng(SEED * 7919 + i + 1), STROKES, pick, errors, stats)));
    const secs = (performance.now() - t0) / 1000;
    await typing.quiesce(reps);
    assert.deepEqual(errors.map(String), [], "no push, pull or live pull failed");
    assert.deepEqual(dropped, [], "no rebase dropped anything");

    const server = Tree.fromSnapshot(await sql.snapshot(o.doc));
    typing.assertAllEqual(server, reps);
    const text = ty.blocksText(server, "sec");
    const wrong = ty.checkWords(text, typists);
    assert.equal(wrong, undefined, `${wrong}\ntext: ${text}`);
    const typed = typists.reduce((a, t) => a + t.typed.length, 0);
    const kept = typists.flatMap((t) => t.kept());
    const present = kept.filter((w) => ty.count(text, w) === 1).length;
    assert.equal(present, kept.length);
    typing.assertInOrder(text, o.texts.join(" ").split(" "));
    assert.ok(stats.inFlightStrokes > 0, "no edit was made while a patch was in flight");

    const commits = reps.reduce((a, r) => a + r.stats.commits, 0);
    const conflicts = reps.reduce((a, r) => a + r.stats.conflicts, 0);
    const lat = reps.flatMap((r) => r.stats.pushLatenciesMs);
    const log = await sql.changesSince(o.doc, 2);
    assert.equal(log.length, commits, "the log holds exactly the replicas' commits");
    assert.equal(new Set(log.map((c) => `${c.client}/${c.seq}`)).size, log.length, "no (client, seq) twice");
    assert.ok(log.every((c) => /^rty\d+$/.test(c.client ?? "")), "only the typists committed after the setup");
    // every typist committed something (bob's sockets wrote through the doc_access grant)
    for (const r of reps) assert.ok(r.stats.commits > 0, `${r.client} committed nothing`);
    for (const t of sockets) {
      assert.equal(t.connectionState, "open", "every socket is still open");
      assert.equal(t.stats.reconnects, 0, "no socket dropped and reconnected");
      assert.equal(t.stats.malformedFrames, 0, "no malformed frame");
    }
    const bad = relayLog.filter((l) => /internal error|closing a socket|connection lost/.test(l));
    assert.deepEqual(bad, [], "the relay logged no trouble");
    const rs = relay.stats();
    const throttled = sockets.reduce((a, t) => a + t.stats.throttled, 0);
    // every refusal the transports have seen so far was sent again (a refusal of a live pull
    // that a late notification started may still be on its way: the counts need not be equal)
    assert.ok(throttled <= rs.rateLimited, `${throttled} calls sent again, ${rs.rateLimited} refused`);
    for (const r of reps) await r.close();

    const splits = typists.reduce((a, t) => a + t.splits, 0);
    const joins = typists.reduce((a, t) => a + t.joins, 0);
    console.log(
      `relay typists: words typed ${kept.length}, present ${present}, commits ${commits}, conflicts ${conflicts}, ` +
        `commits/s ${(commits / secs).toFixed(0)}, push p50 ${ty.percentile(lat, 50).toFixed(1)} ms p99 ${ty.percentile(lat, 99).toFixed(1)} ms ` +
        `(${o.label}: ${N} typists x ${STROKES} strokes over ${N} relay sockets, seed ${SEED}; ${typed} typed, ${typed - kept.length} erased, ` +
        `${splits} Enter, ${joins} Backspace, ${stats.inFlightStrokes} strokes while a patch was in flight, ${server.children("sec").length} blocks, ` +
        `${rs.calls - calls0} relay calls (${throttled} refused for the rate and sent again), ${rs.notifications - notes0} notifications, ${secs.toFixed(1)} s)`,
    );
    if (o.pick === "withStructure") assert.ok(splits > 0 && joins > 0, "no Enter or no Backspace happened");
  }

  test(`${N} typists over the relay with Enter and Backspace converge`, { timeout: 120_000 }, async () => {
    await run({
      doc: "alice/typists-structure",
      texts: ["one two three", "four five six", "seven eight nine"],
      pick: "withStructure",
      place: (i) => [i % 3, 1 + (i % 2)],
      whole: () => false,
      label: "Enter and Backspace",
    });
  });

  test(`${N} typists over the relay in one paragraph (splices and whole-value updates) converge`, { timeout: 120_000 }, async () => {
    await run({
      doc: "alice/typists-paragraph",
      texts: ["alpha beta gamma delta epsilon zeta eta theta"],
      pick: "wordsAndErasures",
      place: (i) => [0, (i * 3) % 9],
      whole: (i) => i % 2 === 1,
      label: "one paragraph, mixed",
    });
  });
});
