# pg_nodesync — see README.md.
#   make test    every test layer (installs what it needs first)
#   make demo    a scripted scene on a private cluster
#   make web     the collaborative editor in the browser (prints its URL; Ctrl-C stops it)
#   make bench   benchmarks (target/bench/)
PG_MAJOR ?= 15
PG_CONFIG ?= /usr/lib/postgresql/$(PG_MAJOR)/bin/pg_config
export PG_CONFIG

.PHONY: setup install test demo web bench soak clean-cluster
setup:
	@bash scripts/setup.sh

install: setup
	@bash scripts/install.sh

test: setup
	@bash scripts/test.sh

demo: setup
	@bash scripts/demo.sh

web: setup
	@bash scripts/web.sh

bench: setup
	@bash scripts/bench.sh

soak: setup
	@SOAK=1 bash scripts/reliability.sh

clean-cluster:
	@bash scripts/cluster.sh stop; rm -rf /tmp/nodesync-5543*
