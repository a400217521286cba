// The web demo's stack, for `make web` (cli.ts) and the browser tests: a private Postgres
// cluster (scripts/cluster.sh on a port of its own), a database with the extension, a demo
// role the relay runs every call as, a document, the relay (in this process, on 127.0.0.1)
// and a static HTTP server for the page (and /config.json: the relay's URL, the token, the
// document).
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { createServer, type Server } from "node:http";
import { readFile, writeFile, mkdir } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { startRelay, type RelayHandle, type RelayOptions } from "@pg-nodesync/relay";

const run = promisify(execFile);
/** The repository root (from js/web/dist/src/stack.js). */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");
/** The bundled page (bundle.ts writes it). */
export const WWW = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../www");

export interface StackOptions {
  /** Postgres port of the private cluster (default 55490); data and socket in /tmp/nodesync-web-<port>. */
  pgPort?: number;
  /** HTTP port of the page (default 8780; 0 = any free port). */
  httpPort?: number;
  /** Relay port (default 8781; 0 = any free port, kept across relay restarts). */
  relayPort?: number;
  /** Database (default nodesync_web); `fresh` drops it first. */
  database?: string;
  fresh?: boolean;
  /** The document the page opens without ?doc= (default "demo"). */
  doc?: string;
  /** Frames per second per socket the relay allows (default 500: every keystroke is a push). */
  ratePerSecond?: number;
  log?: (line: string) => void;
  /** Stop the cluster in stop() (default true). */
  stopCluster?: boolean;
}

export interface Stack {
  /** The page: http://127.0.0.1:<port>/ */
  url: string;
  relayUrl: string;
  token: string;
  doc: string;
  database: string;
  pg: pg.ClientConfig;
  /** Runs a query as the superuser in the demo database. */
  sql<T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params?: unknown[]): Promise<T[]>;
  /** Creates a document (as the demo role) with paragraphs p0.. holding `paragraphs`, unless it exists. */
  createDoc(doc: string, paragraphs?: string[]): Promise<void>;
  stopRelay(): Promise<void>;
  startRelay(): Promise<void>;
  stop(): Promise<void>;
}

const ROLE = "nodesync_web_editor";
const LOGIN = "nodesync_web_relay";

export async function cluster(cmd: "start" | "stop", pgPort: number): Promise<void> {
  await run("bash", [path.join(REPO, "scripts/cluster.sh"), cmd], {
    env: { ...process.env, NODESYNC_PORT: String(pgPort), NODESYNC_PGDIR: `/tmp/nodesync-web-${pgPort}` },
  });
}

async function query<T extends pg.QueryResultRow>(cfg: pg.ClientConfig, text: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client(cfg);
  c.on("error", () => {});
  await c.connect();
  try {
    return (await c.query<T>(text, params)).rows;
  } finally {
    await c.end().catch(() => {});
  }
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json",
  ".png": "image/png",
};

