// PgTransport against a real cluster: the JSON shape of every call, the typed errors, and
// notifications (delivery, per-document filtering, a configured channel, the reconnect of the
// LISTEN connection).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";

import { PgTransport, mapPgError } from "../src/transport/pg.js";
import type { Notification } from "../src/transport/types.js";
import { ClosedError, ConflictError, DbError, HorizonError, TransportError } from "../src/errors.js";
import { freshDb, sql, startCluster, stopCluster } from "./helpers/cluster.js";

let cfg: pg.ClientConfig;
let t: PgTransport;

before(async () => {
  const c = await startCluster();
  cfg = await freshDb(c, "nodesync_js_pg_transport");
  t = await PgTransport.connect({ ...cfg, max: 4 });
});

after(async () => {
  await t?.close();
  await stopCluster();
});

/** Resolves with the first notification `pred` accepts (rejects after `ms`). */
function waitFor(list: Notification[], pred: (n: Notification) => boolean, ms = 5000): Promise<Notification> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      const n = list.find(pred);
      if (n) return resolve(n);
      if (Date.now() - t0 > ms) return reject(new Error(`no notification in ${ms} ms; got ${JSON.stringify(list)}`));
      setTimeout(tick, 10);
    };
    tick();
  });
}

describe("PgTransport calls", () => {
  test("connect reads the settings; int8 as numbers without touching pg.types", async () => {
    const r = await t.pool.query("SELECT 42::int8 AS n");
    assert.equal(r.rows[0].n, 42);
    const plain = new pg.Client(cfg);
    await plain.connect();
    try {
      assert.equal((await plain.query("SELECT 42::int8 AS n")).rows[0].n, "42", "the global int8 parser stays node-postgres's");
    } finally {
      await plain.end();
    }
  });

  test("settings from the PG* environment (PGHOST a socket directory), or a connection string", async () => {
    const saved = { ...process.env };
    try {
      Object.assign(process.env, { PGHOST: cfg.host, PGPORT: String(cfg.port), PGUSER: cfg.user, PGDATABASE: cfg.database });
      const e = await PgTransport.connect();
      assert.equal((await e.pool.query("SELECT current_database() AS d")).rows[0].d, cfg.database);
      await e.close();
    } finally {
      for (const k of ["PGHOST", "PGPORT", "PGUSER", "PGDATABASE"]) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
    const s = await PgTransport.connect(`postgresql://${cfg.user}@/${cfg.database}?host=${cfg.host}&port=${cfg.port}`);
    assert.equal((await s.pool.query("SELECT current_database() AS d")).rows[0].d, cfg.database);
    await s.close();
  });

  test("ensureDoc: true, then false for an existing document", async () => {
    assert.equal(await t.ensureDoc("d1"), true);
    assert.equal(await t.ensureDoc("d1"), false);
    assert.equal(await t.ensureDoc("d1k", "page"), true);
    const s = await t.snapshot("d1k");
    assert.equal(s.root.kind, "page");
  });

  test("snapshot shape", async () => {
    const s = await t.snapshot("d1");
    assert.deepEqual(s, { doc: "d1", gen: 1, root: { key: "root", kind: "doc", props: {}, version: 1, gen: 1, pos: null, children: [] } });
  });

  test("applyPatch shape, duplicate, diffSince, changesSince, snapshot at a gen", async () => {
    await t.ensureDoc("d2");
    const a = await t.applyPatch("d2", { base: 1, ops: [{ op: "create", key: "p1", kind: "para", parent: "root", props: { text: "Hi" } }] }, "c1", 10);
    assert.deepEqual(a, { gen: 2, versions: { p1: 1 }, duplicate: false });
    assert.equal(typeof a.gen, "number");
    const again = await t.applyPatch("d2", { base: 1, ops: [{ op: "create", key: "p1", kind: "para", parent: "root" }] }, "c1", 10);
    assert.deepEqual(again, { gen: 2, versions: { p1: 1 }, duplicate: true }, "a seq applies at most once");
    const b = await t.applyPatch(
      "d2",
      { base: 2, ops: [{ op: "text", key: "p1", version: 1, prop: "text", edits: [[2, 0, " there"]] }, { op: "create", key: "p2", kind: "para", parent: "root" }] },
      "c1",
      11,
    );
    assert.deepEqual(b, { gen: 3, versions: { p1: 2, p2: 1 }, duplicate: false });
    const c = await t.applyPatch("d2", { ops: [{ op: "delete", key: "p2", version: 1 }] }, "c2", 1);
    assert.deepEqual(c, { gen: 4, versions: { p2: null }, duplicate: false });

    const d = await t.diffSince("d2", 2);
    assert.equal(d.doc, "d2");
    assert.equal(d.from, 2);
    assert.equal(d.to, 4);
    assert.equal(d.reset, false);
    assert.deepEqual(d.deleted, ["p2"]);
    assert.equal(d.nodes.length, 1);
    const n = d.nodes[0]!;
    assert.deepEqual(Object.keys(n).sort(), ["gen", "key", "kind", "parent", "pos", "props", "version"]);
    assert.equal(n.key, "p1");
    assert.equal(n.parent, "root");
    assert.equal(typeof n.pos, "string");
    assert.deepEqual(n.props, { text: "Hi there" });
    assert.equal(n.version, 2);
    assert.equal(n.gen, 3);

    const all = await t.changesSince("d2", 1);
    assert.deepEqual(all.map((x) => [x.gen, x.client, x.seq]), [[2, "c1", 10], [3, "c1", 11], [4, "c2", 1]]);
    assert.deepEqual(all[0]!.patch, { base: 1, ops: [{ op: "create", key: "p1", kind: "para", parent: "root", props: { text: "Hi" } }] });
    assert.deepEqual(all[1]!.patch.ops[0], { op: "text", key: "p1", version: 1, prop: "text", edits: [[2, 0, " there"]] });
    const upto = await t.changesSince("d2", 1, 3);
    assert.deepEqual(upto.map((x) => x.gen), [2, 3]);
    assert.deepEqual(await t.changesSince("d2", 4), []);

    const at2 = await t.snapshot("d2", 2);
    assert.equal(at2.gen, 2);
    assert.deepEqual(at2.root.children.map((x) => [x.key, x.props]), [["p1", { text: "Hi" }]]);
    const now = await t.snapshot("d2");
    assert.equal(now.gen, 4);
    assert.deepEqual(now.root.children.map((x) => [x.key, x.props, x.version, x.gen]), [["p1", { text: "Hi there" }, 2, 3]]);
    assert.deepEqual(await t.applyPatch("d2", { ops: [] }, "c1", 12), { gen: 4, versions: {}, duplicate: false }, "an empty patch commits nothing");
  });

  test("a conflict is a ConflictError with the DETAIL's gen and conflicts", async () => {
    await t.ensureDoc("d3");
    await t.applyPatch("d3", { ops: [{ op: "create", key: "p1", kind: "para", parent: "root" }] }, "c1", 1);
    await t.applyPatch("d3", { ops: [{ op: "update", key: "p1", version: 1, props: { a: 1 } }] }, "c1", 2);
    await assert.rejects(
      t.applyPatch("d3", { base: 2, ops: [{ op: "create", key: "p9", kind: "para", parent: "root" }, { op: "update", key: "p1", version: 1, props: { a: 2 } }] }, "c2", 1),
      (e: unknown) => {
        assert.ok(e instanceof ConflictError, String(e));
        assert.equal(e.code, "40001");
        assert.equal(e.gen, 3);
        assert.deepEqual(e.conflicts, [{ op: 1, key: "p1", reason: "version", expected: 1, actual: 2 }]);
        return true;
      },
    );
    await assert.rejects(t.applyPatch("d3", { ops: [{ op: "create", key: "p1", kind: "para", parent: "root" }] }, "c2", 2), (e: unknown) => {
      assert.ok(e instanceof ConflictError);
      assert.equal(e.conflicts[0]?.reason, "exists");
      assert.equal(e.conflicts[0]?.key, "p1");
      return true;
    });
    // the refused patch left no trace and did not use up its seq
    assert.deepEqual(await t.applyPatch("d3", { ops: [{ op: "update", key: "p1", version: 2, props: { a: 2 } }] }, "c2", 1), { gen: 4, versions: { p1: 3 }, duplicate: false });
  });

  test("unknown document: DbError 42704 from every call", async () => {
    const isUnknown = (e: unknown) => {
      assert.ok(e instanceof DbError, String(e));
      assert.equal(e.code, "42704");
      assert.match(e.message, /nope/);
      return true;
    };
    await assert.rejects(t.snapshot("nope"), isUnknown);
    await assert.rejects(t.applyPatch("nope", { ops: [] }, "c", 1), isUnknown);
    await assert.rejects(t.diffSince("nope", 0), isUnknown);
    await assert.rejects(t.changesSince("nope", 0), isUnknown);
    await assert.rejects(t.waitGen("nope", 0, 0), isUnknown);
  });

  test("an invalid patch is DbError 22023; below the horizon is HorizonError", async () => {
    await t.ensureDoc("d4");
    await assert.rejects(t.applyPatch("d4", { ops: [{ op: "frobnicate" }] }, "c", 1), (e: unknown) => e instanceof DbError && e.code === "22023");
    await assert.rejects(t.applyPatch("d4", { ops: [{ op: "delete", key: "root", version: 1 }] }, "c", 1), (e: unknown) => e instanceof DbError && e.code === "22023");
    for (let i = 0; i < 3; i++) await t.applyPatch("d4", { ops: [{ op: "create", key: `p${i}`, kind: "para", parent: "root" }] }, "c", i + 1);
    await sql(cfg, "SELECT nodesync.compact('d4', 3)");
    await assert.rejects(t.changesSince("d4", 1), (e: unknown) => e instanceof HorizonError && e.code === "55000");
    await assert.rejects(t.snapshot("d4", 2), (e: unknown) => e instanceof HorizonError);
    assert.deepEqual((await t.changesSince("d4", 3)).map((c) => c.gen), [4]);
    const d = await t.diffSince("d4", 1);
    assert.equal(d.reset, true);
    assert.deepEqual(d.nodes.map((n) => n.key).sort(), ["p0", "p1", "p2", "root"]);
  });

  test("no server: TransportError; a lost connection: TransportError", async () => {
    await assert.rejects(PgTransport.connect({ host: "/tmp/nodesync-js-no-such-dir", port: 1, connectionTimeoutMillis: 2000 }), (e: unknown) => e instanceof TransportError);
    const c = new pg.Client(cfg);
    await c.connect();
    c.on("error", () => {});
    let err: unknown;
    try {
      await c.query("SELECT pg_terminate_backend(pg_backend_pid())");
    } catch (e) {
      err = e;
    }
    await c.end().catch(() => {});
    assert.ok(err, "terminating the own backend fails the query");
    assert.ok(mapPgError(err) instanceof TransportError, `${String(err)} → ${String(mapPgError(err))}`);
    // a pooled connection killed under the transport: the call fails with TransportError or
    // (if the pool noticed first) succeeds on a new connection; never anything else
    const pids = await sql<{ pid: number }>(cfg, "SELECT pid FROM pg_stat_activity WHERE application_name = 'pg-nodesync-js' AND datname = current_database() AND pid <> pg_backend_pid()");
    for (const { pid } of pids) if (pid !== t.listenerPid) await sql(cfg, "SELECT pg_terminate_backend($1)", [pid]);
    for (let i = 0; i < 3; i++) {
      try {
        await t.snapshot("d1");
      } catch (e) {
        assert.ok(e instanceof TransportError, String(e));
      }
    }
    assert.equal((await t.snapshot("d1")).doc, "d1");
  });
});

describe("PgTransport notifications", () => {
  test("delivered per document, with the committed gen", async () => {
    await t.ensureDoc("n1");
    await t.ensureDoc("n2");
    const got: Notification[] = [];
    const other: Notification[] = [];
    const stop = await t.subscribe("n1", (n) => got.push(n));
    const stop2 = await t.subscribe("n2", (n) => other.push(n));
    // committed elsewhere (a plain connection)
    await sql(cfg, `SELECT nodesync.apply_patch('n1', '{"ops": [{"op": "create", "key": "a", "kind": "k", "parent": "root"}]}')`);
    await waitFor(got, (n) => n.gen === 2);
    await t.applyPatch("n1", { ops: [{ op: "update", key: "a", version: 1, props: { x: 1 } }] }, "c", 1);
    await waitFor(got, (n) => n.gen === 3);
    assert.deepEqual(got, [{ doc: "n1", gen: 2 }, { doc: "n1", gen: 3 }]);
    assert.deepEqual(other, [], "another document's subscriber hears nothing");
    await stop();
    await sql(cfg, `SELECT nodesync.apply_patch('n1', '{"ops": [{"op": "delete", "key": "a", "version": 2}]}')`);
    await sql(cfg, `SELECT nodesync.apply_patch('n2', '{"ops": []}')`);
    await sql(cfg, `SELECT nodesync.apply_patch('n2', '{"ops": [{"op": "create", "key": "b", "kind": "k", "parent": "root"}]}')`);
    await waitFor(other, (n) => n.gen === 2);
    assert.equal(got.length, 2, "unsubscribed: nothing more");
    assert.deepEqual(other, [{ doc: "n2", gen: 2 }], "an empty patch notifies nobody");
    await stop2();
  });

  test("the LISTEN connection is re-established and subscribers told the current gen", async () => {
    await t.ensureDoc("n3");
    const got: Notification[] = [];
    const stop = await t.subscribe("n3", (n) => got.push(n));
    const pid = t.listenerPid;
    assert.ok(pid, "a LISTEN connection");
    const reconnects = t.reconnects;
    await sql(cfg, "SELECT pg_terminate_backend($1)", [pid]);
    // committed while the listener is gone: the NOTIFY is lost, the re-notify is not
    await sql(cfg, `SELECT nodesync.apply_patch('n3', '{"ops": [{"op": "create", "key": "a", "kind": "k", "parent": "root"}]}')`);
    await waitFor(got, (n) => n.gen === 2, 10000);
    assert.ok(t.reconnects > reconnects, "reconnected");
    assert.notEqual(t.listenerPid, pid);
    await sql(cfg, `SELECT nodesync.apply_patch('n3', '{"ops": [{"op": "create", "key": "b", "kind": "k", "parent": "root"}]}')`);
    await waitFor(got, (n) => n.gen === 3);
    await stop();
  });

  test("a configured channel (nodesync.notify_channel)", async () => {
    const c = await startCluster();
    const cfg2 = await freshDb(c, "nodesync_js_pg_channel");
    await sql(cfg2, `ALTER DATABASE "${cfg2.database}" SET nodesync.notify_channel = 'Edits'`);
    const t2 = await PgTransport.connect(cfg2, { channel: "Edits" });
    const t3 = await PgTransport.connect(cfg2);
    try {
      await t2.ensureDoc("c1");
      const got: Notification[] = [];
      const wrong: Notification[] = [];
      await t2.subscribe("c1", (n) => got.push(n));
      await t3.subscribe("c1", (n) => wrong.push(n));
      await t2.applyPatch("c1", { ops: [{ op: "create", key: "a", kind: "k", parent: "root" }] }, "x", 1);
      await waitFor(got, (n) => n.gen === 2);
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(wrong, [], "nothing on the default channel");
    } finally {
      await t2.close();
      await t3.close();
    }
  });

  test("after close every call rejects with ClosedError", async () => {
    const t2 = await PgTransport.connect(cfg);
    await t2.subscribe("d1", () => {});
    await t2.close();
    await t2.close();
    await assert.rejects(t2.snapshot("d1"), ClosedError);
    await assert.rejects(t2.applyPatch("d1", { ops: [] }, "c", 1), ClosedError);
    await assert.rejects(t2.subscribe("d1", () => {}), ClosedError);
  });
});
