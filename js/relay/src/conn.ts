// One accepted socket: its identity, and the key under which the sockets of one identity share
// visibility checks; its subscriptions, its calls' chains per document, the tokens and refusals
// of its rate limit, and whether it answered the last ping.

import type { WebSocket } from "ws";
import type { Identity } from "./config.js";

/** A stable key of an identity: sockets with the same key see the same documents. */
export function identityKey(id: Identity): string {
  const settings = Object.entries(id.settings ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([id.role ?? null, settings]);
}

export class Conn {
  readonly subs = new Set<string>();
  readonly chains = new Map<string, Promise<void>>();
  inFlight = 0;
  tokens: number;
  lastRefill = Date.now();
  refusedWindowStart = 0;
  refused = 0;
  alive = true;
  closed = false;
  constructor(
    readonly ws: WebSocket,
    readonly identity: Identity,
    readonly key: string,
    burst: number,
  ) {
    this.tokens = burst;
  }
}
