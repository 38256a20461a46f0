# Sourced by the DDL benchmarks (bench/ddl.sh, bench/ddl/drop.sh, bench/ddl/scenarios.sh): the
# PostgreSQL they measure and the throwaway cluster they measure in, stopped on exit.
# BENCH_PG_CONFIG: the PostgreSQL tree to measure (default: scripts/lib.sh's PostgreSQL 15).
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
[ -n "${BENCH_PG_CONFIG:-}" ] && use_pg 15 "$BENCH_PG_CONFIG"
trap stop_cluster EXIT
# One DO block creates thousands of tables: each holds a lock until it commits.
start_cluster "max_locks_per_transaction = 1024" "shared_buffers = 512MB" "fsync = off"
