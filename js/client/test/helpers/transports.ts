// A Transport wrapper for tests: records calls, holds applyPatch answers at a gate, loses
// answers, or answers garbage.

import type pg from "pg";

import { TransportError } from "../../src/errors.js";
import { PgTransport } from "../../src/transport/pg.js";
import type { Applied, Change, DiffResult, Notification, PatchJson, Snapshot, Transport } from "../../src/transport/types.js";

export interface Sent {
  patch: PatchJson;
  client: string;
  seq: number;
  outcome?: "committed" | "duplicate" | "error" | "lost";
}

/** A promise and its resolver. */
export class Gate {
  private open_!: () => void;
  readonly opened: Promise<void>;
  /** Resolves when something waits at the gate. */
  private arrived_!: () => void;
  readonly arrived: Promise<void>;
  constructor() {
    this.opened = new Promise((r) => (this.open_ = r));
    this.arrived = new Promise((r) => (this.arrived_ = r));
  }
  open(): void {
    this.open_();
  }
  /** Called by the one waiting. */
  async pass(): Promise<void> {
    this.arrived_();
    await this.opened;
  }
}

export class TestTransport implements Transport {
  readonly sent: Sent[] = [];
  inflight = 0;
  maxInflight = 0;
  /** The next applyPatch waits here before it is sent. */
  gateBefore: Gate | undefined;
  /** The next applyPatch waits here after the server answered, before the answer is returned. */
  gateAfter: Gate | undefined;
  /** The next applyPatch is sent, committed, and its answer lost (TransportError). */
  loseNextAnswer = false;
  /** The next applyPatch never reaches the server (TransportError). */
  dropNextSend = false;
  /** The next snapshot answers this instead. */
  garbageSnapshot: unknown;
  /** The next diffSince answers this instead. */
  garbageDiff: unknown;
  /** diffSince calls so far. */
  diffReads = 0;

  constructor(readonly inner: Transport) {}

  ensureDoc(doc: string, rootKind?: string): Promise<boolean> {
    return this.inner.ensureDoc(doc, rootKind);
  }
  async snapshot(doc: string, atGen?: number): Promise<Snapshot> {
    if (this.garbageSnapshot !== undefined) {
      const g = this.garbageSnapshot;
      this.garbageSnapshot = undefined;
      return g as Snapshot;
    }
    return this.inner.snapshot(doc, atGen);
  }
  async applyPatch(doc: string, patch: PatchJson, client: string, seq: number): Promise<Applied> {
    const s: Sent = { patch: structuredClone(patch), client, seq };
    this.sent.push(s);
    this.inflight++;
    this.maxInflight = Math.max(this.maxInflight, this.inflight);
    try {
      const before = this.gateBefore;
      this.gateBefore = undefined;
      await before?.pass();
      if (this.dropNextSend) {
        this.dropNextSend = false;
        s.outcome = "lost";
        throw new TransportError("test: the send was lost");
      }
      let a: Applied;
      try {
        a = await this.inner.applyPatch(doc, patch, client, seq);
      } catch (e) {
        s.outcome = "error";
        throw e;
      }
      s.outcome = a.duplicate ? "duplicate" : "committed";
      const after = this.gateAfter;
      this.gateAfter = undefined;
      await after?.pass();
      if (this.loseNextAnswer) {
        this.loseNextAnswer = false;
        throw new TransportError("test: the answer was lost");
      }
      return a;
    } finally {
      this.inflight--;
    }
  }
  async diffSince(doc: string, since: number): Promise<DiffResult> {
    this.diffReads++;
    if (this.garbageDiff !== undefined) {
      const g = this.garbageDiff;
      this.garbageDiff = undefined;
      return g as DiffResult;
    }
    return this.inner.diffSince(doc, since);
  }
  changesSince(doc: string, since: number, upto?: number): Promise<Change[]> {
    return this.inner.changesSince(doc, since, upto);
  }
  subscribe(doc: string, fn: (n: Notification) => void): Promise<() => Promise<void>> {
    return this.inner.subscribe(doc, fn);
  }
  async close(): Promise<void> {}
}

/**
 * PgTransports on one test database (`cfg`, set in a before hook), each with at most 2
 * connections; `closeAll` (in an after hook) closes every one handed out.
 */
export class PgTransports {
  cfg: pg.ClientConfig = {};
  private readonly all: PgTransport[] = [];
  constructor(private readonly applicationName?: string) {}

  async connect(): Promise<PgTransport> {
    const t = await PgTransport.connect({ ...this.cfg, max: 2 }, this.applicationName === undefined ? {} : { applicationName: this.applicationName });
    this.all.push(t);
    return t;
  }

  async closeAll(): Promise<void> {
    for (const t of this.all.splice(0)) await t.close();
  }
}
