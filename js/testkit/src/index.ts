// @pg-nodesync/testkit: the Postgres side of the JS test suites (client, prosemirror, relay),
// written once.
//
// - `startCluster({ port, dir, envHost })`: if the environment variable named by `envHost` is
//   set (e.g. NODESYNC_JS_PGHOST, with NODESYNC_JS_PGPORT and NODESYNC_JS_PGUSER beside it),
//   that running cluster is used as is: neither started nor stopped here. Otherwise a private
//   cluster is started with scripts/cluster.sh on `port`, data and unix socket in `dir`
//   (`listen_addresses=''`). Several test processes may share it (e.g. two `npm test` runs at
//   once): each records its pid in `<dir>.users`, and the last one out stops it.
// - `freshDb(cluster, name)`: a database `<name>_<pid>` (unique per test process) with
//   `CREATE EXTENSION pg_nodesync` (the extension is installed system-wide); `stopCluster`
//   drops it (WITH (FORCE)).
import { execFile, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pg from "pg";

const run = promisify(execFile);

/** The repository root (from js/testkit/dist/src/index.js). */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");
const SCRIPT = path.join(REPO, "scripts/cluster.sh");

/** Where a private cluster lives. */
export interface ClusterAt {
  port: number;
  /** Data directory and unix socket (default /tmp/nodesync-<port>, cluster.sh's own default). */
  dir?: string;
}

export interface ClusterOptions extends ClusterAt {
  /**
   * The name of an environment variable (ending in HOST) that, when set, points at a running
   * cluster to use instead; the port and the user are read from the variables of the same name
   * ending in PORT (default 5432) and USER (default postgres).
   */
  envHost?: string;
}

/** A cluster's address, as its superuser. */
export interface Conn {
  host: string;
  port: number;
  user: string;
}

export interface Cluster extends Conn {
  /** True if this process started it (and is one of the users that stop it). */
  owned: boolean;
}

export function clusterDir(at: ClusterAt): string {
  return at.dir ?? `/tmp/nodesync-${at.port}`;
}

function scriptEnv(at: ClusterAt): NodeJS.ProcessEnv {
  return { ...process.env, NODESYNC_PORT: String(at.port), NODESYNC_PGDIR: clusterDir(at) };
}

/** `scripts/cluster.sh start|stop` for the cluster at `at` (no refcounting: see startCluster). */
export async function clusterScript(cmd: "start" | "stop", at: ClusterAt): Promise<void> {
  await run("bash", [SCRIPT, cmd], { env: scriptEnv(at) });
}

/**
 * The same, blocking (stderr passed through): for a test that takes Postgres down and up
 * mid-run and must not let its event loop turn while that happens.
 */
export function clusterScriptSync(cmd: "start" | "stop", at: ClusterAt): void {
  execFileSync("bash", [SCRIPT, cmd], { env: scriptEnv(at), stdio: ["ignore", "ignore", "inherit"] });
}

/** The clusters this process uses, by the port asked for. */
const clusters = new Map<number, { cluster: Cluster; dir: string }>();
/** Databases this process created (dropped by stopCluster). */
const created: { cfg: pg.ClientConfig; name: string }[] = [];

function usersDir(dir: string): string {
  return `${dir}.users`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === "EPERM";
  }
}

/** The other live processes recorded as users of the cluster in `dir` (dead ones are removed). */
function otherUsers(dir: string): number[] {
  let names: string[] = [];
  try {
    names = fs.readdirSync(usersDir(dir));
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const n of names) {
    const pid = Number(n);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    if (alive(pid)) out.push(pid);
    else fs.rmSync(`${usersDir(dir)}/${n}`, { force: true });
  }
  return out;
}

function sibling(envHost: string, suffix: "PORT" | "USER"): string {
  if (!envHost.endsWith("HOST")) throw new Error(`envHost ${envHost} does not end in HOST`);
  return envHost.slice(0, -"HOST".length) + suffix;
}

