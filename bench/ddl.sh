#!/usr/bin/env bash
# The DDL benchmark: milliseconds the extension adds per DDL statement, against
# the same statements in a database without it, at several catalog sizes, protected-table
# counts and with hostile session settings. Not a test: prints a table, writes nothing else.
#
#   bash bench/ddl.sh [--sizes "0 10000 50000"] [--protected "10 1000"] [--statements 100]
#                     [--repeat 3]
#
# Uses the default PostgreSQL 15 (scripts/lib.sh), or the tree of $BENCH_PG_CONFIG, with the
# extension installed in it (install_extension), in a throwaway cluster. Run as root (the server runs as postgres).
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$BENCH_DIR/ddl/cluster.sh"
PATH="$("$PG_CONFIG" --bindir):$PATH" python3 "$BENCH_DIR/ddl/ddl.py" \
    --command "bash bench/ddl.sh $*" "$@"
