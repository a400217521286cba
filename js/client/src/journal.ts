// Mirrors client/src/journal.rs: the retry journal, where a replica keeps the patch it is
// sending (with its `(client, seq)`) until the server has answered, so that a patch whose
// answer was lost is resent with the same seq (the server then answers with the original
// result, applies it, or refuses it: never twice). `Journal` is the interface a durable store
// implements; `MemoryJournal`, the default, survives lost answers within one process.

import type { PatchJson } from "./transport/types.js";

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
