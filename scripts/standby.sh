#!/usr/bin/env bash
# A primary and a streaming hot standby on loopback, both started here and stopped on exit:
# the primary is a fresh private cluster, the standby a `pg_basebackup -R` of it. Then runs the
# standby tests (tests/tests/standby.rs, client/tests/standby.rs; #[ignore]d in the plain layers) with
#   NODESYNC_PRIMARY / NODESYNC_STANDBY   libpq connection strings of the two servers.
#   scripts/standby.sh                   run the tests (pg_nodesync must be installed)
#   scripts/standby.sh -- <cmd...>       start the pair, run <cmd> instead, stop the pair
# Settings: NODESYNC_STANDBY_PORT (default 55491; the standby uses the next port),
# NODESYNC_STANDBY_FEEDBACK (hot_standby_feedback on the standby, default on, as
# docs/replicas.md recommends for standbys that serve wait_gen),
# NODESYNC_STANDBY_KEEP=1 keeps the data directories for a look afterwards.
set -uo pipefail
export PATH="$HOME/.cargo/bin:$PATH"
cd "$(dirname "$0")/.."
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
P1=${NODESYNC_STANDBY_PORT:-55491}; P2=$((P1 + 1))
DIR=/tmp/nodesync-standby-$P1
FEEDBACK=${NODESYNC_STANDBY_FEEDBACK:-on}
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
stop() {
  for d in "$DIR/standby" "$DIR/primary"; do
    [ -f "$d/PG_VERSION" ] && as_pg "$PGBIN/pg_ctl" -D "$d" -m immediate -w stop >/dev/null 2>&1
  done
  [ "${NODESYNC_STANDBY_KEEP:-0}" = 1 ] || rm -rf "$DIR"
}
fail() { echo "standby: $*" >&2; for l in "$DIR"/*.log; do [ -f "$l" ] && { echo "--- $l"; tail -15 "$l"; }; done >&2; exit 1; }
trap stop EXIT

stop   # leftovers of an interrupted run
if [ "$(id -u)" = 0 ]; then install -d -o postgres -g postgres "$DIR"; else mkdir -p "$DIR"; fi
opts="-c listen_addresses=127.0.0.1 -k $DIR -c max_connections=40 -c shared_buffers=64MB"
as_pg "$PGBIN/initdb" -D "$DIR/primary" -A trust -U postgres >"$DIR/initdb.log" 2>&1 || fail "initdb failed"
# RUST_BACKTRACE in a server's environment would put Rust backtraces into error DETAILs
as_pg env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE "$PGBIN/pg_ctl" -D "$DIR/primary" -l "$DIR/primary.log" -w -t 60 \
  -o "-p $P1 $opts -c wal_level=replica -c max_wal_senders=4" start >/dev/null || fail "the primary did not start"
# a physical copy over a loopback replication connection; -R writes primary_conninfo and standby.signal
as_pg "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$P1" -U postgres -D "$DIR/standby" -R -X stream -c fast \
  >"$DIR/basebackup.log" 2>&1 || fail "pg_basebackup failed"
as_pg env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE "$PGBIN/pg_ctl" -D "$DIR/standby" -l "$DIR/standby.log" -w -t 60 \
  -o "-p $P2 $opts -c hot_standby=on -c hot_standby_feedback=$FEEDBACK" start >/dev/null || fail "the standby did not start"
export NODESYNC_PRIMARY="host=127.0.0.1 port=$P1 user=postgres"
export NODESYNC_STANDBY="host=127.0.0.1 port=$P2 user=postgres"
for i in $(seq 1 100); do
  [ "$(psql -X -At -d "$NODESYNC_PRIMARY dbname=postgres" -c "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'" 2>/dev/null)" = 1 ] && break
  [ "$i" = 100 ] && fail "the standby does not stream"
  sleep 0.1
done
in_recovery=$(psql -X -At -d "$NODESYNC_STANDBY dbname=postgres" -c "SELECT pg_is_in_recovery()")
[ "$in_recovery" = t ] || fail "the standby is not in recovery"
echo "standby: primary 127.0.0.1:$P1, hot standby 127.0.0.1:$P2 (pg_basebackup -R, streaming, hot_standby_feedback=$FEEDBACK)"

if [ "${1:-}" = "--" ]; then shift; "$@"; exit $?; fi
cargo test -p pg_nodesync_tests --test standby -- --ignored --test-threads=1 --nocapture; rc=$?
# the Rust client's read-from-the-standby, write-to-the-primary mode (client/tests/standby.rs)
cargo test -p pg_nodesync_client --test standby -- --ignored --test-threads=1 --nocapture || rc=1
exit $rc
