# Sourced by every script: where PostgreSQL is. One place for the version and its paths.
#   PG_MAJOR (default 15), PG_CONFIG, PGBIN (server binaries), PG_REGRESS, PG_ISOLATION_REGRESS
#   (Debian's postgresql-server-dev-$PG_MAJOR); each can be set from outside (the Makefile
#   passes PG_CONFIG).
PG_MAJOR=${PG_MAJOR:-15}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/$PG_MAJOR/bin/pg_config}
PGBIN=${PGBIN:-/usr/lib/postgresql/$PG_MAJOR/bin}
PG_REGRESS=${PG_REGRESS:-/usr/lib/postgresql/$PG_MAJOR/lib/pgxs/src/test/regress/pg_regress}
PG_ISOLATION_REGRESS=${PG_ISOLATION_REGRESS:-/usr/lib/postgresql/$PG_MAJOR/lib/pgxs/src/test/isolation/pg_isolation_regress}
export PG_MAJOR PG_CONFIG
