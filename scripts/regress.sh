#!/usr/bin/env bash
# pg_regress golden files (tests/pg_regress/sql/*.sql vs tests/pg_regress/expected/*.out) against
# the private cluster (scripts/cluster.sh; it must be running and pg_nodesync installed).
#   scripts/regress.sh                 run every file, in name order
#   scripts/regress.sh 02_patches ...  run some of them (01_documents always runs first)
#   scripts/regress.sh --accept [..]   run, then copy the results over the expected files
#                                      (review the git diff before committing it!)
# The database nodesync_regress is recreated on every run; the first file creates the extension.
# Results go to a temp dir under /tmp; on failure regression.diffs is printed; exit 1 on failure.
set -uo pipefail
cd "$(dirname "$0")/.."
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
DB=nodesync_regress
eval "$(scripts/cluster.sh env)"

accept=0
if [ "${1:-}" = "--accept" ]; then accept=1; shift; fi
if [ $# -gt 0 ]; then
  tests=("$@")
  # 01_documents creates the extension and the helpers the other files use
  [[ " ${tests[*]} " == *" 01_documents "* ]] || tests=(01_documents "${tests[@]}")
else tests=($(cd tests/pg_regress/sql && ls *.sql | sed 's/\.sql$//' | sort)); fi

out=$(mktemp -d /tmp/nodesync-regress.XXXXXX)
chmod 777 "$out"   # as root, psql/pg_regress may run as another user; keep it writable

PGOPTIONS="-c client_min_messages=warning" psql -X -q -d postgres -v ON_ERROR_STOP=1 \
  -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB TEMPLATE template0" >/dev/null \
  || { echo "regress: cannot recreate database $DB on $PGHOST:$PGPORT" >&2; exit 1; }

"$PG_REGRESS" --use-existing --bindir="$PGBIN" --host="$PGHOST" --port="$PGPORT" --user="${PGUSER:-postgres}" \
  --inputdir=tests/pg_regress --outputdir="$out" --dbname=$DB "${tests[@]}"
rc=$?

if [ $accept = 1 ]; then
  for t in "${tests[@]}"; do cp "$out/results/$t.out" "tests/pg_regress/expected/$t.out"; done
  echo "regress: copied ${#tests[@]} result(s) to tests/pg_regress/expected/ -- review them with git diff"
  rm -rf "$out"
  exit 0
fi
if [ $rc -ne 0 ]; then
  echo "regress: FAILED; regression.diffs:"
  cat "$out/regression.diffs" 2>/dev/null
  echo "regress: results kept in $out"
  exit 1
fi
rm -rf "$out"
