// The one dedicated `LISTEN <channel>` connection, reconnected with backoff whenever it drops.
import pg from "pg";
import { quoteIdent } from "./db.js";

export type NodesyncEvent = { doc: string; gen: number } | { doc: string; dropped: true };

export interface ListenerOptions {
  config: pg.ClientConfig;
  channel: string;
  minBackoffMs: number;
  maxBackoffMs: number;
  /** Heartbeat query interval on the connection (detects a silently dead peer). */
  heartbeatMs: number;
  log: (line: string) => void;
  onEvent: (e: NodesyncEvent) => void;
  /** Called after every successful (re)connect, once LISTEN is in place. `first` is false after a reconnect. */
  onUp: (first: boolean) => void;
}

/** Parses a NOTIFY payload of the extension; null if it is not one. */
export function parsePayload(payload: string | undefined): NodesyncEvent | null {
  if (payload === undefined) return null;
  try {
    const v: unknown = JSON.parse(payload);
    if (typeof v !== "object" || v === null) return null;
    const o = v as Record<string, unknown>;
    if (typeof o["doc"] !== "string") return null;
    if (o["dropped"] === true) return { doc: o["doc"], dropped: true };
    if (typeof o["gen"] === "number" && Number.isSafeInteger(o["gen"])) return { doc: o["doc"], gen: o["gen"] };
  } catch {
    // not JSON: not ours
  }
  return null;
}

export class Listener {
  private client: pg.Client | null = null;
  private stopped = false;
  private connecting = false;
  private everUp = false;
  private downSince = 0;
  private timer: NodeJS.Timeout | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private wake: (() => void) | null = null;

  constructor(private readonly opts: ListenerOptions) {}

  get up(): boolean {
    return this.client !== null;
  }

  start(): void {
    void this.loop();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.timer = setTimeout(resolve, ms);
    });
  }

  private async loop(): Promise<void> {
    if (this.connecting || this.stopped) return;
    this.connecting = true;
    let delay = this.opts.minBackoffMs;
    let attempts = 0;
    let lastError = "";
    while (!this.stopped) {
      attempts++;
      const c = new pg.Client({ ...this.opts.config, keepAlive: true });
      let failed = false;
      c.on("error", () => {
        failed = true;
      });
      try {
        await c.connect();
        await c.query(`LISTEN ${quoteIdent(this.opts.channel)}`);
        if (failed) throw new Error("connection failed during LISTEN");
      } catch (e) {
        lastError = (e as Error).message;
        c.removeAllListeners("error");
        c.on("error", () => {});
        c.end().catch(() => {});
        if (attempts === 1 && this.everUp) this.opts.log(`listen: reconnect failed (${lastError}); retrying with backoff`);
        if (attempts === 1 && !this.everUp) this.opts.log(`listen: cannot connect (${lastError}); retrying with backoff`);
        await this.sleep(delay * (0.75 + Math.random() * 0.5));
        delay = Math.min(delay * 2, this.opts.maxBackoffMs);
        continue;
      }
      if (this.stopped) {
        c.on("error", () => {});
        c.end().catch(() => {});
        break;
      }
      this.attach(c);
      const first = !this.everUp;
      if (first) this.opts.log(`listen: LISTEN ${this.opts.channel} connected`);
      else this.opts.log(`listen: reconnected after ${attempts} attempt(s), ${Date.now() - this.downSince} ms down`);
      this.everUp = true;
      this.connecting = false;
      this.opts.onUp(first);
      return;
    }
    this.connecting = false;
  }

  private attach(c: pg.Client): void {
    this.client = c;
    let down = false;
    const lost = (why: string) => {
      if (down) return;
      down = true;
      if (this.heartbeat) clearInterval(this.heartbeat);
      this.heartbeat = null;
      c.removeAllListeners("notification");
      c.on("error", () => {});
      c.end().catch(() => {});
      if (this.client === c) this.client = null;
      if (this.stopped) return;
      this.downSince = Date.now();
      this.opts.log(`listen: connection lost (${why}); reconnecting`);
      void this.loop();
    };
    c.on("error", (e) => lost(e.message));
    c.on("end", () => lost("connection ended"));
    c.on("notification", (m) => {
      if (m.channel !== this.opts.channel) return;
      const ev = parsePayload(m.payload);
      if (ev !== null) this.opts.onEvent(ev);
    });
    if (this.opts.heartbeatMs > 0) {
      let busy = false;
      this.heartbeat = setInterval(() => {
        if (busy) {
          lost("heartbeat timed out");
          return;
        }
        busy = true;
        c.query("SELECT 1").then(
          () => {
            busy = false;
          },
          (e: Error) => lost(`heartbeat: ${e.message}`),
        );
      }, this.opts.heartbeatMs);
      this.heartbeat.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
    if (this.heartbeat) clearInterval(this.heartbeat);
    const c = this.client;
    this.client = null;
    if (c) {
      c.removeAllListeners("end");
      c.removeAllListeners("error");
      c.on("error", () => {});
      await c.end().catch(() => {});
    }
  }
}
