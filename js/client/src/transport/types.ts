// The calls a replica makes, whatever carries them: `PgTransport` (node-postgres, for Node
// backends) and `RelayTransport` (a WebSocket to `nodesync-relay`, for browsers). Values are
// the JSON shapes of SPEC.md §3 exactly as the SQL functions return them.

/** `nodesync.snapshot(doc)`: `{"doc", "gen", "root": {key, kind, props, version, gen, pos, children}}`. */
export interface SnapshotNode {
  key: string;
  kind: string;
  props: Record<string, unknown>;
  version: number;
  gen: number;
  pos: string | null;
  children: SnapshotNode[];
}
export interface Snapshot {
  doc: string;
  gen: number;
  root: SnapshotNode;
}

/** One node row of `diff_since`. */
export interface DiffNode {
  key: string;
  parent: string | null;
  pos: string | null;
  kind: string;
  props: Record<string, unknown>;
  version: number;
  gen: number;
}
/** `nodesync.diff_since(doc, since)`. */
export interface DiffResult {
  doc: string;
  from: number;
  to: number;
  reset: boolean;
  nodes: DiffNode[];
  deleted: string[];
}

/** One row of `nodesync.changes_since(doc, since)`. */
export interface Change {
  gen: number;
  client: string | null;
  seq: number | null;
  patch: PatchJson;
}

/** A patch as sent to `apply_patch` (SPEC §2). */
export interface PatchJson {
  base?: number;
  ops: Record<string, unknown>[];
}

/** `apply_patch`'s answer. */
export interface Applied {
  gen: number;
  versions: Record<string, number | null>;
  duplicate: boolean;
}

/** `{"doc", "gen"}`: the payload of `NOTIFY nodesync` (SPEC §3). */
export interface Notification {
  doc: string;
  gen: number;
}

/**
 * What a replica needs from the server. Every method rejects with a `NodesyncError`
 * (`ConflictError` for a refused patch, `HorizonError` for 55000, `DbError` for another
 * SQLSTATE, `TransportError` when no answer came: the outcome of an `applyPatch` is then
 * unknown until it is resent with the same seq).
 */
export interface Transport {
  /** `create_doc(doc, rootKind)`; false (no error) if the document exists. */
  ensureDoc(doc: string, rootKind?: string): Promise<boolean>;
  /** `snapshot(doc [, atGen])`. */
  snapshot(doc: string, atGen?: number): Promise<Snapshot>;
  /** `apply_patch(doc, patch, client, seq)`; a conflict (40001) rejects with `ConflictError`. */
  applyPatch(doc: string, patch: PatchJson, client: string, seq: number): Promise<Applied>;
  /** `diff_since(doc, since)`. */
  diffSince(doc: string, since: number): Promise<DiffResult>;
  /** `changes_since(doc, since)` with `gen <= upto`, oldest first; `HorizonError` below the horizon. */
  changesSince(doc: string, since: number, upto?: number): Promise<Change[]>;
  /**
   * Calls `fn` for every commit of `doc` (`NOTIFY nodesync`) until the returned function is
   * called. After a reconnect `fn` is called with the gen the transport last knew (or 0), so a
   * replica pulls what it missed while disconnected.
   */
  subscribe(doc: string, fn: (n: Notification) => void): Promise<() => Promise<void>>;
  /** Releases connections / the socket. */
  close(): Promise<void>;
}
