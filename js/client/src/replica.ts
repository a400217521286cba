// Replica: one document, edited locally, kept in sync with the server through a Transport.
//
// The pure half is the Workspace (shadow, text log, local tree, dirty and placed keys,
// cursors, rebase). This file adds the I/O the Rust client (client/src/replica.rs) adds, made
// asynchronous:
//
// - server calls (push, pull, the live pulls) run one at a time, in call order; concurrent
//   push() calls coalesce (a push() made while another waits to start shares it);
// - local edits are synchronous and allowed at any time, also while a patch is in flight. When
//   a patch is sent the workspace is forked: the one that made the patch (`pending.base`) stays
//   as it was, and the app edits a new one whose shadow is the local tree the patch was made
//   from. On commit the new one is rebased onto the server state with the server's log minus
//   the replica's own patch (its edits are what the local tree already holds). On a refusal
//   (40001) or an error answer the edits made meanwhile are replayed onto the old workspace,
//   which becomes the live one again (the retry then also sends them);
// - the retry journal: the patch and its seq are saved before sending and cleared after an
//   answer; a patch whose answer was lost (TransportError) is resent with its seq before
//   anything else, on the next push/pull or, from a durable journal, by the next open.

import { ClosedError, ConflictError, ContentionError, DbError, EditError, NodesyncError, ProtocolError, TransportError } from "./errors.js";
import type { ConflictEntry } from "./errors.js";
import type { Applied, Change, Notification, PatchJson, Transport } from "./transport/types.js";
import { Workspace } from "./workspace.js";
import type { Cursor } from "./workspace.js";
import { Diff, Tree } from "./tree.js";
import type { Node } from "./tree.js";
import { LOG_LIMITS, Place as PlaceCtor, parsePatch, patchToJson } from "./patch.js";
import type { Patch, Place } from "./patch.js";
import type { Dropped, Policy } from "./rebase.js";
import { isWarning } from "./rebase.js";
import { cmpKeys } from "./order.js";

// ---------------------------------------------------------------------------------- types

/** Where a node goes among its siblings: first, last, or right after a sibling. */
export type PlaceArg = "first" | "last" | { after: string };

/** One entry of the durable retry journal (client/src/journal.rs). */
export interface JournalEntry {
  doc: string;
  client: string;
  /** The seq of the patch in flight, or the last seq used when nothing is in flight. */
  seq: number;
  /** The patch in flight; null: nothing in flight. */
  patch: PatchJson | null;
}

/**
 * Where a replica keeps the patch it is sending until the server has answered. `save` must
 * be durable when it resolves (a Node app writes a file and fsyncs it; a browser would put
 * the entry in IndexedDB or localStorage under a key per document and client). The default,
 * `MemoryJournal`, survives lost answers within one process, not a restart.
 */
export interface Journal {
  load(): Promise<JournalEntry | null>;
  save(entry: JournalEntry): Promise<void>;
}

/** The in-memory journal (the default). */
export class MemoryJournal implements Journal {
  entry: JournalEntry | null = null;
  /** Every save, oldest first (for tests and debugging). */
  readonly saves: JournalEntry[] = [];
  async load(): Promise<JournalEntry | null> {
    return this.entry ? structuredClone(this.entry) : null;
  }
  async save(entry: JournalEntry): Promise<void> {
    this.entry = structuredClone(entry);
    this.saves.push(structuredClone(entry));
  }
}

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
  /** Per committed push: ms from the start of the push to the commit, retries included. */
  pushLatenciesMs: number[];
}

export interface CallOptions {
  /** Stops waiting (rejects with ClosedError); a patch already sent may still commit, and the replica stays consistent. */
  signal?: AbortSignal;
}

// ---------------------------------------------------------------------------------- helpers

function nowMicros(): number {
  return Date.now() * 1000;
}

function base36(n: number): string {
  return Math.floor(n).toString(36);
}

