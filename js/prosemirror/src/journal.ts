// The binding's retry journals. StorageJournal, a durable one for browsers: the replica's patch
// in flight in localStorage (or any Storage), under one key per document and client.
// localStorage writes are synchronous, so the entry is on disk when `save` resolves, before
// the patch is sent. ForkTracker, a wrapper of any journal through which the binding sees each
// patch being sent.
import type { Journal, JournalEntry } from "@pg-nodesync/client";

/** The part of the Web Storage API the journal uses. */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export const JOURNAL_PREFIX = "nodesync-journal:";

export function journalKey(doc: string, client: string): string {
  return `${JOURNAL_PREFIX}${JSON.stringify([doc, client])}`;
}

export class StorageJournal implements Journal {
  readonly key: string;
  constructor(
    readonly storage: StorageLike,
    doc: string,
    client: string,
  ) {
    this.key = journalKey(doc, client);
  }
  async load(): Promise<JournalEntry | null> {
    const raw = this.storage.getItem(this.key);
    if (raw === null) return null;
    try {
      const v = JSON.parse(raw) as JournalEntry;
      if (typeof v !== "object" || v === null || typeof v.seq !== "number") return null;
      return v;
    } catch {
      return null;
    }
  }
  async save(entry: JournalEntry): Promise<void> {
    this.storage.setItem(this.key, JSON.stringify(entry));
  }
}

/** A journal that tells the binding when a patch is being sent (and passes everything on). */
export class ForkTracker implements Journal {
  onSend: (() => void) | undefined;
  constructor(readonly inner: Journal) {}
  load(): Promise<JournalEntry | null> {
    return this.inner.load();
  }
  save(entry: JournalEntry): Promise<void> {
    // called synchronously by the replica right after it made the patch it sends
    if (entry.patch !== null) this.onSend?.();
    return this.inner.save(entry);
  }
}
