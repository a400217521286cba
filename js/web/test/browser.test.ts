// The editor in a real browser: Debian's Chromium (/usr/bin/chromium, headless) driven by
// playwright-core, against the web demo's stack (stack.ts) started here on free ports (its own
// cluster on port 55482, a fresh database). Keys are real key events; every page is its own
// browser context (own localStorage/sessionStorage), so two pages are two users.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { existsSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";
import { Tree } from "@pg-nodesync/client";
import { docFromTree, schema } from "@pg-nodesync/prosemirror";
import { REPO, startStack, type Stack } from "../src/stack.js";

const CHROMIUM = process.env["NODESYNC_CHROMIUM"] ?? "/usr/bin/chromium";
const PG_PORT = Number(process.env["NODESYNC_WEB_TEST_PG_PORT"] ?? 55482);
// the screenshot of the typing test: docs/web/two-editors.png when it is missing (or
// NODESYNC_WEB_SHOT=<path>), else a file in /tmp, so a test run leaves the work tree as it was
const DOCS_SHOT = path.join(REPO, "docs/web/two-editors.png");
const SHOT = process.env["NODESYNC_WEB_SHOT"] ? path.resolve(REPO, process.env["NODESYNC_WEB_SHOT"]) : (existsSync(DOCS_SHOT) ? "/tmp/nodesync-web-two-editors.png" : DOCS_SHOT);

let stack: Stack;
let browser: Browser;
const errors: string[] = [];
const timings: Record<string, number> = {};

declare global {
  interface Window {
    nodesync: {
      ready: boolean;
      client: string;
      texts(): string[];
      blockIds(): string[];
      json(): unknown;
      setCaret(i: number, cp: number, toCp?: number): void;
      selectBlock(i: number): void;
      status(): { connection: string; gen: number; pending: boolean; inFlight: boolean; commits: number; conflicts: number; rebases: number; heals: number; pushErrors: number; reconnects: number };
      notices(): string[];
      hold(h: "send" | "answer" | null): void;
      release(): void;
      journal(): string | null;
      recovery(): { committed: boolean; duplicate?: boolean; seq: number } | null;
    };
    nodesyncError?: string;
  }
}

const skip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install chromium)`;

before(async () => {
  if (skip) return;
  stack = await startStack({ pgPort: PG_PORT, httpPort: 0, relayPort: 0, fresh: true, database: "nodesync_web_test", doc: "unused" });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"], headless: true });
});

after(async () => {
  await browser?.close().catch(() => {});
  await stack?.stop();
  if (Object.keys(timings).length) process.stdout.write(`# browser timings (ms): ${JSON.stringify(timings)}\n`);
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A seeded random number in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 2 ** 32;
  };
}

async function openPage(doc: string, name: string): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 620, height: 420 } });
  const page = await ctx.newPage();
  page.on("pageerror", (e) => errors.push(`${name}: ${e.message}`));
  await page.goto(`${stack.url}?doc=${encodeURIComponent(doc)}`);
  await waitReady(page);
  return page;
}

async function waitReady(page: Page): Promise<void> {
  await page.waitForFunction(() => window.nodesync?.ready || window.nodesyncError, null, { timeout: 15_000 });
  const err = await page.evaluate(() => window.nodesyncError ?? null);
  assert.equal(err, null, `the page failed: ${err}`);
}

/** Types `text` key by key with small random delays. */
async function typeSlowly(page: Page, text: string, rnd: () => number, maxDelay = 45): Promise<void> {
  for (const ch of text) {
    await page.keyboard.type(ch);
    await sleep(5 + rnd() * maxDelay);
  }
}

async function serverDoc(doc: string): Promise<{ gen: number; json: unknown; tree: Tree }> {
  const [row] = await stack.sql<{ s: unknown }>("SELECT nodesync.snapshot($1) AS s", [doc]);
  const tree = Tree.fromSnapshot(row!.s);
  return { gen: tree.gen, json: docFromTree(tree, schema).toJSON(), tree };
}

/** Waits until every page has nothing to send, is at the server's gen, and shows exactly snapshot() (read through SQL). */
async function converged(doc: string, pages: Page[], timeoutMs = 20_000): Promise<{ gen: number; json: unknown; tree: Tree }> {
  const end = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    const server = await serverDoc(doc);
    let ok = true;
    for (const p of pages) {
      const st = await p.evaluate(() => ({ s: window.nodesync.status(), json: window.nodesync.json() }));
      if (st.s.pending || st.s.inFlight || st.s.gen !== server.gen || JSON.stringify(st.json) !== JSON.stringify(server.json)) {
        ok = false;
        last = JSON.stringify({ status: st.s, page: st.json, server: server.json }).slice(0, 1500);
        break;
      }
    }
    if (ok) return server;
    if (Date.now() > end) throw new Error(`the pages did not converge: ${last}`);
    await sleep(100);
  }
}

