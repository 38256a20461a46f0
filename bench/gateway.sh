#!/usr/bin/env bash
# Gateway benchmark (not a test): requests per second through boards-tenant-gateway
# of GET /api/boards/{id} and GET /api/boards with verified tokens -- FRESH (a distinct token
# per request: verification every time) and REPEATED (one token per tenant, cycled: the
# extension's verified-token cache) -- against the same gateway code path with a hand-written
# `WHERE tenant_id = $1` on an unprotected copy of the table and no verification (routes
# /bench/unverified/..., compiled only with the gateway's `bench` cargo feature; NEVER for
# production), and against that path plus the PostgREST pattern's per-request
# set_config('request.jwt.claims', ..., true) statement (/bench/postgrest/...: what a context
# statement costs, whatever it does). One alternating run with wrk: every round runs every
# scenario once, in a rotated order; the report gives the median of the rounds.
#
#   bash bench/gateway.sh [--rounds 3] [--duration 10] [--connections 16] [--threads 2]
#                         [--pool-size 8] [--tenants 100] [--boards 20] [--no-build]
#                         [--instructions]
#
# --instructions: instead of timing, the server's instructions per request of each scenario
# under callgrind, one connection (bench/gateway/instructions.py); ~3 minutes.
#
# Env GATEWAY_BENCH_PG_CONFIG: the PostgreSQL to run (default: scripts/lib.sh's).
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$BENCH_DIR/../scripts/lib.sh"
cd "$BOARDS_ROOT"
PG_CONFIG=${GATEWAY_BENCH_PG_CONFIG:-$PG_CONFIG}

rounds=3 duration=10 connections=16 threads=2 pool=8 tenants=100 boards=20 build=1 count=0
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds=$2; shift ;;
        --duration) duration=$2; shift ;;
        --connections) connections=$2; shift ;;
        --threads) threads=$2; shift ;;
        --pool-size) pool=$2; shift ;;
        --tenants) tenants=$2; shift ;;
        --boards) boards=$2; shift ;;
        --no-build) build=0 ;;
        --instructions) count=1 ;;
        -h|--help) sed -n 2,20p "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

if [ "$count" = 1 ]; then ensure_tool valgrind valgrind "instruction counts"; else ensure_wrk; fi
if [ "$build" = 1 ]; then
    step "Building: the extension (release) and the gateway (release, --features bench)"
    install_extension --release
    cargo build --release -p boards-tenant-gateway --features bench
