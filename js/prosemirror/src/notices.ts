// What the binding tells the user when a rebase dropped local edits: a Notice, its sentence
// made of one sentence per rule (`ruleMessage`).

import type { Dropped } from "@pg-nodesync/client";

export interface Notice {
  /** A short sentence for the user. */
  message: string;
  /** What the replica reported. */
  dropped: Dropped[];
  /** Date.now() */
  at: number;
}

/** The sentence for one dropped edit. */
export function ruleMessage(d: Dropped): string {
  switch (d.rule.name) {
    case "edit-of-deleted":
      return "Your edit was dropped: someone else deleted that block.";
    case "create-under-deleted":
    case "move-under-deleted":
      return "Your edit was dropped: someone else deleted the block it went into.";
    case "delete-kept-typing":
      return "A block you deleted was kept: someone else typed into it.";
    case "deleted-with-subtree":
    case "joined-into-deleted":
      return "Your typing went with a block someone else deleted.";
    case "join-separated":
      return "Your join was not made: someone moved the blocks apart.";
    case "move-cycle":
      return "Your move was dropped: it would have put a block inside itself.";
    case "kind-conflict":
      return "Someone else changed the type of a block you changed; theirs was kept.";
    case "prop-conflict":
      return "Someone else changed the same setting of a block; theirs was kept.";
    default:
      return `Your edit of a block was dropped (${d.rule.name}).`;
  }
}
