// A private Postgres cluster for these tests (scripts/cluster.sh on port 55480, data and socket
// in /tmp/nodesync-web-55480) and a fresh database with the extension (@pg-nodesync/testkit).
// NODESYNC_PM_PGHOST (and NODESYNC_PM_PGPORT) use a running cluster instead.
import * as testkit from "@pg-nodesync/testkit";

export { freshDb, stopCluster, type Cluster } from "@pg-nodesync/testkit";

const PORT = 55480;

export function startCluster(): Promise<testkit.Cluster> {
  return testkit.startCluster({ port: PORT, dir: `/tmp/nodesync-web-${PORT}`, envHost: "NODESYNC_PM_PGHOST" });
}
