// Postgres goes away (immediate stop = every backend killed, crash recovery on start; then a
// fast stop) while a writer sends applyPatch through the relay: every acknowledged patch is in
// the database afterwards, calls during the outage get `unavailable`, and the relay recovers
// (LISTEN reconnects, subscribers are told the current gen) without a restart.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startRelay, type RelayHandle } from "../src/index.js";
import { RawClient, TOKENS, cluster, clusterCrash, freshDatabase, pgBase, sleep, startCluster, stopCluster, until, withClient } from "../test-support/helpers.js";

/** relay_pg_restart_<pid> (freshDatabase) */
let DB: string;

interface Outcome {
  seq: number;
  key: string;
  gen?: number;
  code?: string;
  /** When the call was sent, and how long its answer took. */
  t0: number;
  ms: number;
}

describe("postgres restart", () => {
  let relay: RelayHandle;
  const lines: string[] = [];

  before(async () => {
    await startCluster();
    DB = await freshDatabase("relay_pg_restart");
    relay = await startRelay({
      port: 0,
      database: { ...pgBase, database: DB, connectionTimeoutMillis: 2000 },
      tokens: TOKENS,
      ratePerSecond: 1000,
      reconnectMinMs: 100,
      reconnectMaxMs: 1000,
      log: (l) => lines.push(l),
    });
  });
  after(async () => {
    await relay?.close();
    await stopCluster();
  });

  for (const [name, stop] of [
    ["immediate stop (crash)", clusterCrash],
    ["fast stop", () => cluster("stop")],
  ] as const) {
    test(`${name} mid-run: acknowledged patches survive, outage calls get unavailable, the relay recovers`, async () => {
      const writer = await RawClient.open(relay.url, "alice-secret-token");
      const watcher = await RawClient.open(relay.url, "alice-secret-token");
      const idle = await RawClient.open(relay.url, "bob-secret-token");
      const client = `writer-${name.split(" ")[0]}`;
      let stopWriter = false;
      let writing: Promise<void> = Promise.resolve();
      try {
        assert.ok((await watcher.call("subscribe", { doc: "alice/notes" })).result);
        const bobSub = await idle.call("subscribe", { doc: "bob/notes" });
        const bobGen = (bobSub.result as { gen: number }).gen;

        const outcomes: Outcome[] = [];
        let phase = "before" as "before" | "down" | "after";
        const acked = () => outcomes.filter((o) => o.gen !== undefined);
        writing = (async () => {
          for (let seq = 1; !stopWriter; seq++) {
            const key = `${client}-${seq}`;
            const t0 = Date.now();
            const f = await writer.call("applyPatch", {
              doc: "alice/notes",
              patch: { ops: [{ op: "create", key, kind: "p", props: { text: `edit ${seq}` }, parent: "root" }] },
              client,
              seq,
            });
            const o: Outcome = { seq, key, t0, ms: Date.now() - t0 };
            if (f.result !== undefined) o.gen = (f.result as { gen: number }).gen;
            else o.code = f.error?.code ?? "?";
            outcomes.push(o);
            await sleep(phase === "down" ? 20 : 5);
          }
        })();

        await until(() => acked().length >= 20, 20_000, "20 acks before the stop");
        const idleBefore = idle.notifications.length;
        phase = "down";
        stop();
        const downAt = Date.now();
        await sleep(1500);
        // calls sent during the outage were answered (quickly), with `unavailable` (a call sent
        // before the stop may have committed, or not: its answer is either)
        const during = outcomes.filter((o) => o.t0 > downAt);
        assert.ok(during.length >= 5, `only ${during.length} calls during the outage`);
        assert.ok(during.every((o) => o.code === "unavailable"), JSON.stringify(during.slice(0, 5)));
        assert.ok(during.every((o) => o.ms < 3000), "a call hung during the outage");
        assert.equal(relay.stats().listening, false);

        cluster("start");
        phase = "after";
        const ackedAtRestart = acked().length;
        await until(() => acked().length >= ackedAtRestart + 20, 30_000, "20 acks after the restart");
        stopWriter = true;
        await writing;

        // every error is `unavailable` (no crash, no internal error)
        const codes = new Set(outcomes.filter((o) => o.code !== undefined).map((o) => o.code));
        assert.deepEqual([...codes], ["unavailable"]);
        assert.equal(writer.closed, null, "the writer's socket survived");

        // every acknowledged patch is in the database, at the gen it was acknowledged with
        await withClient(DB, async (c) => {
          const r = await c.query<{ gen: string; seq: string }>(
            "SELECT gen, seq FROM nodesync.changes_since('alice/notes', 0) WHERE client = $1",
            [client],
          );
          const logged = new Map(r.rows.map((row) => [Number(row.seq), Number(row.gen)]));
          const snap = await c.query<{ s: unknown }>("SELECT nodesync.snapshot('alice/notes') AS s");
          const text = JSON.stringify(snap.rows[0]?.s);
          for (const o of acked()) {
            assert.equal(logged.get(o.seq), o.gen, `acknowledged seq ${o.seq} (gen ${o.gen}) is not in the log`);
            assert.ok(text.includes(`"${o.key}"`), `acknowledged ${o.key} is not in the snapshot`);
          }
        });

        // the relay listens again; the idle subscriber was told bob/notes' current gen (no commit needed)
        await until(() => relay.stats().listening, 10_000, "LISTEN to reconnect");
        await until(() => idle.notifications.slice(idleBefore).some((n) => n.doc === "bob/notes" && n.gen === bobGen), 10_000, "the resync notify");
        // and live notifications flow again
        const last = acked().at(-1)!;
        await until(() => watcher.notifications.some((n) => n.gen !== undefined && n.gen >= last.gen!), 10_000, "a notify after the restart");
        assert.ok(lines.some((l) => /listen: connection lost/.test(l)), lines.join("\n"));
        assert.ok(lines.some((l) => /listen: reconnected/.test(l)), lines.join("\n"));
      } finally {
        stopWriter = true;
        await writing.catch(() => {});
        writer.close();
        watcher.close();
        idle.close();
      }
    });
  }
});
