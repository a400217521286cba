// Postgres side of the relay: one transaction per call, run as the socket's identity, and the
// mapping of errors to error frames.
import pg from "pg";
import type { Identity } from "./config.js";
import { RelayCode, type Call, type ErrorBody } from "./protocol.js";

/** An error that already is an error frame's body. */
export class RelayError extends Error {
  readonly body: ErrorBody;
  constructor(body: ErrorBody) {
    super(body.message);
    this.name = "RelayError";
    this.body = body;
  }
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** SQLSTATEs that mean "the server went away / is not ready", not "your call is wrong". */
function isUnavailableState(code: string): boolean {
  return code.startsWith("08") || /^57P0[1-5]$/.test(code) || code === "53300" || code === "3D000";
}

/** Whether `e` is a failure of the connection (as opposed to an answer of Postgres or a bug). */
export function isConnectionError(e: unknown): boolean {
  if (e instanceof pg.DatabaseError) return isUnavailableState(e.code ?? "");
  if (!(e instanceof Error)) return false;
  const code = (e as { code?: unknown }).code;
  if (typeof code === "string" && /^E[A-Z0-9_]+$/.test(code)) return true; // ECONNREFUSED, ENOENT, EPIPE, ECONNRESET...
  return /connection|terminated|not queryable|timeout exceeded|Query read timeout/i.test(e.message);
}

const UNAVAILABLE: ErrorBody = {
  code: RelayCode.unavailable,
  message: "the database is unavailable; retry later (an applyPatch may or may not have committed: resend it with the same seq)",
};

/** The error frame body for an error of a call; `internal` errors are reported to `onInternal`. */
export function errorBody(e: unknown, onInternal: (e: unknown) => void): ErrorBody {
  if (e instanceof RelayError) return e.body;
  if (isConnectionError(e)) return UNAVAILABLE;
  if (e instanceof pg.DatabaseError) {
    const body: ErrorBody = { code: e.code ?? "XX000", message: e.message };
    if (e.detail) body.detail = e.detail;
    if (body.code === "40001" && e.detail) {
      try {
        const d: unknown = JSON.parse(e.detail);
        if (typeof d === "object" && d !== null) {
          const { gen, conflicts } = d as { gen?: unknown; conflicts?: unknown };
          if (typeof gen === "number") body.gen = gen;
          if (Array.isArray(conflicts)) body.conflicts = conflicts;
        }
      } catch {
        // a 40001 without a JSON DETAIL (a real serialization failure): message only
      }
    }
    return body;
  }
  onInternal(e);
  return { code: RelayCode.internal, message: "internal relay error" };
}

export interface RunnerOptions {
  statementTimeoutMs: number;
}

/**
 * Runs `fn` inside `BEGIN; SET LOCAL ROLE ...; set_config(..., true)...; COMMIT` on a pooled
 * connection. A connection that failed is destroyed, not returned to the pool.
 */
export async function runAs<T>(pool: pg.Pool, identity: Identity, opts: RunnerOptions, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch {
    throw new RelayError(UNAVAILABLE);
  }
  let broken = false;
  // a checked-out client has no error listener of the pool's: a connection dropping between
  // two queries would otherwise be an uncaught 'error' event
  const onError = () => {
    broken = true;
  };
  client.on("error", onError);
  try {
    let setup = "BEGIN";
    if (identity.role !== undefined) setup += `; SET LOCAL ROLE ${quoteIdent(identity.role)}`;
    if (opts.statementTimeoutMs > 0) setup += `; SET LOCAL statement_timeout = ${Math.floor(opts.statementTimeoutMs)}`;
    await client.query(setup);
    const settings = Object.entries(identity.settings ?? {});
    if (settings.length > 0) {
      const calls = settings.map((_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, true)`).join(", ");
      await client.query(`SELECT ${calls}`, settings.flat());
    }
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (e) {
    if (isConnectionError(e)) {
      broken = true;
    } else {
      try {
        await client.query("ROLLBACK");
      } catch {
        broken = true;
      }
    }
    throw e;
  } finally {
    client.removeListener("error", onError);
    client.release(broken);
  }
}

async function one(c: pg.PoolClient, sql: string, params: unknown[]): Promise<unknown> {
  const r = await c.query<{ r: unknown }>(sql, params);
  return r.rows[0]?.r ?? null;
}

/** The current gen of each of `docs` that `identity` can see (RLS on nodesync.documents). */
export async function visibleGens(pool: pg.Pool, identity: Identity, opts: RunnerOptions, docs: string[]): Promise<Map<string, number>> {
  return runAs(pool, identity, opts, async (c) => {
    const r = await c.query<{ doc: string; gen: string }>(
      "SELECT doc, gen FROM nodesync.documents WHERE doc = ANY($1::text[])",
      [docs],
    );
    return new Map(r.rows.map((row) => [row.doc, Number(row.gen)]));
  });
}

export function unknownDocument(doc: string): RelayError {
  return new RelayError({ code: "42704", message: `document "${doc}" does not exist` });
}

/** Runs one nodesync call (all but ping/subscribe/unsubscribe, which the server handles). */
export async function runCall(pool: pg.Pool, identity: Identity, opts: RunnerOptions, call: Call): Promise<unknown> {
  switch (call.call) {
    case "ensureDoc":
      try {
        await runAs(pool, identity, opts, (c) => one(c, "SELECT nodesync.create_doc($1, $2) AS r", [call.doc, call.rootKind ?? "doc"]));
        return true;
      } catch (e) {
        if (e instanceof pg.DatabaseError && e.code === "23505") return false;
        throw e;
      }
    case "snapshot":
      return runAs(pool, identity, opts, (c) => one(c, "SELECT nodesync.snapshot($1, $2::bigint) AS r", [call.doc, call.atGen ?? null]));
    case "applyPatch":
      return runAs(pool, identity, opts, (c) =>
        one(c, "SELECT nodesync.apply_patch($1, $2::jsonb, $3, $4::bigint) AS r", [call.doc, JSON.stringify(call.patch), call.client, call.seq]),
      );
    case "diffSince":
      return runAs(pool, identity, opts, (c) => one(c, "SELECT nodesync.diff_since($1, $2::bigint) AS r", [call.doc, call.since]));
    case "changesSince":
      return runAs(pool, identity, opts, (c) =>
        one(
          c,
          `SELECT coalesce(jsonb_agg(jsonb_build_object('gen', gen, 'client', client, 'seq', seq, 'patch', patch) ORDER BY gen), '[]'::jsonb) AS r
             FROM nodesync.changes_since($1, $2::bigint) WHERE $3::bigint IS NULL OR gen <= $3::bigint`,
          [call.doc, call.since, call.upto ?? null],
        ),
      );
    case "ping":
    case "subscribe":
    case "unsubscribe":
      throw new Error(`runCall: ${call.call} is handled by the server`);
  }
}