/** Starts (or finds) the cluster; a second call for the same port answers the first's. */
export async function startCluster(o: ClusterOptions): Promise<Cluster> {
  const have = clusters.get(o.port);
  if (have) return have.cluster;
  const dir = clusterDir(o);
  const host = o.envHost ? process.env[o.envHost] : undefined;
  if (o.envHost && host) {
    const cluster: Cluster = {
      host,
      port: Number(process.env[sibling(o.envHost, "PORT")] ?? 5432),
      user: process.env[sibling(o.envHost, "USER")] ?? "postgres",
      owned: false,
    };
    clusters.set(o.port, { cluster, dir });
    return cluster;
  }
  fs.mkdirSync(usersDir(dir), { recursive: true });
  fs.writeFileSync(`${usersDir(dir)}/${process.pid}`, "");
  await clusterScript("start", { port: o.port, dir });
  const cluster: Cluster = { host: dir, port: o.port, user: "postgres", owned: true };
  clusters.set(o.port, { cluster, dir });
  return cluster;
}

async function dropDb(d: { cfg: pg.ClientConfig; name: string }): Promise<void> {
  const admin = new pg.Client({ ...d.cfg, database: "postgres" });
  admin.on("error", () => {});
  try {
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS "${d.name}" WITH (FORCE)`);
  } catch {
    // best effort
  } finally {
    await admin.end().catch(() => {});
  }
}

/**
 * Drops the databases this process created on the cluster started for `port` (every cluster
 * if omitted), then stops the cluster if this process started it and no other live process
 * uses it.
 */
export async function stopCluster(port?: number): Promise<void> {
  const stopping = [...clusters].filter(([p]) => port === undefined || p === port);
  for (const [p] of stopping) clusters.delete(p);
  const on = (cfg: pg.ClientConfig) => port === undefined || stopping.some(([, r]) => r.cluster.host === cfg.host && r.cluster.port === cfg.port);
  const drop = created.filter((d) => on(d.cfg));
  const keep = created.filter((d) => !on(d.cfg));
  created.splice(0, created.length, ...keep);
  for (const d of drop) await dropDb(d);
  for (const [, { cluster, dir }] of stopping) {
    if (!cluster.owned) continue;
    fs.rmSync(`${usersDir(dir)}/${process.pid}`, { force: true });
    if (otherUsers(dir).length > 0) continue;
    await clusterScript("stop", { port: cluster.port, dir });
  }
}

/** Connection settings of `database` on the cluster. */
export function dbConfig(c: Conn, database: string): pg.ClientConfig {
  return { host: c.host, port: c.port, user: c.user, database };
}

/** The PG* environment variables for `database` (for child processes such as the Rust typist). */
export function dbEnv(c: Conn, database: string): Record<string, string> {
  return { PGHOST: c.host, PGPORT: String(c.port), PGUSER: c.user, PGDATABASE: database };
}

/** Runs `fn` on a short-lived connection (its asynchronous 'error' events are ignored). */
export async function withClient<T>(cfg: pg.ClientConfig, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client(cfg);
  c.on("error", () => {});
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => {});
  }
}

/** One query on a short-lived connection. */
export async function sql<T extends pg.QueryResultRow = pg.QueryResultRow>(cfg: pg.ClientConfig, text: string, params: unknown[] = []): Promise<T[]> {
  return withClient(cfg, async (c) => (await c.query<T>(text, params)).rows);
}

/**
 * Drops and creates a database `<name>_<pid>` (unique per test process) with the extension;
 * returns its connection settings. stopCluster drops it.
 */
export async function freshDb(c: Conn, name: string): Promise<pg.ClientConfig> {
  const database = `${name}_${process.pid}`;
  await withClient(dbConfig(c, "postgres"), async (admin) => {
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${database}"`);
  });
  const cfg = dbConfig(c, database);
  created.push({ cfg, name: database });
  await withClient(cfg, (db) => db.query("CREATE EXTENSION pg_nodesync"));
  return cfg;
}

/** A seeded random number in [0, 1) (mulberry32): property tests with a fixed seed. */
export function prng(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
