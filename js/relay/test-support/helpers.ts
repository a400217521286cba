// Test helpers: a private Postgres cluster (scripts/cluster.sh on its own port, through
// @pg-nodesync/testkit), a fresh database per test file with two roles and RLS on
// nodesync.documents, and a raw WebSocket client.
import { execFileSync } from "node:child_process";
import type pg from "pg";
import { WebSocket } from "ws";
import * as testkit from "@pg-nodesync/testkit";
import { PROTOCOL, TOKEN_PROTOCOL_PREFIX, encodeToken } from "../src/protocol.js";
import type * as RelayTransportModule from "../../client/src/transport/relay.js";
import type * as ErrorsModule from "../../client/src/errors.js";

export { stopCluster } from "@pg-nodesync/testkit";

export const PG_PORT = 55470;
export const PG_DIR = `/tmp/nodesync-relay-${PG_PORT}`;
const PGBIN = process.env["PGBIN"] ?? `/usr/lib/postgresql/${process.env["PG_MAJOR"] ?? "15"}/bin`;

export const pgBase = { host: PG_DIR, port: PG_PORT, user: "postgres" } as const;

/** Starts the cluster (stopCluster stops it, unless another test process still uses it). */
export function startCluster(): Promise<testkit.Cluster> {
  return testkit.startCluster({ port: PG_PORT, dir: PG_DIR });
}

/** `scripts/cluster.sh start|stop`, blocking: Postgres down and up again in the middle of a test. */
export function cluster(cmd: "start" | "stop"): void {
  testkit.clusterScriptSync(cmd, { port: PG_PORT, dir: PG_DIR });
}

/** `pg_ctl -m immediate stop`: the postmaster SIGQUITs every backend, no checkpoint (crash recovery on start). */
export function clusterCrash(): void {
  const args = ["-D", `${PG_DIR}/data`, "-m", "immediate", "-w", "stop"];
  if (process.getuid?.() === 0) execFileSync("runuser", ["-u", "postgres", "--", `${PGBIN}/pg_ctl`, ...args], { stdio: "ignore" });
  else execFileSync(`${PGBIN}/pg_ctl`, args, { stdio: "ignore" });
}

export function withClient<T>(database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  return testkit.withClient({ ...pgBase, database }, fn);
}

/**
 * A fresh database `<name>_<pid>` with the extension (testkit's freshDb: stopCluster drops
 * it), roles alice and bob (and relay_login, a LOGIN role that may SET ROLE to both), and the
 * role-keyed policies of docs/security.md: alice/notes (alice's), bob/notes (bob's). Returns
 * the database's name.
 */
export async function freshDatabase(name: string): Promise<string> {
  const database = (await testkit.freshDb(pgBase, name)).database!;
  await withClient("postgres", async (c) => {
    await c.query(`DO $$ BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'alice') THEN CREATE ROLE alice; END IF;
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bob') THEN CREATE ROLE bob; END IF;
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'carol') THEN CREATE ROLE carol; END IF;
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'relay_login') THEN CREATE ROLE relay_login LOGIN NOINHERIT; END IF;
      END $$`);
    await c.query("GRANT alice, bob, carol TO relay_login");
  });
  await withClient(database, async (c) => {
    await c.query(`
      CREATE SCHEMA app;
      GRANT USAGE ON SCHEMA app TO PUBLIC;
      CREATE TABLE app.doc_access (doc text, role name, can_write boolean, PRIMARY KEY (doc, role));
      GRANT SELECT ON app.doc_access TO PUBLIC;
      ALTER TABLE nodesync.documents ENABLE ROW LEVEL SECURITY;
      CREATE POLICY tenant_read ON nodesync.documents FOR SELECT
        USING (created_by = current_user
               OR EXISTS (SELECT 1 FROM app.doc_access a WHERE a.doc = documents.doc AND a.role = current_user)
               OR starts_with(doc, current_setting('app.tenant', true) || '/'));
      CREATE POLICY tenant_write ON nodesync.documents FOR UPDATE
        USING (created_by = current_user
               OR EXISTS (SELECT 1 FROM app.doc_access a
                           WHERE a.doc = documents.doc AND a.role = current_user AND a.can_write));
      CREATE POLICY tenant_create ON nodesync.documents FOR INSERT
        WITH CHECK (starts_with(doc, current_user || '/'));
      SET ROLE alice; SELECT nodesync.create_doc('alice/notes'); RESET ROLE;
      SET ROLE bob; SELECT nodesync.create_doc('bob/notes'); RESET ROLE;
    `);
  });
  return database;
}

