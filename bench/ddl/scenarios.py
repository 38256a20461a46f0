#!/usr/bin/env python3
"""The DDL issue's four user scenarios, re-measured (bench/ddl/scenarios.sh): the figures a user
running migrations sees, extension absent vs present, beside the per-statement table of
bench/ddl.sh.

1. One `CREATE TABLE t (a int)` in an empty database (ms per statement).
2. A migration: 3,000 `CREATE TABLE` in one `DO` loop (one transaction), then the next 3,000,
   then a single `CREATE TABLE` at 6,000 tables: the cost must not grow with the catalog or
   with the statements before it in the transaction.
3. Hostile session settings: `CREATE TABLE` and `DROP TABLE` per statement with
   `enable_sort = off` alone and with the whole hostile set of bench/ddl/ddl.py, at 6,000
   tables: the extension's internal queries must not inherit them (no JIT, no penalty plans).
4. Locks: which of the extension's tables a DDL transaction holds a lock on after each kind of
   statement, read from pg_locks inside the transaction (expected: none, unless the statement
   touched a table that is or can become protected).

`--instructions` adds the noise-free form of "flat in catalog size": callgrind instructions per
statement for CREATE TABLE, ALTER TABLE ADD COLUMN and DROP TABLE, absent and present, in an
empty catalog and at `--tables` tables (bench/ddl/callgrind.py).
"""

import argparse
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import callgrind  # noqa: E402
from ddl import HOSTILE, grow, per_statement, psql, timed  # noqa: E402

DATABASES = ("ddl_absent", "ddl_present")
LOOP = """DO $$ BEGIN FOR i IN {first} .. {last} LOOP
  EXECUTE format('CREATE TABLE bench.m%s (a int)', i);
END LOOP; END $$;
"""
# (what the transaction did, the statements): run in one transaction, then pg_locks is read.
LOCK_CASES = [
    ("CREATE TABLE without a tenant column", "CREATE TABLE bench.l1 (a int);"),
    ("ALTER TABLE ADD COLUMN", "ALTER TABLE bench.lk ADD COLUMN b int;"),
    ("CREATE INDEX", "CREATE INDEX ON bench.lk (a);"),
    ("CREATE VIEW", "CREATE VIEW bench.lv AS SELECT a FROM bench.lk;"),
    ("CREATE FUNCTION", "CREATE FUNCTION bench.lf() RETURNS int LANGUAGE sql AS 'SELECT 1';"),
    ("DROP TABLE (plain)", "DROP TABLE bench.lk;"),
    ("CREATE TABLE with a tenant column (becomes protected)", "CREATE TABLE bench.lt (tenant_id uuid, a int);"),
    ("DROP TABLE (protected)", "DROP TABLE bench.lp;"),
]
EXTENSION_LOCKS = """SELECT coalesce(string_agg(DISTINCT c.relname || ' ' || l.mode, ', '), 'none')
FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_class c ON c.oid = l.relation
WHERE l.pid = pg_catalog.pg_backend_pid() AND c.relnamespace = 'boards'::regnamespace;"""


def fresh_databases():
    for db in DATABASES:
        psql("postgres", f"DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db};")
        psql(db, "CREATE SCHEMA bench;")
    psql("ddl_present", "CREATE EXTENSION boards_tenant;")


def ms(seconds):
    return f"{seconds * 1000:.3f} ms"


def both(measure, repeat):
    """measure(db, r) for each database, median of `repeat` runs: (absent, present)."""
    return tuple(statistics.median(measure(db, r) for r in range(repeat)) for db in DATABASES)


def row(label, absent, present, unit=ms):
    print(f"| {label} | {unit(absent)} | {unit(present)} | {ms(present - absent)} "
          f"| {present / absent:.2f}x |", flush=True)


