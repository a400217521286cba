#!/usr/bin/env bash
# make demo: pg_nodesync on a private cluster, in two acts.
#   1. a scripted scene through psql: two writers on one document, a stale patch refused with
#      its DETAIL (the 40001 conflict JSON), a diff since a gen, a time-travel snapshot, a
#      duplicate retry, and a NOTIFY received by a listener;
#   2. N simulated editors (Rust replicas on their own connections) on one shared document for
#      a fixed time, with a live progress line, then a convergence check, a summary table and
#      the final document's outline.
#
# Settings (environment, or flags after `bash scripts/demo.sh`, which win; see docs/client.md):
#   NODESYNC_EDITORS=8  NODESYNC_SECONDS=20  NODESYNC_NODES=200  NODESYNC_SEED=<time>
#   NODESYNC_THINK_MS=0 DEMO_ARGS="--local-wins 2 ..."   (flags passed to nodesync-demo as is)
#   NODESYNC_DEMO_BUILD=release|debug   how to build the extension and the editors (release)
#   NODESYNC_PORT=55470  NODESYNC_PGDIR=/tmp/nodesync-demo-$NODESYNC_PORT   the private cluster
# The cluster is stopped on exit, on error and on Ctrl-C.
set -euo pipefail
export PATH="$HOME/.cargo/bin:$PATH"
cd "$(dirname "$0")/.."
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
PGBIN=$("$PG_CONFIG" --bindir)
export NODESYNC_PORT=${NODESYNC_PORT:-55470}
export NODESYNC_PGDIR=${NODESYNC_PGDIR:-/tmp/nodesync-demo-$NODESYNC_PORT}
BUILD=${NODESYNC_DEMO_BUILD:-release}
DB=nodesync_demo

case "$BUILD" in
  release) CARGO_PROFILE=(--release); PKG_PROFILE=(); BIN=${CARGO_TARGET_DIR:-target}/release/nodesync-demo ;;
  debug) CARGO_PROFILE=(); PKG_PROFILE=(--debug); BIN=${CARGO_TARGET_DIR:-target}/debug/nodesync-demo ;;
  *) echo "NODESYNC_DEMO_BUILD must be release or debug" >&2; exit 2 ;;
esac

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "build: extension and editors ($BUILD)"
bash scripts/install.sh "${PKG_PROFILE[@]}"
cargo build "${CARGO_PROFILE[@]}" -q -p pg_nodesync_client --features demo --bin nodesync-demo

cleanup() {
  [ -n "${LISTENER:-}" ] && kill "$LISTENER" 2>/dev/null || true
  scripts/cluster.sh stop >/dev/null 2>&1 || true
  echo "demo: cluster on port $NODESYNC_PORT stopped"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "private cluster: port $NODESYNC_PORT, data and socket in $NODESYNC_PGDIR"
scripts/cluster.sh start
eval "$(scripts/cluster.sh env)"
export PGDATABASE=postgres
psql() { "$PGBIN/psql" -X -q "$@"; }
psql -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
export PGDATABASE=$DB
psql -c "CREATE EXTENSION pg_nodesync"

# ---------------------------------------------------------------------------- act 1: the scene
say "act 1: two writers on one document"
NOTES=$(mktemp)
# a listener: LISTEN, then wait while the writers commit; psql prints what arrived
"$PGBIN/psql" -X -q -c "LISTEN nodesync" -c "SELECT pg_sleep(3)" >"$NOTES" 2>&1 &
LISTENER=$!
sleep 0.5

scene() { psql -e -v ON_ERROR_STOP=1 -P pager=off "$@"; }
scene <<'SQL'
-- a document: gen 1, just the root
SELECT nodesync.create_doc('scene');
-- alice (client 'alice', seq 1) writes a heading and a paragraph, based on gen 1
SELECT nodesync.apply_patch('scene', '{"base": 1, "ops": [
  {"op": "create", "key": "title", "kind": "heading", "props": {"text": "Hello"}, "parent": "root"},
  {"op": "create", "key": "p1", "kind": "para", "props": {"text": "first draft"}, "parent": "root"}]}', 'alice', 1);
-- bob, at gen 2, edits p1 (version 1) and adds a paragraph after it
SELECT nodesync.apply_patch('scene', '{"base": 2, "ops": [
  {"op": "update", "key": "p1", "version": 1, "props": {"text": "bob was here"}},
  {"op": "create", "key": "p2", "kind": "para", "props": {"text": "second"}, "parent": "root", "after": "p1"}]}', 'bob', 1);
SQL

say "alice's stale patch (p1 at version 1, now 2) is refused: SQLSTATE 40001, DETAIL is JSON"
scene -v ON_ERROR_STOP=0 <<'SQL' || true
SELECT nodesync.apply_patch('scene', '{"base": 2, "ops": [
  {"op": "update", "key": "p1", "version": 1, "props": {"text": "alice was here"}}]}', 'alice', 2);
-- the same as a value, without an error
SELECT nodesync.try_apply_patch('scene', '{"base": 2, "ops": [
  {"op": "update", "key": "p1", "version": 1, "props": {"text": "alice was here"}}]}', 'alice', 2);
SQL

say "alice catches up: what changed since gen 2, then retries on the new version"
scene <<'SQL'
\pset format unaligned
\pset tuples_only on
SELECT jsonb_pretty(nodesync.diff_since('scene', 2));
\pset format aligned
\pset tuples_only off
-- a refused patch did not use up seq 2
SELECT nodesync.apply_patch('scene', '{"base": 3, "ops": [
  {"op": "update", "key": "p1", "version": 2, "props": {"bold": true}}]}', 'alice', 2);
-- the app retries the same (client, seq) after a timeout: a duplicate, the original result
SELECT nodesync.apply_patch('scene', '{"base": 3, "ops": [
  {"op": "update", "key": "p1", "version": 2, "props": {"bold": true}}]}', 'alice', 2);
SELECT gen, client, seq, committed_at::time(0) AS at FROM nodesync.changes_since('scene', 0);
SQL

say "time travel: the document as it was at gen 2, and as it is now"
scene <<'SQL'
\pset format unaligned
\pset tuples_only on
SELECT jsonb_pretty(nodesync.snapshot('scene', 2) -> 'root' -> 'children');
\pset format aligned
\pset tuples_only off
SELECT key, parent, kind, props, version, gen FROM nodesync.nodes('scene') ORDER BY parent NULLS FIRST, pos;
SQL

say "the listener (LISTEN nodesync in another session) received, at each commit:"
wait "$LISTENER" || true
LISTENER=
grep -i "notification" "$NOTES" || { echo "(no notification received)"; cat "$NOTES"; exit 1; }
rm -f "$NOTES"

# ---------------------------------------------------------------------------- act 2: editors
ARGS=(--editors "${NODESYNC_EDITORS:-8}" --seconds "${NODESYNC_SECONDS:-20}" --nodes "${NODESYNC_NODES:-200}" --think-ms "${NODESYNC_THINK_MS:-0}")
[ -n "${NODESYNC_SEED:-}" ] && ARGS+=(--seed "$NODESYNC_SEED")
# shellcheck disable=SC2206
[ -n "${DEMO_ARGS:-}" ] && ARGS+=($DEMO_ARGS)
ARGS+=("$@")
say "act 2: simulated editors — nodesync-demo ${ARGS[*]}"
"$BIN" "${ARGS[@]}"
