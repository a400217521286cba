// Options of the relay (and their defaults, `resolveOptions`), the JSON config file, and the
// placeholder token authentication.
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import type { PoolConfig } from "pg";
import { tokenFromProtocols } from "./protocol.js";

/**
 * Who a socket is. Every call of the socket runs in its own transaction as
 * `SET LOCAL ROLE <role>` (when given) and `set_config(key, value, true)` for each setting, so
 * the RLS policies on `nodesync.documents` decide what it may read and write. With neither, calls
 * run as the pool's login role (which then must not be a superuser or the table owner, or RLS
 * is bypassed).
 */
export interface Identity {
  role?: string;
  settings?: Record<string, string>;
}

/** Decides who an upgrade request is; null (or a throw) refuses the socket (close 4401). */
export type Authenticate = (request: IncomingMessage) => Identity | null | Promise<Identity | null>;

export interface RelayOptions {
  /** `"host:port"` (or `":port"`, `"port"`); default `127.0.0.1:8787`. `host`/`port` win over it. */
  listen?: string;
  host?: string;
  /** 0 = any free port (see the `port` of the handle). */
  port?: number;
  /** A connection URL or node-postgres options; missing fields come from PG* environment variables. */
  database?: string | PoolConfig;
  /** Who a socket is. Default: `tokenAuthenticator(tokens)`. */
  authenticate?: Authenticate;
  /** Shared-secret tokens → identity, for the default authenticate (a placeholder for the app's own auth). */
  tokens?: Record<string, Identity>;
  /** If set, upgrade requests whose Origin header is not in this list are refused with 403. */
  allowedOrigins?: string[];
  /** Frames longer than this get a `too_large` error frame (default 1 MiB). */
  maxMessageBytes?: number;
  /** Frames longer than this close the socket (1009); default 4 × maxMessageBytes. */
  maxFrameBytes?: number;
  /** Token bucket per socket: frames per second (default 50). */
  ratePerSecond?: number;
  /** Bucket size (default 2 × ratePerSecond). */
  rateBurst?: number;
  /** Close the socket (1008) after this many `rate_limited` refusals within 10 seconds (default 5 × rateBurst). */
  rateCloseAfter?: number;
  /** Calls of one socket running or waiting at once (default 16); more get `busy`. */
  maxInFlight?: number;
  /** Documents one socket may subscribe (default 1000). */
  maxSubscriptions?: number;
  /** Sockets at once (default 10000); more are refused with 503. */
  maxConnections?: number;
  /** A socket's outgoing buffer above this closes it (1008, a consumer too slow); default 16 MiB. */
  maxBufferedBytes?: number;
  /** How long a visibility check of (identity, document) stays valid for notifications (default 5000 ms). */
  visibilityTtlMs?: number;
  /** `SET LOCAL statement_timeout` of every call (default 10000 ms; 0 = none). */
  statementTimeoutMs?: number;
  /** Connections of the call pool (default 10), plus one dedicated LISTEN connection. */
  poolSize?: number;
  /** The NOTIFY channel (default `nodesync`, the extension's `nodesync.notify_channel` default). */
  channel?: string;
  /** WebSocket ping interval; a socket that did not answer the previous ping is dropped (default 30000; 0 = off). */
  pingIntervalMs?: number;
  /** LISTEN reconnect backoff (default 200 ms doubling up to 5000 ms). */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** One line per event (start, stop, reconnect, errors). Default: stderr with a timestamp. */
  log?: (line: string) => void;
}

const CONFIG_KEYS = new Set([
  "listen", "database", "tokens", "allowedOrigins", "maxMessageBytes", "maxFrameBytes", "ratePerSecond", "rateBurst",
  "rateCloseAfter", "maxInFlight", "maxSubscriptions", "maxConnections", "maxBufferedBytes", "visibilityTtlMs",
  "statementTimeoutMs", "poolSize", "channel", "pingIntervalMs", "reconnectMinMs", "reconnectMaxMs",
]);
const NUMERIC_KEYS = [
  "maxMessageBytes", "maxFrameBytes", "ratePerSecond", "rateBurst", "rateCloseAfter", "maxInFlight", "maxSubscriptions",
  "maxConnections", "maxBufferedBytes", "visibilityTtlMs", "statementTimeoutMs", "poolSize", "pingIntervalMs",
  "reconnectMinMs", "reconnectMaxMs",
] as const;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

