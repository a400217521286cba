#!/usr/bin/env bash
# Installs the extension into PostgreSQL 15 like `cargo pgrx install`, but every file is
# renamed into place: a running server that has the old library loaded keeps its mapping
# (overwriting a loaded .so in place crashes its backends with SIGBUS).
#   scripts/install.sh [--debug]     (release build by default)
set -euo pipefail
export PATH="$HOME/.cargo/bin:$PATH"
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PROFILE=()
[ "${1:-}" = "--debug" ] && PROFILE=(--debug)
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
pkg=$(mktemp -d); log=$(mktemp)
trap 'rm -rf "$pkg" "$log"' EXIT
if ! cargo pgrx package "${PROFILE[@]}" --pg-config "$PG_CONFIG" --out-dir "$pkg" >"$log" 2>&1; then
  tail -40 "$log" >&2; echo "install: cargo pgrx package failed" >&2; exit 1
fi
(cd "$pkg" && find . -type f) | while read -r f; do
  dest="/${f#./}"; mode=644
  [[ "$dest" == *.so ]] && mode=755
  $SUDO install -D -m "$mode" "$pkg/$f" "$dest.tmp.$$"
  $SUDO mv -f "$dest.tmp.$$" "$dest"
  echo "install: $dest"
done
