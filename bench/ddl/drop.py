#!/usr/bin/env python3
"""What the extension adds to a DROP TABLE (bench/ddl/drop.sh), the part bench/ddl.sh cannot
separate: there the protected table's drop (`DROP TABLE (protected)`) also drops the policy,
DEFAULT and index that auto-protection made, which the table in the database without the
extension lacks. Here the database without the extension gets tables of the same shape (RLS
enabled and forced, a policy named like the tenant policy, a DEFAULT on and an index led by
tenant_id), so the difference is the extension's own work: the `sql_drop` trigger, the registry
row, and its larger policy expression (relcache reads it when the table is opened to drop).
An unprotected plain table is measured too (the trigger fires for every DROP).

Two measures, as bench/ddl/ddl.py and bench/instructions.py take them:
- `--instructions`: the cluster restarted under `valgrind --tool=callgrind`; one session of
  SHORT and one of LONG drops; (long - short) / (LONG - SHORT) instructions per DROP, start-up
  and first-use caches cancelled. Noise-free.
- otherwise: milliseconds, a warm session of 2n drops minus one of n, median of `--repeat`.
"""

import argparse
import os
import statistics
import sys

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, BENCH)
sys.path.insert(0, os.path.join(BENCH, "ddl"))
from callgrind import counting_server, per_statement  # noqa: E402
from ddl import HOSTILE, psql, timed  # noqa: E402

SAME_SHAPE = """CREATE TABLE bench.s{n} (tenant_id uuid DEFAULT gen_random_uuid(), a int);
ALTER TABLE bench.s{n} ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY boards_tenant_isolation ON bench.s{n} USING (tenant_id = (SELECT gen_random_uuid()));
CREATE INDEX ON bench.s{n} (tenant_id);
"""
# (label, what ddl_absent gets, what ddl_present gets: auto-protected when it has tenant_id)
CASES = [
    ("protected table / same shape", SAME_SHAPE, "CREATE TABLE bench.s{n} (tenant_id uuid, a int);\n"),
    ("plain table", "CREATE TABLE bench.s{n} (a int);\n", "CREATE TABLE bench.s{n} (a int);\n"),
]
SHORT, LONG = 20, 120


def databases(run=psql):
    for db in ("ddl_absent", "ddl_present"):
        run("postgres", f"DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db};")
        run(db, "CREATE SCHEMA bench;")
    run("ddl_present", "CREATE EXTENSION boards_tenant;")


def make(db, template, count, run=psql):
    run(db, "DROP SCHEMA bench CASCADE; CREATE SCHEMA bench;"
        + "".join(template.format(n=i) for i in range(count)))


def drops(first, n):
    return "".join(f"DROP TABLE bench.s{first + i};\n" for i in range(n))


def by_instructions(pgdata):
    with counting_server(pgdata) as counted:
        databases(counted)
        for label, absent, present in CASES:
            per = {}
            for db, template in (("ddl_absent", absent), ("ddl_present", present)):
                make(db, template, SHORT + LONG, counted)
                per[db] = per_statement(counted, db, drops, SHORT, LONG)
            print(f"{label}: without the extension {per['ddl_absent']:,} instructions per DROP, "
                  f"with it {per['ddl_present']:,}: {per['ddl_present'] - per['ddl_absent']:+,}",
                  flush=True)


def by_time(statements, repeat):
    databases()
    for label, absent, present in CASES:
        for settings, options in (("default", ""), ("hostile", HOSTILE)):
            added = []
            for _ in range(repeat):
                per = {}
                for db, template in (("ddl_absent", absent), ("ddl_present", present)):
                    make(db, template, 3 * statements)
                    short = timed(db, drops(0, statements), options)
                    long = timed(db, drops(statements, 2 * statements), options)
                    per[db] = (long - short) / statements
                added.append((per["ddl_present"] - per["ddl_absent"]) * 1000)
            print(f"{label}, {settings} settings: {statistics.median(added):+.3f} ms added per DROP "
                  f"(median of {repeat} runs of {statements}; runs: "
                  + ", ".join(f"{a:+.3f}" for a in added) + ")", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--instructions", action="store_true")
    ap.add_argument("--statements", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--pgdata", required=True)
    args = ap.parse_args()
    if args.instructions:
        by_instructions(args.pgdata)
    else:
        by_time(args.statements, args.repeat)


if __name__ == "__main__":
    main()