fi
GATEWAY=$BOARDS_ROOT/target/release/boards-tenant-gateway
[ -x "$GATEWAY" ] || { echo "$GATEWAY not built (run without --no-build)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/boards_gateway_bench.XXXXXX)
GATEWAY_PID=
cleanup() {
    [ -n "$GATEWAY_PID" ] && kill "$GATEWAY_PID" 2>/dev/null && wait "$GATEWAY_PID" 2>/dev/null
    stop_cluster
    rm -rf "$WORK"
}
trap cleanup EXIT

step "Cluster, data ($tenants tenants x $boards boards) and requests"
start_cluster "max_connections = 100" "shared_buffers = 256MB"
PSQL="$("$PG_CONFIG" --bindir)/psql"
SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
fresh=$(( 4000 * duration * rounds ))
python3 "$BENCH_DIR/gateway/fixtures.py" "$WORK" "$SECRET" "$tenants" "$boards" "$fresh"
"$PSQL" -qX -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION boards_tenant;
CREATE ROLE bench_app LOGIN;
ALTER DATABASE postgres SET boards.multi_tenant_mode = on;
SELECT boards_jwt_add_key('bench', 'HS256', '$SECRET');
SQL
"$PSQL" -qX -v ON_ERROR_STOP=1 -f "$WORK/setup.sql"

if [ "$count" = 1 ]; then
    step "Counting the server's instructions per request (callgrind, one connection per scenario)"
    python3 "$BENCH_DIR/gateway/instructions.py" "$WORK" "$GATEWAY" \
        "postgresql://bench_app@127.0.0.1:$PGPORT/postgres" "$CLUSTER_DIR/data"
    exit 0
fi

# Request logs off (RUST_LOG=warn): at info level the benchmark would measure logging.
RUST_LOG=warn "$GATEWAY" --database-url "postgresql://bench_app@127.0.0.1:$PGPORT/postgres" \
    --listen 127.0.0.1:0 --pool-size "$pool" --log-format text >"$WORK/gateway.out" 2>"$WORK/gateway.log" &
GATEWAY_PID=$!
for _ in $(seq 100); do grep -q listening "$WORK/gateway.out" 2>/dev/null && break; sleep 0.1; done
BASE=$(sed -n 's/^boards-tenant-gateway listening on //p' "$WORK/gateway.out")
[ -n "$BASE" ] || { cat "$WORK/gateway.log" >&2; exit 1; }

scenarios=(point_unverified point_postgrest point_repeated point_fresh list_unverified list_postgrest list_repeated list_fresh)
# Warm-up: every scenario once, briefly (connections, caches, plans).
for s in "${scenarios[@]}"; do
    BENCH_FILE="$WORK/$s.tsv" wrk -t"$threads" -c"$connections" -d2s -s "$BENCH_DIR/gateway/request.lua" "$BASE" >/dev/null
done
step "Measuring: $rounds rounds x ${#scenarios[@]} scenarios x ${duration}s, wrk -t$threads -c$connections, pool $pool"
declare -A results cpu_gateway cpu_cluster cpu_cluster_sys cpu_wrk
HZ=$(getconf CLK_TCK)
# The shell's children's CPU (the second line of `times`, "XmY.YYYs XmZ.ZZZs") in ticks; only
# wrk runs between the two snapshots, which are taken by the builtin in this shell itself.
children_ticks() { tail -1 "$1" | awk -v hz="$HZ" '{gsub(/[ms]/, " "); print int(($1 * 60 + $2 + $3 * 60 + $4) * hz)}'; }
for r in $(seq "$rounds"); do
    order=("${scenarios[@]:$(( (r - 1) % ${#scenarios[@]} ))}" "${scenarios[@]:0:$(( (r - 1) % ${#scenarios[@]} ))}")
    for s in "${order[@]}"; do
        read -r gw0 pg0 pgsys0 < <(python3 "$BENCH_DIR/gateway/cpu.py" "$GATEWAY_PID" "$CLUSTER_DIR/data")
        times >"$WORK/times0"
        BENCH_FILE="$WORK/$s.tsv" wrk -t"$threads" -c"$connections" -d"${duration}s" \
            -s "$BENCH_DIR/gateway/request.lua" "$BASE" >"$WORK/wrk.out"
        times >"$WORK/times1"
        wrk0=$(children_ticks "$WORK/times0") wrk1=$(children_ticks "$WORK/times1")
        read -r gw1 pg1 pgsys1 < <(python3 "$BENCH_DIR/gateway/cpu.py" "$GATEWAY_PID" "$CLUSTER_DIR/data")
        out=$(cat "$WORK/wrk.out")
        rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
        requests=$(awk '/requests in/ {print $1}' <<<"$out")
        # CPU microseconds per request: the gateway, the cluster (every backend), wrk.
        per_request() { awk -v t="$1" -v n="$requests" -v hz="$HZ" 'BEGIN {printf "%.1f", t * 1e6 / hz / n}'; }
        cpu_gateway[$s]="${cpu_gateway[$s]:-} $(per_request $((gw1 - gw0)))"
        cpu_cluster[$s]="${cpu_cluster[$s]:-} $(per_request $((pg1 - pg0)))"
        cpu_cluster_sys[$s]="${cpu_cluster_sys[$s]:-} $(per_request $((pgsys1 - pgsys0)))"
        cpu_wrk[$s]="${cpu_wrk[$s]:-} $(per_request $((wrk1 - wrk0)))"
        bad=$(awk '/^bad_responses/ {print $2}' <<<"$out")
        if [ "${bad:-1}" != 0 ]; then
            echo "$s: $bad responses were not 200" >&2; echo "$out" >&2; exit 1
        fi
        printf '  round %d  %-18s %10.0f req/s\n' "$r" "$s" "$rps"
        results[$s]="${results[$s]:-} $rps"
    done
done

median() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo
echo "| endpoint | unverified, hand-written filter | + PostgREST's set_config statement | verified, repeated token | verified, fresh token | repeated / unverified | fresh / unverified | PostgREST pattern / unverified | repeated / PostgREST pattern |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for e in point list; do
    u=$(median "${results[${e}_unverified]}"); pr=$(median "${results[${e}_postgrest]}")
    rep=$(median "${results[${e}_repeated]}"); fr=$(median "${results[${e}_fresh]}")
    name=$([ "$e" = point ] && echo 'GET /api/boards/{id}' || echo "GET /api/boards ($boards rows)")
    awk -v n="$name" -v u="$u" -v p="$pr" -v r="$rep" -v f="$fr" \
        'BEGIN {printf "| %s | %.0f req/s | %.0f req/s | %.0f req/s | %.0f req/s | **%.2fx** | %.2fx | %.2fx | %.2fx |\n", n, u, p, r, f, r/u, f/u, p/u, r/p}'
done
echo
echo "Where a request's time goes: CPU microseconds per request (user + system, medians of the rounds;"
echo "/proc/<pid>/stat of the gateway, of the postmaster and its children, and of wrk)."
echo
echo "| scenario | gateway | PostgreSQL | of which system (kernel) | wrk | total |"
echo "| --- | --- | --- | --- | --- | --- |"
for s in "${scenarios[@]}"; do
    g=$(median "${cpu_gateway[$s]}"); p=$(median "${cpu_cluster[$s]}"); k=$(median "${cpu_cluster_sys[$s]}"); w=$(median "${cpu_wrk[$s]}")
    awk -v s="$s" -v g="$g" -v p="$p" -v k="$k" -v w="$w" 'BEGIN {printf "| %s | %.1f | %.1f | %.1f | %.1f | %.1f |\n", s, g, p, k, w, g + p + w}'
done
# The same transactions without HTTP: pgbench -M prepared as the app role, one tenant's token and
# board, server CPU per transaction (cpu.py around each run). What one more statement costs the
# server, whatever it does: the PostgREST pattern's set_config statement against ours.
read -r _ TOKEN < <(head -1 "$WORK/point_repeated.tsv" | cut -f3)
BOARD=$(head -1 "$WORK/point_repeated.tsv" | cut -f1 | sed 's|^/api/boards/||')
TENANT=$(head -1 "$WORK/point_unverified.tsv" | cut -f3)
declare -A server_cpu
for r in $(seq "$rounds"); do
    for t in unverified postgrest verified; do
        read -r _ pg0 _ < <(python3 "$BENCH_DIR/gateway/cpu.py" "$GATEWAY_PID" "$CLUSTER_DIR/data")
        out=$(pgbench -n -M prepared -c 2 -j 2 -T "$duration" -U bench_app -D token="$TOKEN" -D bid="$BOARD" \
              -D tid="$TENANT" -f "$BENCH_DIR/gateway/transactions/$t.sql" postgres 2>&1)
        read -r _ pg1 _ < <(python3 "$BENCH_DIR/gateway/cpu.py" "$GATEWAY_PID" "$CLUSTER_DIR/data")
        n=$(awk '/number of transactions actually processed/ {split($NF, a, "/"); print a[1]}' <<<"$out")
        [ -n "$n" ] && [ "$n" -gt 0 ] || { echo "pgbench $t failed:" >&2; echo "$out" >&2; exit 1; }
        server_cpu[$t]="${server_cpu[$t]:-} $(awk -v t=$((pg1 - pg0)) -v n="$n" -v hz="$HZ" 'BEGIN {printf "%.1f", t * 1e6 / hz / n}')"
    done
done
echo
echo "The same transactions without HTTP (pgbench -M prepared, 2 clients, ${duration}s, as bench_app):"
echo "server CPU microseconds per transaction, medians of $rounds rounds."
echo
echo "| transaction | statements | server CPU per transaction |"
echo "| --- | --- | --- |"
for t in unverified postgrest verified; do
    case $t in
        unverified) what="BEGIN; hand-filtered query; COMMIT" ;;
        postgrest) what="BEGIN; set_config(claims); hand-filtered query; COMMIT" ;;
        verified) what="BEGIN; boards_set_tenant_from_jwt (repeated token); protected query; COMMIT" ;;
    esac
    printf '| %s | %s | %.1f µs |\n' "$t" "$what" "$(median "${server_cpu[$t]}")"
done
echo
echo "Medians of $rounds rounds; $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), gateway, PostgreSQL $("$PG_CONFIG" --version | awk '{print $2}') and wrk on the same machine."