const ROLE_MAX = 63;
const SETTING_NAME = /^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)*$/;

/** Checks an identity (from the config or an authenticate hook); returns the reason it is unusable, or null. */
export function identityProblem(v: unknown): string | null {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return "an identity is an object {role?, settings?}";
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== "role" && k !== "settings") return `unknown identity field "${k}"`;
  if (o["role"] !== undefined) {
    const r = o["role"];
    if (typeof r !== "string" || r.length === 0 || Buffer.byteLength(r) > ROLE_MAX || r.includes("\0")) {
      return `role must be a role name of 1..${ROLE_MAX} bytes`;
    }
  }
  if (o["settings"] !== undefined) {
    const s = o["settings"];
    if (typeof s !== "object" || s === null || Array.isArray(s)) return "settings must be an object of strings";
    for (const [k, val] of Object.entries(s)) {
      if (!SETTING_NAME.test(k) || k.length > ROLE_MAX) return `setting name "${k}" is not a valid parameter name`;
      if (typeof val !== "string" || val.includes("\0")) return `setting "${k}" must be a string`;
    }
  }
  return null;
}

function digest(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

/** The token a request carries: `Sec-WebSocket-Protocol: nodesync.auth.<base64url>`, `Authorization: Bearer`, or `?token=`. */
export function tokenOf(request: IncomingMessage): string | null {
  const fromProtocol = tokenFromProtocols(request.headers["sec-websocket-protocol"]);
  if (fromProtocol !== null) return fromProtocol;
  const auth = request.headers["authorization"];
  if (typeof auth === "string" && /^Bearer /i.test(auth)) return auth.slice(7).trim();
  try {
    const url = new URL(request.url ?? "/", "http://relay.invalid");
    const q = url.searchParams.get("token");
    if (q !== null && q !== "") return q;
  } catch {
    // a request line that is no URL: no token
  }
  return null;
}

/**
 * The default authenticate: a map of shared-secret tokens to identities. A placeholder for the
 * application's own authentication (session cookies, JWTs...): pass `authenticate` instead.
 * Tokens are compared as SHA-256 digests in constant time.
 */
export function tokenAuthenticator(tokens: Record<string, Identity>): Authenticate {
  const entries: { digest: Buffer; identity: Identity }[] = [];
  for (const [token, identity] of Object.entries(tokens)) {
    const problem = identityProblem(identity);
    if (problem !== null) throw new ConfigError(`tokens: ${problem}`);
    if (token.length === 0) throw new ConfigError("tokens: an empty token");
    entries.push({ digest: digest(token), identity });
  }
  return (request) => {
    const token = tokenOf(request);
    if (token === null) return null;
    const d = digest(token);
    let found: Identity | null = null;
    for (const e of entries) if (timingSafeEqual(e.digest, d)) found = e.identity;
    return found === null ? null : structuredClone(found);
  };
}

/** Reads and checks a JSON config file (README.md, "Configuration"). */
export function loadConfig(path: string): RelayOptions {
  let raw: string;
  try {
    raw = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(`cannot read config ${path}: ${(e as Error).message}`);
  }
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (e) {
    throw new ConfigError(`config ${path} is not JSON: ${(e as Error).message}`);
  }
  return checkConfig(v, path);
}

/** Checks a parsed config object. */
export function checkConfig(v: unknown, where = "config"): RelayOptions {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new ConfigError(`${where}: not a JSON object`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!CONFIG_KEYS.has(k)) throw new ConfigError(`${where}: unknown key "${k}"`);
  const out: RelayOptions = {};
  if (o["listen"] !== undefined) {
    if (typeof o["listen"] !== "string" && typeof o["listen"] !== "number") throw new ConfigError(`${where}: listen must be "host:port"`);
    out.listen = String(o["listen"]);
    parseListen(out.listen);
  }
  if (o["database"] !== undefined) {
    const d = o["database"];
    if (typeof d === "string") out.database = d;
    else if (typeof d === "object" && d !== null && !Array.isArray(d)) out.database = d as PoolConfig;
    else throw new ConfigError(`${where}: database must be a URL or an object of connection options`);
  }
  if (o["tokens"] !== undefined) {
    const t = o["tokens"];
    if (typeof t !== "object" || t === null || Array.isArray(t)) throw new ConfigError(`${where}: tokens must be an object`);
    for (const [token, identity] of Object.entries(t)) {
      const problem = identityProblem(identity);
      if (problem !== null) throw new ConfigError(`${where}: tokens["${token.slice(0, 4)}…"]: ${problem}`);
    }
    out.tokens = t as Record<string, Identity>;
  }
  if (o["allowedOrigins"] !== undefined) {
    const a = o["allowedOrigins"];
    if (!Array.isArray(a) || !a.every((x) => typeof x === "string")) throw new ConfigError(`${where}: allowedOrigins must be a list of strings`);
    out.allowedOrigins = a as string[];
  }
  if (o["channel"] !== undefined) {
    if (typeof o["channel"] !== "string" || o["channel"].length === 0 || Buffer.byteLength(o["channel"]) > 63) {
      throw new ConfigError(`${where}: channel must be a channel name of 1..63 bytes`);
    }
    out.channel = o["channel"];
  }
  for (const k of NUMERIC_KEYS) {
    const n = o[k];
    if (n === undefined) continue;
    if (typeof n !== "number" || !Number.isFinite(n) || n < 0) throw new ConfigError(`${where}: ${k} must be a non-negative number`);
    out[k] = n;
  }
  return out;
}

/** `"host:port"`, `":port"`, `"port"` or `"[::1]:port"` → {host, port}. */
export function parseListen(listen: string): { host: string | undefined; port: number } {
  const s = listen.trim();
  const m = /^(\d+)$/.exec(s) ?? /^:(\d+)$/.exec(s);
  const hm = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:[\]]+):(\d+)$/.exec(s);
  let host: string | undefined;
  let port: number;
  if (m) port = Number(m[1]);
  else if (hm) {
    host = hm[1];
    port = Number(hm[2]);
  } else throw new ConfigError(`listen "${listen}" is not host:port`);
  if (port > 65535) throw new ConfigError(`listen "${listen}": port out of range`);
  return { host, port };
}

