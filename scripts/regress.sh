#!/usr/bin/env bash
# The pg_regress suite (tests/pg_regress): the SQL surface's output, errors, RLS and audit
# compared with the expected files, on a temporary instance of the selected PostgreSQL
# (PG_CONFIG, as set by lib.sh's use_pg) with the extension preloaded. The extension must be
# installed into that PostgreSQL first (install_extension). Servers refuse to run as root, so
# as root the suite runs as the OS user postgres in a directory it can write.
# Usage: scripts/regress.sh [pg_regress options...]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

suite="$BOARDS_ROOT/tests/pg_regress"
bindir=$("$PG_CONFIG" --bindir)
pg_regress="$("$PG_CONFIG" --pkglibdir)/pgxs/src/test/regress/pg_regress"
[ -x "$pg_regress" ] || { echo "pg_regress not found at $pg_regress" >&2; exit 1; }

# A copy of the suite, owned by the server's user: pg_regress writes results/ and the
# temporary instance beside it.
work=$(mktemp -d /tmp/boards_tenant_regress.XXXXXX)
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
cp -r "$suite/sql" "$suite/expected" "$suite/schedule" "$suite/regress.conf" "$work/"
[ "$(id -u)" = 0 ] && chown -R "$(server_user)" "$work"

status=0
(cd "$work" && as_server "$pg_regress" \
    --bindir="$bindir" \
    --inputdir=. --outputdir=. \
    --temp-instance=./instance --temp-config=./regress.conf \
    --port="$(free_port)" \
    --no-locale --encoding=UTF8 \
    --schedule=./schedule "$@") || status=$?
if [ "$status" != 0 ] && [ -f "$work/regression.diffs" ]; then
    # Keep the differences past the clean-up, where the message says.
    diffs="$BOARDS_ROOT/target/regression.diffs"
    mkdir -p "$(dirname "$diffs")"
    cp "$work/regression.diffs" "$diffs"
    mkdir -p "$BOARDS_ROOT/target/regress_results"
    cp -r "$work/results/." "$BOARDS_ROOT/target/regress_results/"
    echo "pg_regress failed on PostgreSQL $BOARDS_PG: differences in $diffs, output in target/regress_results" >&2
fi
exit "$status"
