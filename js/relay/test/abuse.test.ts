// Malformed, oversized and too many frames: error frames (or a close with a reason for the
// oversized and the sustained case), and the socket and the relay stay usable.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startRelay, type RelayHandle } from "../src/index.js";
import { CloseCode } from "../src/protocol.js";
import { RawClient, TOKENS, freshDatabase, pgBase, sleep, startCluster, stopCluster } from "../test-support/helpers.js";

/** relay_abuse_<pid> (freshDatabase) */
let DB: string;

describe("abuse", () => {
  let relay: RelayHandle;
  const extra: RelayHandle[] = [];
  const start = async (o: Parameters<typeof startRelay>[0]) => {
    const r = await startRelay({ port: 0, database: { ...pgBase, database: DB }, tokens: TOKENS, log: () => {}, ...o });
    extra.push(r);
    return r;
  };

  before(async () => {
    await startCluster();
    DB = await freshDatabase("relay_abuse");
    relay = await start({ maxMessageBytes: 4096, maxFrameBytes: 16384, ratePerSecond: 1000 });
  });
  after(async () => {
    for (const r of extra) await r.close();
    await stopCluster();
  });

  async function stillUsable(c: RawClient): Promise<void> {
    assert.equal((await c.call("ping")).result, "pong");
    const s = await c.call("snapshot", { doc: "alice/notes" });
    assert.equal((s.result as { doc: string }).doc, "alice/notes", JSON.stringify(s));
  }

  test("malformed frames get error frames and the socket stays usable", async () => {
    const c = await RawClient.open(relay.url, "alice-secret-token");
    const cases: [string | Buffer, unknown, string][] = [
      ["this is not json", null, "bad_request"],
      ["", null, "bad_request"],
      ["[1,2,3]", null, "bad_request"],
      ["42", null, "bad_request"],
      ['"a string"', null, "bad_request"],
      ["null", null, "bad_request"],
      ['{"call": "ping"}', null, "bad_request"],
      ['{"id": {"x": 1}, "call": "ping"}', null, "bad_request"],
      ['{"id": 1.5, "call": "ping"}', null, "bad_request"],
      [JSON.stringify({ id: "x".repeat(65), call: "ping" }), null, "bad_request"],
      ['{"id": 101, "call": "drop_everything", "args": {}}', 101, "unknown_call"],
      ['{"id": 102, "call": 7}', 102, "bad_request"],
      ['{"id": 103, "call": "snapshot", "args": {"doc": 5}}', 103, "bad_request"],
      ['{"id": 104, "call": "snapshot"}', 104, "bad_request"],
      ['{"id": 105, "call": "diffSince", "args": {"doc": "alice/notes", "since": "0"}}', 105, "bad_request"],
      ['{"id": 106, "call": "applyPatch", "args": {"doc": "alice/notes", "patch": "{}"}}', 106, "bad_request"],
      ['{"id": 107, "call": "snapshot", "args": [1]}', 107, "bad_request"],
      ['{"id": 108, "call": "snapshot", "args": {"doc": "alice/notes", "evil": 1}}', 108, "bad_request"],
      ['{"id": 109, "call": "snapshot", "args": {"doc": "alice/notes", "atGen": 1e300}}', 109, "bad_request"],
      ['{"id": 110, "call": "applyPatch", "args": {"doc": "alice/notes", "patch": {"ops": "x"}}}', 110, "22023"],
      ['{"id": 111, "call": "snapshot", "args": {"doc": "a\\u0000b"}}', 111, "22021"],
      ['{"id": 112, "call": "changesSince", "args": {"doc": "alice/notes", "since": -5}}', 112, "22023"],
      ['{"id": "s1", "call": "ping", "args": {}, "extra": true}', "s1", "bad_request"],
      [`{"id": 113, "call": "applyPatch", "args": {"doc": "alice/notes", "patch": {"ops": [${"[".repeat(1500)}${"]".repeat(1500)}]}}}`, 113, "22023"],
      ['{"id": 114, "call": "applyPatch", "args": {"doc": "alice/notes", "patch": {"ops": []}, "seq": 3}}', 114, "22023"],
      [Buffer.from([0xff, 0x00, 0x01]), null, "bad_request"],
    ];
    for (const [frame, id, code] of cases) {
      const from = c.frames.length;
      c.send(frame);
      const f = await c.waitFrame((f) => f.error !== undefined, from);
      assert.equal(f.error?.code, code, `${String(frame).slice(0, 60)} → ${JSON.stringify(f)}`);
      assert.deepEqual(f.id, id, `id of the answer to ${String(frame).slice(0, 60)}`);
      assert.equal(typeof f.error?.message, "string");
    }
    await stillUsable(c);
    assert.equal(c.closed, null);
    c.close();
  });

  test("a frame over maxMessageBytes gets too_large; over maxFrameBytes the socket is closed with 1009", async () => {
    const c = await RawClient.open(relay.url, "alice-secret-token");
    const big = JSON.stringify({ id: 1, call: "snapshot", args: { doc: "x".repeat(5000) } });
    const from = c.frames.length;
    c.send(big);
    const f = await c.waitFrame((f) => f.error !== undefined, from);
    assert.equal(f.error?.code, "too_large", JSON.stringify(f));
    await stillUsable(c);

    c.send(JSON.stringify({ id: 2, call: "snapshot", args: { doc: "x".repeat(100_000) } }));
    await c.waitClosed();
    assert.equal(c.closed?.code, CloseCode.tooBig);
    // the relay lives on: a new socket answers
    const d = await RawClient.open(relay.url, "alice-secret-token");
    await stillUsable(d);
    d.close();
  });

  test("a burst over the rate gets rate_limited frames; the socket answers again after a pause", async () => {
    const r = await start({ ratePerSecond: 10, rateBurst: 10, rateCloseAfter: 1000 });
    const c = await RawClient.open(r.url, "alice-secret-token");
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => c.request({ id: i + 1, call: "ping" })));
    const limited = answers.filter((a) => a.error?.code === "rate_limited").length;
    const ok = answers.filter((a) => a.result === "pong").length;
    assert.equal(limited + ok, 40);
    assert.ok(ok >= 10 && ok <= 13, `ok ${ok}`);
    assert.ok(limited >= 27, `limited ${limited}`);
    assert.equal(c.closed, null);
    await sleep(1100);
    await stillUsable(c);
    c.close();
  });

  test("a sustained flood is closed with 1008; other sockets of the same token are not", async () => {
    const r = await start({ ratePerSecond: 10, rateBurst: 10, rateCloseAfter: 20 });
    const flood = await RawClient.open(r.url, "alice-secret-token");
    const calm = await RawClient.open(r.url, "alice-secret-token");
    for (let i = 0; i < 200 && flood.closed === null; i++) flood.send(JSON.stringify({ id: i, call: "ping" }));
    await flood.waitClosed();
    assert.equal(flood.closed?.code, CloseCode.policyViolation);
    assert.match(flood.closed?.reason ?? "", /rate/);
    assert.ok(flood.frames.some((f) => f.error?.code === "rate_limited"));
    await stillUsable(calm);
    calm.close();
  });

  test("more calls in flight than maxInFlight get busy", async () => {
    const r = await start({ maxInFlight: 2 });
    const c = await RawClient.open(r.url, "alice-secret-token");
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => c.request({ id: i + 1, call: "snapshot", args: { doc: "alice/notes" } })),
    );
    const busy = answers.filter((a) => a.error?.code === "busy").length;
    assert.ok(busy >= 1, JSON.stringify(answers.map((a) => a.error?.code ?? "ok")));
    assert.ok(answers.filter((a) => a.result !== undefined).length >= 2);
    await stillUsable(c);
    c.close();
  });
});
