// RelayTransport against a scripted fake relay (a ws server): ids, timeouts, typed errors,
// malformed frames, reconnect and re-subscribe. The real relay: js/relay/test/.
import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { WebSocketServer, WebSocket } from "ws";
import type { AddressInfo } from "node:net";
import { RelayTransport, relayError } from "../src/transport/relay.js";
import { ConflictError, DbError, HorizonError, ProtocolError, TransportError } from "../src/errors.js";

interface Req {
  id: number;
  call: string;
  args: Record<string, unknown>;
}
type Handler = (req: Req, ws: WebSocket) => void;

class FakeRelay {
  readonly wss: WebSocketServer;
  readonly requests: Req[] = [];
  readonly tokens: (string | null)[] = [];
  sockets: WebSocket[] = [];
  handler: Handler = (req, ws) => reply(ws, req.id, { echo: req.call });
  /** What to do with a new socket: send hello (default), refuse with 4401, or stay silent. */
  onConnect: "hello" | "refuse" | "silent" = "hello";

  constructor() {
    this.wss = new WebSocketServer({
      port: 0,
      host: "127.0.0.1",
      handleProtocols: (p) => (p.has("nodesync.v1") ? "nodesync.v1" : false),
    });
    this.wss.on("connection", (ws, req) => {
      const proto = String(req.headers["sec-websocket-protocol"] ?? "")
        .split(",")
        .map((s) => s.trim())
        .find((s) => s.startsWith("nodesync.auth."));
      this.tokens.push(proto ? Buffer.from(proto.slice("nodesync.auth.".length), "base64url").toString("utf8") : null);
      this.sockets.push(ws);
      if (this.onConnect === "refuse") return ws.close(4401, "unauthorized");
      if (this.onConnect === "hello") ws.send(JSON.stringify({ hello: { protocol: "nodesync.v1" } }));
      ws.on("message", (d) => {
        const req = JSON.parse(String(d)) as Req;
        this.requests.push(req);
        this.handler(req, ws);
      });
    });
  }
  get url(): string {
    return `ws://127.0.0.1:${(this.wss.address() as AddressInfo).port}/`;
  }
  dropAll(): void {
    for (const s of this.sockets) s.terminate();
    this.sockets = [];
  }
  close(): Promise<void> {
    this.dropAll();
    return new Promise((r) => this.wss.close(() => r()));
  }
}

function reply(ws: WebSocket, id: number, result: unknown): void {
  ws.send(JSON.stringify({ id, result }));
}
function fail(ws: WebSocket, id: number, error: unknown): void {
  ws.send(JSON.stringify({ id, error }));
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(pred: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error("timed out");
    await sleep(10);
  }
}

