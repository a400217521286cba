// Replica over PgTransport against a real cluster: push / pull / rebase of concurrent edits,
// edits while a patch is in flight, one patch in flight at a time, the retry journal, live
// pulls, events, typed errors, close and abort.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { PgTransport } from "../src/transport/pg.js";
import { MemoryJournal } from "../src/journal.js";
import { Replica } from "../src/replica.js";
import type { Changes, ConflictEvent, ReplicaOptions } from "../src/replica/types.js";
import { ClosedError, ContentionError, DbError, EditError, ProtocolError, TransportError } from "../src/errors.js";
import { Tree } from "../src/tree.js";
import { freshDb, startCluster, stopCluster } from "./helpers/cluster.js";
import { Gate, PgTransports, TestTransport } from "./helpers/transports.js";

let admin: PgTransport;
let docN = 0;

const pool = new PgTransports();
const connect = (): Promise<PgTransport> => pool.connect();

before(async () => {
  const c = await startCluster();
  pool.cfg = await freshDb(c, "nodesync_js_replica");
  admin = await connect();
});

after(async () => {
  await pool.closeAll();
  await stopCluster();
});

/** A new document with paragraphs p0.. holding `texts`. */
async function newDoc(...texts: string[]): Promise<string> {
  const doc = `doc${++docN}`;
  await admin.ensureDoc(doc);
  if (texts.length > 0) {
    await admin.applyPatch(doc, { ops: texts.map((t, i) => ({ op: "create", key: `p${i}`, kind: "para", parent: "root", props: { text: t } })) }, "setup", 1);
  }
  return doc;
}

async function open(doc: string, client: string, extra: Partial<ReplicaOptions> = {}, transport?: TestTransport | PgTransport): Promise<Replica> {
  return Replica.open(transport ?? (await connect()), { doc, client, keyPrefix: `${client}.`, ...extra });
}

function flat(t: Tree): Record<string, unknown> {
  return Object.fromEntries(t.flat().toArray());
}

async function assertEqualsSnapshot(doc: string, ...rs: Replica[]): Promise<Tree> {
  const server = Tree.fromSnapshot(await admin.snapshot(doc));
  for (const r of rs) {
    assert.deepEqual(flat(r.tree()), flat(server), `${r.client} differs from snapshot()`);
    assert.equal(r.gen, server.gen, `${r.client} gen`);
    assert.equal(r.hasLocalEdits, false, `${r.client} has local edits`);
  }
  return server;
}

function until(pred: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (pred()) return resolve();
      if (Date.now() - t0 > ms) return reject(new Error(`condition not met in ${ms} ms`));
      setTimeout(tick, 5);
    };
    tick();
  });
}

