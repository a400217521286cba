// PgTransport: the Transport of a Node backend, over node-postgres (`pg`).
//
// - calls go through a `pg.Pool` (every call is one statement, so any pooled connection will
//   do), with exactly the statements of the Rust client (client/src/replica/sql.rs);
// - ONE dedicated client holds `LISTEN <channel>` (SPEC §3: `nodesync`, or the server's
//   `nodesync.notify_channel`) for every subscription of this transport; when it drops it is
//   reconnected with backoff, and every subscriber is then told the document's current gen
//   (`nodesync.wait_gen(doc, 0, 0)`), so a replica pulls what it missed meanwhile;
// - SQLSTATEs become the typed errors of errors.ts: 40001 → ConflictError (DETAIL parsed),
//   55000 → HorizonError, any other SQLSTATE → DbError; no answer (connection refused or lost,
//   class 08, 57P01..57P03 shutdown) → TransportError: the outcome of an applyPatch is then
//   unknown until it is resent with the same seq;
// - int8 columns come back from node-postgres as strings: they are parsed to numbers (gens and
//   seqs fit in a JS number); jsonb parameters are sent as JSON text.

import pg from "pg";

import { ClosedError, ConflictError, DbError, HorizonError, NodesyncError, ProtocolError, TransportError } from "../errors.js";
import type { ConflictEntry } from "../errors.js";
import type { Applied, Change, DiffResult, Notification, PatchJson, Snapshot, Transport } from "./types.js";

export interface PgTransportOptions {
  /** The NOTIFY channel (the server's `nodesync.notify_channel`); default `nodesync`. */
  channel?: string;
  /** First reconnect delay of the LISTEN connection (ms, doubling up to `maxReconnectMs`); default 100. */
  reconnectMs?: number;
  /** Default 5000. */
  maxReconnectMs?: number;
  /** `application_name` of the connections unless the config sets one; default `pg-nodesync-js`. */
  applicationName?: string;
}

const INT8_OID = 20;

/** int8 as a JS number (a gen or a seq); beyond 2^53 it would lose digits, so it stays a string. */
function parseInt8(v: string): number | string {
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : v;
}

/** Type parsers of this transport's connections only (pg.types stays untouched). */
const typeParsers = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === INT8_OID && format !== "binary") return parseInt8;
    return (pg.types.getTypeParser as (oid: number, format?: "text" | "binary") => (v: string) => unknown)(oid, format);
  },
} as unknown as pg.CustomTypesConfig;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function asInt(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isSafeInteger(v)) return v;
  if (typeof v === "string" && /^-?\d+$/.test(v)) {
    const n = Number(v);
    if (Number.isSafeInteger(n)) return n;
  }
  return undefined;
}

/** SQLSTATEs that mean "no answer": the connection is gone. */
function isConnectionState(code: string): boolean {
  return code.startsWith("08") || code === "57P01" || code === "57P02" || code === "57P03";
}

/** The 40001 DETAIL `{"gen", "conflicts"}` (SPEC §4); a 40001 without it (e.g. a plain serialization failure) has no conflicts. */
function parseConflict(detail: string | undefined): { gen: number | undefined; conflicts: ConflictEntry[] } {
  if (!detail) return { gen: undefined, conflicts: [] };
  let v: unknown;
  try {
    v = JSON.parse(detail);
  } catch {
    return { gen: undefined, conflicts: [] };
  }
  if (!isObject(v)) return { gen: undefined, conflicts: [] };
  const conflicts: ConflictEntry[] = [];
  if (Array.isArray(v.conflicts)) {
    for (const c of v.conflicts) {
      if (!isObject(c)) continue;
      const e: ConflictEntry = {
        op: asInt(c.op) ?? -1,
        key: typeof c.key === "string" ? c.key : "",
        reason: typeof c.reason === "string" ? c.reason : "",
      };
      if ("expected" in c) e.expected = asInt(c.expected) ?? null;
      if ("actual" in c) e.actual = asInt(c.actual) ?? null;
      conflicts.push(e);
    }
  }
  return { gen: asInt(v.gen), conflicts };
}

