#!/usr/bin/env bash
# Installs what building and testing pg_nodesync needs, idempotently:
# PostgreSQL 15 + server headers (Debian), clang for bindgen, sudo (cargo pgrx test --runas),
# cargo-pgrx 0.18.0, `cargo pgrx init` for PG15, Node.js >= 20 with npm (Debian's nodejs if the
# machine has none), Debian's chromium (the browser tests) and the JS packages (`npm ci` in js/,
# from the committed package-lock.json).
# Safe to run again: it skips what is there.
set -euo pipefail
export PATH="$HOME/.cargo/bin:$PATH"
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
pkgs=(postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR sudo clang libclang-dev pkg-config make)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! cargo pgrx --version 2>/dev/null | grep -q '0\.18\.0'; then
  echo "setup: installing cargo-pgrx 0.18.0 (several minutes)"
  cargo install cargo-pgrx --version 0.18.0 --locked
fi
if ! grep -qs "pg$PG_MAJOR" "${PGRX_HOME:-$HOME/.pgrx}/config.toml"; then
  echo "setup: cargo pgrx init --pg$PG_MAJOR"
  cargo pgrx init --pg$PG_MAJOR "$PG_CONFIG" >/dev/null
fi
# a real browser for the editor's tests (js/web/test): Debian's chromium, driven by playwright-core
if [ ! -x /usr/bin/chromium ]; then
  echo "setup: installing chromium (Debian)"
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
node_major() { node --version 2>/dev/null | sed -E 's/^v([0-9]+).*/\1/'; }
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "setup: installing nodejs and npm (Debian)"
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
fi
[ "$(node_major)" -ge 20 ] 2>/dev/null || echo "setup: warning: node $(node --version) is older than 20, which the JS packages are tested with"
# the JS packages: reinstalled only when package-lock.json changed since the last npm ci
JS="$(cd "$(dirname "${BASH_SOURCE[0]}")/../js" && pwd)"
if [ ! -f "$JS/node_modules/.package-lock.json" ] || [ "$JS/package-lock.json" -nt "$JS/node_modules/.package-lock.json" ]; then
  echo "setup: npm ci (js/)"
  (cd "$JS" && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "setup: ok (PostgreSQL 15, cargo-pgrx $(cargo pgrx --version | awk '{print $2}'), node $(node --version))"
