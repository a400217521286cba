// The server calls a replica makes besides sending a new patch (through its Transport), and how
// it reads their answers: the snapshot as a Tree, the resend of a journaled patch with its seq
// (also open's recovery from the journal), the state after a gen (diff_since, waiting for a
// lagging read to catch up, a snapshot if the diff does not apply) and the committed patches
// between two gens (changes_since; null if the log is gone).

import { ConflictError, DbError, NodesyncError, ProtocolError } from "../errors.js";
import { LOG_LIMITS, parsePatch } from "../patch.js";
import type { Patch } from "../patch.js";
import type { Change, PatchJson, Transport } from "../transport/types.js";
import { Diff, Tree } from "../tree.js";
import type { Journal } from "../journal.js";
import { raced, sleep } from "./abort.js";
import type { Recovery, ReplicaOptions, ReplicaStats } from "./types.js";

export function treeOf(snapshot: unknown): Tree {
  try {
    return Tree.fromSnapshot(snapshot);
  } catch (e) {
    throw new ProtocolError(`snapshot: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Sends a journaled patch again with its seq: committed (now, or before: a duplicate) or refused. */
export async function resend(transport: Transport, doc: string, client: string, patch: PatchJson, seq: number): Promise<Recovery> {
  try {
    const a = await transport.applyPatch(doc, patch, client, seq);
    return { committed: true, seq, gen: a.gen, duplicate: a.duplicate };
  } catch (e) {
    if (e instanceof ConflictError) return { committed: false, seq, conflicts: e.conflicts };
    // the server answered with an error: nothing was applied
    if (e instanceof DbError) return { committed: false, seq, conflicts: [], error: e };
    throw e;
  }
}

/**
 * Open's recovery: a patch the journal holds in flight is resent with its seq (the outcome is
 * the replica's `recovery`) and cleared; the next seq is past the journal's and `nextSeq`.
 */
export async function recover(transport: Transport, opts: ReplicaOptions, journal: Journal, nextSeq: number): Promise<{ nextSeq: number; recovery: Recovery | undefined }> {
  const signal = opts.signal;
  let recovery: Recovery | undefined;
  const entry = await raced(journal.load(), [signal]);
  if (entry) {
    if (entry.doc !== opts.doc || entry.client !== opts.client) {
      throw new NodesyncError(`the journal belongs to client ${JSON.stringify(entry.client)} on document ${JSON.stringify(entry.doc)}, not ${JSON.stringify(opts.client)} on ${JSON.stringify(opts.doc)}`);
    }
    nextSeq = Math.max(nextSeq, entry.seq + 1);
    if (entry.patch) {
      recovery = await raced(resend(transport, opts.doc, opts.client, entry.patch, entry.seq), [signal]);
      await journal.save({ ...entry, patch: null });
    }
  }
  return { nextSeq, recovery };
}

/** The server state after `shadow` (at least at gen `atLeast`) and the diff that led there (undefined: read as a snapshot). */
export async function fetchRemote(transport: Transport, doc: string, shadow: Tree, atLeast: number, signal: AbortSignal): Promise<[Tree, Diff | undefined]> {
  for (let i = 0; ; i++) {
    const d = await transport.diffSince(doc, shadow.gen);
    let diff: Diff;
    try {
      diff = Diff.fromJson(d);
    } catch (e) {
      throw new ProtocolError(`diff_since: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (diff.to < atLeast && i < 50) {
      // a read that lags behind what this replica knows was committed (read-your-writes)
      await sleep(Math.min(50, 2 ** i), signal);
      continue;
    }
    const remote = shadow.clone();
    try {
      remote.applyDiff(diff);
      return [remote, diff];
    } catch {
      return [treeOf(await transport.snapshot(doc)), undefined];
    }
  }
}

/** The committed patches after `since` up to `upto`, or null if the log is gone or not understood (the rebase then diffs). */
export async function fetchLog(transport: Transport, doc: string, since: number, upto: number, stats: ReplicaStats): Promise<[number, Patch][] | null> {
  if (upto <= since) return [];
  let rows: Change[];
  try {
    rows = await transport.changesSince(doc, since, upto);
  } catch (e) {
    if (e instanceof NodesyncError && e.code === "55000") return null;
    throw e;
  }
  const out: [number, Patch][] = [];
  for (const row of rows) {
    try {
      out.push([row.gen, parsePatch(row.patch, LOG_LIMITS)]);
    } catch {
      return null;
    }
  }
  if (out.length !== upto - since) return null;
  stats.logFetches++;
  return out;
}
