// The Postgres cluster the tests run against (the machinery is @pg-nodesync/testkit's):
//
// - NODESYNC_JS_PGHOST (and NODESYNC_JS_PGPORT, NODESYNC_JS_PGUSER) set: that cluster is used
//   as is (the lead's test script may provide one); it is neither started nor stopped here.
// - otherwise a private cluster is started with scripts/cluster.sh on port 55460, data and unix
//   socket in /tmp/nodesync-js-55460 (`listen_addresses=''`), and stopped by `stopCluster()`.
//
// Every test file works in a fresh database of its own (`freshDb`), with `CREATE EXTENSION
// pg_nodesync` (the extension is installed system-wide).
import * as testkit from "@pg-nodesync/testkit";

export { REPO, dbEnv, freshDb, sql, stopCluster, type Cluster } from "@pg-nodesync/testkit";

const PORT = 55460;

/** Starts (or finds) the cluster. */
export function startCluster(): Promise<testkit.Cluster> {
  return testkit.startCluster({ port: PORT, dir: `/tmp/nodesync-js-${PORT}`, envHost: "NODESYNC_JS_PGHOST" });
}
