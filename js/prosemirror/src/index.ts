// @pg-nodesync/prosemirror: ProseMirror on pg_nodesync (docs/prosemirror.md).
export const VERSION = "0.2.0";
export { NodesyncBinding, nodesyncKey } from "./binding.js";
export type { BindingEvents, BindingOptions, BindingStats, EditorHost, RemoteMeta } from "./binding.js";
export { HeadlessEditor } from "./headless.js";
export type { Notice } from "./notices.js";
export { schema, KINDS, MARK_NAMES, PM_MARKS, isKnownKind } from "./schema.js";
export type { KindSpec } from "./schema.js";
export { docFromTree, modelOfDoc, textOfBlock, inlineContent, findBlock, cpToPos, posToCp, propsOfBlock, ROOT } from "./mapping.js";
export type { Block, Model } from "./mapping.js";
export * as marks from "./marks.js";
export type { MarkRange, MarkJson, MarkChange } from "./marks.js";
export { syncDoc, diffEdits, sameModel } from "./sync.js";
export type { SyncHint, SyncResult, Editable } from "./sync.js";
export { reconcile } from "./remote.js";
export { StorageJournal, ForkTracker, journalKey, JOURNAL_PREFIX } from "./journal.js";
export type { StorageLike } from "./journal.js";