function texts(t: Tree): string[] {
  const out: string[] = [];
  const walk = (k: string) => {
    for (const c of t.children(k)) {
      const n = t.get(c)!;
      if (typeof n.props["text"] === "string") out.push(n.props["text"] as string);
      walk(c);
    }
  };
  walk("root");
  return out;
}

async function closeAll(...pages: Page[]): Promise<void> {
  for (const p of pages) await p.context().close();
}

describe("the editor in Chromium", { skip }, () => {
  test("two pages type different sentences into one paragraph at the same time", async () => {
    const t0 = Date.now();
    await stack.createDoc("typing", ["The middle."]);
    const a = await openPage("typing", "ann");
    const b = await openPage("typing", "bob");
    await a.evaluate(() => window.nodesync.setCaret(0, 11));
    await b.evaluate(() => window.nodesync.setCaret(0, 0));
    const sa = " Ann types this sentence at the end, key by key.";
    const sb = "Bob types this one at the start! ";
    await Promise.all([typeSlowly(a, sa, rng(1)), typeSlowly(b, sb, rng(2))]);
    const server = await converged("typing", [a, b]);
    assert.deepEqual(texts(server.tree), [sb + "The middle." + sa], "every typed character, each sentence where it was typed");
    const [sta, stb] = [await a.evaluate(() => window.nodesync.status()), await b.evaluate(() => window.nodesync.status())];
    assert.equal(sta.heals + stb.heals, 0);
    process.stdout.write(`# typing: ann ${sta.commits} commits / ${sta.rebases} rebases, bob ${stb.commits} / ${stb.rebases}\n`);
    // the screenshot: both pages, side by side
    const shots = [await a.screenshot(), await b.screenshot()];
    const joiner = await browser.newPage({ viewport: { width: 1260, height: 440 } });
    await joiner.setContent(
      `<html><body style="margin:0;padding:10px;background:#9aa3ad;display:flex;gap:20px">${shots
        .map((s) => `<img style="box-shadow:0 2px 8px #0005" src="data:image/png;base64,${s.toString("base64")}">`)
        .join("")}</body></html>`,
    );
    await mkdir(path.dirname(SHOT), { recursive: true });
    await writeFile(SHOT, await joiner.screenshot({ fullPage: true }));
    await joiner.close();
    await closeAll(a, b);
    timings["typing"] = Date.now() - t0;
  });

  test("Enter in the middle of a paragraph while the other page types in its second half", async () => {
    const t0 = Date.now();
    await stack.createDoc("enter", ["first half second half"]);
    const a = await openPage("enter", "ann");
    const b = await openPage("enter", "bob");
    await a.evaluate(() => window.nodesync.setCaret(0, 11));
    await b.evaluate(() => window.nodesync.setCaret(0, 18));
    await Promise.all([
      (async () => {
        await sleep(60);
        await a.keyboard.press("Enter");
      })(),
      typeSlowly(b, "typed ", rng(3)),
    ]);
    const server = await converged("enter", [a, b]);
    assert.deepEqual(texts(server.tree), ["first half ", "second typed half"]);
    const ops = await stack.sql<{ op: string }>("SELECT o->>'op' AS op FROM nodesync.changes_since('enter', 2) c, jsonb_array_elements(c.patch->'ops') o");
    assert.ok(ops.some((o) => o.op === "split"), "Enter was sent as a split");
    assert.ok(ops.every((o) => o.op === "split" || o.op === "text"), JSON.stringify(ops));
    await closeAll(a, b);
    timings["enter"] = Date.now() - t0;
  });

  test("bold a word on one page while the other edits the same word", async () => {
    const t0 = Date.now();
    await stack.createDoc("bold", ["say hello world"]);
    const a = await openPage("bold", "ann");
    const b = await openPage("bold", "bob");
    await a.evaluate(() => window.nodesync.setCaret(0, 4, 9));
    await b.evaluate(() => window.nodesync.setCaret(0, 6));
    await Promise.all([
      (async () => {
        await sleep(40);
        await a.keyboard.press("Control+b");
      })(),
      typeSlowly(b, "LLL", rng(4)),
    ]);
    const server = await converged("bold", [a, b]);
    const p = server.tree.get(server.tree.children("root")[0]!)!;
    assert.equal(p.props["text"], "say heLLLllo world");
    assert.deepEqual(p.props["marks"], [[4, 12, "bold"]], "the bold covers the word with what the other typed into it");
    await closeAll(a, b);
    timings["bold"] = Date.now() - t0;
  });

  test("a block deleted on one page while the other types in it: a notice, and the documents converge", async () => {
    const t0 = Date.now();
    await stack.createDoc("delete", ["keep this", "doomed block"]);
    const a = await openPage("delete", "ann");
    const b = await openPage("delete", "bob");
    await b.evaluate(() => window.nodesync.setCaret(1, 12));
    // bob's next patch waits (as on a slow link) while ann deletes the block
    await b.evaluate(() => window.nodesync.hold("send"));
    const typing = typeSlowly(b, " and more", rng(5));
    await sleep(80);
    await a.evaluate(() => window.nodesync.selectBlock(1));
    await a.keyboard.press("Delete");
    await typing;
    const end = Date.now() + 10_000;
    while ((await serverDoc("delete")).tree.children("root").length !== 1) {
      if (Date.now() > end) throw new Error("ann's delete did not commit");
      await sleep(50);
    }
    await b.evaluate(() => window.nodesync.release());
    await b.waitForFunction(() => window.nodesync.notices().length > 0, null, { timeout: 10_000 });
    const notice = await b.locator("#notices .notice").first().textContent();
    assert.match(notice ?? "", /dropped.*deleted/);
    const server = await converged("delete", [a, b]);
    assert.deepEqual(texts(server.tree), ["keep this"]);
    assert.deepEqual(await a.evaluate(() => window.nodesync.notices()), []);
    await closeAll(a, b);
    timings["delete"] = Date.now() - t0;
  });

  test("reloading a page with a change in flight: not lost, not applied twice", async () => {
    const t0 = Date.now();
    await stack.createDoc("reload", ["start"]);
    const a = await openPage("reload", "ann");
    const b = await openPage("reload", "bob");
    await a.evaluate(() => window.nodesync.setCaret(0, 5));
    await typeSlowly(a, " a", rng(6));
    await converged("reload", [a, b]);
    const client = await a.evaluate(() => window.nodesync.client);
    const journaled = () => a.evaluate(() => (JSON.parse(window.nodesync.journal() ?? "null") as { patch: unknown } | null)?.patch != null);

    // 1. the patch reached the server, its answer did not reach the page
    await a.evaluate(() => window.nodesync.hold("answer"));
    await a.keyboard.type("X");
    for (let i = 0; !(await journaled()) || !texts((await serverDoc("reload")).tree)[0]!.includes("X"); i++) {
      assert.ok(i < 200, "the patch with X was not sent");
      await sleep(25);
    }
    await a.reload();
    await waitReady(a);
    assert.equal(await a.evaluate(() => window.nodesync.client), client, "a reload keeps the client id");
    const rec1 = await a.evaluate(() => window.nodesync.recovery());
    assert.equal(rec1?.committed, true, "the journaled patch was resent");
    assert.equal(rec1?.duplicate, true, "the server had it already: not applied twice");
    let server = await converged("reload", [a, b]);
    assert.deepEqual(texts(server.tree), ["start aX"]);

    // 2. the patch never left the page
    await a.evaluate(() => window.nodesync.setCaret(0, 8));
    await a.evaluate(() => window.nodesync.hold("send"));
    await a.keyboard.type("Y");
    for (let i = 0; !(await journaled()); i++) {
      assert.ok(i < 200, "the patch with Y was not journaled");
      await sleep(25);
    }
    assert.ok(!texts((await serverDoc("reload")).tree)[0]!.includes("Y"));
    await a.reload();
    await waitReady(a);
    const rec = await a.evaluate(() => window.nodesync.recovery());
    assert.equal(rec?.committed, true);
    assert.equal(rec?.duplicate, false);
    server = await converged("reload", [a, b]);
    assert.deepEqual(texts(server.tree), ["start aXY"]);
    // every (client, seq) once in the log
    const rows = await stack.sql<{ client: string; seq: string; n: string }>(
      "SELECT client, seq, count(*) AS n FROM nodesync.changes_since('reload', 1) GROUP BY 1, 2 HAVING count(*) > 1",
    );
    assert.deepEqual(rows, []);
    const mine = await stack.sql<{ n: string }>("SELECT count(*) AS n FROM nodesync.changes_since('reload', 1) WHERE client = $1", [client]);
    assert.ok(Number(mine[0]!.n) >= 3);
    await closeAll(a, b);
    timings["reload"] = Date.now() - t0;
  });

  test("the relay stops and comes back: the pages reconnect and catch up", async () => {
    const t0 = Date.now();
    await stack.createDoc("relay", ["before"]);
    const a = await openPage("relay", "ann");
    const b = await openPage("relay", "bob");
    await converged("relay", [a, b]);
    await stack.stopRelay();
    await a.waitForFunction(() => window.nodesync.status().connection !== "open", null, { timeout: 5000 });
    await a.evaluate(() => window.nodesync.setCaret(0, 6));
    await b.evaluate(() => window.nodesync.setCaret(0, 0));
    await Promise.all([typeSlowly(a, " ann-offline", rng(7), 20), typeSlowly(b, "bob-offline ", rng(8), 20)]);
    assert.match(await a.locator("#status").textContent() ?? "", /^(reconnecting|connecting|closed)/);
    await sleep(300);
    await stack.startRelay();
    const server = await converged("relay", [a, b], 30_000);
    assert.deepEqual(texts(server.tree), ["bob-offline before ann-offline"]);
    for (const p of [a, b]) {
      const s = await p.evaluate(() => window.nodesync.status());
      assert.equal(s.connection, "open");
      assert.ok(s.reconnects >= 1);
    }
    await closeAll(a, b);
    timings["relay"] = Date.now() - t0;
  });

  test("no page errors", () => {
    assert.deepEqual(errors, []);
  });
});
