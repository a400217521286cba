// Mirrors client/src/blocks.rs: text edits as ops on *blocks* (a string property of a node), and
// their transform: the text-aware half of the rebase. Pure code, no I/O.
//
// A `BOp` is a `text` splice list (as a `TextOp`), a `split`, a `join` (docs/api/apply_patch.md,
// the text ops), or, on the server's side only, "these nodes are gone" and "this property is no
// longer text". Each op carries the lengths of the texts it was made on, so transforms need no
// document.
//
// `transform(server, local)` rebases the local ops over the server's (the usual OT grid: every
// local op over every server op, in order). The server's side wins ties. The rules are those
// of the Rust module (see its docs): text/text by `ot.transform`, the server's text first at
// equal offsets; a server split moves the local edits after the split point into the new
// block; a local split moves with the text before it; joins carry the edits of `next` into
// `key`, shifted by `key`'s length; a server delete drops local edits of the block
// (`Lost` "deleted"); a server non-string value drops local text edits of that property
// (`Lost` "non-text"); a caret maps like a local insert of nothing at its offset.
//
// BOps are treated as immutable values: nothing here mutates an op it was given (Rust clones).
// Every count is in code points. Where Rust iterates a BTreeMap/BTreeSet, this iterates in
// `cmpKeys` order (SortedMap/SortedSet).
//
// This module is the `blocks` namespace of the package (index.ts): the ops (blocks/bop.ts),
// their transform (blocks/transform.ts), their application to a tree (blocks/apply.ts) and
// the server's side (blocks/server.ts).

export { type BOp, type BOpCaret, type BOpGone, type BOpJoin, type BOpSplit, type BOpText, type Lost, bopEqual, bopKey, bopToString, touches } from "./blocks/bop.js";
export { mapCaretThrough, transform } from "./blocks/transform.js";
export { type Flags, type FlagsArg, type Unfit, UnfitError, apply, newFlags, textOf, tryApply } from "./blocks/apply.js";
export { type Replayed, ReplayError, agrees, diffOps, replay, tryReplay } from "./blocks/server.js";