def scenarios(statements, repeat):
    print(f"Medians of {repeat} runs; per statement: a warm session of 2n minus one of n, "
          f"n = {statements} (bench/ddl/ddl.py).")
    print()
    print("| scenario | extension absent | present | added | present / absent |")
    print("|---|---|---|---|---|")
    single = "CREATE TABLE bench.s{n} (a int);"
    span = 3 * statements

    def per(template, first, options=""):
        return lambda db, r: per_statement(db, template, first + r * span, statements, options)

    fresh_databases()
    row("1. CREATE TABLE (a int), empty database, per statement", *both(per(single, 0), repeat))
    seconds = lambda s: f"{s:.2f} s"  # noqa: E731
    loops = {db: ([], []) for db in DATABASES}
    for r in range(repeat):  # a migration starts from the same catalog each time
        fresh_databases()
        # Interleaved, the first database alternating: what one loop leaves to autovacuum
        # (thousands of new catalog rows) then weighs on both sides alike.
        for i, first in enumerate((0, 3000)):
            for db in DATABASES[::-1] if r % 2 else DATABASES:
                loops[db][i].append(timed(db, LOOP.format(first=first, last=first + 2999), ""))
    for i, label in enumerate(("3,000 CREATE TABLE in one DO loop", "the next 3,000 in one DO loop")):
        row(f"2. {label}", *(statistics.median(loops[db][i]) for db in DATABASES), seconds)
    first = 10000
    row("2. CREATE TABLE (a int) at 6,000 tables, per statement", *both(per(single, first), repeat))
    first += repeat * span
    for label, options in (("enable_sort = off", "-c enable_sort=off"),
                           ("hostile set", HOSTILE)):
        row(f"3. CREATE TABLE at 6,000 tables, {label}", *both(per(single, first, options), repeat))
        row(f"3. DROP TABLE at 6,000 tables, {label}",
            *both(per("DROP TABLE bench.s{n};", first, options), repeat))
        first += repeat * span


def locks():
    print()
    print("| 4. one transaction, as superuser | locks held on the extension's tables before COMMIT |")
    print("|---|---|")
    for label, statement in LOCK_CASES:
        psql("ddl_present", "DROP SCHEMA bench CASCADE; CREATE SCHEMA bench;"
             "CREATE TABLE bench.lk (a int); CREATE TABLE bench.lp (tenant_id uuid, a int);")
        out = subprocess.run(
            ["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d", "ddl_present"],
            input=f"BEGIN;\n{statement}\n{EXTENSION_LOCKS}\nCOMMIT;\n", text=True, check=True,
            capture_output=True).stdout.strip()
        print(f"| {label}: `{statement}` | {out} |", flush=True)


# kind -> (statement template, what must exist before it)
COUNTED_KINDS = [
    ("CREATE TABLE", "CREATE TABLE bench.c{n} (a int);", None),
    ("ALTER TABLE ADD COLUMN", "ALTER TABLE bench.c{n} ADD COLUMN b int;", "CREATE TABLE"),
    ("DROP TABLE", "DROP TABLE bench.c{n};", "CREATE TABLE"),
]
SHORT, LONG = 20, 120


def counted_kinds(pgdata):
    """Instructions per statement of each COUNTED_KINDS, absent and present."""
    out = {}
    with callgrind.counting_server(pgdata) as counted:
        for db in DATABASES:  # the first session after a restart rebuilds the relcache files
            counted(db, "SELECT 1;")
        for kind, template, _ in COUNTED_KINDS:
            out[kind] = tuple(callgrind.per_statement(
                counted, db, lambda first, n: "".join(template.format(n=first + i) + "\n"
                                                      for i in range(n)), SHORT, LONG)
                for db in DATABASES)
    return out


def instructions(pgdata, tables):
    print()
    print("| callgrind instructions per statement | tables | absent | present | added |")
    print("|---|---|---|---|---|")
    fresh_databases()
    at = {0: counted_kinds(pgdata)}
    for db in DATABASES:
        psql(db, "DROP SCHEMA bench CASCADE; CREATE SCHEMA bench;")
        grow(db, "filler", "f", 0, tables, tenant=False)
        psql(db, "VACUUM ANALYZE;")
    at[tables] = counted_kinds(pgdata)
    for kind, _, _ in COUNTED_KINDS:
        for size, per in at.items():
            absent, present = per[kind]
            print(f"| {kind} | {size:,} | {absent:,} | {present:,} | {present - absent:+,} |",
                  flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--statements", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--instructions", action="store_true")
    ap.add_argument("--tables", type=int, default=50000)
    ap.add_argument("--pgdata", required=True)
    args = ap.parse_args()
    scenarios(args.statements, args.repeat)
    locks()
    if args.instructions:
        instructions(args.pgdata, args.tables)


if __name__ == "__main__":
    main()