describe("push, pull, rebase", () => {
  test("a pull reports the blocks a rebase changed although the server's diff names others", async () => {
    const doc = await newDoc("Hello ", "world");
    const ann = await open(doc, "ann");
    const bob = await open(doc, "bob");
    // bob joins p1 into p0 (Backspace) and does not push yet; ann types into p1 and pushes
    assert.equal(bob.join("p0", "p1", "text"), "p0");
    ann.splice("p1", "text", 5, 0, "!");
    await ann.push();
    const seen: Changes[] = [];
    bob.on("change", (c) => seen.push(c));
    await bob.pull();
    // the server's diff names p1 only (which bob joined away): ann's "!" lands in p0
    assert.equal(bob.text("p0", "text"), "Hello world!");
    const changed = seen.flatMap((c) => c.changed);
    assert.ok(changed.some((c) => c.key === "p0" && c.kind === "updated"), `p0 reported as updated: ${JSON.stringify(changed)}`);
    await bob.push();
    await ann.pull();
    await assertEqualsSnapshot(doc, ann, bob);
    assert.equal(ann.text("p0", "text"), "Hello world!");
  });

  test("two replicas splice the same paragraph concurrently: both words survive", async () => {
    const doc = await newDoc("alpha beta gamma");
    const a = await open(doc, "ann");
    const b = await open(doc, "bob");
    const conflicts: ConflictEvent[] = [];
    b.on("conflict", (c) => conflicts.push(c));
    a.splice("p0", "text", 5, 0, " one");
    b.splice("p0", "text", 16, 0, " two");
    b.setCursor("caret", "p0", "text", 20);
    const pa = await a.push();
    assert.deepEqual(pa.committed && [pa.gen, pa.attempts, pa.ops], [3, 1, 1]);
    const pb = await b.push();
    assert.ok(pb.committed);
    assert.equal(pb.attempts, 2, "bob's first send conflicted, the rebased one went through");
    assert.equal(pb.gen, 4);
    await a.pull();
    assert.equal(a.text("p0", "text"), "alpha one beta gamma two");
    assert.equal(b.text("p0", "text"), "alpha one beta gamma two");
    assert.deepEqual(b.cursor("caret"), { key: "p0", prop: "text", at: 24 }, "the caret followed the rebase");
    assert.equal(conflicts.length, 1);
    assert.deepEqual(conflicts[0]!.conflicts.map((c) => [c.key, c.reason]), [["p0", "version"]]);
    assert.deepEqual(conflicts[0]!.dropped, []);
    assert.deepEqual([b.stats.commits, b.stats.conflicts, b.stats.rebases], [1, 1, 1]);
    assert.equal(b.stats.pushLatenciesMs.length, 1);
    await assertEqualsSnapshot(doc, a, b);
    const log = await admin.changesSince(doc, 2);
    assert.deepEqual(log.map((c) => c.client), ["ann", "bob"]);
    assert.deepEqual(log[1]!.patch.ops, [{ op: "text", key: "p0", prop: "text", version: 2, edits: [[20, 0, " two"]] }]);
    await a.close();
    await b.close();
  });

  test("same offset: the server's text first; whole-value updates merge as text", async () => {
    const doc = await newDoc("ab");
    const a = await open(doc, "ann");
    const b = await open(doc, "bob");
    a.splice("p0", "text", 1, 0, "X");
    b.update("p0", { text: "aYb" });
    await a.push();
    await b.push();
    await a.pull();
    assert.equal(a.text("p0", "text"), "aXYb");
    await assertEqualsSnapshot(doc, a, b);
  });

  test("structure: create, update, move, delete, split, join; change events", async () => {
    const doc = await newDoc("one two", "three");
    const a = await open(doc, "ann");
    const b = await open(doc, "bob");
    const seen: Changes[] = [];
    b.on("change", (c) => seen.push(c));
    const s = a.create("root", "first", "section", { title: "S" });
    a.move("p1", s, "last");
    a.update("p0", { bold: true }, "heading");
    const q = a.split("p0", "text", 3);
    assert.equal(q, "ann.1" === s ? "ann.2" : q);
    assert.equal(a.text(q, "text"), " two");
    const x = a.create(s, { after: "p1" }, "para", { text: "tmp" });
    a.delete(x);
    await a.push();
    await b.pull();
    assert.equal(seen.length, 1);
    const kinds = Object.fromEntries(seen[0]!.changed.map((c) => [`${c.key}:${c.kind}`, true]));
    assert.ok(kinds[`${s}:created`] && kinds[`${q}:created`] && kinds["p1:moved"] && kinds["p0:updated"], JSON.stringify(seen[0]));
    assert.equal(seen[0]!.from, 2);
    assert.equal(seen[0]!.to, 3);
    const kept = b.join("p0", q, "text");
    assert.equal(kept, "p0");
    assert.equal(b.text("p0", "text"), "one two");
    await b.push();
    await a.pull();
    await assertEqualsSnapshot(doc, a, b);
    assert.deepEqual(a.children("root"), [s, "p0"]);
    assert.deepEqual(a.children(s), ["p1"]);
    assert.equal(a.get("p0")?.kind, "heading");
  });

  test("edits made while a patch is in flight stay local and go in the next push (commit)", async () => {
    const doc = await newDoc("alpha beta", "gamma");
    const t = new TestTransport(await connect());
    const a = await open(doc, "ann", {}, t);
    const b = await open(doc, "bob");
    a.setCursor("caret", "p0", "text", 5);
    a.splice("p0", "text", 5, 0, " X");
    const gate = new Gate();
    t.gateBefore = gate;
    const pushing = a.push();
    await gate.arrived; // made and forked, not sent yet
    // meanwhile: the app types on, and someone else commits before this replica's patch lands
    // (so its commit is not the next gen: the replica reads the server and rebases the edits
    // made meanwhile over the others' part of the log)
    a.splice("p0", "text", 7, 0, " Y");
    const q = a.split("p0", "text", 0);
    a.splice("p1", "text", 5, 0, " Z");
    b.splice("p1", "text", 0, 0, "W ");
    await b.push();
    assert.equal(a.inFlight, true);
    gate.open();
    const r = await pushing;
    assert.ok(r.committed);
    assert.equal(r.ops, 1);
    assert.equal(a.hasLocalEdits, true, "the edits made meanwhile are still local");
    assert.equal(a.text(q, "text"), "alpha X Y beta");
    assert.equal(a.text("p1", "text"), "W gamma Z");
    assert.deepEqual(a.cursor("caret"), { key: q, prop: "text", at: 9 });
    const server = Tree.fromSnapshot(await admin.snapshot(doc));
    assert.equal(server.get("p0")?.props.text, "W ".length && "alpha X beta");
    const r2 = await a.push();
    assert.ok(r2.committed);
    await b.pull();
    await assertEqualsSnapshot(doc, a, b);
    assert.equal(b.text("p0", "text"), "");
    assert.equal(b.text(q, "text"), "alpha X Y beta");
    assert.equal(b.text("p1", "text"), "W gamma Z");
    assert.equal(t.maxInflight, 1);
  });

  test("a commit with nobody else in between is known without a read; one after someone else's reads the server", async () => {
    const doc = await newDoc("hello", "world");
    const t = new TestTransport(await connect());
    const a = await open(doc, "ann", {}, t);
    const b = await open(doc, "bob");
    const reads = () => t.diffReads;
    // text and prop edits, nobody in between: no diff_since after the commit
    for (const [i, c] of [..."abc"].entries()) {
      a.splice("p0", "text", 5 + i, 0, c);
      const before = reads();
      assert.ok((await a.push()).committed);
      assert.equal(reads(), before, `keystroke ${c}: read the server after its own commit`);
      await assertEqualsSnapshot(doc, a);
      assert.deepEqual(flat(a.shadow()), flat(a.tree()));
    }
    a.update("p1", { n: 7, tags: ["x", 2] });
    let before = reads();
    assert.ok((await a.push()).committed);
    assert.equal(reads(), before);
    const server = await assertEqualsSnapshot(doc, a);
    assert.equal(a.shadow().get("p1")?.version, server.get("p1")?.version);
    assert.equal(a.stats.knownCommits, 4);
    // a non-integer number, a split: read
    for (const edit of [() => a.update("p1", { n: 1.5 }), () => void a.split("p0", "text", 2)]) {
      edit();
      before = reads();
      assert.ok((await a.push()).committed);
      assert.equal(reads(), before + 1);
      await assertEqualsSnapshot(doc, a);
    }
    // someone else commits first (another paragraph): this commit is at gen + 2, read
    b.splice("p1", "text", 0, 0, "big ");
    await b.push();
    a.splice("p0", "text", 0, 0, ">");
    before = reads();
    assert.ok((await a.push()).committed);
    assert.equal(reads(), before + 1);
    await assertEqualsSnapshot(doc, a);
    assert.equal(a.text("p1", "text"), "big world");
    assert.equal(a.stats.knownCommits, 4);
  });

  test("a split committed right after the in-flight patch carries the typing made meanwhile (the log, not a diff)", async () => {
    const doc = await newDoc("hello world");
    const t = new TestTransport(await connect());
    const a = await open(doc, "ann", {}, t);
    const b = await open(doc, "bob");
    a.splice("p0", "text", 5, 0, ","); // "hello, world"
    const gate = new Gate();
    t.gateAfter = gate;
    const pushing = a.push();
    await gate.arrived;
    a.splice("p0", "text", 12, 0, "!"); // typed at the end while the patch is in flight
    await b.pull();
    assert.equal(b.text("p0", "text"), "hello, world");
    const q = b.split("p0", "text", 6); // Enter after "hello,"
    await b.push();
    gate.open();
    assert.ok((await pushing).committed);
    // its own commit was the next gen: known without a read, Bob's split comes with the pull
    assert.equal(a.text("p0", "text"), "hello, world!");
    assert.equal(a.stats.knownCommits, 1);
    await a.pull();
    assert.equal(a.text("p0", "text"), "hello,");
    assert.equal(a.text(q, "text"), " world!", "the typing followed the split into the new block");
    await a.push();
    await b.pull();
    await assertEqualsSnapshot(doc, a, b);
  });

  test("edits made while a refused patch was in flight are replayed and sent with the retry", async () => {
    const doc = await newDoc("alpha", "beta");
    const t = new TestTransport(await connect());
    const a = await open(doc, "ann", {}, t);
    const b = await open(doc, "bob");
    // ann's patch creates a block and sets a prop on p1; bob changes p1 first: 40001
    const x = a.create("root", { after: "p0" }, "para", { text: "new" });
    a.update("p1", { bold: true });
    b.splice("p1", "text", 4, 0, " bob");
    await b.push();
    const gate = new Gate();
    t.gateBefore = gate;
    const pushing = a.push();
    await gate.arrived;
    // while it is in flight: join the new block with p1 (the workspace that made the patch
    // keeps p1, not the new block), type into the result, and into p0
    const kept = a.join(x, "p1", "text");
    assert.equal(kept, x);
    a.splice(kept, "text", 0, 0, "> ");
    a.splice("p0", "text", 5, 0, "!");
    const errors: unknown[] = [];
    a.on("error", (e) => errors.push(e));
    const changes: Changes[] = [];
    a.on("change", (c) => changes.push(c));
    gate.open();
    const r = await pushing;
    assert.ok(r.committed);
    assert.equal(r.attempts, 2);
    assert.deepEqual(errors, []);
    assert.equal(a.hasLocalEdits, false, "the retry sent the edits made meanwhile too");
    assert.equal(a.get(x), undefined, "the joined block is p1 now");
    assert.ok(changes.some((c) => c.changed.some((k) => k.key === x && k.kind === "deleted")), "the app was told");
    await b.pull();
    const server = await assertEqualsSnapshot(doc, a, b);
    assert.deepEqual(server.children("root").map((k) => server.get(k)?.props.text), ["alpha!", "> newbeta bob"]);
    // the joined block has the first block's props (bold was p1's: dropped by the join)
    assert.deepEqual(server.get(server.children("root")[1]!)?.props, { text: "> newbeta bob" });
  });

  test("one patch in flight at a time; concurrent pushes queue and coalesce", async () => {
    const doc = await newDoc("x");
    const t = new TestTransport(await connect());
    const a = await open(doc, "ann", {}, t);
    a.splice("p0", "text", 1, 0, "1");
    const [r1, r2, r3] = await Promise.all([a.push(), a.push(), a.push()]);
    assert.deepEqual(r1, r2, "pushes made before the first started share it");
    assert.deepEqual(r1, r3);
    assert.equal(t.sent.length, 1);
    const gate = new Gate();
    t.gateBefore = gate;
    a.splice("p0", "text", 2, 0, "2");
    const first = a.push();
    await gate.arrived;
    a.splice("p0", "text", 3, 0, "3");
    const second = a.push();
    const third = a.push();
    const nothing = a.pull();
    gate.open();
    const [f, s, th] = await Promise.all([first, second, third, nothing]);
    assert.ok(f.committed && s.committed && th.committed);
    assert.equal(s.gen, f.gen + 1);
    assert.deepEqual(s, th);
    assert.equal(t.maxInflight, 1);
    assert.deepEqual(t.sent.map((x) => x.patch.ops.length), [1, 1, 1]);
    assert.deepEqual((await a.push()).committed, false);
    await assertEqualsSnapshot(doc, a);
    assert.equal(a.text("p0", "text"), "x123");
  });

  test("contention: maxAttempts sends, then ContentionError with the edits kept", async () => {
    const doc = await newDoc("x");
    const a = await open(doc, "ann", { maxAttempts: 1, policy: "local_wins" });
    const b = await open(doc, "bob");
    a.update("p0", { n: 1 });
    b.update("p0", { n: 2 });
    await b.push();
    await assert.rejects(a.push(), (e: unknown) => e instanceof ContentionError && e.attempts === 1);
    assert.equal(a.hasLocalEdits, true);
    const r = await a.push();
    assert.ok(r.committed);
    await b.pull();
    await assertEqualsSnapshot(doc, a, b);
    assert.equal(a.get("p0")?.props.n, 1, "local_wins: its own value, rebased and sent again");
  });

  test("a prop changed on both sides: the server's wins and the loss is reported (dropped)", async () => {
    const doc = await newDoc("x");
    const a = await open(doc, "ann");
    const b = await open(doc, "bob");
    const dropped: unknown[] = [];
    a.on("dropped", (d) => dropped.push(...d));
    a.update("p0", { n: 1 });
    b.update("p0", { n: 2 });
    await b.push();
    await a.pull();
    assert.equal(a.get("p0")?.props.n, 2);
    assert.equal(dropped.length, 1);
    assert.deepEqual(a.takeDropped().map((d) => d.key), ["p0"]);
    assert.equal(a.stats.dropped, 1);
  });
});

