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

import { ClosedError, ConflictError, ContentionError, DbError, EditError, NodesyncError, ProtocolError } from "./errors.js";
import { type Journal, MemoryJournal } from "./journal.js";
import type { Applied, Notification, PatchJson, Transport } from "./transport/types.js";
import { Workspace } from "./workspace.js";
import type { Cursor } from "./workspace.js";
import type { Node, Tree } from "./tree.js";
import { Diff } from "./tree.js";
import { Place as PlaceCtor, patchToJson } from "./patch.js";
import type { Patch, Place } from "./patch.js";
import type { Dropped, Policy } from "./rebase.js";
import { isWarning } from "./rebase.js";
import { abortError, raced } from "./replica/abort.js";
import { Backoff } from "./replica/backoff.js";
import { changesOf } from "./replica/changes.js";
import { Listeners } from "./replica/events.js";
import { type Pending, type Replay, forkOf, renamePlace, replayOnto } from "./replica/inflight.js";
import { fetchLog, fetchRemote, recover, resend, treeOf } from "./replica/server.js";
import type { CallOptions, Changes, PlaceArg, Pushed, Recovery, ReplicaEvents, ReplicaOptions, ReplicaStats } from "./replica/types.js";

// ---------------------------------------------------------------------------------- helpers

function nowMicros(): number {
  return Date.now() * 1000;
}

function base36(n: number): string {
  return Math.floor(n).toString(36);
}

function toPlace(p: PlaceArg): Place {
  if (p === "first" || p === "last") return p;
  if (typeof p === "object" && p !== null && typeof p.after === "string") return PlaceCtor.after(p.after);
  throw new EditError("BadAnchor", `not a place: ${JSON.stringify(p)} (want "first", "last" or {after: key})`);
}

function asError(e: unknown): NodesyncError {
  if (e instanceof NodesyncError) return e;
  return new ProtocolError(`unexpected: ${e instanceof Error ? e.message : String(e)}`);
}

// ---------------------------------------------------------------------------------- Replica

export class Replica {
  readonly doc: string;
  readonly client: string;
  readonly transport: Transport;
  policy: Policy;
  readonly stats: ReplicaStats = { commits: 0, conflicts: 0, rebases: 0, pulls: 0, dropped: 0, logFetches: 0, knownCommits: 0, pushLatenciesMs: [] };

  private ws: Workspace;
  private pending: Pending | null = null;
  private readonly journal: Journal;
  private nextSeq: number;
  private readonly keyPrefix: string;
  private keyCounter = 0;
  private readonly maxAttempts: number;
  private readonly backoff: Backoff;
  private readonly listeners = new Listeners();
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
    this.backoff = new Backoff(opts);
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
    const { nextSeq, recovery } = await recover(transport, opts, journal, nowMicros());
    // subscribe before the snapshot, so no commit falls between the two
    let notified = 0;
    let early: ((n: Notification) => void) | undefined = (n) => {
      notified = Math.max(notified, n.gen);
    };
    let r: Replica | undefined;
    const route = (n: Notification) => (r ? r.onNotification(n) : early?.(n));
    const unsubscribe = opts.live ? await raced(transport.subscribe(opts.doc, route), [signal]) : undefined;
    try {
      const shadow = treeOf(await raced(transport.snapshot(opts.doc), [signal]));
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
    this.listeners.add(event, fn);
    return this;
  }

