// Typed errors of the client. Every rejection of a replica or transport is a NodesyncError.

/** Base class: `code` is the SQLSTATE when the server answered with one. */
export class NodesyncError extends Error {
  readonly code: string | undefined;
  constructor(message: string, code?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "NodesyncError";
    this.code = code;
  }
}

/** One entry of a 40001 DETAIL (SPEC §4). */
export interface ConflictEntry {
  op: number;
  key: string;
  reason: string;
  expected?: number | null;
  actual?: number | null;
}

/** `apply_patch` refused the patch (40001): nothing changed. `gen` is the server's gen then. */
export class ConflictError extends NodesyncError {
  readonly gen: number | undefined;
  readonly conflicts: ConflictEntry[];
  constructor(message: string, gen: number | undefined, conflicts: ConflictEntry[]) {
    super(message, "40001");
    this.name = "ConflictError";
    this.gen = gen;
    this.conflicts = conflicts;
  }
}

/** History below the horizon was asked for (55000). */
export class HorizonError extends NodesyncError {
  constructor(message: string) {
    super(message, "55000");
    this.name = "HorizonError";
  }
}

/** Any other error the server answered with (invalid patch 22023, unknown document 42704, access 42501...). */
export class DbError extends NodesyncError {
  readonly detail: string | undefined;
  constructor(message: string, code: string | undefined, detail?: string) {
    super(message, code);
    this.name = "DbError";
    this.detail = detail;
  }
}

/** No answer (connection lost, socket closed, timeout): an applyPatch may or may not have committed. */
export class TransportError extends NodesyncError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, undefined, options);
    this.name = "TransportError";
  }
}

/** A push kept conflicting for `attempts` sends. */
export class ContentionError extends NodesyncError {
  readonly attempts: number;
  readonly conflicts: unknown;
  constructor(attempts: number, conflicts: unknown) {
    super(`contention did not clear after ${attempts} attempts`, "40001");
    this.name = "ContentionError";
    this.attempts = attempts;
    this.conflicts = conflicts;
  }
}

/** A local edit that cannot be made (the local tree is unchanged); `kind` as in the Rust client's EditError. */
export type EditErrorKind = "NoSuchNode" | "Root" | "BadAnchor" | "Cycle" | "KeyExists" | "NotText" | "OutOfRange" | "NotAdjacent";
export class EditError extends NodesyncError {
  readonly kind: EditErrorKind;
  constructor(kind: EditErrorKind, message: string) {
    super(message);
    this.name = "EditError";
    this.kind = kind;
  }
}

/** The server answered something this client does not understand. */
export class ProtocolError extends NodesyncError {
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

/** The replica was closed or the operation was aborted by its AbortSignal. */
export class ClosedError extends NodesyncError {
  constructor(message = "the replica is closed") {
    super(message);
    this.name = "ClosedError";
  }
}
