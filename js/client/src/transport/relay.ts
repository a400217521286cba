// RelayTransport: the Transport over one WebSocket to `nodesync-relay` (js/relay), for browsers.
// Browser-safe: no Node imports; the WebSocket class is the global one unless one is passed
// (Node 20 tests pass the `ws` package's).
//
// Frames (js/relay/README.md): the relay greets an accepted socket with {hello: {...}};
// requests {id, call, args}; answers {id, result} or {id, error: {code, message, detail?, gen?,
// conflicts?}}; pushes {notify: {doc, gen}}. A refused token is a close with 4401.
import type { Applied, Change, DiffResult, Notification, PatchJson, Snapshot, Transport } from "./types.js";
import { ConflictError, DbError, HorizonError, NodesyncError, ProtocolError, TransportError, type ConflictEntry } from "../errors.js";

/** The relay's subprotocol; the token travels as a second offered subprotocol. */
export const RELAY_PROTOCOL = "nodesync.v1";
export const RELAY_TOKEN_PREFIX = "nodesync.auth.";
/** Close code of a refused token: no reconnect. */
export const CLOSE_UNAUTHORIZED = 4401;

/** What RelayTransport needs of a WebSocket (the browser's, or the `ws` package's). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  // `any`: the DOM's and ws's event types differ; only `data`, `code` and `reason` are read
  /* eslint-disable @typescript-eslint/no-explicit-any */
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: any) => void) | null;
  onclose: ((ev: any) => void) | null;
  onerror: ((ev: any) => void) | null;
  /* eslint-enable @typescript-eslint/no-explicit-any */
}
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export interface RelayTransportOptions {
  /** The token the relay's authenticate hook checks (sent as a subprotocol, never in the URL). */
  token?: string;
  /** Default `globalThis.WebSocket`. */
  WebSocket?: WebSocketConstructor;
  /** How long a call waits for its answer, including any wait for a reconnect (default 15000 ms). */
  timeoutMs?: number;
  /** Reconnect with backoff after the socket drops (default true). */
  reconnect?: boolean;
  /** Backoff bounds (default 100 ms doubling to 5000 ms, with jitter). */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** Called on every state change, e.g. to show "offline". */
  onStateChange?: (state: RelayState) => void;
}

export type RelayState = "connecting" | "open" | "reconnecting" | "closed";

/** Counters, for tests and diagnostics. */
export interface RelayTransportStats {
  /** Frames that were not JSON, not an answer to a pending call, or of an unknown shape: ignored. */
  malformedFrames: number;
  /** Successful reconnects. */
  reconnects: number;
  /** Subscriber callbacks that threw (the exception is swallowed). */
  listenerErrors: number;
  /** Calls the relay refused unrun (`rate_limited`, `busy`) and that were sent again after a pause. */
  throttled: number;
}

interface Pending {
  id: number;
  frame: string;
  sent: boolean;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  timer: ReturnType<typeof setTimeout>;
}

