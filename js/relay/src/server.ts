// The relay: a WebSocket server in front of one pg.Pool and one LISTEN connection. It holds no
// document state: every call is a transaction as the socket's identity, every notification is
// re-checked against what that identity may read.
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import pg from "pg";
import { WebSocketServer, WebSocket, type RawData } from "ws";
import { identityProblem, resolveOptions, tokenAuthenticator, type Authenticate, type Identity, type RelayOptions } from "./config.js";
import { Conn, identityKey } from "./conn.js";
import { errorBody, runCall, unknownDocument, visibleGens, RelayError, type RunnerOptions } from "./db.js";
import { Listener, type NodesyncEvent } from "./listener.js";
import {
  CloseCode, PROTOCOL, RelayCode, droppedFrame, errorFrame, notifyFrame, parseRequest, resultFrame,
  type Call, type ErrorBody, type HelloFrame, type RequestId,
} from "./protocol.js";

const VERSION = "0.2.0";

export interface RelayHandle {
  /** `ws://host:port/` */
  url: string;
  host: string;
  port: number;
  /** Counters, for tests and monitoring. */
  stats(): RelayStats;
  /** Closes every socket (1001), the LISTEN connection and the pool. */
  close(): Promise<void>;
}

export interface RelayStats {
  sockets: number;
  subscriptions: number;
  listening: boolean;
  calls: number;
  errors: number;
  notifications: number;
  visibilityChecks: number;
  rateLimited: number;
}

const RATE_WINDOW_MS = 10_000;

function defaultLog(line: string): void {
  process.stderr.write(`${new Date().toISOString()} nodesync-relay: ${line}\n`);
}

interface Visibility {
  at: number;
  visible: boolean;
}

