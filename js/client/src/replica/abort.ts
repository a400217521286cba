// Waiting that an AbortSignal cuts short: the ClosedError a replica call rejects with when its
// signal (or the replica's lifetime) aborts, a promise raced against signals, and a sleep.

import { ClosedError } from "../errors.js";

export function abortError(signal: AbortSignal): ClosedError {
  const e = new ClosedError("aborted");
  (e as { cause?: unknown }).cause = signal.reason;
  return e;
}

/** `p`, or a ClosedError as soon as one of `signals` aborts (the work behind `p` goes on). */
export function raced<T>(p: Promise<T>, signals: (AbortSignal | undefined)[]): Promise<T> {
  const live = signals.filter((s): s is AbortSignal => s !== undefined);
  const gone = live.find((s) => s.aborted);
  if (gone) {
    p.catch(() => {});
    return Promise.reject(abortError(gone));
  }
  if (live.length === 0) return p;
  return new Promise<T>((resolve, reject) => {
    const offs: (() => void)[] = [];
    const done = () => offs.forEach((f) => f());
    for (const s of live) {
      const on = () => {
        done();
        reject(abortError(s));
      };
      s.addEventListener("abort", on, { once: true });
      offs.push(() => s.removeEventListener("abort", on));
    }
    p.then(
      (v) => {
        done();
        resolve(v);
      },
      (e) => {
        done();
        reject(e);
      },
    );
  });
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortError(signal));
    const t = setTimeout(() => {
      signal.removeEventListener("abort", on);
      resolve();
    }, ms);
    const on = () => {
      clearTimeout(t);
      reject(abortError(signal));
    };
    signal.addEventListener("abort", on, { once: true });
  });
}
