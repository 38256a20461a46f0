# Shared by the README's commands (scripts/demo.sh, scripts/test.sh) and the benchmark:
# idempotent set-up of a fresh Debian machine, extension installs, throwaway clusters.
# Source it; it defines functions only.

BOARDS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_CONFIG=/usr/bin/pg_config
INSTALL_LOCK=/tmp/boards_tenant_install.lock
REQUIRED_PACKAGES=(postgresql-15 postgresql-server-dev-15 sudo pgbouncer libclang-dev clang)

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Postgres refuses to run as root: servers run as the OS user postgres when we are root.
server_user() { if [ "$(id -u)" = 0 ]; then echo postgres; else id -un; fi; }
as_server() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

ensure_packages() {
    local missing=() p
    for p in "${REQUIRED_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        step "Installing Debian packages: ${missing[*]}"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    fi
}

ensure_cargo_pgrx() {
    if ! cargo pgrx --version 2>/dev/null | grep -q ' 0\.18\.1'; then
        step "Installing cargo-pgrx 0.18.1 (a few minutes; once per machine)"
        cargo install cargo-pgrx --version 0.18.1 --locked
    fi
    if ! grep -qs "pg15 = \"$PG_CONFIG\"" "${PGRX_HOME:-$HOME/.pgrx}/config.toml"; then
        step "cargo pgrx init --pg15 $PG_CONFIG"
        cargo pgrx init --pg15 "$PG_CONFIG"
    fi
}

ensure_setup() {
    ensure_packages
    ensure_cargo_pgrx
}

# Builds and installs the extension into the system PostgreSQL 15 ("--release" for the
# optimised build). The lock keeps it from replacing the library under a running test cluster.
install_extension() {
    local sudo_flag=()
    [ "$(id -u)" = 0 ] || sudo_flag=(--sudo)
    (cd "$BOARDS_ROOT" && flock "$INSTALL_LOCK" bash -c '
        cargo pgrx install --pg-config "$0" "${@}" && bash scripts/install_released_sql.sh "$0"' \
        "$PG_CONFIG" "${sudo_flag[@]}" "$@")
}

free_port() {
    local port
    for port in $(seq 55432 55999); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    echo "no free port in 55432-55999" >&2
    return 1
}

# Starts a throwaway cluster (private temp dir owned by the server's OS user, a free port) and
# exports PGHOST/PGPORT/PGUSER/PGDATABASE for psql and the CLI. Extra postgresql.conf lines
# may be passed as arguments. Stop it with stop_cluster (callers trap EXIT).
start_cluster() {
    local bindir
    bindir=$("$PG_CONFIG" --bindir)
    CLUSTER_DIR=$(mktemp -d /tmp/boards_tenant_cluster.XXXXXX)
    chmod 700 "$CLUSTER_DIR"
    [ "$(id -u)" = 0 ] && chown postgres: "$CLUSTER_DIR"
    as_server "$bindir/initdb" -D "$CLUSTER_DIR/data" -U postgres --auth=trust -E UTF8 \
        --locale=C --no-sync >/dev/null
    CLUSTER_PORT=$(free_port)
    {
        echo "port = $CLUSTER_PORT"
        echo "listen_addresses = '127.0.0.1'"
        echo "unix_socket_directories = '$CLUSTER_DIR'"
        echo "shared_preload_libraries = 'boards_tenant'"
        local line
        for line in "$@"; do echo "$line"; done
    } | as_server tee -a "$CLUSTER_DIR/data/postgresql.conf" >/dev/null
    as_server "$bindir/pg_ctl" -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/server.log" -w -t 60 start >/dev/null
    export PGHOST=127.0.0.1 PGPORT=$CLUSTER_PORT PGUSER=postgres PGDATABASE=postgres
}

stop_cluster() {
    [ -n "${CLUSTER_DIR:-}" ] && [ -d "$CLUSTER_DIR" ] || return 0
    as_server "$("$PG_CONFIG" --bindir)/pg_ctl" -D "$CLUSTER_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$CLUSTER_DIR"
    CLUSTER_DIR=
}
