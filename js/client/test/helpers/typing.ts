// The typing loop shared by the typist tests: strokes with random push / pull interleavings
// (some awaited, some left running while typing goes on), live pulls, small delays; then
// quiescence and the checks of client/tests/typists.rs.

import assert from "node:assert/strict";

import type { Replica } from "../../src/replica.js";
import { ContentionError } from "../../src/errors.js";
import type { Tree } from "../../src/tree.js";
import { Rng, Typist, sleep } from "./typist.js";
import type { Stroke } from "./typist.js";

export function flat(t: Tree): Record<string, unknown> {
  return Object.fromEntries(t.flat().toArray());
}

/** Words, erasures, Enter and Backspace (the Rust structure test's mix). */
export function withStructure(rng: Rng): Stroke {
  switch (rng.below(12)) {
    case 0:
      return "erase";
    case 1:
    case 2:
      return "enter";
    case 3:
    case 4:
      return "joinUp";
    default:
      return "word";
  }
}

/** Words and erasures only. */
export function wordsAndErasures(rng: Rng): Stroke {
  return rng.below(6) === 0 ? "erase" : "word";
}

/** Pushes until it goes through (a ContentionError just means: again). */
export async function pushHard(r: Replica): Promise<void> {
  for (let i = 0; i < 20; i++) {
    try {
      await r.push();
      return;
    } catch (e) {
      if (!(e instanceof ContentionError)) throw e;
    }
  }
  throw new Error(`${r.client}: contention did not clear`);
}

/** Pushes and pulls everyone until nothing is left to send and all are at one gen. */
export async function quiesce(reps: readonly Replica[]): Promise<void> {
  for (let round = 0; round < 20; round++) {
    for (const r of reps) await pushHard(r);
    for (const r of reps) await r.pull();
    const g = reps[0]!.gen;
    if (reps.every((r) => !r.hasLocalEdits && r.gen === g)) return;
  }
  throw new Error("no quiescence after 20 rounds");
}

export interface TypingStats {
  /** Strokes made while a patch of the replica was in flight. */
  inFlightStrokes: number;
}

/**
 * `strokes` strokes of `t` on `r`; after each, at random: push (awaited, or left running),
 * pull (awaited, or left running), or yield to the event loop (live pulls, other typists);
 * sometimes a delay of 0..2 ms. Errors of what was left running (other than contention) go
 * to `errors`. Ends with everything pushed.
 */
export async function typeAway(r: Replica, t: Typist, rng: Rng, strokes: number, pick: (rng: Rng) => Stroke, errors: unknown[], stats: TypingStats): Promise<void> {
  const running: Promise<unknown>[] = [];
  const background = (p: Promise<unknown>) =>
    running.push(
      p.catch((e) => {
        if (!(e instanceof ContentionError)) errors.push(e);
      }),
    );
  for (let s = 0; s < strokes; s++) {
    if (r.inFlight) stats.inFlightStrokes++;
    t.stroke(r, rng, pick(rng));
    switch (rng.below(10)) {
      case 0:
      case 1:
      case 2:
        try {
          await r.push();
        } catch (e) {
          if (!(e instanceof ContentionError)) throw e;
        }
        break;
      case 3:
      case 4:
        background(r.push());
        break;
      case 5:
        await r.pull();
        break;
      case 6:
        background(r.pull());
        break;
      default:
        await sleep(0);
    }
    if (rng.below(4) === 0) await sleep(rng.below(3));
  }
  await Promise.all(running);
  await pushHard(r);
}

/** Every replica's tree equals the server's (as JSON), at the server's gen. */
export function assertAllEqual(server: Tree, reps: readonly Replica[]): void {
  for (const r of reps) {
    assert.deepEqual(flat(r.tree()), flat(server), `${r.client} differs from snapshot()`);
    assert.equal(r.gen, server.gen, `${r.client} is not at the server's gen`);
  }
}

/** Each of `words` found in order in `text` (spaces and newlines alike). */
export function assertInOrder(text: string, words: readonly string[]): void {
  const flatText = text.replace(/\n/g, " ");
  let last = 0;
  for (const w of words) {
    const at = flatText.indexOf(w, last);
    assert.ok(at >= 0, `${w} lost or out of order: ${text}`);
    last = at + w.length;
  }
}
