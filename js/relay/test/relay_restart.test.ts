// The client's RelayTransport against the real relay: typed errors, and a relay restart
// (close + a new relay on the same port) while subscribed: it reconnects, re-subscribes, is
// told the current gen, and a diffSince from its gen catches up on the edits made meanwhile.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { WebSocket } from "ws";
import { startRelay, type RelayHandle } from "../src/index.js";
import { TOKENS, freshDatabase, loadClient, pgBase, sleep, startCluster, stopCluster, until, withClient } from "../test-support/helpers.js";

/** relay_restart_<pid> (freshDatabase) */
let DB: string;

describe("relay restart", () => {
  const relays: RelayHandle[] = [];
  const start = async (port: number) => {
    const r = await startRelay({ port, database: { ...pgBase, database: DB }, tokens: TOKENS, log: () => {} });
    relays.push(r);
    return r;
  };

  before(async () => {
    await startCluster();
    DB = await freshDatabase("relay_restart");
  });
  after(async () => {
    for (const r of relays) await r.close();
    await stopCluster();
  });

  const create = (key: string) => ({ ops: [{ op: "create", key, kind: "p", props: { text: key }, parent: "root" }] });

  test("RelayTransport maps error frames to the typed errors and refuses a bad token", async () => {
    const { relay: rt, errors } = await loadClient();
    const r = await start(0);
    const t = await rt.RelayTransport.connect(r.url, { token: "alice-secret-token", WebSocket });
    try {
      assert.equal(await t.ensureDoc("alice/typed"), true);
      assert.equal(await t.ensureDoc("alice/typed"), false);
      const a = await t.applyPatch("alice/typed", create("k1"), "typed", 1);
      assert.deepEqual(a, { gen: 2, versions: { k1: 1 }, duplicate: false });
      const again = await t.applyPatch("alice/typed", create("k1"), "typed", 1);
      assert.equal(again.duplicate, true);
      const conflict = await t.applyPatch("alice/typed", create("k1"), "typed", 2).catch((e: unknown) => e);
      assert.ok(conflict instanceof errors.ConflictError, String(conflict));
      assert.equal(conflict.gen, 2);
      assert.equal(conflict.conflicts[0]?.reason, "exists");
      const hidden = await t.snapshot("bob/notes").catch((e: unknown) => e);
      assert.ok(hidden instanceof errors.DbError && hidden.code === "42704", String(hidden));
      assert.equal((await t.snapshot("alice/typed", 1)).gen, 1);
      assert.deepEqual((await t.changesSince("alice/typed", 0)).map((c) => [c.gen, c.client, c.seq]), [[2, "typed", 1]]);
      assert.deepEqual(await t.changesSince("alice/typed", 0, 1), []);
      assert.equal((await t.diffSince("alice/typed", 1)).to, 2);
    } finally {
      await t.close();
    }
    const refused = await rt.RelayTransport.connect(r.url, { token: "not-a-token", WebSocket }).catch((e: unknown) => e);
    assert.ok(refused instanceof errors.DbError && refused.code === "unauthorized", String(refused));
    const noRelay = await rt.RelayTransport.connect("ws://127.0.0.1:1/", { token: "x", WebSocket }).catch((e: unknown) => e);
    assert.ok(noRelay instanceof errors.TransportError, String(noRelay));
  });

  test("after a relay restart the transport re-subscribes, hears the current gen and catches up with diffSince", async () => {
    const { relay: rt } = await loadClient();
    const first = await start(0);
    const port = first.port;
    const t = await rt.RelayTransport.connect(first.url, {
      token: "alice-secret-token",
      WebSocket,
      reconnectMinMs: 50,
      reconnectMaxMs: 300,
      timeoutMs: 20_000,
    });
    try {
      const heard: number[] = [];
      const unsubscribe = await t.subscribe("alice/notes", (n) => heard.push(n.gen));
      const a = await t.applyPatch("alice/notes", create("before-restart"), "rt", 1);
      await until(() => heard.includes(a.gen), 5000, "the first notify");
      const myGen = a.gen;

      await first.close();
      await until(() => t.connectionState === "reconnecting", 5000, "the transport to notice");
      // a call made while the relay is away waits for the reconnect (within timeoutMs)
      const waiting = t.snapshot("alice/notes");

      // edits made meanwhile, straight in SQL: nobody is there to notify
      const keys = ["meanwhile-1", "meanwhile-2", "meanwhile-3"];
      let gen = 0;
      await withClient(DB, async (c) => {
        await c.query("SET ROLE alice");
        for (const k of keys) {
          const r = await c.query<{ r: { gen: number } }>("SELECT nodesync.apply_patch('alice/notes', $1::jsonb) AS r", [JSON.stringify(create(k))]);
          gen = r.rows[0]!.r.gen;
        }
      });
      await sleep(300);
      assert.ok(!heard.includes(gen));

      await start(port);
      await until(() => heard.includes(gen), 10_000, "the notify with the current gen after the reconnect");
      assert.equal(t.connectionState, "open");
      assert.ok(t.stats.reconnects >= 1);
      assert.equal((await waiting).gen, gen);

      const diff = await t.diffSince("alice/notes", myGen);
      assert.equal(diff.from, myGen);
      assert.equal(diff.to, gen);
      assert.deepEqual(diff.nodes.map((n) => n.key).sort(), keys);

      // the new relay delivers live notifications to the re-made subscription
      const b = await t.applyPatch("alice/notes", create("after-restart"), "rt", 2);
      await until(() => heard.includes(b.gen), 5000, "a live notify after the restart");

      await unsubscribe();
      const c = await t.applyPatch("alice/notes", create("unsubscribed"), "rt", 3);
      await sleep(300);
      assert.ok(!heard.includes(c.gen), "a notify after unsubscribe");
      assert.equal(t.stats.malformedFrames, 0);
    } finally {
      await t.close();
    }
  });
});
