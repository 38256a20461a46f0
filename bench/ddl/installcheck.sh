#!/usr/bin/env bash
# PostgreSQL's own regression suite (src/test/regress, parallel_schedule) against a database
# without the extension and one with CREATE EXTENSION boards_tenant: wall time of each run,
# medians and ratio, failed tests per mode, and whether the results/*.out files are the same
# in both modes (bench/ddl/installcheck.py). A benchmark, not a test: prints, and keeps each
# run's outputs in a work directory under /tmp (its path is printed).
#
#   BENCH_PG_CONFIG=<tree>/bin/pg_config bash bench/ddl/installcheck.sh [SOURCE_DIR]
#       [--repeat 3] [--parallel] [--source-psql]
#
# SOURCE_DIR (or $BENCH_PG_SOURCE; default /tmp/pgsrc/postgresql-15.18) is a PostgreSQL
# source tree of the same major version, prepared outside the repository (this script builds
# nothing of PostgreSQL's): e.g. `apt-get source postgresql-15` (a deb-src line), then in the
# tree `./configure --without-readline --without-icu && make -C src/test/regress` (regress.so),
# and `make -C src/bin/psql` for --source-psql. Its src/test/regress gives the schedule, sql/,
# expected/ and regress.so; refint and autoinc (contrib/spi) come from the tree's pkglibdir,
# pg_regress from its pgxs. No network. Run as root (the server and pg_regress run as postgres).
# --source-psql: pg_regress runs the source's own psql (and libpq) instead of the tree's. Use
# it when the source is an older minor release than the tree: 15.19's psql skips the inline data after a COPY FROM
# STDIN that failed (up to its \.), which 15.18's expected output does not know, so eight
# tests fail and lose the statements it swallowed, in both modes alike.
#
# Each run gets a fresh cluster (scripts/lib.sh start_cluster, so the library is preloaded in
# both modes: the recommended set-up) and pg_regress creates the database "regression" from
# template0 as `make installcheck` does; in the "present" mode it then runs CREATE EXTENSION
# boards_tenant in it (--load-extension), so the extension is there before the first test, as
# in a user's database that has it. The suite's only other database (database.sql's
# regression_tbd) is made from template0, which no user's extension is in. The modes alternate
# absent, present, absent, ... for --repeat rounds. By default the schedule runs one test at a
# time (--max-connections=1, as `make installcheck`); --parallel runs its groups concurrently
# (as `make installcheck-parallel`).
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$BENCH_DIR/../scripts/lib.sh"
[ -n "${BENCH_PG_CONFIG:-}" ] && use_pg 15 "$BENCH_PG_CONFIG"

SOURCE=${BENCH_PG_SOURCE:-/tmp/pgsrc/postgresql-15.18}
REPEAT=3
PARALLEL=0
SOURCE_PSQL=0
while [ $# -gt 0 ]; do
    case "$1" in
        --repeat) REPEAT=$2; shift 2 ;;
        --parallel) PARALLEL=1; shift ;;
        --source-psql) SOURCE_PSQL=1; shift ;;
        -h|--help) sed -n '2,30p' "${BASH_SOURCE[0]}"; exit 0 ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *) SOURCE=$1; shift ;;
    esac
done
REGRESS_SRC="$SOURCE/src/test/regress"
[ -f "$REGRESS_SRC/parallel_schedule" ] && [ -f "$REGRESS_SRC/regress.so" ] || {
    echo "no src/test/regress with a built regress.so in $SOURCE (set BENCH_PG_SOURCE or pass" \
        "the source dir; see the header of this script)" >&2
    exit 2
}
BINDIR=$("$PG_CONFIG" --bindir)
PKGLIBDIR=$("$PG_CONFIG" --pkglibdir)
PG_REGRESS="$("$PG_CONFIG" --pgxs | sed 's|/src/makefiles/pgxs.mk$||')/src/test/regress/pg_regress"
[ -x "$PG_REGRESS" ] || { echo "no pg_regress at $PG_REGRESS" >&2; exit 2; }
for lib in refint autoinc boards_tenant; do
    [ -f "$PKGLIBDIR/$lib.so" ] || { echo "no $lib.so in $PKGLIBDIR" >&2; exit 2; }
done

