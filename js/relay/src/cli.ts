#!/usr/bin/env node
// nodesync-relay --config relay.json [--listen host:port] [--database URL|dbname]
import { parseArgs } from "node:util";
import type { PoolConfig } from "pg";
import { ConfigError, loadConfig, parseListen, type RelayOptions } from "./config.js";
import { startRelay } from "./server.js";

const USAGE = `usage: nodesync-relay --config relay.json [--listen host:port] [--database URL|dbname]

  --config FILE      JSON config (README.md): listen, database, tokens, limits
  --listen H:P       overrides "listen" (default 127.0.0.1:8787; port 0 = any free port)
  --database D       overrides "database": a postgres:// URL or a database name;
                     whatever is not set comes from PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE
`;

function log(line: string): void {
  process.stderr.write(`${new Date().toISOString()} nodesync-relay: ${line}\n`);
}

function describeDb(db: RelayOptions["database"]): string {
  let o: PoolConfig;
  if (typeof db === "string") {
    try {
      const u = new URL(db);
      return `${u.hostname || process.env["PGHOST"] || "localhost"}:${u.port || process.env["PGPORT"] || 5432}${u.pathname}`;
    } catch {
      return "(connection string)";
    }
  } else o = db ?? {};
  const host = o.host ?? process.env["PGHOST"] ?? "localhost";
  const port = o.port ?? process.env["PGPORT"] ?? 5432;
  const database = o.database ?? process.env["PGDATABASE"] ?? o.user ?? process.env["PGUSER"] ?? "";
  return `${host}:${port}/${database}`;
}

async function main(): Promise<number> {
  let values: { config?: string; listen?: string; database?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        config: { type: "string", short: "c" },
        listen: { type: "string", short: "l" },
        database: { type: "string", short: "d" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  let options: RelayOptions = {};
  try {
    if (values.config !== undefined) options = loadConfig(values.config);
    if (values.listen !== undefined) {
      parseListen(values.listen);
      options.listen = values.listen;
    }
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`nodesync-relay: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  if (values.database !== undefined) {
    const d = values.database;
    options.database = d.includes("://")
      ? d
      : { ...(typeof options.database === "object" ? options.database : {}), database: d };
  }
  options.log = log;

  const relay = await startRelay(options);
  log(`started: listening on ${relay.url}, database ${describeDb(options.database)}, pid ${process.pid}`);

  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        log(`${signal} again: exiting now`);
        resolveExit(1);
        return;
      }
      stopping = true;
      log(`${signal}: stopping`);
      relay.close().then(
        () => {
          log("stopped");
          resolveExit(0);
        },
        (e: unknown) => {
          log(`error while stopping: ${(e as Error).message}`);
          resolveExit(1);
        },
      );
    };
    process.on("SIGINT", () => stop("SIGINT"));
    process.on("SIGTERM", () => stop("SIGTERM"));
  });
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    log(`fatal: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
