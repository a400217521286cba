// The relay's wire protocol: JSON text frames over one WebSocket (README.md, "Protocol").
//
//   relay → client   {"hello": {"protocol": "nodesync.v1", ...limits}}  once the socket is accepted
//   client → relay   {"id": 7, "call": "snapshot", "args": {"doc": "alice/notes"}}
//   relay → client   {"id": 7, "result": {...}}                       the call's answer
//                    {"id": 7, "error": {"code": "42704", "message": "..."}}
//                    {"id": null, "error": {...}}                      a frame without a usable id
//                    {"notify": {"doc": "alice/notes", "gen": 42}}     a commit (or {"doc", "dropped": true})
//
// This module is pure (no I/O): the types, the validation of requests and the frame builders.
// The client side (`@pg-nodesync/client`'s RelayTransport) speaks the same frames.

/** The subprotocol the relay selects; a client offers it next to its token. */
export const PROTOCOL = "nodesync.v1";
/** A token travels as the subprotocol `nodesync.auth.<base64url(utf8(token))>` (never selected, never echoed). */
export const TOKEN_PROTOCOL_PREFIX = "nodesync.auth.";

/** Error codes of the relay itself; any other `code` is the SQLSTATE Postgres answered with. */
export const RelayCode = {
  /** The frame is not a request: not JSON, not an object, no usable id, a missing or ill-typed argument. */
  badRequest: "bad_request",
  /** `call` names no call of this protocol. */
  unknownCall: "unknown_call",
  /** The frame is longer than `maxMessageBytes` (bigger than `maxFrameBytes`: the socket is closed with 1009). */
  tooLarge: "too_large",
  /** More frames than the socket's token bucket allows; sustained, the socket is closed with 1008. */
  rateLimited: "rate_limited",
  /** Too many calls of this socket are running or queued (`maxInFlight`). */
  busy: "busy",
  /** More than `maxSubscriptions` documents subscribed on this socket. */
  tooManySubscriptions: "too_many_subscriptions",
  /** Postgres cannot be reached (restart, outage): the outcome of an applyPatch is unknown, resend it with the same seq. */
  unavailable: "unavailable",
  /** The relay is shutting down; the call was not run. */
  shuttingDown: "shutting_down",
  /** A bug in the relay; the message is generic, the relay's log has the details. */
  internal: "internal",
} as const;
export type RelayCodeValue = (typeof RelayCode)[keyof typeof RelayCode];

/** WebSocket close codes the relay uses. */
export const CloseCode = {
  /** The relay shuts down (clients reconnect). */
  goingAway: 1001,
  /** Abuse: sustained rate over the limit, or a consumer too slow to take its frames. */
  policyViolation: 1008,
  /** A frame over `maxFrameBytes` (ws closes the socket itself). */
  tooBig: 1009,
  /** Authentication failed (no token, unknown token, the authenticate hook said no). Do not retry with the same token. */
  unauthorized: 4401,
} as const;

export type RequestId = string | number;

/** `error` of an error frame. `gen` and `conflicts` are set for a 40001 patch conflict (SPEC §4). */
export interface ErrorBody {
  code: string;
  message: string;
  detail?: string;
  gen?: number;
  conflicts?: unknown[];
}

export interface RequestFrame {
  id: RequestId;
  call: string;
  args?: Record<string, unknown>;
}
export interface ResultFrame {
  id: RequestId;
  result: unknown;
}
export interface ErrorFrame {
  id: RequestId | null;
  error: ErrorBody;
}
export interface NotifyFrame {
  notify: { doc: string; gen: number } | { doc: string; dropped: true };
}
/** The first frame of an accepted socket (a refused one is closed with 4401 instead). */
export interface HelloFrame {
  hello: { protocol: string; version: string; maxMessageBytes: number; ratePerSecond: number; rateBurst: number };
}
export type ServerFrame = HelloFrame | ResultFrame | ErrorFrame | NotifyFrame;

/** The calls, with their validated arguments. */
export type Call =
  | { call: "ping" }
  | { call: "ensureDoc"; doc: string; rootKind: string | undefined }
  | { call: "snapshot"; doc: string; atGen: number | undefined }
  | { call: "applyPatch"; doc: string; patch: Record<string, unknown>; client: string | null; seq: number | null }
  | { call: "diffSince"; doc: string; since: number }
  | { call: "changesSince"; doc: string; since: number; upto: number | undefined }
  | { call: "subscribe"; doc: string }
  | { call: "unsubscribe"; doc: string };
export type CallName = Call["call"];
export const CALLS: readonly CallName[] = [
  "ping", "ensureDoc", "snapshot", "applyPatch", "diffSince", "changesSince", "subscribe", "unsubscribe",
];

export type ParseResult =
  | { ok: true; id: RequestId; call: Call }
  | { ok: false; id: RequestId | null; error: ErrorBody };

/** Longest string id accepted (a number id must be a safe integer). */
export const MAX_ID_LENGTH = 64;
/** Longest document id / client id / kind forwarded to Postgres (which applies its own, smaller limits). */
const MAX_TEXT = 1000;

class ArgError extends Error {}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function validId(v: unknown): v is RequestId {
  return (typeof v === "string" && v.length >= 1 && v.length <= MAX_ID_LENGTH) || Number.isSafeInteger(v);
}

