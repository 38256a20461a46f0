#!/usr/bin/env bash
# Released SQL scripts are frozen. sql/RELEASED.sha256 lists every script of a released
# version with its checksum; this fails when
# - a listed script changed or is missing (sha256sum -c),
# - a script that must be frozen is not listed: every install script but the current
#   version's, every upgrade script that does not lead to the current version,
# - the list itself ever lost or changed a line (its git history only adds lines).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../sql"
current=$(sed -n 's/^version = "\(.*\)"$/\1/p' ../Cargo.toml | head -n 1)
[ -n "$current" ] || { echo "no version in Cargo.toml" >&2; exit 1; }

sha256sum --quiet -c RELEASED.sha256

status=0
for script in boards_tenant--*.sql; do
    case "$script" in
        "boards_tenant--$current.sql" | *"--$current.sql") continue ;;
    esac
    if ! grep -q "  $script\$" RELEASED.sha256; then
        echo "sql/$script belongs to a released version but is not frozen in sql/RELEASED.sha256" >&2
        status=1
    fi
done

if git -C .. rev-parse --is-inside-work-tree >/dev/null 2>&1 &&
    [ "$(git -C .. rev-parse --is-shallow-repository)" = false ]; then
    if git -C .. log --format= -p -- sql/RELEASED.sha256 | grep -E '^-[0-9a-f]{64} ' >&2; then
        echo "sql/RELEASED.sha256 lost or changed the lines above: released scripts are never edited" >&2
        status=1
    fi
fi
[ "$status" = 0 ] && echo "released SQL scripts unchanged ($(wc -l < RELEASED.sha256) frozen; open: $current)"
exit "$status"