describe("live", () => {
  test("notifications pull automatically; read-your-writes", async () => {
    const doc = await newDoc("x");
    const a = await open(doc, "ann", { live: true });
    const b = await open(doc, "bob");
    const changes: Changes[] = [];
    a.on("change", (c) => changes.push(c));
    b.splice("p0", "text", 1, 0, "y");
    const r = await b.push();
    assert.ok(r.committed);
    assert.ok(b.gen >= r.gen, "read-your-writes");
    await until(() => a.gen === r.gen);
    assert.equal(a.text("p0", "text"), "xy");
    assert.equal(changes.length, 1);
    assert.deepEqual(changes[0]!.changed, [{ key: "p0", kind: "updated" }]);
    await a.close();
  });

  test("after the LISTEN connection drops, a live replica catches up with what it missed", async () => {
    const doc = await newDoc("x");
    const t = await connect();
    const a = await open(doc, "ann", { live: true }, t);
    const b = await open(doc, "bob");
    const pid = t.listenerPid;
    assert.ok(pid);
    await admin.pool.query("SELECT pg_terminate_backend($1)", [pid]);
    b.splice("p0", "text", 1, 0, "y");
    const r = await b.push();
    assert.ok(r.committed);
    await until(() => a.gen === r.gen, 10_000);
    assert.equal(a.text("p0", "text"), "xy");
    assert.ok(t.reconnects >= 1);
    b.splice("p0", "text", 2, 0, "z");
    const r2 = await b.push();
    await until(() => a.gen === (r2.committed ? r2.gen : -1));
    await a.close();
  });
});

