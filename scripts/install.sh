#!/usr/bin/env bash
# Installs the extension into PostgreSQL 15 like `cargo pgrx install` (plus the frozen install
# scripts of released versions, sql/released/), but every file is renamed into place: a
# running server that has the old library loaded keeps its mapping (overwriting a loaded .so
# in place crashes its backends with SIGBUS).
#   scripts/install.sh [--debug]     (release build by default)
set -euo pipefail
export PATH="$HOME/.cargo/bin:$PATH"
cd "$(dirname "$0")/.."
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
PROFILE=()
[ "${1:-}" = "--debug" ] && PROFILE=(--debug)
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
pkg=$(mktemp -d); log=$(mktemp)
trap 'rm -rf "$pkg" "$log"' EXIT
if ! cargo pgrx package "${PROFILE[@]}" --pg-config "$PG_CONFIG" --out-dir "$pkg" >"$log" 2>&1; then
  tail -40 "$log" >&2; echo "install: cargo pgrx package failed" >&2; exit 1
fi
# The install scripts of released versions (frozen, sql/released/): `cargo pgrx package` copies
# only the upgrade scripts (sql/pg_nodesync--A--B.sql), and without them
# `CREATE EXTENSION pg_nodesync VERSION '0.1.0'` (tests/tests/upgrade.rs) cannot work.
extdir="$pkg$("$PG_CONFIG" --sharedir)/extension"
[ -d "$extdir" ] || { echo "install: $extdir missing from the package" >&2; exit 1; }
cp sql/released/pg_nodesync--*.sql "$extdir/"
(cd "$pkg" && find . -type f) | while read -r f; do
  dest="/${f#./}"; mode=644
  [[ "$dest" == *.so ]] && mode=755
  $SUDO install -D -m "$mode" "$pkg/$f" "$dest.tmp.$$"
  $SUDO mv -f "$dest.tmp.$$" "$dest"
  echo "install: $dest"
done
