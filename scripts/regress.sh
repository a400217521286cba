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
. "$(dirname "${BASH_SOURCE[0]}")/golden.sh"
DB=nodesync_regress
eval "$(scripts/cluster.sh env)"

accept=0
if [ "${1:-}" = "--accept" ]; then accept=1; shift; fi
if [ $# -gt 0 ]; then
  tests=("$@")
  # 01_documents creates the extension and the helpers the other files use
  [[ " ${tests[*]} " == *" 01_documents "* ]] || tests=(01_documents "${tests[@]}")
else tests=($(cd tests/pg_regress/sql && ls *.sql | sed 's/\.sql$//' | sort)); fi

run_golden regress tests/pg_regress $DB $accept "$PG_REGRESS" --bindir="$PGBIN" -- "${tests[@]}"
