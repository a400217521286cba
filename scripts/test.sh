#!/usr/bin/env bash
# Every test layer, in order. Prints one line per layer and a final "layers: N passed, M failed".
#   1. core      pure-Rust unit and property tests (no Postgres)
#   2. pgtest    #[pg_test]s (cargo pgrx test, its own throwaway instance)
#   3. regress   pg_regress golden files (tests/pg_regress) against the private cluster
#      isolation PostgreSQL's isolation tester: lock-order specs (tests/isolation)
#   4. conformance ../shared/conformance/run.sh against the private cluster (skipped, with the
#                reason, in a clone that has no ../shared/)
#   5. sessions  the extension through real client sessions (tests/ crate), upgrades from 0.1.0
#                included
#   6. standby   a primary and a pg_basebackup -R hot standby on loopback (scripts/standby.sh)
#   7. client    the client library (client/ crate): rebase rules, text transform, typists,
#                the trace replay, against the private cluster
#   8. js        the TypeScript client (js/client): unit tests, the shared vectors
#                (tests/vectors/), PgTransport and Replica against the private cluster, the
#                TypeScript typists and the mixed Rust/TypeScript typist run
#   9. relay     the WebSocket relay (js/relay) on its own cluster (it restarts it mid-run)
#  10. prosemirror  the ProseMirror binding (js/prosemirror) on its own cluster
#  11. browser   the editor in headless Chromium (js/web, playwright-core): two pages typing into
#                one paragraph, Enter, bold, delete, reload, relay restart; its own stack
#  12. reliability  bounded crash-safety, fuzzing and soak runs (scripts/reliability.sh)
# ONLY="core sessions" runs a subset.
# The private cluster (scripts/cluster.sh) is started here and stopped on exit.
# A layer whose command exits 77 is reported as skipped (it printed why).
set -uo pipefail
export PATH="$HOME/.cargo/bin:$PATH"
cd "$(dirname "$0")/.."
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
export NODESYNC_PORT=${NODESYNC_PORT:-55433}
export NODESYNC_PGDIR=${NODESYNC_PGDIR:-/tmp/nodesync-test-$NODESYNC_PORT}
# logical: tests/tests/push_message.rs reads nodesync.push's messages from a logical slot
export NODESYNC_WAL_LEVEL=${NODESYNC_WAL_LEVEL:-logical}
LAYERS=${ONLY:-}; unset ONLY   # (scripts/reliability.sh reads its own ONLY)
passed=0; failed=0; skipped=0; failures=(); tests_ok=0; tests_bad=0; summary=()
LOGDIR=$(mktemp -d /tmp/nodesync-test-logs.XXXXXX)
# counts "N passed/failed" in a layer's output: cargo test, pg_regress, conformance, reliability
count() {  # count LOGFILE -> "ok bad"
  awk '
    /^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) ok += $(i-1); if ($(i) ~ /^failed;?$/) bad += $(i-1) } next }
    /^ *All [0-9]+ tests passed/ { ok += $2; next }
    /^ *[0-9]+ of [0-9]+ tests failed/ { bad += $1; ok += $3 - $1; next }
    /^# pass [0-9]+$/ { ok += $3; next }
    /^# fail [0-9]+$/ { bad += $3; next }
    /^([a-z-]+: )?[0-9]+ passed, [0-9]+ failed/ { n = split($0, w, " "); for (i = 1; i <= n; i++) { if (w[i] ~ /^passed,?$/) ok += w[i-1]; if (w[i] ~ /^failed,?$/) bad += w[i-1] } }
    END { print ok + 0, bad + 0 }' "$1"
}
layer() {  # layer NAME COMMAND...
  local name=$1; shift
  if [ -n "$LAYERS" ] && [[ " $LAYERS " != *" $name "* ]]; then return 0; fi
  echo "==> $name: $*"
  local t0=$SECONDS log="$LOGDIR/$name.log" rc
  "$@" 2>&1 | tee "$log"; rc=${PIPESTATUS[0]}
  read -r ok bad < <(count "$log")
  if [ "$rc" -eq 77 ]; then
    skipped=$((skipped+1)); echo "<== $name: skipped ($((SECONDS-t0))s)"
    summary+=("$(printf '%-12s %-6s %s' "$name" skip "$(grep -m1 'skipped:' "$log" | sed 's/.*skipped: *//')")")
    return 0
  fi
  tests_ok=$((tests_ok+ok)); tests_bad=$((tests_bad+bad))
  if [ "$rc" -eq 0 ]; then passed=$((passed+1)); echo "<== $name: ok, $ok tests ($((SECONDS-t0))s)"
  else failed=$((failed+1)); failures+=("$name"); [ "$bad" -eq 0 ] && tests_bad=$((tests_bad+1))
       echo "<== $name: FAILED ($((SECONDS-t0))s)"; fi
  summary+=("$(printf '%-12s %-6s %6s passed %4s failed %5ss' "$name" "$([ "$rc" -eq 0 ] && echo ok || echo FAIL)" "$ok" "$bad" "$((SECONDS-t0))")")
}
cleanup() { scripts/cluster.sh stop || true; }
trap cleanup EXIT