/** splitmix32: the backoff jitter. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 2 ** 32;
  };
}

function toPlace(p: PlaceArg): Place {
  if (p === "first" || p === "last") return p;
  if (typeof p === "object" && p !== null && typeof p.after === "string") return PlaceCtor.after(p.after);
  throw new EditError("BadAnchor", `not a place: ${JSON.stringify(p)} (want "first", "last" or {after: key})`);
}

function abortError(signal: AbortSignal): ClosedError {
  const e = new ClosedError("aborted");
  (e as { cause?: unknown }).cause = signal.reason;
  return e;
}

/** `p`, or a ClosedError as soon as one of `signals` aborts (the work behind `p` goes on). */
function raced<T>(p: Promise<T>, signals: (AbortSignal | undefined)[]): Promise<T> {
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

function sleep(ms: number, signal: AbortSignal): Promise<void> {
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

function asError(e: unknown): NodesyncError {
  if (e instanceof NodesyncError) return e;
  return new ProtocolError(`unexpected: ${e instanceof Error ? e.message : String(e)}`);
}

/** A local edit made while a patch was in flight, to be replayed onto the workspace that made the patch if it is refused. */
type Replay = (ws: Workspace, rename: (k: string) => string, renames: Map<string, string>) => void;

interface Pending {
  /** The workspace that made the patch, as it was when the patch was made. */
  base: Workspace;
  patch: PatchJson;
  seq: number;
  ops: number;
  /** The edits made since, in order. */
  replay: Replay[];
  /**
   * Set once the server said it committed (at this gen) but the new state could not be read
   * yet; unset (with `pending` still there after a send) the answer was lost and the outcome
   * is unknown until the patch is resent with its seq.
   */
  committedGen?: number;
}

type Listeners = { [K in keyof ReplicaEvents]: Set<ReplicaEvents[K]> };

// ---------------------------------------------------------------------------------- Replica

export class Replica {
  readonly doc: string;
  readonly client: string;
  readonly transport: Transport;
  policy: Policy;
  readonly stats: ReplicaStats = { commits: 0, conflicts: 0, rebases: 0, pulls: 0, dropped: 0, logFetches: 0, pushLatenciesMs: [] };

  private ws: Workspace;
  private pending: Pending | null = null;
  private readonly journal: Journal;
  private nextSeq: number;
  private readonly keyPrefix: string;
  private keyCounter = 0;
  private readonly maxAttempts: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly random: () => number;
  private readonly listeners: Listeners = { change: new Set(), conflict: new Set(), dropped: new Set(), commit: new Set(), error: new Set() };
  private droppedSinceTake: Dropped[] = [];
  private recoveryValue: Recovery | undefined;

  /** Serializes server calls. */
  private chain: Promise<unknown> = Promise.resolve();
  private queuedPush: Promise<Pushed> | undefined;
  private queuedPull: Promise<Changes> | undefined;
  private notified = 0;
  private unsubscribe: (() => Promise<void>) | undefined;
  private closed = false;
  private readonly lifetime = new AbortController();
  private readonly openSignal: AbortSignal | undefined;
  private readonly onOpenAbort = () => void this.close();

  private constructor(transport: Transport, opts: ReplicaOptions, ws: Workspace, journal: Journal, nextSeq: number, keyPrefix: string) {
    this.transport = transport;
    this.doc = opts.doc;
    this.client = opts.client;
    this.policy = opts.policy ?? "server_wins";
    this.maxAttempts = Math.max(1, opts.maxAttempts ?? 16);
    this.backoffMs = opts.backoffMs ?? 1;
    this.maxBackoffMs = opts.maxBackoffMs ?? 50;
    this.random = rng(opts.seed ?? Math.floor(Math.random() * 2 ** 32));
    this.ws = ws;
    this.journal = journal;
    this.nextSeq = nextSeq;
    this.keyPrefix = keyPrefix;
    this.openSignal = opts.signal;
  }

  /**
   * Opens a replica of an existing document: resends a patch the journal holds in flight
   * (outcome in `recovery`), loads `snapshot(doc)` and, with `live`, subscribes to the
   * document's notifications.
   */
  static async open(transport: Transport, opts: ReplicaOptions): Promise<Replica> {
    const signal = opts.signal;
    if (signal?.aborted) throw abortError(signal);
    const journal = opts.journal ?? new MemoryJournal();
    let nextSeq = nowMicros();
    let recovery: Recovery | undefined;
    const entry = await raced(journal.load(), [signal]);
    if (entry) {
      if (entry.doc !== opts.doc || entry.client !== opts.client) {
        throw new NodesyncError(`the journal belongs to client ${JSON.stringify(entry.client)} on document ${JSON.stringify(entry.doc)}, not ${JSON.stringify(opts.client)} on ${JSON.stringify(opts.doc)}`);
      }
      nextSeq = Math.max(nextSeq, entry.seq + 1);
      if (entry.patch) {
        recovery = await raced(Replica.resend(transport, opts.doc, opts.client, entry.patch, entry.seq), [signal]);
        await journal.save({ ...entry, patch: null });
      }
    }
    // subscribe before the snapshot, so no commit falls between the two
    let notified = 0;
    let early: ((n: Notification) => void) | undefined = (n) => {
      notified = Math.max(notified, n.gen);
    };
    let r: Replica | undefined;
    const route = (n: Notification) => (r ? r.onNotification(n) : early?.(n));
    const unsubscribe = opts.live ? await raced(transport.subscribe(opts.doc, route), [signal]) : undefined;
    try {
      const shadow = Replica.treeOf(await raced(transport.snapshot(opts.doc), [signal]));
      const keyPrefix = opts.keyPrefix ?? `${opts.client}.${base36(nowMicros())}.`;
      r = new Replica(transport, opts, new Workspace(shadow, keyPrefix), journal, nextSeq, keyPrefix);
    } catch (e) {
      await unsubscribe?.().catch(() => {});
      throw e;
    }
    early = undefined;
    r.unsubscribe = unsubscribe;
    r.recoveryValue = recovery;
    r.notified = notified;
    if (signal) signal.addEventListener("abort", r.onOpenAbort, { once: true });
    if (notified > r.gen) r.schedulePull();
    return r;
  }

  private static treeOf(snapshot: unknown): Tree {
    try {
      return Tree.fromSnapshot(snapshot);
    } catch (e) {
      throw new ProtocolError(`snapshot: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private static async resend(transport: Transport, doc: string, client: string, patch: PatchJson, seq: number): Promise<Recovery> {
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

  // ------------------------------------------------------------------ reads (never the server)

  /** The local tree: what the app sees, its own edits included. */
  tree(): Tree {
    return this.ws.tree();
  }

  /** The last known server state (while a patch is in flight: the one that patch was made against). */
  shadow(): Tree {
    return this.pending ? this.pending.base.shadow() : this.ws.shadow();
  }

  get(key: string): Node | undefined {
    return this.ws.tree().get(key);
  }

  children(key: string): readonly string[] {
    return this.ws.tree().children(key);
  }

  /** The text of `prop` of `key` ("" if absent; undefined if no such node or not a string). */
  text(key: string, prop: string): string | undefined {
    return this.ws.text(key, prop);
  }

  /** The gen of the last known server state. */
  get gen(): number {
    return this.shadow().gen;
  }

  /** True if there are edits not (yet known to be) on the server. */
  get hasLocalEdits(): boolean {
    return this.pending !== null || this.ws.hasLocalEdits();
  }

  /** True while a patch is sent or its outcome is unknown. */
  get inFlight(): boolean {
    return this.pending !== null;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The outcome of the journaled patch resent by open (or after a lost answer), if there was one. */
  get recovery(): Recovery | undefined {
    return this.recoveryValue;
  }

  /** The live workspace (the pure edit state); edit through the replica's methods while a patch is in flight. */
  get workspace(): Workspace {
    return this.ws;
  }

  /** Local edits dropped by rebases since the last call (also given to "dropped" listeners). */
  takeDropped(): Dropped[] {
    const d = this.droppedSinceTake;
    this.droppedSinceTake = [];
    return d;
  }

  cursor(name: string): Cursor | undefined {
    return this.ws.cursor(name) ?? undefined;
  }

  // ------------------------------------------------------------------ events

  on<K extends keyof ReplicaEvents>(event: K, fn: ReplicaEvents[K]): this {
    (this.listeners[event] as Set<ReplicaEvents[K]>).add(fn);
    return this;
  }

  off<K extends keyof ReplicaEvents>(event: K, fn: ReplicaEvents[K]): this {
    (this.listeners[event] as Set<ReplicaEvents[K]>).delete(fn);
    return this;
  }

  private emit<K extends keyof ReplicaEvents>(event: K, arg: Parameters<ReplicaEvents[K]>[0]): void {
    for (const fn of [...(this.listeners[event] as Set<(a: typeof arg) => void>)]) {
      try {
        fn(arg);
      } catch {
        // a listener's exception must not break the replica
      }
    }
  }

  // ------------------------------------------------------------------ local edits

  private edit<T>(apply: (ws: Workspace) => T, replay: Replay | undefined): T {
    if (this.closed) throw new ClosedError();
    const v = apply(this.ws);
    if (this.pending && replay) this.pending.replay.push(replay);
    return v;
  }

  private keyTaken(k: string): boolean {
    const used = (w: Workspace) => w.tree().get(k) !== undefined || w.shadow().get(k) !== undefined || w.projection().get(k) !== undefined;
    return used(this.ws) || (this.pending !== null && used(this.pending.base));
  }

  /** A fresh key `<keyPrefix><n>` (for split, createWithKey); never one this replica used. */
  freshKey(): string {
    for (;;) {
      this.keyCounter++;
      const k = `${this.keyPrefix}${this.keyCounter}`;
      if (!this.keyTaken(k)) return k;
    }
  }

  /** Creates a node under `parent` at `place` with a fresh key, which it returns. */
  create(parent: string, place: PlaceArg, kind: string, props: Record<string, unknown> = {}): string {
    const key = this.freshKey();
    this.createWithKey(key, parent, place, kind, props);
    return key;
  }

  /** Creates a node with a key chosen by the caller (it must never have existed). */
  createWithKey(key: string, parent: string, place: PlaceArg, kind: string, props: Record<string, unknown> = {}): void {
    if (this.closed) throw new ClosedError();
    if (this.pending && this.keyTaken(key)) throw new EditError("KeyExists", `key ${JSON.stringify(key)} exists already`);
    const pl = toPlace(place);
    const pr = structuredClone(props);
    this.edit(
      (ws) => ws.createWithKey(key, parent, pl, kind, structuredClone(pr)),
      (ws, rn) => ws.createWithKey(key, rn(parent), renamePlace(pl, rn), kind, structuredClone(pr)),
    );
  }

  /** Updates a node: `props` is a delta (null removes a property); `kind` if given. A string for a string property becomes splices. */
  update(key: string, props: Record<string, unknown>, kind?: string): void {
    const pr = structuredClone(props);
    this.edit(
      (ws) => ws.update(key, kind ?? null, structuredClone(pr)),
      (ws, rn) => ws.update(rn(key), kind ?? null, structuredClone(pr)),
    );
  }

  /** Moves a node (with its subtree) under `parent` at `place`. */
  move(key: string, parent: string, place: PlaceArg): void {
    const pl = toPlace(place);
    this.edit(
      (ws) => ws.moveTo(key, parent, pl),
      (ws, rn) => ws.moveTo(rn(key), rn(parent), renamePlace(pl, rn)),
    );
  }

  /** Deletes a node and its subtree. */
  delete(key: string): void {
    this.edit(
      (ws) => ws.delete(key),
      (ws, rn) => ws.delete(rn(key)),
    );
  }

  /** Replaces `del` code points at `at` of the string property `prop` of `key` with `ins` (sent as a `text` op). */
  splice(key: string, prop: string, at: number, del: number, ins: string): void {
    this.edit(
      (ws) => ws.splice(key, prop, at, del, ins),
      (ws, rn) => ws.splice(rn(key), prop, at, del, ins),
    );
  }

  /** Splits a text block (Enter): `key` keeps the first `at` code points of `prop`, a new block right after it (returned) gets the rest. */
  split(key: string, prop: string, at: number, newKey?: string): string {
    if (this.closed) throw new ClosedError();
    const nk = newKey ?? this.freshKey();
    if (newKey !== undefined && this.pending && this.keyTaken(nk)) throw new EditError("KeyExists", `key ${JSON.stringify(nk)} exists already`);
    this.edit(
      (ws) => ws.split(key, prop, at, nk),
      (ws, rn) => ws.split(rn(key), prop, at, nk),
    );
    return nk;
  }

  /** Joins `next` (the next sibling of `key`) into `key` (Backspace at the start of `next`); returns the key of the joined block. */
  join(key: string, next: string, prop: string): string {
    let kept = "";
    kept = this.edit(
      (ws) => ws.join(key, next, prop),
      (ws, rn, renames) => {
        const k = ws.join(rn(key), rn(next), prop);
        // the workspace that made the in-flight patch may keep the other block (a block it has
        // not sent yet joined with one on the server): later edits follow it
        if (k !== rn(kept)) renames.set(kept, k);
      },
    );
    return kept;
  }

  /** Sets the named cursor (caret); it follows local edits, rebases and pulls. */
  setCursor(name: string, key: string, prop: string, at: number): void {
    this.edit(
      (ws) => ws.setCursor(name, key, prop, at),
      (ws, rn) => ws.setCursor(name, rn(key), prop, at),
    );
  }

  removeCursor(name: string): void {
    this.edit(
      (ws) => ws.removeCursor(name),
      (ws) => ws.removeCursor(name),
    );
  }

  // ------------------------------------------------------------------ serialization

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(() => {
      if (this.closed) throw new ClosedError();
      return fn();
    });
    this.chain = p.catch(() => {});
    return p;
  }

  private checkOpen(opts?: CallOptions): void {
    if (this.closed) throw new ClosedError();
    if (opts?.signal?.aborted) throw abortError(opts.signal);
  }

  // ------------------------------------------------------------------ push

  /**
   * Sends the local edits as one patch; on a conflict pulls, rebases and resends (bounded,
   * with backoff): `{committed: false}` if there was nothing to send, else the commit. One
   * patch is in flight at a time: a push() while one runs queues (pushes made while one is
   * queued share it). Edits made meanwhile stay local and go in the next push.
   */
  push(opts?: CallOptions): Promise<Pushed> {
    try {
      this.checkOpen(opts);
    } catch (e) {
      return Promise.reject(e);
    }
    if (!this.queuedPush) {
      const p = this.exclusive(async () => {
        this.queuedPush = undefined;
        return this.doPush();
      });
      this.queuedPush = p;
      p.catch(() => {});
    }
    return raced(this.queuedPush, [opts?.signal]);
  }

  private async send(patch: PatchJson, seq: number): Promise<Applied> {
    return this.transport.applyPatch(this.doc, patch, this.client, seq);
  }

  private async saveJournal(seq: number, patch: PatchJson | null): Promise<void> {
    await this.journal.save({ doc: this.doc, client: this.client, seq, patch });
  }

  private backoff(attempt: number): Promise<void> {
    const exp = Math.max(0.001, Math.min(this.maxBackoffMs, this.backoffMs * 2 ** Math.min(20, attempt - 1)));
    return sleep(exp / 2 + (this.random() * exp) / 2, this.lifetime.signal);
  }

  private async doPush(): Promise<Pushed> {
    const started = performance.now();
    if (this.pending) await this.settle();
    let attempts = 0;
    for (;;) {
      if (this.closed) throw new ClosedError();
      const patch = this.ws.patch();
      if (patch.ops.length === 0) {
        this.ws.forgetNoopEdits();
        return { committed: false };
      }
      attempts++;
      const pj = patchToJson(patch) as PatchJson;
      const seq = this.nextSeq;
      const ops = patch.ops.length;
      // fork before anything is awaited: edits from now on are not in this patch
      this.fork(pj, seq, ops);
      try {
        await this.saveJournal(seq, pj);
      } catch (e) {
        this.mergeBack();
        throw asError(e);
      }
      let applied: Applied;
      try {
        applied = await this.send(pj, seq);
      } catch (e) {
        if (e instanceof ConflictError) {
          await this.saveJournal(seq, null);
          this.mergeBack();
          this.stats.conflicts++;
          if (attempts >= this.maxAttempts) {
            // the edits stay local, rebased onto what the refusal showed, for the next push
            this.stats.rebases++;
            await this.pullNow(e.gen).catch(() => {});
            throw new ContentionError(attempts, { gen: e.gen, conflicts: e.conflicts });
          }
          await this.backoff(attempts);
          this.stats.rebases++;
          const changes = await this.pullNow(e.gen);
          this.emit("conflict", { attempt: attempts, gen: e.gen, conflicts: e.conflicts, dropped: changes.dropped });
          continue;
        }
        if (e instanceof DbError) {
          // the server answered with an error (invalid patch, unknown document...): nothing applied
          await this.saveJournal(seq, null);
          this.mergeBack();
          throw e;
        }
        // no answer (or one not understood): the outcome is unknown until it is resent with
        // its seq (the journal keeps it; the next push or pull does that first)
        throw asError(e);
      }
      if (typeof applied !== "object" || applied === null || !Number.isSafeInteger(applied.gen)) {
        // an answer not understood: the outcome is unknown until the patch is resent with its seq
        throw new ProtocolError(`apply_patch answered ${JSON.stringify(applied)?.slice(0, 200)}`);
      }
      if (applied.duplicate) {
        // this seq was committed before by someone else: nothing was applied now
        await this.saveJournal(seq, null);
        this.mergeBack();
        throw new ProtocolError(`seq ${seq} of client ${JSON.stringify(this.client)} was already used: is another replica running with the same client id?`);
      }
      const result = { committed: true as const, gen: applied.gen, seq, attempts, ops };
      this.stats.pushLatenciesMs.push(performance.now() - started);
      try {
        await this.committed(applied.gen, seq);
      } catch (e) {
        // committed all the same; the new server state could not be read: the local tree
        // stays as it is and the next push or pull (or notification) finishes the commit
        if (this.pending?.committedGen === undefined) throw e;
        this.emit("error", asError(e));
      }
      this.emit("commit", result);
      return result;
    }
  }

  /** Before a send: the workspace that made the patch stays as it is; the app edits a new one on its local tree. */
  private fork(patch: PatchJson, seq: number, ops: number): void {
    const base = this.ws;
    const live = new Workspace(base.tree().clone(), this.keyPrefix);
    for (const [name, c] of base.cursors()) live.setCursor(name, c.key, c.prop, c.at);
    this.pending = { base, patch, seq, ops, replay: [] };
    this.ws = live;
  }

  /** The patch was not applied: the edits made since it was made are replayed onto the workspace that made it, which becomes the live one. */
  private mergeBack(): void {
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    const ws = p.base;
    const renames = new Map<string, string>();
    const rn = (k: string) => renames.get(k) ?? k;
    const failed: NodesyncError[] = [];
    for (const r of p.replay) {
      try {
        r(ws, rn, renames);
      } catch (e) {
        failed.push(asError(e));
      }
    }
    const before = this.ws.tree();
    this.ws = ws;
    for (const e of failed) this.emit("error", new NodesyncError(`an edit made while a patch was in flight could not be replayed after the patch was refused: ${e.message}`));
    if (renames.size > 0 || failed.length > 0) {
      // the local tree the app sees differs from the one it edited (a joined block kept under
      // the other key, an edit lost): tell it
      this.report(this.changesOf(before, undefined, [], ws.shadow().gen));
    }
  }

  /** The server committed the pending patch at `gen` (now, or before: a duplicate): counted, journal cleared, then finished. */
  private async committed(gen: number, seq: number): Promise<Changes> {
    const p = this.pending;
    if (!p) throw new ProtocolError("a commit without a patch in flight");
    this.nextSeq = Math.max(this.nextSeq, seq + 1);
    this.stats.commits++;
    p.committedGen = gen;
    await this.saveJournal(seq, null);
    return this.finishCommit();
  }

  /**
   * The live workspace is rebased onto the server state, with the server's log minus the
   * replica's own patch: what that patch did is what the live workspace's shadow already
   * holds. If the state cannot be read the fork stays, and the next push or pull finishes it.
   */
  private async finishCommit(): Promise<Changes> {
    const p = this.pending;
    if (!p || p.committedGen === undefined) throw new ProtocolError("no commit to finish");
    const gen = p.committedGen;
    const old = p.base.shadow();
    const [remote, diff] = await this.fetchRemote(old, gen);
    const log = this.wantsLog() ? await this.fetchLog(old.gen, remote.gen) : null;
    this.pending = null;
    const touched = this.ws.touchedKeys();
    const [before, dropped] = this.ws.rebaseWith(remote, log ? log.filter(([g]) => g !== gen) : null, this.policy);
    const changes = this.changesOf(before, diff, dropped, old.gen, touched);
    this.report(changes);
    return changes;
  }

  private wantsLog(): boolean {
    return (this.ws.hasLocalEdits() && this.ws.wantsServerLog()) || this.ws.hasCursors();
  }

  /** Resolves the pending patch: finishes a commit, or resends a patch whose answer was lost (with its seq): committed (now or before) or refused. */
  private async settle(): Promise<void> {
    const p = this.pending;
    if (!p) return;
    if (p.committedGen !== undefined) {
      await this.finishCommit();
      return;
    }
    const rec = await Replica.resend(this.transport, this.doc, this.client, p.patch, p.seq);
    if (rec.committed && !Number.isSafeInteger(rec.gen)) throw new ProtocolError(`apply_patch answered gen ${JSON.stringify(rec.gen)}`);
    this.recoveryValue = rec;
    if (rec.committed) {
      await this.committed(rec.gen, p.seq);
    } else {
      await this.saveJournal(p.seq, null);
      this.mergeBack();
    }
  }

  // ------------------------------------------------------------------ pull

  /** Pulls what changed on the server and rebases the local edits onto it. */
  pull(opts?: CallOptions): Promise<Changes> {
    try {
      this.checkOpen(opts);
    } catch (e) {
      return Promise.reject(e);
    }
    if (!this.queuedPull) {
      const p = this.exclusive(async () => {
        this.queuedPull = undefined;
        if (this.pending) await this.settle();
        return this.pullNow();
      });
      this.queuedPull = p;
      p.catch(() => {});
    }
    return raced(this.queuedPull, [opts?.signal]);
  }

  /** push, then pull. */
  async sync(opts?: CallOptions): Promise<Changes> {
    await this.push(opts);
    return this.pull(opts);
  }

  private async fetchRemote(shadow: Tree, atLeast = 0): Promise<[Tree, Diff | undefined]> {
    for (let i = 0; ; i++) {
      const d = await this.transport.diffSince(this.doc, shadow.gen);
      let diff: Diff;
      try {
        diff = Diff.fromJson(d);
      } catch (e) {
        throw new ProtocolError(`diff_since: ${e instanceof Error ? e.message : String(e)}`);
      }
      if (diff.to < atLeast && i < 50) {
        // a read that lags behind what this replica knows was committed (read-your-writes)
        await sleep(Math.min(50, 2 ** i), this.lifetime.signal);
        continue;
      }
      const remote = shadow.clone();
      try {
        remote.applyDiff(diff);
        return [remote, diff];
      } catch {
        return [Replica.treeOf(await this.transport.snapshot(this.doc)), undefined];
      }
    }
  }

  /** The committed patches after `since` up to `upto`, or null if the log is gone or not understood (the rebase then diffs). */
  private async fetchLog(since: number, upto: number): Promise<[number, Patch][] | null> {
    if (upto <= since) return [];
    let rows: Change[];
    try {
      rows = await this.transport.changesSince(this.doc, since, upto);
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
    this.stats.logFetches++;
    return out;
  }

  private async pullNow(atLeast = 0): Promise<Changes> {
    const shadow = this.ws.shadow();
    const [remote, diff] = await this.fetchRemote(shadow, atLeast);
    if (remote.gen === shadow.gen && diff !== undefined && diff.isEmpty()) {
      return { from: remote.gen, to: remote.gen, changed: [], dropped: [] };
    }
    this.stats.pulls++;
    const log = this.wantsLog() ? await this.fetchLog(shadow.gen, remote.gen) : null;
    const touched = this.ws.touchedKeys();
    const [before, dropped] = this.ws.rebaseWith(remote, log, this.policy);
    const changes = this.changesOf(before, diff, dropped, shadow.gen, touched);
    this.report(changes);
    return changes;
  }

  private report(changes: Changes): void {
    const real = changes.dropped.filter((d) => !isWarning(d));
    this.stats.dropped += real.length;
    if (changes.dropped.length > 0) {
      this.droppedSinceTake.push(...changes.dropped);
      this.emit("dropped", changes.dropped);
    }
    if (changes.changed.length > 0 || changes.dropped.length > 0) this.emit("change", changes);
  }

  /**
   * What changed in the local tree from `before`: the nodes the server's diff names, those a
   * rebase reported, and those the local edits touched (`touched`, taken before the rebase: a
   * rebase can change them, e.g. text the server typed into a block this replica joined away
   * lands in the block it was joined into).
   */
  private changesOf(before: Tree, diff: Diff | undefined, dropped: Dropped[], from: number, touched: string[] = []): Changes {
    const after = this.ws.tree();
    const keys = new Set<string>();
    if (diff && !diff.reset) {
      for (const n of diff.nodes) keys.add(n.key);
      for (const k of diff.deleted) keys.add(k);
      for (const d of dropped) keys.add(d.key);
      for (const k of touched) keys.add(k);
    } else {
      for (const k of before.nodes.keyArray()) keys.add(k);
      for (const k of after.nodes.keyArray()) keys.add(k);
    }
    const changed: { key: string; kind: ChangeKind }[] = [];
    for (const k of [...keys].sort(cmpKeys)) {
      const a = before.get(k);
      const b = after.get(k);
      if (!a && b) changed.push({ key: k, kind: "created" });
      else if (a && !b) changed.push({ key: k, kind: "deleted" });
      else if (a && b) {
        if (a.parent !== b.parent || before.indexOf(k) !== after.indexOf(k)) changed.push({ key: k, kind: "moved" });
        if (!a.sameContent(b)) changed.push({ key: k, kind: "updated" });
      }
    }
    return { from, to: this.ws.shadow().gen, changed, dropped };
  }

  // ------------------------------------------------------------------ live

  private onNotification(n: Notification): void {
    if (this.closed || n.doc !== this.doc) return;
    this.notified = Math.max(this.notified, n.gen);
    if (n.gen > this.ws.shadow().gen) this.schedulePull();
  }

  /** A background pull (coalesced; skipped if the shadow caught up meanwhile). */
  private schedulePull(): void {
    if (this.closed || this.queuedPull) return;
    const p = this.exclusive(async () => {
      this.queuedPull = undefined;
      if (this.pending) await this.settle();
      if (this.notified <= this.ws.shadow().gen) return { from: this.gen, to: this.gen, changed: [], dropped: [] };
      return this.pullNow();
    });
    this.queuedPull = p;
    p.catch((e) => {
      if (!this.closed) this.emit("error", asError(e));
    });
  }

  // ------------------------------------------------------------------ close

  /**
   * Closes the replica: no more server calls (they reject with ClosedError), the
   * subscription ends, a call in progress finishes or stops at its next step. The transport
   * stays open (it belongs to the caller).
   */
  async close(): Promise<void> {
    if (this.closed) {
      await this.chain;
      return;
    }
    this.closed = true;
    this.lifetime.abort(new ClosedError());
    this.openSignal?.removeEventListener("abort", this.onOpenAbort);
    const u = this.unsubscribe;
    this.unsubscribe = undefined;
    await u?.().catch(() => {});
    await this.chain;
  }
}

function renamePlace(p: Place, rn: (k: string) => string): Place {
  return typeof p === "object" ? PlaceCtor.after(rn(p.after)) : p;
}

export { TransportError };