/** Starts a relay; resolves once it listens. */
export async function startRelay(options: RelayOptions): Promise<RelayHandle> {
  const cfg = resolveOptions(options);
  const log = options.log ?? defaultLog;
  const authenticate: Authenticate = options.authenticate ?? tokenAuthenticator(options.tokens ?? {});
  if (options.authenticate === undefined && Object.keys(options.tokens ?? {}).length === 0) {
    log("warning: no tokens and no authenticate hook: every socket will be refused");
  }
  const dbConfig: pg.PoolConfig = typeof options.database === "string" ? { connectionString: options.database } : { ...(options.database ?? {}) };
  const runner: RunnerOptions = { statementTimeoutMs: cfg.statementTimeoutMs };

  const stats: RelayStats = { sockets: 0, subscriptions: 0, listening: false, calls: 0, errors: 0, notifications: 0, visibilityChecks: 0, rateLimited: 0 };
  const conns = new Set<Conn>();
  const docSubs = new Map<string, Set<Conn>>();
  const visibility = new Map<string, Visibility>(); // identityKey + "\0" + doc
  const checking = new Map<string, Promise<boolean>>();
  let stopping = false;

  // ---- logging of database trouble: at most one line per 10 s -------------------------------
  let lastDbLog = 0;
  const dbTrouble = (what: string) => {
    const now = Date.now();
    if (now - lastDbLog < 10_000) return;
    lastDbLog = now;
    log(`database: ${what}`);
  };
  const onInternal = (e: unknown) => log(`internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);

  const pool = new pg.Pool({
    application_name: "nodesync-relay",
    ...dbConfig,
    max: cfg.poolSize,
    connectionTimeoutMillis: (dbConfig as { connectionTimeoutMillis?: number }).connectionTimeoutMillis ?? 5000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
  });
  pool.on("error", (e) => dbTrouble(`idle pool connection failed: ${e.message}`));

  // ---- sending -------------------------------------------------------------------------------
  const send = (c: Conn, frame: string) => {
    if (c.closed || c.ws.readyState !== WebSocket.OPEN) return;
    if (c.ws.bufferedAmount > cfg.maxBufferedBytes) {
      closeConn(c, CloseCode.policyViolation, "consumer too slow");
      return;
    }
    c.ws.send(frame);
  };
  const sendError = (c: Conn, id: RequestId | null, body: ErrorBody) => {
    stats.errors++;
    send(c, errorFrame(id, body));
  };

  const closeConn = (c: Conn, code: number, reason: string) => {
    if (c.closed) return;
    forget(c);
    try {
      c.ws.close(code, reason);
    } catch {
      c.ws.terminate();
    }
    // a peer that does not complete the close handshake
    setTimeout(() => c.ws.terminate(), 2000).unref();
  };

  const forget = (c: Conn) => {
    if (c.closed) return;
    c.closed = true;
    conns.delete(c);
    stats.sockets = conns.size;
    for (const doc of c.subs) removeSub(c, doc);
  };

  const removeSub = (c: Conn, doc: string) => {
    const set = docSubs.get(doc);
    if (set?.delete(c)) stats.subscriptions--;
    if (set && set.size === 0) docSubs.delete(doc);
  };

  // ---- visibility ----------------------------------------------------------------------------
  const cacheKey = (c: Conn, doc: string) => `${c.key}\0${doc}`;
  const remember = (c: Conn, doc: string, visible: boolean) => {
    visibility.set(cacheKey(c, doc), { at: Date.now(), visible });
  };
  /** Whether the identity of `c` may read `doc`, from the cache if fresh, else as that identity (fail closed). */
  const canSee = (c: Conn, doc: string): Promise<boolean> => {
    const k = cacheKey(c, doc);
    const v = visibility.get(k);
    if (v && Date.now() - v.at < cfg.visibilityTtlMs) return Promise.resolve(v.visible);
    const running = checking.get(k);
    if (running) return running;
    stats.visibilityChecks++;
    const p = visibleGens(pool, c.identity, runner, [doc]).then(
      (m) => {
        const visible = m.has(doc);
        visibility.set(k, { at: Date.now(), visible });
        return visible;
      },
      (e: unknown) => {
        dbTrouble(`visibility check failed: ${(e as Error).message}`);
        return false;
      },
    );
    checking.set(k, p);
    void p.finally(() => checking.delete(k));
    return p;
  };
  // forget stale cache entries now and then
  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const [k, v] of visibility) if (now - v.at > cfg.visibilityTtlMs) visibility.delete(k);
  }, Math.max(1000, cfg.visibilityTtlMs)).unref();

  // ---- notifications: per document in order, coalesced --------------------------------------
  const pending = new Map<string, NodesyncEvent>();
  const running = new Set<string>();
  const onEvent = (ev: NodesyncEvent) => {
    if (!docSubs.has(ev.doc)) return;
    const prev = pending.get(ev.doc);
    if (prev && "gen" in prev && "gen" in ev && prev.gen > ev.gen) return;
    pending.set(ev.doc, ev);
    if (!running.has(ev.doc)) void drain(ev.doc);
  };
  const drain = async (doc: string) => {
    running.add(doc);
    try {
      for (let ev = pending.get(doc); ev !== undefined; ev = pending.get(doc)) {
        pending.delete(doc);
        await fanOut(ev);
      }
    } catch (e) {
      onInternal(e);
    } finally {
      running.delete(doc);
    }
  };
  const fanOut = async (ev: NodesyncEvent) => {
    const set = docSubs.get(ev.doc);
    if (!set) return;
    const targets = [...set];
    if ("dropped" in ev) {
      // the row is gone, so nothing can be checked any more: tell those that could see it at their last check
      const frame = droppedFrame(ev.doc);
      for (const c of targets) {
        if (visibility.get(cacheKey(c, ev.doc))?.visible) {
          stats.notifications++;
          send(c, frame);
        }
        c.subs.delete(ev.doc);
        removeSub(c, ev.doc);
      }
      for (const k of visibility.keys()) if (k.endsWith(`\0${ev.doc}`)) visibility.delete(k);
      return;
    }
    const frame = notifyFrame(ev.doc, ev.gen);
    await Promise.all(
      targets.map(async (c) => {
        if (await canSee(c, ev.doc)) {
          if (c.subs.has(ev.doc)) {
            stats.notifications++;
            send(c, frame);
          }
        }
      }),
    );
  };

  /** After the LISTEN connection came back: tell every subscriber the current gen of its documents. */
  let resyncRound = 0;
  const resync = async () => {
    const round = ++resyncRound;
    visibility.clear();
    const groups = new Map<string, { identity: Identity; conns: Conn[]; docs: Set<string> }>();
    for (const c of conns) {
      if (c.subs.size === 0) continue;
      let g = groups.get(c.key);
      if (!g) groups.set(c.key, (g = { identity: c.identity, conns: [], docs: new Set() }));
      g.conns.push(c);
      for (const d of c.subs) g.docs.add(d);
    }
    let failed = false;
    await Promise.all(
      [...groups.values()].map(async (g) => {
        let gens: Map<string, number>;
        try {
          gens = await visibleGens(pool, g.identity, runner, [...g.docs]);
        } catch (e) {
          failed = true;
          dbTrouble(`resync failed: ${(e as Error).message}`);
          return;
        }
        const now = Date.now();
        for (const d of g.docs) visibility.set(`${g.conns[0]!.key}\0${d}`, { at: now, visible: gens.has(d) });
        for (const c of g.conns) {
          for (const d of c.subs) {
            const gen = gens.get(d);
            if (gen !== undefined) {
              stats.notifications++;
              send(c, notifyFrame(d, gen));
            }
          }
        }
      }),
    );
    if (failed && !stopping && listener.up && round === resyncRound) {
      setTimeout(() => void resync(), cfg.reconnectMinMs * 5).unref();
    }
  };

  const listenConfig: pg.ClientConfig = { ...dbConfig, application_name: "nodesync-relay-listen" };
  const listener = new Listener({
    config: listenConfig,
    channel: cfg.channel,
    minBackoffMs: cfg.reconnectMinMs,
    maxBackoffMs: cfg.reconnectMaxMs,
    heartbeatMs: 15_000,
    log,
    onEvent,
    onUp: (first) => {
      stats.listening = true;
      // after a gap every subscriber may have missed commits; on the first connect too, in case
      // sockets subscribed while Postgres was not there yet
      if (!first || conns.size > 0) void resync();
    },
  });

  // ---- calls -----------------------------------------------------------------------------------
  const handle = async (c: Conn, id: RequestId, call: Call) => {
    stats.calls++;
    try {
      let result: unknown;
      switch (call.call) {
        case "ping":
          result = "pong";
          break;
        case "subscribe": {
          const was = c.subs.has(call.doc);
          if (!was && c.subs.size >= cfg.maxSubscriptions) {
            throw new RelayError({ code: RelayCode.tooManySubscriptions, message: `at most ${cfg.maxSubscriptions} subscriptions per socket` });
          }
          // subscribe first, then read the gen: a commit in between is notified, none is missed
          if (!was) addSub(c, call.doc);
          let gens: Map<string, number>;
          try {
            gens = await visibleGens(pool, c.identity, runner, [call.doc]);
          } catch (e) {
            if (!was) dropSub(c, call.doc);
            throw e;
          }
          const gen = gens.get(call.doc);
          remember(c, call.doc, gen !== undefined);
          if (gen === undefined) {
            dropSub(c, call.doc);
            throw unknownDocument(call.doc);
          }
          result = { doc: call.doc, gen };
          break;
        }
        case "unsubscribe": {
          const was = c.subs.has(call.doc);
          dropSub(c, call.doc);
          result = was;
          break;
        }
        default:
          result = await runCall(pool, c.identity, runner, call);
      }
      send(c, resultFrame(id, result));
    } catch (e) {
      const body = errorBody(e, onInternal);
      if (body.code === RelayCode.unavailable) dbTrouble("a call failed: the database is unavailable");
      sendError(c, id, body);
    }
  };
  const addSub = (c: Conn, doc: string) => {
    if (c.closed) return;
    c.subs.add(doc);
    let set = docSubs.get(doc);
    if (!set) docSubs.set(doc, (set = new Set()));
    if (!set.has(c)) {
      set.add(c);
      stats.subscriptions++;
    }
  };
  const dropSub = (c: Conn, doc: string) => {
    c.subs.delete(doc);
    removeSub(c, doc);
  };

  const takeToken = (c: Conn): boolean => {
    const now = Date.now();
    c.tokens = Math.min(cfg.rateBurst, c.tokens + ((now - c.lastRefill) / 1000) * cfg.ratePerSecond);
    c.lastRefill = now;
    if (c.tokens >= 1) {
      c.tokens -= 1;
      return true;
    }
    return false;
  };

  const onMessage = (c: Conn, data: RawData, isBinary: boolean) => {
    if (c.closed) return;
    const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    const parsed =
      buf.length > cfg.maxMessageBytes
        ? ({ ok: false, id: null, error: { code: RelayCode.tooLarge, message: `frame of ${buf.length} bytes is over the limit of ${cfg.maxMessageBytes}` } } as const)
        : isBinary
          ? ({ ok: false, id: null, error: { code: RelayCode.badRequest, message: "binary frames are not accepted: send JSON text" } } as const)
          : parseRequest(buf.toString("utf8"));
    if (!takeToken(c)) {
      stats.rateLimited++;
      const now = Date.now();
      if (now - c.refusedWindowStart > RATE_WINDOW_MS) {
        c.refusedWindowStart = now;
        c.refused = 0;
      }
      c.refused++;
      sendError(c, parsed.id, { code: RelayCode.rateLimited, message: `more than ${cfg.ratePerSecond} frames per second (burst ${cfg.rateBurst}); slow down` });
      if (c.refused > cfg.rateCloseAfter) {
        log(`closing a socket (role ${c.identity.role ?? "-"}): sustained rate over the limit`);
        closeConn(c, CloseCode.policyViolation, "rate limit exceeded");
      }
      return;
    }
    if (!parsed.ok) {
      sendError(c, parsed.id, parsed.error);
      return;
    }
    if (stopping) {
      sendError(c, parsed.id, { code: RelayCode.shuttingDown, message: "the relay is shutting down" });
      return;
    }
    if (c.inFlight >= cfg.maxInFlight) {
      sendError(c, parsed.id, { code: RelayCode.busy, message: `more than ${cfg.maxInFlight} calls of this socket at once` });
      return;
    }
    const call = parsed.call;
    if (call.call === "ping") {
      send(c, resultFrame(parsed.id, "pong"));
      return;
    }
    // calls of one socket on one document run in the order sent (a writer's seq order is its commit order)
    c.inFlight++;
    const key = call.doc;
    const prev = c.chains.get(key) ?? Promise.resolve();
    const next = prev.then(() => handle(c, parsed.id, call));
    c.chains.set(key, next);
    void next.finally(() => {
      c.inFlight--;
      if (c.chains.get(key) === next) c.chains.delete(key);
    });
  };

  // ---- sockets -------------------------------------------------------------------------------
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: cfg.maxFrameBytes,
    perMessageDeflate: false,
    clientTracking: false,
    handleProtocols: (protocols) => (protocols.has(PROTOCOL) ? PROTOCOL : false),
  });

  const http = createServer((req, res) => {
    if (req.url === "/healthz") {
      res.writeHead(listener.up ? 200 : 503, { "content-type": "application/json" });
      res.end(JSON.stringify({ ok: listener.up, sockets: conns.size }));
      return;
    }
    res.writeHead(426, { "content-type": "text/plain", upgrade: "websocket" });
    res.end("nodesync-relay: connect with a WebSocket\n");
  });
  http.on("clientError", (_e, socket) => socket.destroy());

  const refuseHttp = (socket: Duplex, status: string) => {
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  };

  http.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => socket.destroy());
    if (stopping) return refuseHttp(socket, "503 Service Unavailable");
    if (conns.size >= cfg.maxConnections) return refuseHttp(socket, "503 Service Unavailable");
    if (options.allowedOrigins !== undefined) {
      const origin = req.headers.origin;
      if (origin === undefined || !options.allowedOrigins.includes(origin)) return refuseHttp(socket, "403 Forbidden");
    }
    void (async () => {
      let identity: Identity | null = null;
      try {
        identity = await authenticate(req);
        if (identity !== null) {
          const problem = identityProblem(identity);
          if (problem !== null) {
            log(`authenticate returned an unusable identity (${problem}): socket refused`);
            identity = null;
          }
        }
      } catch (e) {
        log(`authenticate threw (${(e as Error).message}): socket refused`);
        identity = null;
      }
      if (socket.destroyed) return;
      wss.handleUpgrade(req, socket, head, (ws) => {
        if (identity === null || stopping) {
          ws.close(identity === null ? CloseCode.unauthorized : CloseCode.goingAway, identity === null ? "unauthorized" : "relay shutting down");
          setTimeout(() => ws.terminate(), 2000).unref();
          return;
        }
        accept(ws, identity);
      });
    })();
  });

  const accept = (ws: WebSocket, identity: Identity) => {
    const c = new Conn(ws, identity, identityKey(identity), cfg.rateBurst);
    conns.add(c);
    stats.sockets = conns.size;
    ws.on("message", (data, isBinary) => {
      try {
        onMessage(c, data, isBinary);
      } catch (e) {
        onInternal(e);
        sendError(c, null, { code: RelayCode.internal, message: "internal relay error" });
      }
    });
    ws.on("pong", () => {
      c.alive = true;
    });
    ws.on("error", () => {
      // ws closes the socket itself (e.g. 1009 for a frame over maxPayload)
    });
    ws.on("close", () => forget(c));
    const hello: HelloFrame = {
      hello: { protocol: PROTOCOL, version: VERSION, maxMessageBytes: cfg.maxMessageBytes, ratePerSecond: cfg.ratePerSecond, rateBurst: cfg.rateBurst },
    };
    send(c, JSON.stringify(hello));
  };

  const pinger =
    cfg.pingIntervalMs > 0
      ? setInterval(() => {
          for (const c of conns) {
            if (!c.alive) {
              forget(c);
              c.ws.terminate();
              continue;
            }
            c.alive = false;
            try {
              c.ws.ping();
            } catch {
              // closing anyway
            }
          }
        }, cfg.pingIntervalMs).unref()
      : null;

  await new Promise<void>((ok, fail) => {
    http.once("error", fail);
    http.listen(cfg.port, cfg.host, () => {
      http.off("error", fail);
      ok();
    });
  });
  http.on("error", (e) => log(`http server error: ${e.message}`));
  listener.start();
  const addr = http.address() as AddressInfo;
  const hostForUrl = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  const url = `ws://${hostForUrl}:${addr.port}/`;

  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      stopping = true;
      if (pinger) clearInterval(pinger);
      clearInterval(sweeper);
      const drains = [...conns].flatMap((c) => [...c.chains.values()]);
      for (const c of [...conns]) closeConn(c, CloseCode.goingAway, "relay shutting down");
      await new Promise<void>((ok) => {
        http.close(() => ok());
        http.closeAllConnections();
      });
      await Promise.race([Promise.allSettled(drains), new Promise((ok) => setTimeout(ok, 5000).unref())]);
      await listener.stop();
      await pool.end().catch(() => {});
      wss.close();
    })();
    return closing;
  };

  return {
    url,
    host: addr.address,
    port: addr.port,
    stats: () => ({ ...stats, listening: listener.up }),
    close,
  };
}