describe("RelayTransport", () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });
  async function setup(opts: Partial<Parameters<typeof RelayTransport.connect>[1]> = {}) {
    const relay = new FakeRelay();
    cleanup.push(() => relay.close());
    await new Promise((r) => relay.wss.once("listening", r));
    const t = await RelayTransport.connect(relay.url, { token: "tökén / with spaces", WebSocket, reconnectMinMs: 20, reconnectMaxMs: 100, ...opts });
    cleanup.push(() => t.close());
    return { relay, t };
  }

  test("the token travels as a subprotocol; answers are matched by id, in any order", async () => {
    const { relay, t } = await setup();
    assert.deepEqual(relay.tokens, ["tökén / with spaces"]);
    const held: Req[] = [];
    relay.handler = (req, ws) => {
      held.push(req);
      if (held.length === 3) for (const r of held.reverse()) reply(ws, r.id, { doc: r.args["doc"], gen: 1, from: 0, to: 1, reset: false, nodes: [], deleted: [] });
    };
    const [a, b, c] = await Promise.all([t.diffSince("a", 0), t.diffSince("b", 0), t.diffSince("c", 0)]);
    assert.deepEqual([a.doc, b.doc, c.doc], ["a", "b", "c"]);
    assert.deepEqual(relay.requests.map((r) => [r.call, r.args]), [
      ["diffSince", { doc: "a", since: 0 }],
      ["diffSince", { doc: "b", since: 0 }],
      ["diffSince", { doc: "c", since: 0 }],
    ]);
    relay.handler = (req, ws) => reply(ws, req.id, req.call === "ensureDoc" ? true : req.call === "changesSince" ? [] : {});
    assert.equal(await t.ensureDoc("d"), true);
    assert.deepEqual(await t.changesSince("d", 0, 5), []);
    await t.applyPatch("d", { ops: [] }, "me", 7);
    assert.deepEqual(relay.requests.slice(3).map((r) => [r.call, r.args]), [
      ["ensureDoc", { doc: "d" }],
      ["changesSince", { doc: "d", since: 0, upto: 5 }],
      ["applyPatch", { doc: "d", patch: { ops: [] }, client: "me", seq: 7 }],
    ]);
  });

  test("error frames become the typed errors", async () => {
    const { relay, t } = await setup();
    const errors: Record<string, unknown> = {
      c: { code: "40001", message: "conflict", gen: 9, conflicts: [{ op: 0, key: "p1", reason: "version", expected: 1, actual: 2 }] },
      h: { code: "55000", message: "below the horizon" },
      u: { code: "42704", message: 'document "u" does not exist', detail: "d" },
      x: { code: "unavailable", message: "db down" },
      w: { nonsense: true },
    };
    relay.handler = (req, ws) => fail(ws, req.id, errors[req.args["doc"] as string]);
    const c = await t.snapshot("c").catch((e: unknown) => e);
    assert.ok(c instanceof ConflictError);
    assert.equal(c.gen, 9);
    assert.deepEqual(c.conflicts, [{ op: 0, key: "p1", reason: "version", expected: 1, actual: 2 }]);
    assert.ok((await t.snapshot("h").catch((e: unknown) => e)) instanceof HorizonError);
    const u = await t.snapshot("u").catch((e: unknown) => e);
    assert.ok(u instanceof DbError && u.code === "42704" && u.detail === "d");
    assert.ok((await t.snapshot("x").catch((e: unknown) => e)) instanceof TransportError);
    assert.ok((await t.snapshot("w").catch((e: unknown) => e)) instanceof ProtocolError);
    assert.ok(relayError("nope") instanceof ProtocolError);
    // a result of the wrong shape is a ProtocolError too
    relay.handler = (req, ws) => reply(ws, req.id, "not a snapshot");
    assert.ok((await t.snapshot("s").catch((e: unknown) => e)) instanceof ProtocolError);
  });

  test("calls the relay refused unrun (rate_limited, busy) are sent again after a pause, until the timeout", async () => {
    const { relay, t } = await setup({ timeoutMs: 600 });
    let refusals = 0;
    relay.handler = (req, ws) => {
      if (req.args["doc"] === "slow" && refusals < 3) {
        refusals++;
        return fail(ws, req.id, { code: refusals === 2 ? "busy" : "rate_limited", message: "slow down" });
      }
      if (req.args["doc"] === "never") return fail(ws, req.id, { code: "rate_limited", message: "slow down" });
      reply(ws, req.id, { doc: req.args["doc"], from: 0, to: 1, reset: false, nodes: [], deleted: [] });
    };
    assert.equal((await t.diffSince("slow", 0)).doc, "slow");
    assert.equal(t.stats.throttled, 3);
    assert.equal(relay.requests.filter((r) => r.args["doc"] === "slow").length, 4);
    const started = Date.now();
    const e = await t.diffSince("never", 0).catch((e: unknown) => e);
    assert.ok(e instanceof DbError && e.code === "rate_limited", String(e));
    assert.ok(Date.now() - started < 1500, "gives up within about timeoutMs");
    assert.ok(relay.requests.filter((r) => r.args["doc"] === "never").length > 1);
  });

  test("malformed frames are ignored and counted; the transport keeps working", async () => {
    const { relay, t } = await setup();
    const heard: number[] = [];
    relay.handler = (req, ws) => reply(ws, req.id, { doc: "d", gen: 3 });
    await t.subscribe("d", (n) => heard.push(n.gen));
    const ws = relay.sockets[0]!;
    for (const junk of ["not json", "[1]", "null", '{"id": 999, "result": 1}', '{"notify": {"doc": "d"}}', '{"notify": 5}', '{"hello": 3}', '{"what": 1}']) ws.send(junk);
    ws.send(Buffer.from([0xff, 0xfe]), { binary: true });
    ws.send(JSON.stringify({ notify: { doc: "d", gen: 4 } }));
    ws.send(JSON.stringify({ notify: { doc: "d", dropped: true } }));
    ws.send(JSON.stringify({ notify: { doc: "other", gen: 4 } }));
    await until(() => heard.length === 1);
    assert.deepEqual(heard, [4]);
    await until(() => t.stats.malformedFrames === 9);
    relay.handler = (req, w) => reply(w, req.id, { doc: "d", gen: 4, root: {} });
    assert.equal((await t.snapshot("d")).gen, 4);
  });

  test("a call without an answer times out with a TransportError; a late answer is ignored", async () => {
    const { relay, t } = await setup({ timeoutMs: 150 });
    let late: Req | undefined;
    relay.handler = (req) => {
      late = req;
    };
    const e = await t.snapshot("d").catch((x: unknown) => x);
    assert.ok(e instanceof TransportError, String(e));
    reply(relay.sockets[0]!, late!.id, { doc: "d", gen: 1, root: {} });
    await until(() => t.stats.malformedFrames === 1);
  });

  test("after a drop: the call on the wire fails, the transport reconnects, re-subscribes and reports the relay's gen", async () => {
    const { relay, t } = await setup();
    let gen = 5;
    relay.handler = (req, ws) => {
      if (req.call === "subscribe") reply(ws, req.id, { doc: req.args["doc"], gen });
      else if (req.call === "snapshot") {
        // never answered: the socket drops first
      } else reply(ws, req.id, { doc: req.args["doc"], gen, from: 0, to: gen, reset: false, nodes: [], deleted: [] });
    };
    const heard: [string, number][] = [];
    await t.subscribe("a", (n) => heard.push([n.doc, n.gen]));
    await t.subscribe("a", (n) => heard.push([`${n.doc}'`, n.gen]));
    await t.subscribe("b", (n) => heard.push([n.doc, n.gen]));
    assert.equal(relay.requests.filter((r) => r.call === "subscribe").length, 2, "one subscribe per document");
    const onWire = t.snapshot("a").catch((e: unknown) => e);
    await until(() => relay.requests.some((r) => r.call === "snapshot"));
    gen = 8;
    relay.dropAll();
    assert.ok((await onWire) instanceof TransportError);
    await until(() => t.connectionState === "reconnecting");
    const queued = t.diffSince("a", 5); // made while away: sent after the reconnect
    await until(() => heard.length === 3);
    assert.deepEqual(heard.map((h) => h.join("@")).sort(), ["a'@8", "a@8", "b@8"]);
    assert.equal((await queued).to, 8);
    assert.equal(t.connectionState, "open");
    assert.equal(t.stats.reconnects, 1);
    assert.equal(relay.tokens.length, 2);
    assert.equal(relay.requests.filter((r) => r.call === "subscribe").length, 4);
  });

  test("unsubscribe: the last listener of a document sends unsubscribe; a refused subscribe rejects", async () => {
    const { relay, t } = await setup();
    relay.handler = (req, ws) => {
      if (req.call === "subscribe" && req.args["doc"] === "hidden") fail(ws, req.id, { code: "42704", message: "no" });
      else if (req.call === "subscribe") reply(ws, req.id, { doc: req.args["doc"], gen: 1 });
      else reply(ws, req.id, true);
    };
    const e = await t.subscribe("hidden", () => {}).catch((x: unknown) => x);
    assert.ok(e instanceof DbError && e.code === "42704");
    const u1 = await t.subscribe("a", () => {});
    const u2 = await t.subscribe("a", () => {});
    await u1();
    assert.ok(!relay.requests.some((r) => r.call === "unsubscribe"));
    await u2();
    await u2();
    assert.equal(relay.requests.filter((r) => r.call === "unsubscribe").length, 1);
  });

  test("reconnect: false fails calls after a drop; close() stops everything", async () => {
    const { relay, t } = await setup({ reconnect: false });
    relay.dropAll();
    await until(() => t.connectionState === "closed");
    assert.ok((await t.snapshot("a").catch((e: unknown) => e)) instanceof TransportError);
    assert.equal(relay.tokens.length, 1);

    const other = await setup();
    let held = false;
    other.relay.handler = () => {
      held = true;
    };
    const pending = other.t.snapshot("a").catch((e: unknown) => e);
    await until(() => held);
    await other.t.close();
    assert.ok((await pending) instanceof TransportError);
    assert.equal(other.t.connectionState, "closed");
    await sleep(150);
    assert.equal(other.relay.tokens.length, 1, "no reconnect after close()");
  });

  test("connect: a refused token is DbError 'unauthorized'; a relay that never says hello is a TransportError", async () => {
    const relay = new FakeRelay();
    cleanup.push(() => relay.close());
    await new Promise((r) => relay.wss.once("listening", r));
    relay.onConnect = "refuse";
    const e = await RelayTransport.connect(relay.url, { token: "bad", WebSocket }).catch((x: unknown) => x);
    assert.ok(e instanceof DbError && e.code === "unauthorized", String(e));
    relay.onConnect = "silent";
    const s = await RelayTransport.connect(relay.url, { token: "t", WebSocket, timeoutMs: 100 }).catch((x: unknown) => x);
    assert.ok(s instanceof TransportError, String(s));
    // Node 20 has no global WebSocket: without options.WebSocket connect says so
    if ((globalThis as { WebSocket?: unknown }).WebSocket === undefined) await assert.rejects(RelayTransport.connect(relay.url, {}), TransportError);
  });
});
