#!/usr/bin/env node
// `make web` (scripts/web.sh runs this after the builds): the stack of stack.ts, its URL printed,
// Ctrl-C (or SIGTERM) stops the relay, the page server and the cluster.
//   NODESYNC_WEB_PG_PORT (55490), NODESYNC_WEB_PORT (8780), NODESYNC_WEB_RELAY_PORT (8781),
//   NODESYNC_WEB_DOC (demo), NODESYNC_WEB_FRESH=1 (drop the demo database first)
import { startStack } from "./stack.js";

const env = process.env;
const num = (v: string | undefined, d: number) => (v === undefined || v === "" ? d : Number(v));
const stack = await startStack({
  pgPort: num(env["NODESYNC_WEB_PG_PORT"], 55490),
  httpPort: num(env["NODESYNC_WEB_PORT"], 8780),
  relayPort: num(env["NODESYNC_WEB_RELAY_PORT"], 8781),
  doc: env["NODESYNC_WEB_DOC"] || "demo",
  fresh: env["NODESYNC_WEB_FRESH"] === "1",
  log: (l) => process.stderr.write(`${l}\n`),
});
process.stdout.write(`\npg_nodesync web demo: ${stack.url}\n  open it in two tabs (or ${stack.url}?doc=another for another document); Ctrl-C stops everything\n  relay ${stack.relayUrl}, database ${stack.database}\n\n`);
let stopping = false;
const stop = (sig: string) => {
  if (stopping) process.exit(130);
  stopping = true;
  process.stderr.write(`\n${sig}: stopping the relay, the page server and the cluster\n`);
  stack.stop().then(
    () => process.exit(sig === "SIGINT" ? 130 : 0),
    (e) => {
      process.stderr.write(`stop failed: ${(e as Error).message}\n`);
      process.exit(1);
    },
  );
};
process.on("SIGINT", () => stop("SIGINT"));
process.on("SIGTERM", () => stop("SIGTERM"));
