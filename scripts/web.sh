#!/usr/bin/env bash
# make web: the collaborative editor in the browser (ProseMirror on pg_nodesync).
#   builds and installs the extension (release build by default), builds the JS packages and
#   bundles the page (esbuild), starts a private cluster, a database with a demo role and a
#   document, the relay (calls run as the demo role) and a page server, all on 127.0.0.1, and
#   prints the URL: open it in two tabs. Ctrl-C stops everything (the cluster too).
#
# Settings (environment):
#   NODESYNC_WEB_BUILD=release|debug|skip   how to build the extension (skip: it is installed)
#   NODESYNC_WEB_PORT=8780        the page (0 = any free port)
#   NODESYNC_WEB_RELAY_PORT=8781  the relay (0 = any free port)
#   NODESYNC_WEB_PG_PORT=55490    the private cluster (data and socket in /tmp/nodesync-web-<port>)
#   NODESYNC_WEB_DOC=demo         the document the page opens (?doc=<id> opens another)
#   NODESYNC_WEB_FRESH=1          start from an empty database
set -euo pipefail
export PATH="$HOME/.cargo/bin:$PATH"
cd "$(dirname "$0")/.."
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

case "${NODESYNC_WEB_BUILD:-release}" in
  release) say "build: the extension (release)"; bash scripts/install.sh ;;
  debug) say "build: the extension (debug)"; bash scripts/install.sh --debug ;;
  skip) ;;
  *) echo "NODESYNC_WEB_BUILD must be release, debug or skip" >&2; exit 2 ;;
esac

say "build: the JS packages and the page"
command -v node >/dev/null || { echo "web: node is missing (make setup installs it)" >&2; exit 1; }
cd js
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npx tsc -b client relay prosemirror web
node web/dist/src/bundle.js

say "start: cluster, relay and page server"
# exec: Ctrl-C reaches node, which stops the relay, the page server and the cluster
exec node web/dist/src/cli.js
