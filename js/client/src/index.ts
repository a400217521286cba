// @pg-nodesync/client: replicas of a Postgres-hosted document tree (pg_nodesync) that edit
// locally, push patches, rebase on conflict (text merged character by character) and converge.
//
// This entry point has no Node-only dependency (it runs in browsers with RelayTransport); the
// node-postgres transport is `@pg-nodesync/client/pg` (PgTransport).

export const VERSION = "0.2.0";

// the replica
export { Replica } from "./replica.js";
export type {
  CallOptions,
  ChangeKind,
  Changes,
  ConflictEvent,
  PlaceArg,
  Pushed,
  Recovery,
  ReplicaEvents,
  ReplicaOptions,
  ReplicaStats,
} from "./replica/types.js";
export { MemoryJournal } from "./journal.js";
export type { Journal, JournalEntry } from "./journal.js";

// errors
export {
  ClosedError,
  ConflictError,
  ContentionError,
  DbError,
  EditError,
  HorizonError,
  NodesyncError,
  ProtocolError,
  TransportError,
} from "./errors.js";
export type { ConflictEntry, EditErrorKind } from "./errors.js";

// transports
export type { Applied, Change, DiffNode as DiffRow, DiffResult, Notification, PatchJson, Snapshot, SnapshotNode, Transport } from "./transport/types.js";
export { RelayTransport, RELAY_PROTOCOL, relayError } from "./transport/relay.js";
export type { RelayState, RelayTransportOptions, RelayTransportStats, WebSocketConstructor, WebSocketLike } from "./transport/relay.js";

// the pure half: the workspace, trees, patches, the rebase rules
export { Workspace } from "./workspace.js";
export type { Cursor, Log } from "./workspace.js";
export { Diff, Node, Tree, TreeError } from "./tree.js";
export type { DiffNode, FlatEntry } from "./tree.js";
export { DEFAULT_LIMITS, LOG_LIMITS, MAX_NAME_BYTES, Place, ROOT, PatchError, parsePatch, patchToJson } from "./patch.js";
export type { Limits, Op, Patch } from "./patch.js";
export { isWarning, mergeText, rebase, makePatch, ruleName } from "./rebase.js";
export type { Dropped, Policy, Rule, RuleName } from "./rebase.js";
export { cpLen } from "./text.js";
export * as blocks from "./blocks.js";
export * as ot from "./ot.js";
export * as text from "./text.js";
