// The Postgres cluster the tests run against.
//
// - NODESYNC_JS_PGHOST (and NODESYNC_JS_PGPORT, NODESYNC_JS_PGUSER) set: that cluster is used
//   as is (the lead's test script may provide one); it is neither started nor stopped here.
// - otherwise a private cluster is started with scripts/cluster.sh on port 55460, data and unix
//   socket in /tmp/nodesync-js-55460 (`listen_addresses=''`), and stopped by `stopCluster()`.
//
// Every test file works in a fresh database of its own (`freshDb`), with `CREATE EXTENSION
// pg_nodesync` (the extension is installed system-wide).

import { execFile } from "node:child_process";
import * as fs from "node:fs";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import * as path from "node:path";
import pg from "pg";

const run = promisify(execFile);

/** /work/main (the repository root), from dist/test/helpers/cluster.js or test/helpers/cluster.ts. */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../../..");
const PRIVATE_PORT = 55460;
const PRIVATE_DIR = `/tmp/nodesync-js-${PRIVATE_PORT}`;

export interface Cluster {
  host: string;
  port: number;
  user: string;
  /** True if this process started it (and stops it). */
  owned: boolean;
}

let current: Cluster | undefined;
/** Databases this process created (dropped by stopCluster). */
const created: { cfg: pg.ClientConfig; name: string }[] = [];

// Several test processes may share the private cluster (e.g. two `npm test` runs at once):
// each registers its pid here, and the last one out stops the cluster.
const USERS = `${PRIVATE_DIR}.users`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === "EPERM";
  }
}

function otherUsers(): number[] {
  let names: string[] = [];
  try {
    names = fs.readdirSync(USERS);
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const n of names) {
    const pid = Number(n);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    if (alive(pid)) out.push(pid);
    else fs.rmSync(`${USERS}/${n}`, { force: true });
  }
  return out;
}

function envCluster(): Cluster | undefined {
  const host = process.env.NODESYNC_JS_PGHOST;
  if (!host) return undefined;
  return {
    host,
    port: Number(process.env.NODESYNC_JS_PGPORT ?? 5432),
    user: process.env.NODESYNC_JS_PGUSER ?? "postgres",
    owned: false,
  };
}

/** Starts (or finds) the cluster. */
export async function startCluster(): Promise<Cluster> {
  if (current) return current;
  const env = envCluster();
  if (env) {
    current = env;
    return env;
  }
  fs.mkdirSync(USERS, { recursive: true });
  fs.writeFileSync(`${USERS}/${process.pid}`, "");
  await run("bash", [path.join(REPO, "scripts/cluster.sh"), "start"], {
    env: { ...process.env, NODESYNC_PORT: String(PRIVATE_PORT), NODESYNC_PGDIR: PRIVATE_DIR },
  });
  current = { host: PRIVATE_DIR, port: PRIVATE_PORT, user: "postgres", owned: true };
  return current;
}

/** Stops the cluster if this process started it. */
export async function stopCluster(): Promise<void> {
  const c = current;
  current = undefined;
  for (const d of created.splice(0)) {
    const admin = new pg.Client({ ...d.cfg, database: "postgres" });
    try {
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS "${d.name}" WITH (FORCE)`);
    } catch {
      // best effort
    } finally {
      await admin.end().catch(() => {});
    }
  }
  if (!c?.owned) return;
  fs.rmSync(`${USERS}/${process.pid}`, { force: true });
  if (otherUsers().length > 0) return;
  await run("bash", [path.join(REPO, "scripts/cluster.sh"), "stop"], {
    env: { ...process.env, NODESYNC_PORT: String(PRIVATE_PORT), NODESYNC_PGDIR: PRIVATE_DIR },
  });
}

/** Connection settings of `db` on the cluster. */
export function dbConfig(c: Cluster, database: string): pg.ClientConfig {
  return { host: c.host, port: c.port, user: c.user, database };
}

/** The PG* environment variables for `db` (for child processes such as the Rust typist). */
export function dbEnv(c: Cluster, database: string): Record<string, string> {
  return { PGHOST: c.host, PGPORT: String(c.port), PGUSER: c.user, PGDATABASE: database };
}

/**
 * Drops and creates a database `<name>_<pid>` (unique per test process) with the extension;
 * returns its connection settings. stopCluster drops it.
 */
export async function freshDb(c: Cluster, name: string): Promise<pg.ClientConfig> {
  const database = `${name}_${process.pid}`;
  const admin = new pg.Client(dbConfig(c, "postgres"));
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${database}"`);
  } finally {
    await admin.end();
  }
  const cfg = dbConfig(c, database);
  created.push({ cfg, name: database });
  const db = new pg.Client(cfg);
  await db.connect();
  try {
    await db.query("CREATE EXTENSION pg_nodesync");
  } finally {
    await db.end();
  }
  return cfg;
}

/** One query on a short-lived connection. */
export async function sql<T extends pg.QueryResultRow = pg.QueryResultRow>(cfg: pg.ClientConfig, text: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client(cfg);
  await client.connect();
  try {
    return (await client.query<T>(text, params)).rows;
  } finally {
    await client.end();
  }
}