describe("the retry journal", () => {
  test("an answer lost: the patch is resent with the same seq, answered duplicate, applied once", async () => {
    const doc = await newDoc("alpha");
    const t = new TestTransport(await connect());
    const journal = new MemoryJournal();
    const a = await open(doc, "ann", { journal }, t);
    a.splice("p0", "text", 5, 0, " one");
    t.loseNextAnswer = true;
    await assert.rejects(a.push(), TransportError);
    assert.equal(a.inFlight, true);
    const entry = await journal.load();
    assert.ok(entry?.patch, "the journal holds the patch in flight");
    const seq = entry.seq;
    assert.equal(t.sent[0]!.seq, seq);
    a.splice("p0", "text", 9, 0, " two"); // typed after the lost answer
    const r = await a.push();
    assert.ok(r.committed);
    assert.deepEqual(t.sent.map((s) => [s.seq === seq, s.outcome]), [[true, "committed"], [true, "duplicate"], [false, "committed"]]);
    assert.deepEqual(a.recovery, { committed: true, seq, gen: 3, duplicate: true });
    assert.equal((await journal.load())?.patch, null, "cleared after the answer");
    const log = await admin.changesSince(doc, 2);
    assert.deepEqual(log.map((c) => [c.client, c.seq === seq]), [["ann", true], ["ann", false]], "applied once");
    await assertEqualsSnapshot(doc, a);
    assert.equal(a.text("p0", "text"), "alpha one two");
    assert.equal(a.stats.commits, 2);
  });

  test("reopened on the journal: a committed patch is answered duplicate, a lost one applied, a stale one refused", async () => {
    const doc = await newDoc("alpha");
    // 1. committed, answer lost, process "dies"
    const journal = new MemoryJournal();
    const t = new TestTransport(await connect());
    const a = await open(doc, "ann", { journal }, t);
    a.splice("p0", "text", 5, 0, " one");
    t.loseNextAnswer = true;
    await assert.rejects(a.push(), TransportError);
    await a.close();
    const seq1 = (await journal.load())!.seq;
    const a2 = await open(doc, "ann", { journal, keyPrefix: "ann2." });
    assert.deepEqual(a2.recovery, { committed: true, seq: seq1, gen: 3, duplicate: true });
    assert.equal(a2.text("p0", "text"), "alpha one");
    // 2. never arrived
    const t3 = new TestTransport(await connect());
    const a3 = await open(doc, "ann", { journal, keyPrefix: "ann3." }, t3);
    a3.splice("p0", "text", 0, 0, "> ");
    t3.dropNextSend = true;
    await assert.rejects(a3.push(), TransportError);
    await a3.close();
    const seq2 = (await journal.load())!.seq;
    assert.ok(seq2 > seq1, "seqs increase across sessions");
    const a4 = await open(doc, "ann", { journal, keyPrefix: "ann4." });
    assert.deepEqual(a4.recovery, { committed: true, seq: seq2, gen: 4, duplicate: false });
    assert.equal(a4.text("p0", "text"), "> alpha one");
    // 3. refused now: someone changed the node meanwhile
    const t5 = new TestTransport(await connect());
    const a5 = await open(doc, "ann", { journal, keyPrefix: "ann5." }, t5);
    a5.update("p0", { n: 5 });
    t5.dropNextSend = true;
    await assert.rejects(a5.push(), TransportError);
    await a5.close();
    await admin.applyPatch(doc, { ops: [{ op: "update", key: "p0", version: 3, props: { n: 6 } }] }, "other", 1);
    const a6 = await open(doc, "ann", { journal, keyPrefix: "ann6." });
    assert.equal(a6.recovery?.committed, false);
    assert.deepEqual(a6.recovery?.committed === false && a6.recovery.conflicts.map((c) => c.reason), ["version"]);
    assert.equal(a6.get("p0")?.props.n, 6);
    const log = await admin.changesSince(doc, 2);
    assert.deepEqual(log.map((c) => c.client), ["ann", "ann", "other"], "each patch applied at most once");
    await assert.rejects(open(doc, "someone-else", { journal }), /journal belongs to client "ann"/);
  });
});