  off<K extends keyof ReplicaEvents>(event: K, fn: ReplicaEvents[K]): this {
    this.listeners.remove(event, fn);
    return this;
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
      this.fork(pj, patch, seq, ops);
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
          await this.backoff.wait(attempts, this.lifetime.signal);
          this.stats.rebases++;
          const changes = await this.pullNow(e.gen);
          this.listeners.emit("conflict", { attempt: attempts, gen: e.gen, conflicts: e.conflicts, dropped: changes.dropped });
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
        await this.committed(applied.gen, seq, applied.versions);
      } catch (e) {
        // committed all the same; the new server state could not be read: the local tree
        // stays as it is and the next push or pull (or notification) finishes the commit
        if (this.pending?.committedGen === undefined) throw e;
        this.listeners.emit("error", asError(e));
      }
      this.listeners.emit("commit", result);
      return result;
    }
  }

  /** Before a send: the workspace that made the patch stays as it is; the app edits a new one on its local tree. */
  private fork(patch: PatchJson, made: Patch, seq: number, ops: number): void {
    const base = this.ws;
    this.pending = { base, patch, made, seq, ops, replay: [] };
    this.ws = forkOf(base, this.keyPrefix);
  }

  /** The patch was not applied: the edits made since it was made are replayed onto the workspace that made it, which becomes the live one. */
  private mergeBack(): void {
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    const ws = p.base;
    const { renames, failed } = replayOnto(p);
    const before = this.ws.tree();
    this.ws = ws;
    for (const e of failed) this.listeners.emit("error", new NodesyncError(`an edit made while a patch was in flight could not be replayed after the patch was refused: ${asError(e).message}`));
    if (renames.size > 0 || failed.length > 0) {
      // the local tree the app sees differs from the one it edited (a joined block kept under
      // the other key, an edit lost): tell it
      this.report(changesOf(this.ws, before, undefined, [], ws.shadow().gen));
    }
  }

  /** The server committed the pending patch at `gen` (now, or before: a duplicate): counted, journal cleared, then finished. */
  private async committed(gen: number, seq: number, versions?: unknown): Promise<Changes> {
    const p = this.pending;
    if (!p) throw new ProtocolError("a commit without a patch in flight");
    this.nextSeq = Math.max(this.nextSeq, seq + 1);
    this.stats.commits++;
    p.committedGen = gen;
    p.versions = versions;
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
    const oldGen = old.gen;
    if (p.versions !== undefined && p.base.committedAlone(p.made, gen, p.versions)) {
      // nobody else committed in between: the server holds what the patch was made from, and
      // its own patch is all the log since the old shadow (which the live workspace's shadow
      // already holds); no read
      this.stats.knownCommits++;
      this.pending = null;
      const remote = p.base.shadow().clone();
      const touched = this.ws.touchedKeys();
      const [before, dropped] = this.ws.rebaseWith(remote, [], this.policy);
      const changes = changesOf(this.ws, before, new Diff(oldGen, gen, false, [], []), dropped, oldGen, touched);
      this.report(changes);
      return changes;
    }
    const [remote, diff] = await fetchRemote(this.transport, this.doc, old, gen, this.lifetime.signal);
    const log = this.wantsLog() ? await fetchLog(this.transport, this.doc, old.gen, remote.gen, this.stats) : null;
    this.pending = null;
    const touched = this.ws.touchedKeys();
    const [before, dropped] = this.ws.rebaseWith(remote, log ? log.filter(([g]) => g !== gen) : null, this.policy);
    const changes = changesOf(this.ws, before, diff, dropped, old.gen, touched);
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
    const rec = await resend(this.transport, this.doc, this.client, p.patch, p.seq);
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

  private async pullNow(atLeast = 0): Promise<Changes> {
    const shadow = this.ws.shadow();
    const [remote, diff] = await fetchRemote(this.transport, this.doc, shadow, atLeast, this.lifetime.signal);
    if (remote.gen === shadow.gen && diff !== undefined && diff.isEmpty()) {
      return { from: remote.gen, to: remote.gen, changed: [], dropped: [] };
    }
    this.stats.pulls++;
    const log = this.wantsLog() ? await fetchLog(this.transport, this.doc, shadow.gen, remote.gen, this.stats) : null;
    const touched = this.ws.touchedKeys();
    const [before, dropped] = this.ws.rebaseWith(remote, log, this.policy);
    const changes = changesOf(this.ws, before, diff, dropped, shadow.gen, touched);
    this.report(changes);
    return changes;
  }

  private report(changes: Changes): void {
    const real = changes.dropped.filter((d) => !isWarning(d));
    this.stats.dropped += real.length;
    if (changes.dropped.length > 0) {
      this.droppedSinceTake.push(...changes.dropped);
      this.listeners.emit("dropped", changes.dropped);
    }
    if (changes.changed.length > 0 || changes.dropped.length > 0) this.listeners.emit("change", changes);
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
      if (!this.closed) this.listeners.emit("error", asError(e));
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