pgtest() {
  local dir=/tmp/nodesync-pgrx-test
  if [ "$(id -u)" = 0 ]; then
    rm -rf "$dir"; install -d -o postgres -g postgres "$dir"
    cargo pgrx test pg$PG_MAJOR --runas postgres --pgdata "$dir"
  else
    cargo pgrx test pg$PG_MAJOR
  fi
}
install_ext() { bash scripts/install.sh --debug >/dev/null; }
conformance() {
  local suite=../shared/conformance/run.sh
  if [ ! -f "$suite" ]; then
    # a clone outside the workspace: the acceptance suite of SPEC.md is not part of this repository
    echo "conformance: skipped: $suite not found (the SPEC.md acceptance suite lives beside the repository, in ../shared/)"
    return 77
  fi
  eval "$(scripts/cluster.sh env)"; bash "$suite"
}
session_tests() { eval "$(scripts/cluster.sh env)"; cargo test -p pg_nodesync_tests -- --test-threads=1; }

layer core cargo test -p nodesync_core -p nodesync_testkit
layer pgtest pgtest
if [ -z "$LAYERS" ] || [[ " $LAYERS " == *" regress "* || " $LAYERS " == *" isolation "* || " $LAYERS " == *" conformance "* || " $LAYERS " == *" sessions "* || " $LAYERS " == *" client "* || " $LAYERS " == *" standby "* || " $LAYERS " == *" js "* || " $LAYERS " == *" relay "* || " $LAYERS " == *" prosemirror "* || " $LAYERS " == *" browser "* ]]; then
  install_ext && scripts/cluster.sh start || { echo "cannot install the extension or start the cluster"; exit 1; }
fi
layer regress scripts/regress.sh
layer isolation scripts/isolation.sh
layer conformance conformance
layer sessions session_tests
# its own primary + hot standby pair (ports 55491/55492), started and stopped by the script
layer standby scripts/standby.sh
client_lib() { eval "$(scripts/cluster.sh env)"; cargo test -p pg_nodesync_client -- --test-threads=1; }
layer client client_lib
# the TypeScript packages (node's test runner); the client's tests use the private cluster
js_client() {
  eval "$(scripts/cluster.sh env)"; export NODESYNC_JS_PGHOST=$PGHOST NODESYNC_JS_PGPORT=$PGPORT
  (cd js && npm run -s build && npm test -s -w client)
}
js_relay() { (cd js && npm run -s build && npm test -s -w relay); }
js_prosemirror() { (cd js && npm run -s build && npm test -s -w prosemirror); }
js_browser() { (cd js && npm run -s build && npm test -s -w web); }
layer js js_client
layer relay js_relay
layer prosemirror js_prosemirror
layer browser js_browser
# bounded crash-safety and hostile-input runs (their long versions: make soak)
[ -x scripts/reliability.sh ] && layer reliability scripts/reliability.sh

echo
echo "layer        result  tests"
printf '%s\n' "${summary[@]}"
[ ${#failures[@]} -gt 0 ] && echo "failed layers: ${failures[*]}"
echo "layers: $passed passed, $failed failed$([ "$skipped" -gt 0 ] && echo ", $skipped skipped")"
echo "tests: $tests_ok passed, $tests_bad failed"
[ "$failed" -eq 0 ]
