// A replica's event listeners (ReplicaEvents: "change", "conflict", "dropped", "commit",
// "error"), called in the order they were added; one that throws does not stop the others,
// nor the replica.

import type { ReplicaEvents } from "./types.js";

type Sets = { [K in keyof ReplicaEvents]: Set<ReplicaEvents[K]> };

export class Listeners {
  private readonly sets: Sets = { change: new Set(), conflict: new Set(), dropped: new Set(), commit: new Set(), error: new Set() };

  add<K extends keyof ReplicaEvents>(event: K, fn: ReplicaEvents[K]): void {
    (this.sets[event] as Set<ReplicaEvents[K]>).add(fn);
  }

  remove<K extends keyof ReplicaEvents>(event: K, fn: ReplicaEvents[K]): void {
    (this.sets[event] as Set<ReplicaEvents[K]>).delete(fn);
  }

  emit<K extends keyof ReplicaEvents>(event: K, arg: Parameters<ReplicaEvents[K]>[0]): void {
    for (const fn of [...(this.sets[event] as Set<(a: typeof arg) => void>)]) {
      try {
        fn(arg);
      } catch {
        // a listener's exception must not break the replica
      }
    }
  }
}
