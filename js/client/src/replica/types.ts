// Mirrors client/src/replica/types.rs: the replica's public types: its options, where a new
// node goes, what a push, a resent patch and a pull report, its events and statistics.

import type { ConflictEntry, NodesyncError } from "../errors.js";
import type { Journal } from "../journal.js";
import type { Dropped, Policy } from "../rebase.js";

/** Where a node goes among its siblings: first, last, or right after a sibling. */
export type PlaceArg = "first" | "last" | { after: string };

export interface ReplicaOptions {
  doc: string;
  /** This replica's client id (the `client` of apply_patch); unique per running replica. */
  client: string;
  /** Non-string values changed on both sides: "server_wins" (default) or "local_wins". Strings always merge as text. */
  policy?: Policy;
  /** Sends per push before ContentionError (default 16). */
  maxAttempts?: number;
  /** First backoff after a conflict (ms, default 1); doubles with jitter up to `maxBackoffMs` (default 50). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Prefix of the keys this replica creates (default `<client>.<nonce>.`); must be unique per replica session. */
  keyPrefix?: string;
  /** Subscribe to the document's notifications and pull on every newer gen (default false). */
  live?: boolean;
  /** Aborting it closes the replica. */
  signal?: AbortSignal;
  /** The retry journal (default: a MemoryJournal). */
  journal?: Journal;
  /** Seed of the backoff jitter. */
  seed?: number;
}

/** What a push did. */
export type Pushed = { committed: false } | { committed: true; gen: number; seq: number; attempts: number; ops: number };

/** The outcome of resending a journaled patch (by open, or by the next push/pull after a lost answer). */
export type Recovery =
  | { committed: true; seq: number; gen: number; duplicate: boolean }
  | { committed: false; seq: number; conflicts: ConflictEntry[]; error?: NodesyncError };

export type ChangeKind = "created" | "updated" | "moved" | "deleted";

/** What changed in the local tree (after a pull or a commit). */
export interface Changes {
  from: number;
  to: number;
  changed: { key: string; kind: ChangeKind }[];
  /** Local edits a rebase dropped (and warnings). */
  dropped: Dropped[];
}

/** A push was refused (40001) and the local edits rebased for the next attempt. */
export interface ConflictEvent {
  attempt: number;
  /** The server's gen the refusal named. */
  gen: number | undefined;
  conflicts: ConflictEntry[];
  /** What the rebase dropped (and warnings). */
  dropped: Dropped[];
}

export interface ReplicaEvents {
  change: (c: Changes) => void;
  conflict: (c: ConflictEvent) => void;
  dropped: (d: Dropped[]) => void;
  commit: (p: Extract<Pushed, { committed: true }>) => void;
  /** A background (live) pull failed; the next notification or call tries again. */
  error: (e: NodesyncError) => void;
}

export interface ReplicaStats {
  /** Committed pushes. */
  commits: number;
  /** 40001 answers. */
  conflicts: number;
  /** Rebases of local edits after a conflict. */
  rebases: number;
  /** Pulls that brought something new. */
  pulls: number;
  /** Dropped local edits (warnings not counted). */
  dropped: number;
  /** changes_since reads. */
  logFetches: number;
  /** Commits after which the new server state was known without reading it (nobody else had committed in between and the patch changed nodes only in place: `Workspace.committedAlone`). */
  knownCommits: number;
  /** Per committed push: ms from the start of the push to the commit, retries included. */
  pushLatenciesMs: number[];
}

export interface CallOptions {
  /** Stops waiting (rejects with ClosedError); a patch already sent may still commit, and the replica stays consistent. */
  signal?: AbortSignal;
}