export async function startStack(o: StackOptions = {}): Promise<Stack> {
  const log = o.log ?? (() => {});
  const pgPort = o.pgPort ?? 55490;
  const pgDir = `/tmp/nodesync-web-${pgPort}`;
  const database = o.database ?? "nodesync_web";
  const doc = o.doc ?? "demo";
  await cluster("start", pgPort);
  log(`postgres: port ${pgPort}, data and socket in ${pgDir}`);
  const su: pg.ClientConfig = { host: pgDir, port: pgPort, user: "postgres", database: "postgres" };
  if (o.fresh) await query(su, `DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  const exists = (await query(su, "SELECT 1 FROM pg_database WHERE datname = $1", [database])).length > 0;
  if (!exists) await query(su, `CREATE DATABASE "${database}"`);
  const db: pg.ClientConfig = { ...su, database };
  await query(db, "CREATE EXTENSION IF NOT EXISTS pg_nodesync");
  // the role every call of the page runs as (SET ROLE by the relay), and the relay's login role
  await query(
    db,
    `DO $$ BEGIN
       IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${ROLE}') THEN CREATE ROLE ${ROLE} NOLOGIN; END IF;
       IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${LOGIN}') THEN CREATE ROLE ${LOGIN} LOGIN NOINHERIT; END IF;
     END $$`,
  );
  await query(db, `GRANT ${ROLE} TO ${LOGIN}`);
  await query(db, `GRANT CONNECT ON DATABASE "${database}" TO ${LOGIN}`);

  const createDoc = async (d: string, paragraphs: string[] = ["Welcome to pg_nodesync: open this page in a second tab and type in both."]) => {
    const c = new pg.Client(db);
    await c.connect();
    try {
      await c.query(`SET ROLE ${ROLE}`);
      const have = await c.query("SELECT 1 FROM nodesync.documents WHERE doc = $1", [d]);
      if (have.rowCount) return;
      await c.query("SELECT nodesync.create_doc($1)", [d]);
      if (paragraphs.length > 0) {
        const ops = paragraphs.map((t, i) => ({ op: "create", key: `p${i}`, kind: "paragraph", parent: "root", props: { text: t } }));
        await c.query("SELECT nodesync.apply_patch($1, $2::jsonb, 'setup', 1)", [d, JSON.stringify({ ops })]);
      }
    } finally {
      await c.end().catch(() => {});
    }
  };
  await createDoc(doc);

  // the relay, with a generated config (written next to the cluster for reference)
  const token = `web-${randomBytes(12).toString("hex")}`;
  const relayConfig: RelayOptions = {
    database: { host: pgDir, port: pgPort, user: LOGIN, database },
    tokens: { [token]: { role: ROLE } },
    ratePerSecond: o.ratePerSecond ?? 500,
  };
  await mkdir(pgDir, { recursive: true }).catch(() => {});
  await writeFile(`${pgDir}/relay.json`, JSON.stringify({ listen: `127.0.0.1:${o.relayPort ?? 8781}`, ...relayConfig }, null, 2)).catch(() => {});
  let relayPort = o.relayPort ?? 8781;
  let relay: RelayHandle | null = null;
  const startRelayNow = async () => {
    if (relay) return;
    relay = await startRelay({ ...relayConfig, host: "127.0.0.1", port: relayPort, log: (l) => log(`relay: ${l}`) });
    relayPort = relay.port;
  };
  await startRelayNow();
  const relayUrl = `ws://127.0.0.1:${relayPort}/`;

  // the page
  const http: Server = createServer((req, res) => {
    void (async () => {
      const u = new URL(req.url ?? "/", "http://x");
      if (u.pathname === "/config.json") {
        res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
        res.end(JSON.stringify({ relay: relayUrl, token, doc }));
        return;
      }
      const name = u.pathname === "/" ? "index.html" : u.pathname.slice(1);
      if (name.includes("..") || name.includes("/")) {
        res.writeHead(404).end();
        return;
      }
      try {
        const body = await readFile(path.join(WWW, name));
        res.writeHead(200, { "content-type": TYPES[path.extname(name)] ?? "application/octet-stream", "cache-control": "no-store" });
        res.end(body);
      } catch {
        res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      }
    })();
  });
  await new Promise<void>((ok, fail) => {
    http.once("error", fail);
    http.listen(o.httpPort ?? 8780, "127.0.0.1", () => ok());
  });
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/`;

  let stopped = false;
  return {
    url,
    relayUrl,
    token,
    doc,
    database,
    pg: db,
    sql: (text, params) => query(db, text, params),
    createDoc,
    stopRelay: async () => {
      const r = relay as RelayHandle | null;
      relay = null;
      await r?.close();
    },
    startRelay: startRelayNow,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await new Promise<void>((ok) => {
        http.close(() => ok());
        http.closeAllConnections();
      });
      const r = relay as RelayHandle | null;
      relay = null;
      await r?.close();
      if (o.stopCluster ?? true) await cluster("stop", pgPort);
    },
  };
}
