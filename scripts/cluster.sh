#!/usr/bin/env bash
# A private PostgreSQL 15 cluster for tests, demo and bench: own data dir, port and socket.
#   scripts/cluster.sh start|stop|status|env
# Settings: NODESYNC_PORT (default 55432), NODESYNC_PGDIR (default /tmp/nodesync-$PORT),
# NODESYNC_WAL_LEVEL (default: the server's, replica; `logical` for logical replication slots).
# As root, the server runs as the postgres user (initdb refuses root).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
PORT=${NODESYNC_PORT:-55432}
DIR=${NODESYNC_PGDIR:-/tmp/nodesync-$PORT}
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "${1:-}" in
  start)
    if [ ! -f "$DIR/data/PG_VERSION" ]; then
      if [ "$(id -u)" = 0 ]; then install -d -o postgres -g postgres "$DIR"; else mkdir -p "$DIR"; fi
      as_pg "$PGBIN/initdb" -D "$DIR/data" -A trust -U postgres >"$DIR/initdb.log" 2>&1 \
        || { cat "$DIR/initdb.log" >&2; exit 1; }
    fi
    if as_pg "$PGBIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then exit 0; fi
    # RUST_BACKTRACE in the server's environment would put Rust backtraces into error DETAILs
    as_pg env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
      -o "-p $PORT -k $DIR -c listen_addresses='' -c max_connections=60 -c shared_buffers=256MB -c fsync=${NODESYNC_FSYNC:-on}${NODESYNC_WAL_LEVEL:+ -c wal_level=$NODESYNC_WAL_LEVEL}" start >/dev/null \
      || { tail -20 "$DIR/server.log" >&2; exit 1; }
    ;;
  stop)
    if [ -f "$DIR/data/PG_VERSION" ] && as_pg "$PGBIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
      as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null
    fi
    ;;
  status)
    as_pg "$PGBIN/pg_ctl" -D "$DIR/data" status
    ;;
  env)
    echo "export PGHOST=$DIR PGPORT=$PORT PGUSER=postgres"
    ;;
  *)
    echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