/** RelayOptions with every default filled in: what a running relay goes by. */
export interface Resolved {
  host: string;
  port: number;
  maxMessageBytes: number;
  maxFrameBytes: number;
  ratePerSecond: number;
  rateBurst: number;
  rateCloseAfter: number;
  maxInFlight: number;
  maxSubscriptions: number;
  maxConnections: number;
  maxBufferedBytes: number;
  visibilityTtlMs: number;
  statementTimeoutMs: number;
  poolSize: number;
  channel: string;
  pingIntervalMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
}

export function resolveOptions(o: RelayOptions): Resolved {
  const listen = o.listen !== undefined ? parseListen(o.listen) : { host: undefined, port: 8787 };
  const maxMessageBytes = o.maxMessageBytes ?? 1 << 20;
  const ratePerSecond = o.ratePerSecond ?? 50;
  const rateBurst = o.rateBurst ?? Math.max(1, ratePerSecond * 2);
  return {
    host: o.host ?? listen.host ?? "127.0.0.1",
    port: o.port ?? listen.port,
    maxMessageBytes,
    maxFrameBytes: Math.max(o.maxFrameBytes ?? maxMessageBytes * 4, maxMessageBytes),
    ratePerSecond,
    rateBurst,
    rateCloseAfter: o.rateCloseAfter ?? rateBurst * 5,
    maxInFlight: o.maxInFlight ?? 16,
    maxSubscriptions: o.maxSubscriptions ?? 1000,
    maxConnections: o.maxConnections ?? 10_000,
    maxBufferedBytes: o.maxBufferedBytes ?? 16 << 20,
    visibilityTtlMs: o.visibilityTtlMs ?? 5000,
    statementTimeoutMs: o.statementTimeoutMs ?? 10_000,
    poolSize: o.poolSize ?? 10,
    channel: o.channel ?? "nodesync",
    pingIntervalMs: o.pingIntervalMs ?? 30_000,
    reconnectMinMs: o.reconnectMinMs ?? 200,
    reconnectMaxMs: o.reconnectMaxMs ?? 5000,
  };
}