/** A node-postgres error as a NodesyncError. */
export function mapPgError(e: unknown): NodesyncError {
  if (e instanceof NodesyncError) return e;
  const err = e as { code?: unknown; message?: unknown; detail?: unknown; severity?: unknown } | null;
  const message = typeof err?.message === "string" ? err.message : String(e);
  const code = typeof err?.code === "string" ? err.code : undefined;
  const isDb = e instanceof pg.DatabaseError || (code !== undefined && /^[0-9A-Z]{5}$/.test(code) && typeof err?.severity === "string");
  if (!isDb || code === undefined || isConnectionState(code)) {
    return new TransportError(`no answer from the server: ${message}`, { cause: e });
  }
  const detail = typeof err?.detail === "string" ? err.detail : undefined;
  switch (code) {
    case "40001": {
      const { gen, conflicts } = parseConflict(detail);
      return new ConflictError(message, gen, conflicts);
    }
    case "55000":
      return new HorizonError(message);
    default:
      return new DbError(message, code, detail);
  }
}

function checkSnapshot(v: unknown): Snapshot {
  if (!isObject(v) || asInt(v.gen) === undefined || !isObject(v.root)) {
    throw new ProtocolError(`snapshot: unexpected answer ${JSON.stringify(v)?.slice(0, 200)}`);
  }
  return v as unknown as Snapshot;
}

function checkDiff(v: unknown): DiffResult {
  if (!isObject(v) || asInt(v.from) === undefined || asInt(v.to) === undefined || !Array.isArray(v.nodes) || !Array.isArray(v.deleted)) {
    throw new ProtocolError(`diff_since: unexpected answer ${JSON.stringify(v)?.slice(0, 200)}`);
  }
  return v as unknown as DiffResult;
}

function checkApplied(v: unknown): Applied {
  if (!isObject(v) || asInt(v.gen) === undefined) {
    throw new ProtocolError(`apply_patch: unexpected answer ${JSON.stringify(v)?.slice(0, 200)}`);
  }
  return {
    gen: asInt(v.gen) as number,
    versions: isObject(v.versions) ? (v.versions as Record<string, number | null>) : {},
    duplicate: v.duplicate === true,
  };
}

