// The nodesync-relay command: config file, --listen/--database overrides, PG* fallback, one log
// line per start/stop, clean shutdown on SIGTERM and SIGINT.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PG_DIR, PG_PORT, RawClient, TOKENS, freshDatabase, startCluster, stopCluster, until } from "../test-support/helpers.js";

/** relay_cli_<pid> (freshDatabase) */
let DB: string;
const CLI = fileURLToPath(new URL("../src/cli.js", import.meta.url));

interface Running {
  child: ChildProcess;
  lines: string[];
  exit: Promise<number | null>;
}

function run(args: string[], env: Record<string, string> = {}): Running {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env["PATH"] ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  let buf = "";
  child.stderr!.on("data", (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split("\n");
    buf = parts.pop() ?? "";
    lines.push(...parts);
  });
  child.stdout!.on("data", (d: Buffer) => lines.push(...d.toString().split("\n").filter(Boolean)));
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, lines, exit };
}

describe("cli", () => {
  let dir: string;
  const children: ChildProcess[] = [];

  before(async () => {
    await startCluster();
    DB = await freshDatabase("relay_cli");
    dir = mkdtempSync(join(tmpdir(), "nodesync-relay-cli-"));
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    await stopCluster();
  });

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    test(`starts from a config file, serves, and stops cleanly on ${signal}`, async () => {
      const config = join(dir, `relay-${signal}.json`);
      // no "database" in the file: PG* from the environment, the database name from --database
      writeFileSync(config, JSON.stringify({ listen: "127.0.0.1:9", tokens: TOKENS, ratePerSecond: 100 }));
      const r = run(["--config", config, "--listen", "127.0.0.1:0", "--database", DB], {
        PGHOST: PG_DIR,
        PGPORT: String(PG_PORT),
        PGUSER: "postgres",
      });
      children.push(r.child);
      await until(() => r.lines.some((l) => /started: listening on ws:\/\//.test(l)), 10_000, "the start line");
      const url = /listening on (ws:\/\/\S+?),/.exec(r.lines.find((l) => l.includes("started"))!)![1]!;
      assert.ok(!url.endsWith(":9/"), "--listen did not override the file");

      const c = await RawClient.open(url, "alice-secret-token");
      const s = await c.call("snapshot", { doc: "alice/notes" });
      assert.equal((s.result as { doc: string }).doc, "alice/notes", JSON.stringify(s));
      // garbage does not take the process down
      c.send("{{{");
      c.send(Buffer.alloc(10, 0xff));
      assert.equal((await c.call("ping")).result, "pong");

      r.child.kill(signal);
      assert.equal(await r.exit, 0, r.lines.join("\n"));
      await c.waitClosed();
      assert.equal(c.closed?.code, 1001);
      const stopLines = r.lines.filter((l) => /stopping|stopped/.test(l));
      assert.deepEqual(stopLines.map((l) => l.replace(/^\S+ nodesync-relay: /, "")), [`${signal}: stopping`, "stopped"]);
      assert.ok(r.lines.some((l) => /listen: LISTEN nodesync connected/.test(l)), r.lines.join("\n"));
    });
  }

  test("a bad config is refused with exit code 2 and a message", async () => {
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ listen: "127.0.0.1:0", tokns: {} }));
    const r = run(["--config", bad]);
    children.push(r.child);
    assert.equal(await r.exit, 2);
    assert.ok(r.lines.some((l) => /unknown key "tokns"/.test(l)), r.lines.join("\n"));
    const r2 = run(["--nope"]);
    children.push(r2.child);
    assert.equal(await r2.exit, 2);
    const r3 = run(["--config", join(dir, "missing.json")]);
    children.push(r3.child);
    assert.equal(await r3.exit, 2);
    assert.ok(r3.lines.some((l) => /cannot read config/.test(l)), r3.lines.join("\n"));
  });
});
