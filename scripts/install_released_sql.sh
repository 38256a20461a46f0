#!/usr/bin/env bash
# Installs the frozen install scripts of released versions (sql/boards_tenant--X.Y.Z.sql) next
# to the ones `cargo pgrx install` writes: pgrx generates only the current version's install
# script and copies only upgrade scripts (boards_tenant--A--B.sql), but
# `CREATE EXTENSION boards_tenant VERSION '0.1.0'` needs 0.1.0's own script.
# Usage: install_released_sql.sh [PG_CONFIG]   (default: $PG_CONFIG, else pg_config on PATH)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
pg_config=${1:-${PG_CONFIG:-pg_config}}
dest="$("$pg_config" --sharedir)/extension"
shopt -s nullglob
for script in "$root"/sql/boards_tenant--*.sql; do
    name=$(basename "$script")
    # Upgrade scripts (two versions in the name) are cargo pgrx install's job.
    [[ "$name" =~ ^boards_tenant--[0-9]+\.[0-9]+\.[0-9]+\.sql$ ]] || continue
    if [ -w "$dest" ]; then
        install -m 644 "$script" "$dest/$name"
    else
        sudo install -m 644 "$script" "$dest/$name"
    fi
done
