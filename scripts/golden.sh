# Sourced by scripts/regress.sh and scripts/isolation.sh: one run of a golden-file tool of
# PostgreSQL's (pg_regress, pg_isolation_regress) against the private cluster, which must be
# running with pg_nodesync installed.
#   run_golden NAME INPUTDIR DB ACCEPT TOOL [TOOL ARGS...] -- TESTS...
# Recreates database DB, runs TOOL with --use-existing on it; results go to a temp dir under
# /tmp. ACCEPT=1 copies the results over INPUTDIR/expected (review the git diff before
# committing!); otherwise a failure prints regression.diffs and returns 1.
run_golden() {
  local name=$1 inputdir=$2 db=$3 accept=$4; shift 4
  local tool=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do tool+=("$1"); shift; done
  shift
  local tests=("$@") out rc t
  out=$(mktemp -d "/tmp/nodesync-$name.XXXXXX")
  chmod 777 "$out"   # as root, the tool may run as another user; keep it writable
  PGOPTIONS="-c client_min_messages=warning" psql -X -q -d postgres -v ON_ERROR_STOP=1 \
    -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db TEMPLATE template0" >/dev/null \
    || { echo "$name: cannot recreate database $db on $PGHOST:$PGPORT" >&2; return 1; }
  "${tool[@]}" --use-existing --host="$PGHOST" --port="$PGPORT" --user="${PGUSER:-postgres}" \
    --inputdir="$inputdir" --outputdir="$out" --dbname="$db" "${tests[@]}"
  rc=$?
  if [ "$accept" = 1 ]; then
    for t in "${tests[@]}"; do cp "$out/results/$t.out" "$inputdir/expected/$t.out"; done
    echo "$name: copied ${#tests[@]} result(s) to $inputdir/expected/ -- review them with git diff"
    rm -rf "$out"
    return 0
  fi
  if [ $rc -ne 0 ]; then
    echo "$name: FAILED; regression.diffs:"
    cat "$out/regression.diffs" 2>/dev/null
    echo "$name: results kept in $out"
    return 1
  fi
  rm -rf "$out"
}
