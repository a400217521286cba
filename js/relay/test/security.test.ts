// Access through the relay is exactly what RLS on nodesync.documents allows the socket's role:
// reads, writes, subscriptions and the fan-out of notifications.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startRelay, type RelayHandle } from "../src/index.js";
import { CloseCode } from "../src/protocol.js";
import { RawClient, TOKENS, freshDatabase, pgBase, sleep, startCluster, stopCluster, until, withClient } from "../test-support/helpers.js";

/** relay_security_<pid> (freshDatabase) */
let DB: string;
const TTL = 300;

describe("security", () => {
  let relay: RelayHandle;

  before(async () => {
    await startCluster();
    DB = await freshDatabase("relay_security");
    relay = await startRelay({
      port: 0,
      // a login role that is no superuser: it may only SET ROLE to alice, bob and carol
      database: { ...pgBase, user: "relay_login", database: DB },
      tokens: TOKENS,
      visibilityTtlMs: TTL,
      log: () => {},
      authenticate: undefined,
    });
  });
  after(async () => {
    await relay?.close();
    await stopCluster();
  });

  const patch = (key: string, text: string) => ({ ops: [{ op: "create", key, kind: "p", props: { text }, parent: "root" }] });

  test("the owner reads and writes its document; another role gets 42704 for every call on it", async () => {
    const alice = await RawClient.open(relay.url, "alice-secret-token");
    const bob = await RawClient.open(relay.url, "bob-secret-token");
    try {
      const w = await alice.call("applyPatch", { doc: "alice/notes", patch: patch("a1", "secret"), client: "alice-1", seq: 1 });
      assert.equal((w.result as { gen: number }).gen, 2, JSON.stringify(w));
      const s = await alice.call("snapshot", { doc: "alice/notes" });
      assert.equal((s.result as { gen: number }).gen, 2);
      assert.match(JSON.stringify(s.result), /secret/);
      const d = await alice.call("diffSince", { doc: "alice/notes", since: 1 });
      assert.deepEqual((d.result as { nodes: { key: string }[] }).nodes.map((n) => n.key), ["a1"]);
      const ch = await alice.call("changesSince", { doc: "alice/notes", since: 0 });
      assert.deepEqual((ch.result as { gen: number; seq: number }[]).map((c) => [c.gen, c.seq]), [[2, 1]]);
      const sub = await alice.call("subscribe", { doc: "alice/notes" });
      assert.deepEqual(sub.result, { doc: "alice/notes", gen: 2 });

      const calls: [string, Record<string, unknown>][] = [
        ["snapshot", { doc: "alice/notes" }],
        ["snapshot", { doc: "alice/notes", atGen: 1 }],
        ["diffSince", { doc: "alice/notes", since: 0 }],
        ["changesSince", { doc: "alice/notes", since: 0 }],
        ["applyPatch", { doc: "alice/notes", patch: patch("b1", "bob was here"), client: "bob-1", seq: 1 }],
        ["subscribe", { doc: "alice/notes" }],
      ];
      for (const [call, args] of calls) {
        const f = await bob.call(call, args);
        assert.equal(f.error?.code, "42704", `${call} as bob: ${JSON.stringify(f)}`);
        assert.equal(f.result, undefined);
        assert.doesNotMatch(JSON.stringify(f), /secret/);
        // the same answer as for a document that does not exist at all
        const g = await bob.call(call, { ...args, doc: "alice/nothing-here" });
        assert.equal(g.error?.code, "42704", `${call} of an unknown doc: ${JSON.stringify(g)}`);
      }
      // creating in alice's namespace is refused by the INSERT policy
      const e = await bob.call("ensureDoc", { doc: "alice/other" });
      assert.equal(e.error?.code, "42501", JSON.stringify(e));
      // bob's own namespace works; a second ensureDoc says "exists" (false)
      assert.deepEqual((await bob.call("ensureDoc", { doc: "bob/new" })).result, true);
      assert.deepEqual((await bob.call("ensureDoc", { doc: "bob/new" })).result, false);

      // nothing of bob's reached the database
      await withClient(DB, async (c) => {
        const r = await c.query("SELECT count(*)::int AS n FROM nodesync.changes_since('alice/notes', 0) WHERE client = 'bob-1'");
        assert.equal(r.rows[0].n, 0);
        const created = await c.query("SELECT created_by FROM nodesync.documents WHERE doc = 'bob/new'");
        assert.equal(created.rows[0].created_by, "bob");
      });
    } finally {
      alice.close();
      bob.close();
    }
  });

  test("notifications reach the subscribed owner only, and stop after access is revoked", async () => {
    const alice = await RawClient.open(relay.url, "alice-secret-token");
    const bob = await RawClient.open(relay.url, "bob-secret-token");
    try {
      await withClient(DB, (c) => c.query("INSERT INTO app.doc_access VALUES ('alice/notes', 'bob', false)"));
      assert.ok((await alice.call("subscribe", { doc: "alice/notes" })).result);
      const sb = await bob.call("subscribe", { doc: "alice/notes" });
      assert.equal(typeof (sb.result as { gen: number }).gen, "number", JSON.stringify(sb));
      assert.ok((await bob.call("subscribe", { doc: "bob/notes" })).result);

      // bob may read: both hear of alice's commit
      const w1 = await alice.call("applyPatch", { doc: "alice/notes", patch: patch("n1", "x"), client: "alice-2", seq: 1 });
      const g1 = (w1.result as { gen: number }).gen;
      await until(() => alice.notifications.some((n) => n.gen === g1), 5000, "alice's notify");
      await until(() => bob.notifications.some((n) => n.doc === "alice/notes" && n.gen === g1), 5000, "bob's notify");

      // revoke bob's access; after the visibility TTL the relay re-checks and stops telling him
      await withClient(DB, (c) => c.query("DELETE FROM app.doc_access WHERE doc = 'alice/notes' AND role = 'bob'"));
      await sleep(TTL * 2);
      const bobBefore = bob.notifications.length;
      const w2 = await alice.call("applyPatch", { doc: "alice/notes", patch: patch("n2", "y"), client: "alice-2", seq: 2 });
      const g2 = (w2.result as { gen: number }).gen;
      await until(() => alice.notifications.some((n) => n.gen === g2), 5000, "alice's second notify");
      // bob's own document still notifies him (so a missing frame below is not a dead socket)
      const w3 = await bob.call("applyPatch", { doc: "bob/notes", patch: patch("m1", "z"), client: "bob-2", seq: 1 });
      const g3 = (w3.result as { gen: number }).gen;
      await until(() => bob.notifications.some((n) => n.doc === "bob/notes" && n.gen === g3), 5000, "bob's own notify");
      await sleep(200);
      const extra = bob.notifications.slice(bobBefore).filter((n) => n.doc === "alice/notes");
      assert.deepEqual(extra, [], "bob heard of alice's document after losing access");
      // and alice never hears of bob's
      assert.ok(!alice.notifications.some((n) => n.doc.startsWith("bob/")));
    } finally {
      alice.close();
      bob.close();
    }
  });

  test("a conflict is an error frame with the parsed DETAIL (gen, conflicts)", async () => {
    const alice = await RawClient.open(relay.url, "alice-secret-token");
    try {
      const f = await alice.call("applyPatch", {
        doc: "alice/notes",
        patch: { ops: [{ op: "update", key: "a1", version: 7, props: { text: "z" } }] },
        client: "alice-3",
        seq: 1,
      });
      assert.equal(f.error?.code, "40001", JSON.stringify(f));
      assert.equal(typeof f.error?.gen, "number");
      assert.deepEqual(f.error?.conflicts, [{ op: 0, key: "a1", reason: "version", expected: 7, actual: 1 }]);
      const bad = await alice.call("applyPatch", { doc: "alice/notes", patch: { ops: [{ op: "nope" }] } });
      assert.equal(bad.error?.code, "22023", JSON.stringify(bad));
      const future = await alice.call("snapshot", { doc: "alice/notes", atGen: 999 });
      assert.equal(future.error?.code, "22023", JSON.stringify(future));
      // below the horizon: 55000
      await withClient(DB, (c) => c.query("SET ROLE alice; SELECT nodesync.compact('alice/notes', 2)"));
      const below = await alice.call("changesSince", { doc: "alice/notes", since: 0 });
      assert.equal(below.error?.code, "55000", JSON.stringify(below));
    } finally {
      alice.close();
    }
  });

  test("sockets without a valid token are closed with 4401 before any call", async () => {
    for (const token of [null, "wrong-token", ""]) {
      const c = await RawClient.open(relay.url, token);
      await c.waitClosed();
      assert.equal(c.closed?.code, CloseCode.unauthorized, `token ${token}`);
    }
    // the token in the query string and as a bearer header work too (non-browser clients)
    const q = await RawClient.open(`${relay.url}?token=alice-secret-token`, null);
    assert.equal((await q.call("ping")).result, "pong");
    q.close();
    const h = await RawClient.open(relay.url, null, { headers: { authorization: "Bearer bob-secret-token" } });
    assert.equal((await h.call("snapshot", { doc: "alice/notes" })).error?.code, "42704");
    h.close();
  });

  test("an authenticate hook may return settings: the policies see them via current_setting", async () => {
    const hooked = await startRelay({
      port: 0,
      database: { ...pgBase, user: "relay_login", database: DB },
      log: () => {},
      authenticate: (req) => {
        const t = new URL(req.url ?? "/", "http://x").searchParams.get("tenant");
        if (t === "alice") return { role: "carol", settings: { "app.tenant": "alice" } };
        if (t === "none") return { role: "carol" };
        if (t === "bad") return { role: "" };
        if (t === "throw") throw new Error("boom");
        return null;
      },
    });
    try {
      const withTenant = await RawClient.open(`${hooked.url}?tenant=alice`, null);
      const s = await withTenant.call("snapshot", { doc: "alice/notes" });
      assert.equal(s.error, undefined, JSON.stringify(s));
      // read-only: carol is not the creator and has no write grant
      const w = await withTenant.call("applyPatch", { doc: "alice/notes", patch: patch("c1", "carol"), client: "carol", seq: 1 });
      assert.equal(w.error?.code, "42704", JSON.stringify(w));
      withTenant.close();
      const without = await RawClient.open(`${hooked.url}?tenant=none`, null);
      assert.equal((await without.call("snapshot", { doc: "alice/notes" })).error?.code, "42704");
      without.close();
      for (const t of ["bad", "throw", "other"]) {
        const c = await RawClient.open(`${hooked.url}?tenant=${t}`, null);
        await c.waitClosed();
        assert.equal(c.closed?.code, CloseCode.unauthorized, t);
      }
    } finally {
      await hooked.close();
    }
  });
});
