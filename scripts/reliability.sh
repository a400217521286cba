#!/usr/bin/env bash
# Reliability checks (docs/reliability.md): crash safety, hostile input, soak.
#   scripts/reliability.sh          bounded run for CI (about 3-4 minutes)
#   SOAK=1 scripts/reliability.sh   long run (make soak)
#   ONLY="crash fuzz-rust fuzz-sql soak"  subset; RELIABILITY_SEED=n  other seed
# Uses its OWN clusters (ports 55480 for crash tests, 55481 for the rest), stopped on exit:
# the crash test SIGKILLs its postmaster. Expects the extension to be installed
# (scripts/test.sh installs it; or: cargo pgrx install --pg-config .../pg_config).
# Last line: "reliability: N passed, M failed"; exit status non-zero on any failure.
set -uo pipefail
export PATH="$HOME/.cargo/bin:$PATH"
cd "$(dirname "$0")/.."
ROOT=$PWD
SOAK=${SOAK:-}
ONLY=${ONLY:-}
SEED=${RELIABILITY_SEED:-20261121}
CRASH_PORT=${RELIABILITY_CRASH_PORT:-55480}
MAIN_PORT=${RELIABILITY_PORT:-55481}
CRASH_DIR=/tmp/nodesync-rel-$CRASH_PORT
MAIN_DIR=/tmp/nodesync-rel-$MAIN_PORT
OUT=${RELIABILITY_OUT:-/tmp/nodesync-reliability-out}
if [ -n "$SOAK" ]; then
  KILLS=12; FUZZ_SQL=100000; FUZZ_RUST=500000; SOAK_CLIENTS=16; SOAK_PATCHES=10000
else
  KILLS=3; FUZZ_SQL=5000; FUZZ_RUST=40000; SOAK_CLIENTS=16; SOAK_PATCHES=150
fi
KILLS=${RELIABILITY_KILLS:-$KILLS}; FUZZ_SQL=${RELIABILITY_FUZZ_SQL:-$FUZZ_SQL}
FUZZ_RUST=${RELIABILITY_FUZZ_RUST:-$FUZZ_RUST}; SOAK_PATCHES=${RELIABILITY_SOAK_PATCHES:-$SOAK_PATCHES}

cluster() { NODESYNC_PORT=$1 NODESYNC_PGDIR=$2 bash scripts/cluster.sh "$3"; }
cleanup() {
  cluster "$CRASH_PORT" "$CRASH_DIR" stop >/dev/null 2>&1 || true
  cluster "$MAIN_PORT" "$MAIN_DIR" stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

T0=$SECONDS
echo "reliability: ${SOAK:+SOAK }run, seed $SEED, out $OUT"
rm -rf "$OUT"; mkdir -p "$OUT"
cargo build -q -p pg_nodesync_reliability || { echo "reliability: 0 passed, 1 failed"; exit 1; }
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/pg_nodesync_reliability

passed=0; failed=0
run() {  # run NAME FRESH PORT DIR ARGS...: one part; FRESH=1 recreates its cluster, 0 reuses it
  local name=$1 fresh=$2 port=$3 dir=$4; shift 4
  if [ -n "$ONLY" ] && [[ " $ONLY " != *" $name "* ]]; then return 0; fi
  echo "==> $name"
  local t=$SECONDS
  if [ -n "$port" ]; then
    if [ "$fresh" = 1 ]; then cluster "$port" "$dir" stop >/dev/null 2>&1 || true; rm -rf "$dir"; fi
    NODESYNC_FSYNC=${FSYNC:-on} cluster "$port" "$dir" start \
      || { echo "CHECK FAIL $name-cluster: cannot start a cluster on port $port" | tee "$OUT/$name.log"; failed=$((failed+1)); return; }
  fi
  PGHOST=$dir PGPORT=$port PGUSER=postgres "$BIN" "$@" --seed "$SEED" --out "$OUT" 2>"$OUT/$name.stderr" | tee "$OUT/$name.log"
  local p f
  p=$(grep -c '^CHECK ok' "$OUT/$name.log"); f=$(grep -c '^CHECK FAIL' "$OUT/$name.log")
  if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
    f=1; echo "CHECK FAIL $name: produced no result (see $OUT/$name.stderr)" | tee -a "$OUT/$name.log"; tail -5 "$OUT/$name.stderr"
  fi
  passed=$((passed+p)); failed=$((failed+f))
  echo "<== $name: $p passed, $f failed ($((SECONDS-t))s)"
  echo "FIGURE ${name//-/_}_runtime_secs=$((SECONDS-t))" >>"$OUT/$name.log"
}

# 1. crash safety: fsync on, 8 writers on 2 documents, SIGKILL of postmaster/backend, recovery
FSYNC=on run crash 1 "$CRASH_PORT" "$CRASH_DIR" crash --writers 8 --docs 2 --kills "$KILLS" \
  --pgdir "$CRASH_DIR" --port "$CRASH_PORT" --cluster-script "$ROOT/scripts/cluster.sh"
cluster "$CRASH_PORT" "$CRASH_DIR" stop >/dev/null 2>&1 || true
# 2a. hostile input, pure Rust (no server)
run fuzz-rust 0 "" "" rustfuzz --n "$FUZZ_RUST"
# 2b. hostile input over SQL; 3. soak on the same cluster (own database). fsync off: no OS
# crash is simulated in these parts.
FSYNC=off run fuzz-sql 1 "$MAIN_PORT" "$MAIN_DIR" sqlfuzz --n "$FUZZ_SQL" --log "$MAIN_DIR/server.log"
FSYNC=off run soak 0 "$MAIN_PORT" "$MAIN_DIR" soak --clients "$SOAK_CLIENTS" --patches "$SOAK_PATCHES"

echo
echo "---- reliability summary (${SOAK:+SOAK}${SOAK:-bounded} run, $((SECONDS-T0))s) ----"
grep -h '^CHECK' "$OUT"/*.log | sed 's/^CHECK /  /' | cut -c1-400
grep -h '^KNOWN-BUG' "$OUT"/*.log | sed 's/^/  /' | cut -c1-400
grep -h '^FIGURE' "$OUT"/*.log | sed 's/^FIGURE /  /'
echo "reliability: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