WORK=$(mktemp -d /tmp/boards_tenant_installcheck.XXXXXX)
chmod 755 "$WORK"
step "Work directory $WORK"
# The tests load regress, refint and autoinc from one directory (--dlpath).
mkdir "$WORK/lib"
cp "$REGRESS_SRC/regress.so" "$PKGLIBDIR/refint.so" "$PKGLIBDIR/autoinc.so" "$WORK/lib/"
PSQL_BINDIR=$BINDIR
PSQL_ENV=()
if [ "$SOURCE_PSQL" = 1 ]; then
    PSQL_BINDIR=$SOURCE/src/bin/psql
    [ -x "$PSQL_BINDIR/psql" ] || { echo "no built psql in $PSQL_BINDIR (--source-psql)" >&2; exit 2; }
    PSQL_ENV=(LD_LIBRARY_PATH="$SOURCE/src/interfaces/libpq")
fi
[ "$(id -u)" = 0 ] && chown -R "$(server_user)": "$WORK"

trap stop_cluster EXIT
CONCURRENCY=(--max-concurrent-tests=20)
[ "$PARALLEL" = 1 ] || CONCURRENCY+=(--max-connections=1)
printf 'mode\tround\tseconds\tfailed\ttests\n' >"$WORK/times.tsv"
for round in $(seq 1 "$REPEAT"); do
    for mode in absent present; do
        out="$WORK/$mode-$round"
        as_server mkdir "$out"
        start_cluster "fsync = off"
        extension=()
        [ "$mode" = present ] && extension=(--load-extension=boards_tenant)
        step "Round $round, extension $mode: pg_regress ${CONCURRENCY[*]} ${extension[*]} (psql: $PSQL_BINDIR)"
        started=$(date +%s.%N)
        # pg_regress exits 1 when a test fails; the failures are counted, not fatal.
        as_server env "${PSQL_ENV[@]}" "$PG_REGRESS" --bindir="$PSQL_BINDIR" --inputdir="$REGRESS_SRC" --outputdir="$out" \
            --dlpath="$WORK/lib" --schedule="$REGRESS_SRC/parallel_schedule" "${CONCURRENCY[@]}" \
            --host="$PGHOST" --port="$PGPORT" --user=postgres "${extension[@]}" \
            >"$out/pg_regress.log" 2>&1 || true
        ended=$(date +%s.%N)
        # The names of the extension's own objects, for the report to tell the output lines
        # that list them (a catalog query of the suite that now also finds them) from others.
        if [ "$mode" = present ] && [ ! -s "$WORK/extension_objects.txt" ]; then
            "$BINDIR/psql" -X -At -d regression -v ON_ERROR_STOP=1 >"$WORK/extension_objects.txt" <<'SQL'
SELECT DISTINCT name FROM (
    SELECT regexp_replace(regexp_replace(replace((pg_identify_object(classid, objid, 0)).identity,
               '"', ''), '\(.*$', ''), '^.*[. ]', '') AS name
      FROM pg_depend
     WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
       AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'boards_tenant')
    UNION SELECT rolname FROM pg_roles WHERE rolname LIKE 'boards%'
    UNION SELECT 'boards_tenant'
) n WHERE length(name) >= 4 ORDER BY 1;
SQL
        fi
        stop_cluster
        tail -n 3 "$out/pg_regress.log"
        # "test foo ... FAILED" / "     foo ... FAILED" (also "failed (ignored)").
        failed=$(grep -Ec '\.\.\. +(FAILED|failed)' "$out/pg_regress.log" || true)
        tests=$(grep -Ec '\.\.\. +(ok|FAILED|failed)' "$out/pg_regress.log" || true)
        awk -v m="$mode" -v r="$round" -v a="$started" -v b="$ended" -v f="$failed" -v t="$tests" \
            'BEGIN { printf "%s\t%s\t%.2f\t%s\t%s\n", m, r, b - a, f, t }' >>"$WORK/times.tsv"
    done
done
step "Report"
python3 "$BENCH_DIR/ddl/installcheck.py" "$WORK" \
    --command "BENCH_PG_CONFIG=$PG_CONFIG bash bench/ddl/installcheck.sh $SOURCE --repeat $REPEAT$([ "$PARALLEL" = 1 ] && echo ' --parallel')$([ "$SOURCE_PSQL" = 1 ] && echo ' --source-psql')"
echo "Outputs kept in $WORK (absent-N/, present-N/: results/, regression.diffs, pg_regress.log)"
