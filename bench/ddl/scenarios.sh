#!/usr/bin/env bash
# The DDL issue's four user scenarios (bench/ddl/scenarios.py says which), extension absent vs
# present. Prints two tables, writes nothing else.
#
#   bash bench/ddl/scenarios.sh [--statements 100] [--repeat 3] [--instructions [--tables 50000]]
#
# Uses the default PostgreSQL 15 (scripts/lib.sh), or the tree of $BENCH_PG_CONFIG, with the
# extension installed in it, in a throwaway cluster. Run as root (the server runs as postgres).
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$BENCH_DIR/ddl/cluster.sh"
PATH="$("$PG_CONFIG" --bindir):$PATH" python3 "$BENCH_DIR/ddl/scenarios.py" --pgdata "$CLUSTER_DIR/data" "$@"
