#!/usr/bin/env bash
# Isolation specs (tests/isolation/specs/*.spec vs tests/isolation/expected/*.out): lock-order
# cases run by PostgreSQL's isolationtester, which sees a step block on a lock (<waiting ...>)
# and goes on with the next step, so no test polls pg_stat_activity or sleeps. Against the
# private cluster (scripts/cluster.sh; it must be running and pg_nodesync installed).
#   scripts/isolation.sh                   run every spec, in name order
#   scripts/isolation.sh patch_queue ...   run some of them
#   scripts/isolation.sh --accept [..]     run, then copy the results over the expected files
#                                          (review the git diff before committing it!)
# The database nodesync_isolation is recreated on every run; each spec's setup creates the
# extension if it is missing, and its own documents.
# Results go to a temp dir under /tmp; on failure regression.diffs is printed; exit 1 on failure.
set -uo pipefail
cd "$(dirname "$0")/.."
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
. "$(dirname "${BASH_SOURCE[0]}")/golden.sh"
DB=nodesync_isolation
eval "$(scripts/cluster.sh env)"

[ -x "$PG_ISOLATION_REGRESS" ] || { echo "isolation: $PG_ISOLATION_REGRESS not found (postgresql-server-dev-$PG_MAJOR; or set PG_ISOLATION_REGRESS)" >&2; exit 1; }
accept=0
if [ "${1:-}" = "--accept" ]; then accept=1; shift; fi
if [ $# -gt 0 ]; then tests=("$@")
else tests=($(cd tests/isolation/specs && ls *.spec | sed 's/\.spec$//' | sort)); fi

run_golden isolation tests/isolation $DB $accept "$PG_ISOLATION_REGRESS" -- "${tests[@]}"
