#!/usr/bin/env bash
# Every test layer, in order. Prints one line per layer and a final "layers: N passed, M failed".
#   1. core      pure-Rust unit and property tests (no Postgres)
#   2. pgtest    #[pg_test]s (cargo pgrx test, its own throwaway instance)
#   3. regress   pg_regress golden files (tests/pg_regress) against the private cluster
#   4. conformance ../shared/conformance/run.sh against the private cluster
#   5. client    external-client tests: real sessions (tests/ crate)
# The private cluster (scripts/cluster.sh) is started here and stopped on exit.
set -uo pipefail
export PATH="$HOME/.cargo/bin:$PATH"
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
export NODESYNC_PORT=${NODESYNC_PORT:-55433}
export NODESYNC_PGDIR=${NODESYNC_PGDIR:-/tmp/nodesync-test-$NODESYNC_PORT}
ONLY=${ONLY:-}
passed=0; failed=0; failures=()
layer() {  # layer NAME COMMAND...
  local name=$1; shift
  if [ -n "$ONLY" ] && [[ " $ONLY " != *" $name "* ]]; then return 0; fi
  echo "==> $name: $*"
  local t0=$SECONDS
  if "$@"; then passed=$((passed+1)); echo "<== $name: ok ($((SECONDS-t0))s)"
  else failed=$((failed+1)); failures+=("$name"); echo "<== $name: FAILED ($((SECONDS-t0))s)"; fi
}
cleanup() { scripts/cluster.sh stop || true; }
trap cleanup EXIT

pgtest() {
  local dir=/tmp/nodesync-pgrx-test
  if [ "$(id -u)" = 0 ]; then
    rm -rf "$dir"; install -d -o postgres -g postgres "$dir"
    cargo pgrx test pg15 --runas postgres --pgdata "$dir"
  else
    cargo pgrx test pg15
  fi
}
install_ext() { cargo pgrx install --pg-config "$PG_CONFIG" >/dev/null; }
conformance() { eval "$(scripts/cluster.sh env)"; bash ../shared/conformance/run.sh; }
client_tests() { eval "$(scripts/cluster.sh env)"; cargo test -p pg_nodesync_tests -- --test-threads=1; }

layer core cargo test -p nodesync_core
layer pgtest pgtest
if [ -z "$ONLY" ] || [[ " $ONLY " == *" regress "* || " $ONLY " == *" conformance "* || " $ONLY " == *" client "* ]]; then
  install_ext && scripts/cluster.sh start || { echo "cannot install the extension or start the cluster"; exit 1; }
fi
layer regress scripts/regress.sh
layer conformance conformance
layer client client_tests
client_lib() { eval "$(scripts/cluster.sh env)"; cargo test -p pg_nodesync_client -- --test-threads=1; }
layer client-lib client_lib
# bounded crash-safety and hostile-input runs (their long versions: make soak)
[ -x scripts/reliability.sh ] && layer reliability scripts/reliability.sh

echo
[ ${#failures[@]} -gt 0 ] && echo "failed layers: ${failures[*]}"
echo "layers: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