function text(args: Record<string, unknown>, name: string, optional: false): string;
function text(args: Record<string, unknown>, name: string, optional: true): string | undefined;
function text(args: Record<string, unknown>, name: string, optional: boolean): string | undefined {
  const v = args[name];
  if (v === undefined && optional) return undefined;
  if (typeof v !== "string" || v.length === 0) throw new ArgError(`args.${name} must be a non-empty string`);
  if (v.length > MAX_TEXT) throw new ArgError(`args.${name} is longer than ${MAX_TEXT} characters`);
  return v;
}

function int(args: Record<string, unknown>, name: string, optional: false): number;
function int(args: Record<string, unknown>, name: string, optional: true): number | undefined;
function int(args: Record<string, unknown>, name: string, optional: boolean): number | undefined {
  const v = args[name];
  if ((v === undefined || v === null) && optional) return undefined;
  if (typeof v !== "number" || !Number.isSafeInteger(v)) throw new ArgError(`args.${name} must be an integer`);
  return v;
}

function only(args: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(args)) {
    if (!allowed.includes(k)) throw new ArgError(`unknown argument args.${k} (expected ${allowed.join(", ") || "none"})`);
  }
}

function parseCall(call: CallName, args: Record<string, unknown>): Call {
  switch (call) {
    case "ping":
      only(args, []);
      return { call };
    case "ensureDoc":
      only(args, ["doc", "rootKind"]);
      return { call, doc: text(args, "doc", false), rootKind: text(args, "rootKind", true) };
    case "snapshot":
      only(args, ["doc", "atGen"]);
      return { call, doc: text(args, "doc", false), atGen: int(args, "atGen", true) };
    case "applyPatch": {
      only(args, ["doc", "patch", "client", "seq"]);
      const patch = args["patch"];
      if (!isObject(patch)) throw new ArgError("args.patch must be a JSON object ({\"ops\": [...]})");
      const client = args["client"] === null ? undefined : text(args, "client", true);
      return { call, doc: text(args, "doc", false), patch, client: client ?? null, seq: int(args, "seq", true) ?? null };
    }
    case "diffSince":
      only(args, ["doc", "since"]);
      return { call, doc: text(args, "doc", false), since: int(args, "since", false) };
    case "changesSince":
      only(args, ["doc", "since", "upto"]);
      return { call, doc: text(args, "doc", false), since: int(args, "since", false), upto: int(args, "upto", true) };
    case "subscribe":
    case "unsubscribe":
      only(args, ["doc"]);
      return { call, doc: text(args, "doc", false) };
  }
}

function bad(id: RequestId | null, message: string, code: string = RelayCode.badRequest): ParseResult {
  return { ok: false, id, error: { code, message } };
}

/** Validates one text frame. Never throws. */
export function parseRequest(frame: string): ParseResult {
  let v: unknown;
  try {
    v = JSON.parse(frame);
  } catch {
    return bad(null, "the frame is not JSON");
  }
  if (!isObject(v)) return bad(null, "a request is a JSON object {\"id\", \"call\", \"args\"}");
  const id = v["id"];
  if (!validId(id)) {
    return bad(null, `the request has no usable id (a string of 1..${MAX_ID_LENGTH} characters or a safe integer)`);
  }
  for (const k of Object.keys(v)) {
    if (k !== "id" && k !== "call" && k !== "args") return bad(id, `unknown field "${k.slice(0, 40)}" in the request`);
  }
  const call = v["call"];
  if (typeof call !== "string") return bad(id, "the request has no call (a string)");
  if (!(CALLS as readonly string[]).includes(call)) {
    return bad(id, `unknown call "${call.slice(0, 40)}" (expected one of ${CALLS.join(", ")})`, RelayCode.unknownCall);
  }
  const args = v["args"] === undefined ? {} : v["args"];
  if (!isObject(args)) return bad(id, "args must be a JSON object");
  try {
    return { ok: true, id, call: parseCall(call as CallName, args) };
  } catch (e) {
    if (e instanceof ArgError) return bad(id, `${call}: ${e.message}`);
    throw e;
  }
}

export function resultFrame(id: RequestId, result: unknown): string {
  return JSON.stringify({ id, result } satisfies ResultFrame);
}
export function errorFrame(id: RequestId | null, error: ErrorBody): string {
  return JSON.stringify({ id, error } satisfies ErrorFrame);
}
export function notifyFrame(doc: string, gen: number): string {
  return JSON.stringify({ notify: { doc, gen } } satisfies NotifyFrame);
}
export function droppedFrame(doc: string): string {
  return JSON.stringify({ notify: { doc, dropped: true } } satisfies NotifyFrame);
}

/** base64url of the UTF-8 bytes of `token` (what the client puts after TOKEN_PROTOCOL_PREFIX). */
export function encodeToken(token: string): string {
  return Buffer.from(token, "utf8").toString("base64url");
}
/** The token of a `Sec-WebSocket-Protocol` header, or null. */
export function tokenFromProtocols(header: string | undefined): string | null {
  if (!header) return null;
  for (const p of header.split(",")) {
    const t = p.trim();
    if (t.startsWith(TOKEN_PROTOCOL_PREFIX)) {
      const enc = t.slice(TOKEN_PROTOCOL_PREFIX.length);
      if (!/^[A-Za-z0-9_-]+$/.test(enc)) return null;
      return Buffer.from(enc, "base64url").toString("utf8");
    }
  }
  return null;
}
