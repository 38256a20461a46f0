#!/usr/bin/env bash
# Command B of the README: set up a fresh Debian machine (idempotent) and run every test:
# the frozen released SQL scripts and the core crate's unit, property and 1,000,000-case fuzz
# tests once; then, on every supported PostgreSQL (15, Debian's, first; then 14, 16, 17, 18),
# the in-database tests (cargo pgrx test), the pg_regress suite and the integration suites against throwaway
# clusters, standbys and PgBouncer that the harness starts and stops itself. On the default
# version also the rest (crash safety, the CLI, the harness's own tests) and the isolation
# suites once more on databases upgraded from the first release; last, pg_upgrade 15 -> 17.
# BOARDS_PG_VERSIONS="15 17" limits the versions (for development; CI runs them all).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$BOARDS_ROOT"

ensure_setup

step "Released SQL scripts are frozen"
bash scripts/check_released_sql.sh

step "No module imports one that imports it back (src/, core/src/)"
python3 scripts/check_module_cycles.py --self-test
python3 scripts/check_module_cycles.py

step "Core crate: unit and property tests"
cargo test -p boards_tenant_core

step "Core crate: fuzz properties (1,000,000 cases, release build)"
cargo test --release -p boards_tenant_core --test fuzz_properties

# The suites whose results could depend on the server version: every isolation claim.
ISOLATION_SUITES=(context rls attacks ddl caches sealed_context tenants registration audit membership pooling configurations standby upgrade foundation identity_keys)
read -r -a versions <<<"${BOARDS_PG_VERSIONS:-$DEFAULT_PG ${SUPPORTED_PG[*]/$DEFAULT_PG/}}"

runas=()
[ "$(id -u)" = 0 ] && runas=(--runas postgres)
for major in "${versions[@]}"; do
    use_pg "$major"
    step "PostgreSQL $major: in-database tests (cargo pgrx test pg$major)"
    pgdata=$(mktemp -d /tmp/boards_tenant_pgrx.XXXXXX)
    rm -rf "$pgdata"
    flock "$(install_lock)" cargo pgrx test "pg$major" "${runas[@]}" --pgdata "$pgdata"
    rm -rf "$pgdata"

    step "PostgreSQL $major: installing the extension for the integration tests"
    install_extension

    step "PostgreSQL $major: pg_regress suite (tests/pg_regress: the SQL surface as specified)"
    bash scripts/regress.sh

    if [ "$major" = "$DEFAULT_PG" ]; then
        step "PostgreSQL $major: integration tests: every suite, the harness, the CLI"
        BOARDS_TENANT_SKIP_INSTALL=1 cargo test -p boards_tenant_harness -p boards_tenant_tests -p boards-tenant

        step "PostgreSQL $major: HTTP gateway: every endpoint and error over HTTP, the operator rule, isolation under concurrency and behind PgBouncer, robustness, schemathesis"
        BOARDS_TENANT_SKIP_INSTALL=1 cargo test -p boards-tenant-gateway

        step "PostgreSQL $major: command A's demo (demo/demo.sql and the CLI) end to end"
        flock -s "$(install_lock)" bash scripts/demo.sh --installed

        step "PostgreSQL $major: context, RLS and attack tests again, on databases upgraded from 0.1.0"
        BOARDS_TENANT_SKIP_INSTALL=1 BOARDS_TENANT_UPGRADED_FROM=0.1.0 \
            cargo test -p boards_tenant_tests --test context --test rls --test attacks
    else
        step "PostgreSQL $major: integration tests: ${ISOLATION_SUITES[*]}"
        BOARDS_TENANT_SKIP_INSTALL=1 cargo test -p boards_tenant_tests \
            "${ISOLATION_SUITES[@]/#/--test=}"
    fi
done

if [[ " ${versions[*]} " == *" $PG_UPGRADE_TO "* ]]; then
    step "pg_upgrade from PostgreSQL $PG_UPGRADE_FROM to $PG_UPGRADE_TO keeps rows and isolation"
    use_pg "${PG_UPGRADE_FROM%%.*}" "$(pg_config_of_binaries "$PG_UPGRADE_FROM")"
    install_extension
    BOARDS_TENANT_SKIP_INSTALL=1 BOARDS_TENANT_PG_UPGRADE_TO="$(pg_config_for "$PG_UPGRADE_TO")" \
        cargo test -p boards_tenant_tests --features pg_upgrade --test pg_upgrade
fi

step "All tests passed on PostgreSQL ${versions[*]}"
