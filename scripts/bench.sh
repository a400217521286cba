#!/usr/bin/env bash
# make bench: pg_nodesync against same-run plain-SQL baselines (docs/performance.md).
#   scripts/bench.sh                 full run (about 19 minutes on 2 cores)
#   BENCH_QUICK=1 scripts/bench.sh   smaller sizes and shorter rounds (about 4.5 minutes)
#   BENCH_ARGS=trace scripts/bench.sh  only workload 7, the real keystroke trace (text ops vs
#                                      whole-value updates vs the floor vs text ops through the
#                                      Rust Replica); BENCH_ARGS="trace quick": 20k edits;
#                                      BENCH_TRACE_EDITS=N: the first N edits;
#                                      BENCH_TRACE_REPLICA_EDITS=N: the Replica's replay stops
#                                      after N (default: it replays the same edits)
#   BENCH_ARGS=scaling scripts/bench.sh  only workloads 8 and 9 (commits/s across documents with
#                                      and without NOTIFY; an ordinary role under RLS) and the
#                                      push latency; with BENCH_QUICK=1 about 1.5 minutes
# After a full run and after `scaling`, the cluster is restarted with wal_level=logical and
# `pg_nodesync_bench push` measures NOTIFY against a logical replication slot (BENCH_PUSH=0: no).
# Results: target/bench/ (results.txt, results.json, one *.svg per figure, output.txt).
# A MISS is reported, never an error: the exit status is non-zero only if the benchmark
# itself could not run.
#
# Isolation: the extension is built with the release profile (`cargo pgrx package`, the same
# build `cargo pgrx install --release` makes) and installed into a private copy of the
# PostgreSQL 15 tree (BENCH_PGROOT), not into /usr: tests elsewhere on the machine install
# debug builds over the system copy at any time, which would both change what is measured and
# crash backends that have the library mapped (SIGBUS/SIGSEGV on the overwritten file). The
# copy is relocatable: its postgres finds $libdir and the extension directory inside it.
# The private cluster (own data dir, port 55450 by default) is recreated each run.
set -euo pipefail
export PATH="$HOME/.cargo/bin:$PATH"
cd "$(dirname "$0")/.."
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
export NODESYNC_PORT=${NODESYNC_PORT:-55450}
export NODESYNC_PGDIR=${NODESYNC_PGDIR:-/tmp/nodesync-bench-$NODESYNC_PORT}
export NODESYNC_FSYNC=${NODESYNC_FSYNC:-on}
ROOT=${BENCH_PGROOT:-/tmp/nodesync-bench-pgroot}
t0=$SECONDS

bindir=$("$PG_CONFIG" --bindir)     # /usr/lib/postgresql/15/bin
sharedir=$("$PG_CONFIG" --sharedir) # /usr/share/postgresql/15
pkglibdir=$("$PG_CONFIG" --pkglibdir)
pkg=target/bench/pkg
if [ -z "${BENCH_NO_BUILD:-}" ]; then
  echo "bench: building the extension (release profile) with cargo pgrx package"
  rm -rf "$pkg"
  cargo pgrx package --pg-config "$PG_CONFIG" --out-dir "$pkg" >/dev/null
fi
echo "bench: private PostgreSQL tree in $ROOT"
scripts/cluster.sh stop >/dev/null 2>&1 || true
rm -rf "$ROOT"
mkdir -p "$ROOT$(dirname "$bindir")" "$ROOT$(dirname "$sharedir")"
cp -a "$(dirname "$bindir")" "$ROOT$(dirname "$(dirname "$bindir")")/"
cp -a "$sharedir" "$ROOT$(dirname "$sharedir")/"
cp "$pkg$pkglibdir"/pg_nodesync.so "$ROOT$pkglibdir/"
cp "$pkg$sharedir"/extension/pg_nodesync* "$ROOT$sharedir/extension/"
export PGBIN="$ROOT$bindir"
[ "$("$PGBIN/pg_config" --pkglibdir)" = "$ROOT$pkglibdir" ] || { echo "bench: the PostgreSQL copy is not relocatable" >&2; exit 1; }

cargo build --release -p pg_nodesync_bench

rm -rf "$NODESYNC_PGDIR"
scripts/cluster.sh start
if [ -z "${BENCH_KEEP_CLUSTER:-}" ]; then
  trap 'scripts/cluster.sh stop || true' EXIT
fi
eval "$(scripts/cluster.sh env)"

export BENCH_SOURCE="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src core sql Cargo.toml || echo ' (+ uncommitted changes in src/core/sql)')"
bench_bin="${CARGO_TARGET_DIR:-target}"/release/pg_nodesync_bench
# shellcheck disable=SC2086
"$bench_bin" ${BENCH_ARGS:-} 2>&1 | tee target/bench/output.txt
case "${BENCH_ARGS:-}" in
  "" | scaling) push=${BENCH_PUSH:-1} ;;
  *) push=0 ;;
esac
if [ "$push" != 0 ]; then
  echo "bench: restarting the cluster with wal_level=logical for the push latency"
  scripts/cluster.sh stop
  NODESYNC_WAL_LEVEL=logical scripts/cluster.sh start
  "$bench_bin" push 2>&1 | tee -a target/bench/output.txt
fi
echo "bench: done in $((SECONDS - t0))s; results in ${BENCH_OUT:-target/bench}/"