export const TOKENS = {
  "alice-secret-token": { role: "alice" },
  "bob-secret-token": { role: "bob" },
};

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function until(pred: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

export interface Frame {
  id?: unknown;
  result?: unknown;
  error?: { code: string; message: string; detail?: string; gen?: number; conflicts?: unknown[] };
  notify?: { doc: string; gen?: number; dropped?: boolean };
}

/** A WebSocket speaking the relay protocol by hand: every frame is recorded. */
export class RawClient {
  readonly frames: Frame[] = [];
  readonly notifications: { doc: string; gen?: number; dropped?: boolean }[] = [];
  closed: { code: number; reason: string } | null = null;
  private nextId = 1;
  private waiters = new Map<unknown, (f: Frame) => void>();

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => {
      const f = JSON.parse(String(data)) as Frame;
      this.frames.push(f);
      if (f.notify) this.notifications.push(f.notify);
      const w = this.waiters.get(f.id);
      if (w && f.id !== undefined && f.id !== null) {
        this.waiters.delete(f.id);
        w(f);
      }
    });
    ws.on("close", (code, reason) => {
      this.closed = { code, reason: reason.toString() };
    });
    ws.on("error", () => {});
  }

  static open(url: string, token: string | null, extra: { protocols?: string[]; headers?: Record<string, string> } = {}): Promise<RawClient> {
    const protocols = extra.protocols ?? (token === null ? [PROTOCOL] : [PROTOCOL, TOKEN_PROTOCOL_PREFIX + encodeToken(token)]);
    const ws = new WebSocket(url, protocols, { headers: extra.headers ?? {} });
    const c = new RawClient(ws);
    return new Promise((resolve, reject) => {
      ws.once("open", () => resolve(c));
      ws.once("error", reject);
      ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
  }

  send(text: string | Buffer): void {
    this.ws.send(text);
  }

  /** Sends a request and resolves with its answer frame. */
  call(call: string, args?: unknown, timeoutMs = 10_000): Promise<Frame> {
    const id = this.nextId++;
    return this.request({ id, call, args }, timeoutMs);
  }

  request(frame: { id: unknown; [k: string]: unknown }, timeoutMs = 10_000): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters.delete(frame.id);
        reject(new Error(`no answer to ${JSON.stringify(frame).slice(0, 100)}`));
      }, timeoutMs);
      this.waiters.set(frame.id, (f) => {
        clearTimeout(t);
        resolve(f);
      });
      this.ws.send(JSON.stringify(frame));
    });
  }

  /** Waits for the next frame matching `pred` among frames received after index `from`. */
  async waitFrame(pred: (f: Frame) => boolean, from = 0, timeoutMs = 10_000): Promise<Frame> {
    let found: Frame | undefined;
    await until(() => (found = this.frames.slice(from).find(pred)) !== undefined, timeoutMs, "a frame");
    return found!;
  }

  waitClosed(timeoutMs = 10_000): Promise<void> {
    return until(() => this.closed !== null, timeoutMs, "the socket to close");
  }

  close(): void {
    this.ws.close();
  }
}

/** The client package's RelayTransport, from its build output (the package exports "." and "./pg" only). */
export async function loadClient(): Promise<{ relay: typeof RelayTransportModule; errors: typeof ErrorsModule }> {
  const base = new URL("../../../client/dist/src/", import.meta.url);
  const relay = (await import(new URL("transport/relay.js", base).href)) as typeof RelayTransportModule;
  const errors = (await import(new URL("errors.js", base).href)) as typeof ErrorsModule;
  return { relay, errors };
}