describe("errors, close and abort", () => {
  test("typed errors: unknown document, bad edits, malformed answers", async () => {
    await assert.rejects(open("no-such-doc", "ann"), (e: unknown) => e instanceof DbError && e.code === "42704");
    const doc = await newDoc("abc");
    const t = new TestTransport(await connect());
    const a = await open(doc, "ann", {}, t);
    assert.throws(() => a.splice("p0", "text", 4, 0, "x"), (e: unknown) => e instanceof EditError && e.kind === "OutOfRange");
    assert.throws(() => a.splice("nope", "text", 0, 0, "x"), (e: unknown) => e instanceof EditError && e.kind === "NoSuchNode");
    assert.throws(() => a.delete("root"), (e: unknown) => e instanceof EditError && e.kind === "Root");
    assert.throws(() => a.move("p0", "p0", "last"), (e: unknown) => e instanceof EditError);
    assert.throws(() => a.createWithKey("p0", "root", "last", "para"), (e: unknown) => e instanceof EditError && e.kind === "KeyExists");
    t.garbageDiff = { nodes: "nope" };
    await assert.rejects(a.pull(), ProtocolError);
    t.garbageSnapshot = { gen: 1, root: 7 };
    await assert.rejects(Replica.open(t, { doc, client: "bob" }), ProtocolError);
    // still usable
    a.splice("p0", "text", 3, 0, "d");
    assert.ok((await a.push()).committed);
    await assertEqualsSnapshot(doc, a);
  });

  test("a commit whose new state cannot be read: push resolves committed, the next pull finishes it", async () => {
    const doc = await newDoc("abc");
    const t = new TestTransport(await connect());
    const a = await open(doc, "ann", {}, t);
    const errors: unknown[] = [];
    a.on("error", (e) => errors.push(e));
    // a split: its new block's position is the server's, so the commit is followed by a read
    const q = a.split("p0", "text", 1);
    t.garbageDiff = { from: "?" };
    const r = await a.push();
    assert.ok(r.committed);
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof ProtocolError, String(errors[0]));
    assert.equal(a.inFlight, true, "not finished yet");
    a.splice("p0", "text", 1, 0, "e");
    await a.pull();
    assert.equal(a.inFlight, false);
    assert.equal(t.sent.length, 1, "finishing a known commit resends nothing");
    assert.ok((await a.push()).committed);
    await assertEqualsSnapshot(doc, a);
    assert.equal(a.text("p0", "text"), "ae");
    assert.equal(a.text(q, "text"), "bc");
    assert.equal(a.stats.commits, 2);
  });

  test("after close: every call rejects with ClosedError; a push in flight finishes first", async () => {
    const doc = await newDoc("abc");
    const t = new TestTransport(await connect());
    const a = await open(doc, "ann", { live: true }, t);
    a.splice("p0", "text", 3, 0, "d");
    const gate = new Gate();
    t.gateBefore = gate;
    const pushing = a.push();
    await gate.arrived;
    const closing = a.close();
    const queued = a.pull();
    queued.catch(() => {});
    gate.open();
    await closing;
    const r = await pushing;
    assert.ok(r.committed, "the patch in flight was answered before close resolved");
    await assert.rejects(queued, ClosedError);
    await assert.rejects(a.push(), ClosedError);
    await assert.rejects(a.pull(), ClosedError);
    await assert.rejects(a.sync(), ClosedError);
    assert.throws(() => a.splice("p0", "text", 0, 0, "x"), ClosedError);
    assert.equal(a.text("p0", "text"), "abcd", "reads still work");
    assert.equal(a.isClosed, true);
    await a.close();
  });

  test("AbortSignal: of open (closes the replica), of a call (stops waiting)", async () => {
    const doc = await newDoc("abc");
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(open(doc, "ann", { signal: ac.signal }), ClosedError);
    const ac2 = new AbortController();
    const t = new TestTransport(await connect());
    const a = await open(doc, "ann", { signal: ac2.signal }, t);
    // a conflicting push that backs off for a long time: aborting open's signal ends it
    const b = await open(doc, "bob");
    const slow = await open(doc, "slow", { signal: ac2.signal, backoffMs: 60_000, maxBackoffMs: 60_000 });
    b.update("p0", { n: 2 });
    await b.push();
    slow.update("p0", { n: 1 });
    const pushing = slow.push();
    await until(() => slow.stats.conflicts === 1);
    ac2.abort();
    await assert.rejects(pushing, ClosedError);
    assert.equal(slow.isClosed, true);
    assert.equal(a.isClosed, true);
    await assert.rejects(a.pull(), ClosedError);
    // a call's own signal
    const c = await open(doc, "cid");
    const t2 = new TestTransport(await connect());
    const d = await open(doc, "dan", {}, t2);
    d.splice("p0", "text", 0, 0, "z");
    const gate = new Gate();
    t2.gateBefore = gate;
    const ac3 = new AbortController();
    const p = d.push({ signal: ac3.signal });
    await gate.arrived;
    ac3.abort();
    await assert.rejects(p, ClosedError);
    gate.open();
    await until(() => !d.inFlight);
    assert.equal(d.isClosed, false, "a call's signal does not close the replica");
    assert.equal(d.stats.commits, 1, "the patch already sent committed");
    const pre = new AbortController();
    pre.abort();
    await assert.rejects(d.pull({ signal: pre.signal }), ClosedError);
    await c.pull();
    await assertEqualsSnapshot(doc, c, d);
  });
});
