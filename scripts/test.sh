#!/usr/bin/env bash
# Command B of the README: set up a fresh Debian machine (idempotent) and run every test:
# the frozen released SQL scripts, the core's unit and property tests, the 1,000,000-case fuzz
# run, the in-database tests (cargo pgrx test), the integration tests against throwaway
# clusters and PgBouncer that the harness starts and stops itself, and the isolation suites
# once more on databases upgraded from the first release.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$BOARDS_ROOT"

ensure_setup

step "Released SQL scripts are frozen"
bash scripts/check_released_sql.sh

step "Core crate: unit and property tests"
cargo test -p boards_tenant_core

step "Core crate: fuzz properties (1,000,000 cases, release build)"
cargo test --release -p boards_tenant_core --test fuzz_properties

step "In-database tests (cargo pgrx test pg15)"
pgdata=$(mktemp -d /tmp/boards_tenant_pgrx.XXXXXX)
rm -rf "$pgdata"
runas=()
[ "$(id -u)" = 0 ] && runas=(--runas postgres)
flock "$INSTALL_LOCK" cargo pgrx test pg15 "${runas[@]}" --pgdata "$pgdata"
rm -rf "$pgdata"

step "Installing the extension for the integration tests"
install_extension

step "Integration tests: harness, context, RLS, tenants, registration, audit, attacks, configurations (with and without preload), hot standby, pooling, crash safety, upgrade and restore, CLI"
BOARDS_TENANT_SKIP_INSTALL=1 cargo test -p boards_tenant_harness -p boards_tenant_tests -p boards-tenant

step "Context, RLS and attack tests again, on databases upgraded from 0.1.0"
BOARDS_TENANT_SKIP_INSTALL=1 BOARDS_TENANT_UPGRADED_FROM=0.1.0 \
    cargo test -p boards_tenant_tests --test context --test rls --test attacks

step "All tests passed"
