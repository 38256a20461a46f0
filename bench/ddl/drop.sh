#!/usr/bin/env bash
# What the extension adds to a DROP TABLE, against tables of the same shape without it
# (bench/ddl/drop.py says why bench/ddl.sh cannot tell). Prints, writes nothing else.
#
#   bash bench/ddl/drop.sh [--instructions] [--statements 100] [--repeat 5]
#
# Uses the default PostgreSQL 15 (scripts/lib.sh), or the tree of $BENCH_PG_CONFIG, with the
# extension installed in it, in a throwaway cluster. --instructions needs valgrind. Run as root.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$BENCH_DIR/ddl/cluster.sh"
PATH="$("$PG_CONFIG" --bindir):$PATH" python3 "$BENCH_DIR/ddl/drop.py" --pgdata "$CLUSTER_DIR/data" "$@"
