// A private Postgres cluster for these tests (scripts/cluster.sh on port 55480, data and socket
// in /tmp/nodesync-web-55480) and a fresh database with the extension. NODESYNC_PM_PGHOST (and
// NODESYNC_PM_PGPORT) use a running cluster instead.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import * as path from "node:path";
import pg from "pg";

const run = promisify(execFile);
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../../..");
const PORT = 55480;
const DIR = `/tmp/nodesync-web-${PORT}`;
let owned = false;
const dbs: { cfg: pg.ClientConfig; name: string }[] = [];

export async function startCluster(): Promise<{ host: string; port: number; user: string }> {
  const host = process.env["NODESYNC_PM_PGHOST"];
  if (host) return { host, port: Number(process.env["NODESYNC_PM_PGPORT"] ?? 5432), user: "postgres" };
  await run("bash", [path.join(REPO, "scripts/cluster.sh"), "start"], { env: { ...process.env, NODESYNC_PORT: String(PORT), NODESYNC_PGDIR: DIR } });
  owned = true;
  return { host: DIR, port: PORT, user: "postgres" };
}

export async function stopCluster(): Promise<void> {
  for (const d of dbs.splice(0)) {
    const c = new pg.Client({ ...d.cfg, database: "postgres" });
    try {
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${d.name}" WITH (FORCE)`);
    } catch {
      // best effort
    } finally {
      await c.end().catch(() => {});
    }
  }
  if (!owned) return;
  owned = false;
  await run("bash", [path.join(REPO, "scripts/cluster.sh"), "stop"], { env: { ...process.env, NODESYNC_PORT: String(PORT), NODESYNC_PGDIR: DIR } });
}

export async function freshDb(c: { host: string; port: number; user: string }, name: string): Promise<pg.ClientConfig> {
  const database = `${name}_${process.pid}`;
  const admin = new pg.Client({ ...c, database: "postgres" });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${database}"`);
  } finally {
    await admin.end();
  }
  const cfg = { ...c, database };
  dbs.push({ cfg, name: database });
  const db = new pg.Client(cfg);
  await db.connect();
  try {
    await db.query("CREATE EXTENSION pg_nodesync");
  } finally {
    await db.end();
  }
  return cfg;
}