interface Sub {
  fns: Set<(n: Notification) => void>;
  /** The subscribe call on the current socket (null after the socket dropped). */
  ready: Promise<void> | null;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function base64url(s: string): string {
  const bytes = new TextEncoder().encode(s);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function frameText(data: unknown): string | null {
  if (typeof data === "string") return data;
  try {
    if (data instanceof ArrayBuffer) return new TextDecoder().decode(data);
    if (ArrayBuffer.isView(data)) return new TextDecoder().decode(data);
  } catch {
    return null;
  }
  return null;
}

/** The typed error of an error frame (errors.ts). */
export function relayError(body: unknown): NodesyncError {
  if (!isObject(body) || typeof body["code"] !== "string" || typeof body["message"] !== "string") {
    return new ProtocolError("the relay answered with an error of an unknown shape");
  }
  const code = body["code"];
  const message = body["message"];
  switch (code) {
    case "40001": {
      const gen = typeof body["gen"] === "number" ? body["gen"] : undefined;
      const conflicts = Array.isArray(body["conflicts"]) ? (body["conflicts"] as ConflictEntry[]) : [];
      return new ConflictError(message, gen, conflicts);
    }
    case "55000":
      return new HorizonError(message);
    case "unavailable":
    case "shutting_down":
      // no answer from Postgres: the outcome of an applyPatch is unknown (resend with the same seq)
      return new TransportError(`relay: ${message}`);
    default:
      return new DbError(message, code, typeof body["detail"] === "string" ? body["detail"] : undefined);
  }
}

export class RelayTransport implements Transport {
  readonly stats: RelayTransportStats = { malformedFrames: 0, reconnects: 0, listenerErrors: 0, throttled: 0 };
  private ws: WebSocketLike | null = null;
  private state: RelayState = "connecting";
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly subs = new Map<string, Sub>();
  private readonly timeoutMs: number;
  private readonly reconnect: boolean;
  private readonly minMs: number;
  private readonly maxMs: number;
  private readonly Ctor: WebSocketConstructor;
  private backoff: number;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private fatal: NodesyncError | null = null;
  private everOpen = false;
  private firstOpen: { resolve: () => void; reject: (e: unknown) => void } | null = null;
  private helloTimer: ReturnType<typeof setTimeout> | null = null;
  /** The relay's hello frame of the current socket (its protocol and limits), once received. */
  hello: Record<string, unknown> | null = null;

  private constructor(
    readonly url: string,
    private readonly opts: RelayTransportOptions,
  ) {
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.reconnect = opts.reconnect ?? true;
    this.minMs = opts.reconnectMinMs ?? 100;
    this.maxMs = opts.reconnectMaxMs ?? 5000;
    this.backoff = this.minMs;
    const Ctor = opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (Ctor === undefined) throw new TransportError("no WebSocket implementation: pass options.WebSocket (e.g. the ws package in Node)");
    this.Ctor = Ctor;
  }

  /** Opens the socket; rejects with a TransportError if it cannot, or a DbError (code "unauthorized") for a refused token. */
  static async connect(url: string, opts: RelayTransportOptions = {}): Promise<RelayTransport> {
    const t = new RelayTransport(url, opts);
    await new Promise<void>((resolve, reject) => {
      t.firstOpen = { resolve, reject };
      t.open();
    });
    return t;
  }

  /** The current state of the socket. */
  get connectionState(): RelayState {
    return this.state;
  }

  private setState(s: RelayState): void {
    if (this.state === s) return;
    this.state = s;
    try {
      this.opts.onStateChange?.(s);
    } catch {
      this.stats.listenerErrors++;
    }
  }

  private open(): void {
    const protocols = [RELAY_PROTOCOL];
    if (this.opts.token !== undefined) protocols.push(RELAY_TOKEN_PREFIX + base64url(this.opts.token));
    let ws: WebSocketLike;
    try {
      ws = new this.Ctor(this.url, protocols);
    } catch (e) {
      this.onDown(null, 1006, e instanceof Error ? e.message : String(e));
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      // the relay sends {hello} once it has accepted the token; a refused token is a close 4401 instead
      this.helloTimer = setTimeout(() => {
        if (this.ws !== ws) return;
        try {
          ws.close(4000, "no hello");
        } catch {
          // closing anyway
        }
        this.onDown(ws, 1006, "no hello from the relay");
      }, this.timeoutMs);
    };
    ws.onmessage = (ev: { data?: unknown } | undefined) => {
      if (this.ws !== ws) return;
      this.onFrame(ev?.data);
    };
    ws.onerror = () => {
      // a close event follows
    };
    ws.onclose = (ev: { code?: unknown; reason?: unknown } | undefined) => {
      if (this.ws !== ws) return;
      const code = typeof ev?.code === "number" ? ev.code : 1006;
      const reason = typeof ev?.reason === "string" ? ev.reason : "";
      this.onDown(ws, code, reason);
    };
  }

  private onOpen(hello: Record<string, unknown>): void {
    if (this.helloTimer) clearTimeout(this.helloTimer);
    this.helloTimer = null;
    this.hello = hello;
    const wasOpen = this.everOpen;
    this.everOpen = true;
    this.backoff = this.minMs;
    this.setState("open");
    if (wasOpen) this.stats.reconnects++;
    for (const p of this.pending.values()) {
      if (!p.sent) this.transmit(p);
    }
    if (this.firstOpen) {
      this.firstOpen.resolve();
      this.firstOpen = null;
    }
    if (wasOpen) this.resubscribe();
  }

  private onDown(ws: WebSocketLike | null, code: number, reason: string): void {
    if (ws !== null && this.ws !== ws) return;
    this.ws = null;
    if (this.helloTimer) clearTimeout(this.helloTimer);
    this.helloTimer = null;
    for (const s of this.subs.values()) s.ready = null;
    // calls that were on the wire got no answer: their outcome is unknown
    for (const p of [...this.pending.values()]) {
      if (p.sent) this.settle(p, null, new TransportError(`connection to the relay lost (${code}${reason ? ` ${reason}` : ""}) before the answer`));
    }
    if (this.state === "closed") return;
    if (code === CLOSE_UNAUTHORIZED) {
      this.fail(new DbError(`the relay refused the token: ${reason || "unauthorized"}`, "unauthorized"));
      return;
    }
    if (this.firstOpen) {
      this.fail(new TransportError(`cannot connect to the relay at ${this.url} (${code}${reason ? ` ${reason}` : ""})`));
      return;
    }
    if (!this.reconnect) {
      this.fail(new TransportError(`connection to the relay lost (${code}${reason ? ` ${reason}` : ""})`));
      return;
    }
    this.setState("reconnecting");
    const delay = this.backoff * (0.5 + Math.random() * 0.5);
    this.backoff = Math.min(this.backoff * 2, this.maxMs);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.state !== "closed") this.open();
    }, delay);
  }

  /** No more sockets: every call from now on rejects with `e`. */
  private fail(e: NodesyncError): void {
    this.fatal = e;
    this.setState("closed");
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.helloTimer) clearTimeout(this.helloTimer);
    for (const p of [...this.pending.values()]) this.settle(p, null, e);
    if (this.firstOpen) {
      this.firstOpen.reject(e);
      this.firstOpen = null;
    }
  }

  private onFrame(data: unknown): void {
    const text = frameText(data);
    let v: unknown;
    try {
      v = text === null ? undefined : JSON.parse(text);
    } catch {
      v = undefined;
    }
    if (!isObject(v)) {
      this.stats.malformedFrames++;
      return;
    }
    if ("hello" in v) {
      if (isObject(v["hello"]) && this.state !== "open") this.onOpen(v["hello"]);
      else this.stats.malformedFrames++;
      return;
    }
    if ("notify" in v) {
      const n = v["notify"];
      if (isObject(n) && typeof n["doc"] === "string" && typeof n["gen"] === "number") {
        this.deliver(n["doc"], n["gen"]);
      } else if (!(isObject(n) && typeof n["doc"] === "string" && n["dropped"] === true)) {
        this.stats.malformedFrames++;
      }
      // {doc, dropped: true}: the document is gone; the next call on it answers 42704
      return;
    }
    const id = v["id"];
    const p = typeof id === "number" ? this.pending.get(id) : undefined;
    if (p === undefined || !p.sent) {
      // an answer to a call that timed out, an error frame without id (id: null) for a frame we
      // did not send malformed, or garbage: nothing waits for it
      this.stats.malformedFrames++;
      return;
    }
    if ("error" in v) this.settle(p, null, relayError(v["error"]));
    else if ("result" in v) this.settle(p, v["result"], null);
    else {
      this.stats.malformedFrames++;
      this.settle(p, null, new ProtocolError("the relay answered without result or error"));
    }
  }

  private deliver(doc: string, gen: number): void {
    const s = this.subs.get(doc);
    if (!s) return;
    for (const fn of [...s.fns]) {
      try {
        fn({ doc, gen });
      } catch {
        this.stats.listenerErrors++;
      }
    }
  }

  private settle(p: Pending, value: unknown, error: unknown): void {
    if (!this.pending.delete(p.id)) return;
    clearTimeout(p.timer);
    if (error !== null) p.reject(error);
    else p.resolve(value);
  }

  private transmit(p: Pending): void {
    const ws = this.ws;
    if (ws === null || this.state !== "open") return;
    try {
      ws.send(p.frame);
      p.sent = true;
    } catch {
      // the socket is closing: the call waits for the next one
    }
  }

  /**
   * One call. A call the relay refused without running it (`rate_limited`: over the socket's
   * rate; `busy`: too many calls in flight) is sent again after a pause that doubles (from
   * the relay's rate, up to 1 s, with jitter) until it runs or `timeoutMs` has passed.
   */
  private async request(call: string, args: Record<string, unknown>): Promise<unknown> {
    const deadline = Date.now() + this.timeoutMs;
    const rate = typeof this.hello?.["ratePerSecond"] === "number" ? (this.hello["ratePerSecond"] as number) : 50;
    let pause = Math.max(5, Math.ceil(1000 / Math.max(1, rate)));
    for (;;) {
      try {
        return await this.requestOnce(call, args);
      } catch (e) {
        const throttled = e instanceof DbError && (e.code === "rate_limited" || e.code === "busy");
        if (!throttled || Date.now() + pause >= deadline) throw e;
        this.stats.throttled++;
        await new Promise((r) => setTimeout(r, pause / 2 + Math.random() * (pause / 2)));
        pause = Math.min(1000, pause * 2);
      }
    }
  }

  private requestOnce(call: string, args: Record<string, unknown>): Promise<unknown> {
    if (this.fatal) return Promise.reject(this.fatal);
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const p: Pending = {
        id,
        frame: JSON.stringify({ id, call, args }),
        sent: false,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.settle(p, null, new TransportError(`no answer from the relay to ${call} within ${this.timeoutMs} ms`));
        }, this.timeoutMs),
      };
      this.pending.set(id, p);
      this.transmit(p);
    });
  }

  private async requestObject<T>(call: string, args: Record<string, unknown>, isArray = false): Promise<T> {
    const r = await this.request(call, args);
    if (isArray ? !Array.isArray(r) : !isObject(r)) throw new ProtocolError(`the relay answered ${call} with an unexpected shape`);
    return r as T;
  }

  async ensureDoc(doc: string, rootKind?: string): Promise<boolean> {
    const r = await this.request("ensureDoc", rootKind === undefined ? { doc } : { doc, rootKind });
    if (typeof r !== "boolean") throw new ProtocolError("the relay answered ensureDoc with an unexpected shape");
    return r;
  }

  snapshot(doc: string, atGen?: number): Promise<Snapshot> {
    return this.requestObject<Snapshot>("snapshot", atGen === undefined ? { doc } : { doc, atGen });
  }

  applyPatch(doc: string, patch: PatchJson, client: string, seq: number): Promise<Applied> {
    return this.requestObject<Applied>("applyPatch", { doc, patch, client, seq });
  }

  diffSince(doc: string, since: number): Promise<DiffResult> {
    return this.requestObject<DiffResult>("diffSince", { doc, since });
  }

  changesSince(doc: string, since: number, upto?: number): Promise<Change[]> {
    return this.requestObject<Change[]>("changesSince", upto === undefined ? { doc, since } : { doc, since, upto }, true);
  }

  /** Sends `subscribe`; resolves with the document's gen as the relay reports it. */
  private subscribeCall(doc: string, s: Sub): Promise<number> {
    const ready = (async () => {
      const r = await this.request("subscribe", { doc });
      if (!isObject(r) || typeof r["gen"] !== "number") throw new ProtocolError("the relay answered subscribe with an unexpected shape");
      return r["gen"];
    })();
    s.ready = ready.then(() => undefined);
    s.ready.catch(() => {});
    return ready;
  }

  /** After a reconnect: subscribe every document again and tell its subscribers the relay's gen. */
  private resubscribe(): void {
    for (const [doc, s] of this.subs) {
      this.subscribeCall(doc, s).then(
        (gen) => {
          if (this.subs.get(doc) === s) this.deliver(doc, gen);
        },
        () => {
          // lost access, or the socket dropped again (then the next reconnect tries again)
          if (this.subs.get(doc) === s) s.ready = null;
        },
      );
    }
  }

  async subscribe(doc: string, fn: (n: Notification) => void): Promise<() => Promise<void>> {
    let s = this.subs.get(doc);
    if (s === undefined) {
      s = { fns: new Set(), ready: null };
      this.subs.set(doc, s);
    }
    s.fns.add(fn);
    try {
      await (s.ready ?? this.subscribeCall(doc, s));
    } catch (e) {
      s.fns.delete(fn);
      if (s.fns.size === 0 && this.subs.get(doc) === s) this.subs.delete(doc);
      throw e;
    }
    const sub = s;
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      sub.fns.delete(fn);
      if (sub.fns.size === 0 && this.subs.get(doc) === sub) {
        this.subs.delete(doc);
        if (this.state === "open") {
          try {
            await this.request("unsubscribe", { doc });
          } catch {
            // gone anyway when the socket closes
          }
        }
      }
    };
  }

  async close(): Promise<void> {
    if (this.state === "closed" && this.ws === null) return;
    const ws = this.ws;
    this.fail(new TransportError("the relay transport is closed"));
    this.subs.clear();
    this.ws = null;
    if (ws) {
      try {
        ws.close(1000, "client closed");
      } catch {
        // already closing
      }
    }
  }
}
