// The wait between the attempts of a push after a conflict (40001): exponential from
// `backoffMs`, doubling per attempt up to `maxBackoffMs`, each wait between half and all of
// it, the jitter drawn from a seeded PRNG (splitmix32; `seed` makes it repeatable).

import { sleep } from "./abort.js";
import type { ReplicaOptions } from "./types.js";

/** splitmix32: the backoff jitter. */
function splitmix32(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 2 ** 32;
  };
}

export class Backoff {
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly random: () => number;

  constructor(opts: ReplicaOptions) {
    this.backoffMs = opts.backoffMs ?? 1;
    this.maxBackoffMs = opts.maxBackoffMs ?? 50;
    this.random = splitmix32(opts.seed ?? Math.floor(Math.random() * 2 ** 32));
  }

  /** Waits before the attempt after `attempt` (1 for the first); rejects when `signal` aborts. */
  wait(attempt: number, signal: AbortSignal): Promise<void> {
    const exp = Math.max(0.001, Math.min(this.maxBackoffMs, this.backoffMs * 2 ** Math.min(20, attempt - 1)));
    return sleep(exp / 2 + (this.random() * exp) / 2, signal);
  }
}
