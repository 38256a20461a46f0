#!/usr/bin/env bash
# Command A of the README: set up a fresh Debian machine (idempotent), build and install the
# extension and the CLI, start a throwaway cluster, run the end-to-end demo through psql and
# the CLI, stop the cluster. On PostgreSQL 15 (Debian's) unless BOARDS_PG names another
# supported major version (BOARDS_PG=17 bash scripts/demo.sh).
#
# --installed: no set-up and no extension build: the demo against the extension installed
# now, with a debug build of the CLI (command B runs it so, so that command A cannot break
# unnoticed). psql stops at the first unexpected error either way, and so does this script.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$BOARDS_ROOT"

if [ "${1:-}" = --installed ]; then
    step "Building the boards-tenant CLI (debug)"
    cargo build -p boards-tenant
    CLI="$BOARDS_ROOT/target/debug/boards-tenant"
else
    ensure_setup
    step "Building and installing boards_tenant (release build)"
    install_extension --release
    step "Building the boards-tenant CLI"
    cargo build --release -p boards-tenant
    CLI="$BOARDS_ROOT/target/release/boards-tenant"
fi

step "Starting a throwaway PostgreSQL $BOARDS_PG cluster ($PG_CONFIG)"
trap stop_cluster EXIT
start_cluster
echo "cluster in $CLUSTER_DIR, port $CLUSTER_PORT"

step "demo/demo.sql"
"$("$PG_CONFIG" --bindir)/psql" -X -f demo/demo.sql 2>&1

step "The CLI, as the admin role (PG* variables pick the connection)"
export PGUSER=boards_admin
set -x
"$CLI" tenant list
"$CLI" tenant get acme-corp --output-format json
"$CLI" tenant members list acme-corp
"$CLI" tenant create --name "Initech" --slug initech --sample-data
"$CLI" tenant audit --tenant-slug acme-corp
"$CLI" tenant audit --output-format json >"$CLUSTER_DIR/audit.json"
head -c 1500 "$CLUSTER_DIR/audit.json"; echo
set +x
step "Done: stopping the cluster"