function quoteIdent(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

type Listener = (n: Notification) => void;

export class PgTransport implements Transport {
  readonly pool: pg.Pool;
  readonly channel: string;
  private readonly clientConfig: pg.ClientConfig;
  private readonly reconnectMs: number;
  private readonly maxReconnectMs: number;
  private closed = false;
  /** Subscribers per document. */
  private readonly subs = new Map<string, Set<Listener>>();
  /** The newest gen a notification named, per document. */
  private readonly lastGen = new Map<string, number>();
  private listener: pg.Client | undefined;
  /** The pending connect of the LISTEN client (shared by concurrent subscribes). */
  private listening: Promise<void> | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private reconnectAttempt = 0;
  /** Times the LISTEN connection was re-established (for tests and monitoring). */
  reconnects = 0;

  private constructor(clientConfig: pg.ClientConfig, opts: PgTransportOptions) {
    this.clientConfig = clientConfig;
    this.channel = opts.channel ?? "nodesync";
    this.reconnectMs = opts.reconnectMs ?? 100;
    this.maxReconnectMs = opts.maxReconnectMs ?? 5000;
    this.pool = new pg.Pool({ ...clientConfig });
    // an idle pooled client whose connection dies emits here; the next call gets a new one
    this.pool.on("error", () => {});
  }

  /**
   * Connects (one round trip to check the settings). `config` is a `pg.PoolConfig` or a
   * connection string; what it leaves out comes from the libpq environment variables PGHOST
   * (a directory: a unix socket), PGPORT, PGUSER, PGDATABASE, PGPASSWORD, as node-postgres
   * reads them. Rejects with TransportError if the server cannot be reached, DbError if it
   * refuses (e.g. 3D000 unknown database, 28000 authentication).
   */
  static async connect(config?: pg.PoolConfig | string, opts: PgTransportOptions = {}): Promise<PgTransport> {
    const base: pg.PoolConfig = typeof config === "string" ? { connectionString: config } : { ...(config ?? {}) };
    if (base.application_name === undefined) base.application_name = opts.applicationName ?? "pg-nodesync-js";
    if (base.types === undefined) base.types = typeParsers;
    const t = new PgTransport(base, opts);
    try {
      await t.pool.query("SELECT 1");
    } catch (e) {
      await t.pool.end().catch(() => {});
      throw mapPgError(e);
    }
    return t;
  }

  private async query(text: string, params: unknown[]): Promise<pg.QueryResult> {
    if (this.closed) throw new ClosedError("the transport is closed");
    try {
      return await this.pool.query(text, params);
    } catch (e) {
      if (this.closed) throw new ClosedError("the transport is closed");
      throw mapPgError(e);
    }
  }

  private async one(text: string, params: unknown[], what: string): Promise<unknown> {
    const r = await this.query(text, params);
    const row = r.rows[0] as Record<string, unknown> | undefined;
    if (r.rows.length !== 1 || row === undefined) throw new ProtocolError(`${what}: ${r.rows.length} rows`);
    return Object.values(row)[0];
  }

  async ensureDoc(doc: string, rootKind = "doc"): Promise<boolean> {
    try {
      await this.query("SELECT nodesync.create_doc($1, $2)", [doc, rootKind]);
      return true;
    } catch (e) {
      if (e instanceof DbError && e.code === "23505") return false;
      throw e;
    }
  }

  async snapshot(doc: string, atGen?: number): Promise<Snapshot> {
    const v = atGen === undefined
      ? await this.one("SELECT nodesync.snapshot($1)", [doc], "snapshot")
      : await this.one("SELECT nodesync.snapshot($1, $2)", [doc, atGen], "snapshot");
    return checkSnapshot(v);
  }

  async applyPatch(doc: string, patch: PatchJson, client: string, seq: number): Promise<Applied> {
    const v = await this.one("SELECT nodesync.apply_patch($1, $2, $3, $4)", [doc, JSON.stringify(patch), client, seq], "apply_patch");
    return checkApplied(v);
  }

  async diffSince(doc: string, since: number): Promise<DiffResult> {
    return checkDiff(await this.one("SELECT nodesync.diff_since($1, $2)", [doc, since], "diff_since"));
  }

  async changesSince(doc: string, since: number, upto?: number): Promise<Change[]> {
    const r = upto === undefined
      ? await this.query("SELECT gen, client, seq, patch FROM nodesync.changes_since($1, $2) ORDER BY gen", [doc, since])
      : await this.query("SELECT gen, client, seq, patch FROM nodesync.changes_since($1, $2) WHERE gen <= $3 ORDER BY gen", [doc, since, upto]);
    const out: Change[] = [];
    for (const row of r.rows as Record<string, unknown>[]) {
      const gen = asInt(row.gen);
      const patch = row.patch;
      if (gen === undefined || !isObject(patch) || !Array.isArray(patch.ops)) {
        throw new ProtocolError(`changes_since: unexpected row ${JSON.stringify(row).slice(0, 200)}`);
      }
      out.push({
        gen,
        client: typeof row.client === "string" ? row.client : null,
        seq: asInt(row.seq) ?? null,
        patch: patch as unknown as PatchJson,
      });
    }
    return out;
  }

  /** `nodesync.wait_gen(doc, gen, timeoutMs)` (SPEC §7): the document's gen once it is at least `gen`, or after the timeout. */
  async waitGen(doc: string, gen: number, timeoutMs = 10000): Promise<number> {
    const v = asInt(await this.one("SELECT nodesync.wait_gen($1, $2, $3)", [doc, gen, timeoutMs], "wait_gen"));
    if (v === undefined) throw new ProtocolError("wait_gen: not a number");
    return v;
  }

  // ------------------------------------------------------------------ notifications

  async subscribe(doc: string, fn: (n: Notification) => void): Promise<() => Promise<void>> {
    if (this.closed) throw new ClosedError("the transport is closed");
    let set = this.subs.get(doc);
    if (!set) {
      set = new Set();
      this.subs.set(doc, set);
    }
    set.add(fn);
    try {
      await this.ensureListening();
    } catch (e) {
      set.delete(fn);
      throw e;
    }
    return async () => {
      const s = this.subs.get(doc);
      s?.delete(fn);
      if (s && s.size === 0) this.subs.delete(doc);
    };
  }

  /** The backend pid of the LISTEN connection (tests terminate it to check the reconnect). */
  get listenerPid(): number | undefined {
    return (this.listener as unknown as { processID?: number } | undefined)?.processID ?? undefined;
  }

  private ensureListening(): Promise<void> {
    if (this.listener) return Promise.resolve();
    if (!this.listening) {
      this.listening = this.listen().finally(() => {
        this.listening = undefined;
      });
    }
    return this.listening;
  }

  /** Connects the LISTEN client. */
  private async listen(): Promise<void> {
    const c = new pg.Client({ ...this.clientConfig });
    let dead = false;
    const lost = () => {
      if (dead) return;
      dead = true;
      if (this.listener === c) this.listener = undefined;
      c.end().catch(() => {});
      this.scheduleReconnect();
    };
    c.on("error", lost);
    c.on("end", lost);
    c.on("notification", (m) => this.onNotification(m.channel, m.payload));
    try {
      await c.connect();
      await c.query(`LISTEN ${quoteIdent(this.channel)}`);
    } catch (e) {
      dead = true;
      c.end().catch(() => {});
      throw mapPgError(e);
    }
    if (this.closed) {
      dead = true;
      await c.end().catch(() => {});
      throw new ClosedError("the transport is closed");
    }
    this.listener = c;
    this.reconnectAttempt = 0;
  }

  private onNotification(channel: string, payload: string | undefined): void {
    if (channel !== this.channel || payload === undefined) return;
    let v: unknown;
    try {
      v = JSON.parse(payload);
    } catch {
      return;
    }
    if (!isObject(v) || typeof v.doc !== "string") return;
    const gen = asInt(v.gen);
    if (gen === undefined) return;
    const doc = v.doc;
    this.lastGen.set(doc, Math.max(this.lastGen.get(doc) ?? 0, gen));
    this.dispatch({ doc, gen });
  }

  private dispatch(n: Notification): void {
    for (const fn of [...(this.subs.get(n.doc) ?? [])]) {
      try {
        fn(n);
      } catch {
        // a subscriber's exception is its own business
      }
    }
  }

  private scheduleReconnect(): void {
    // nobody to tell: the next subscribe connects again
    if (this.closed || this.reconnectTimer || this.subs.size === 0) return;
    const delay = Math.min(this.maxReconnectMs, this.reconnectMs * 2 ** Math.min(this.reconnectAttempt, 16));
    this.reconnectAttempt++;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.closed) return;
      this.ensureListening().then(
        () => {
          this.reconnects++;
          void this.renotify();
        },
        () => this.scheduleReconnect(),
      );
    }, delay * (0.75 + Math.random() / 2));
    // a pending reconnect does not keep the process alive
    (this.reconnectTimer as { unref?: () => void }).unref?.();
  }

  /** After a reconnect: tells every subscriber the document's current gen (notifications may have been missed). */
  private async renotify(): Promise<void> {
    for (const doc of [...this.subs.keys()]) {
      let gen: number;
      try {
        gen = await this.waitGen(doc, 0, 0);
      } catch {
        gen = this.lastGen.get(doc) ?? 0;
      }
      if (this.closed) return;
      this.lastGen.set(doc, Math.max(this.lastGen.get(doc) ?? 0, gen));
      this.dispatch({ doc, gen });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.subs.clear();
    const l = this.listener;
    this.listener = undefined;
    await this.listening?.catch(() => {});
    await l?.end().catch(() => {});
    await this.pool.end().catch(() => {});
  }
}

export default PgTransport;
