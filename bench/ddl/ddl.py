#!/usr/bin/env python3
"""DDL benchmark driver (bench/ddl.sh): the time the extension adds per DDL statement.

Two databases, `ddl_absent` (no extension) and `ddl_present` (boards_tenant), get the same
catalog: `--sizes` filler tables (no tenant column) and `--protected` tables with a tenant
column (protected in ddl_present). For every statement kind, `--statements` statements run in
warm psql sessions per database (autocommit, as a migration tool runs them): the time per
statement is (time of 2n statements - time of n) / n, timed inside the session; the difference
between the two databases is the time added per statement. Each
figure is the median of `--repeat` runs. PGOPTIONS carries the hostile settings.
"""

import argparse
import os
import statistics
import subprocess

HOSTILE = ("-c enable_sort=off -c enable_indexscan=off -c jit=on -c jit_above_cost=0 "
           "-c random_page_cost=1000")

# kind -> statement template ({n}: a unique number); what earlier kinds created is reused.
KINDS = [
    ("CREATE TABLE", "CREATE TABLE bench.p{n} (a int, b text);"),
    ("CREATE TABLE (tenant_id)", "CREATE TABLE bench.t{n} (tenant_id uuid, a int);"),
    ("ALTER TABLE ADD COLUMN", "ALTER TABLE bench.p{n} ADD COLUMN c int;"),
    ("CREATE INDEX", "CREATE INDEX ON bench.p{n} (a);"),
    ("CREATE FUNCTION", "CREATE FUNCTION bench.f{n}() RETURNS int LANGUAGE sql AS 'SELECT 1';"),
    ("CREATE VIEW", "CREATE VIEW bench.v{n} AS SELECT a FROM bench.p{n};"),
    ("DROP TABLE", "DROP TABLE bench.p{n} CASCADE;"),
    ("DROP TABLE (protected)", "DROP TABLE bench.t{n};"),
]
# Auto-protection does real work (policy, default, index, registry row): reported, not judged.
NOT_OVERHEAD = {"CREATE TABLE (tenant_id)", "DROP TABLE (protected)"}


def psql(db, sql, options=""):
    env = dict(os.environ, PGOPTIONS=options)
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db],
                   input=sql, text=True, check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# A backend's first statements fill its caches (and, with the extension, compile the event
# trigger functions): once per connection, not per statement, so they run before the clock.
WARM_UP = """CREATE TABLE bench.warm (a int); ALTER TABLE bench.warm ADD COLUMN b int;
CREATE TABLE bench.warm_t (tenant_id uuid); DROP TABLE bench.warm, bench.warm_t;
SELECT pg_catalog.clock_timestamp() AS started \\gset
"""
ELAPSED = "SELECT extract(epoch FROM pg_catalog.clock_timestamp() - :'started');\n"


def timed(db, sql, options):
    """Seconds the statements took inside one warm session."""
    env = dict(os.environ, PGOPTIONS=options)
    out = subprocess.run(["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d", db],
                         input=WARM_UP + sql + ELAPSED, text=True, check=True, env=env,
                         capture_output=True).stdout
    return float(out.strip().splitlines()[-1])


def grow(db, schema, prefix, have, want, tenant):
    cols = "tenant_id uuid, a int" if tenant else "a int"
    step = 5000
    while have < want:
        upto = min(want, have + step)
        psql(db, f"""CREATE SCHEMA IF NOT EXISTS {schema};
DO $$ BEGIN FOR i IN {have} .. {upto - 1} LOOP
  EXECUTE format('CREATE TABLE {schema}.{prefix}%s ({cols})', i);
END LOOP; END $$;""")
        have = upto
    return have


def per_statement(db, template, first, statements, options):
    """Seconds per statement: a session of 2n statements minus one of n, so what a session
    pays once (in the extension's database a first-statement cost of ~0.2 s was seen, not a
    DDL cost) cancels out."""
    def batch(start, n):
        return "".join(template.format(n=start + i) + "\n" for i in range(n))
    short = timed(db, batch(first, statements), options)
    long = timed(db, batch(first + statements, 2 * statements), options)
    return (long - short) / statements


def measure(statements, repeat, options):
    out = {}
    for kind, template in KINDS:
        added = []
        for r in range(repeat):
            first = r * 3 * statements
            t = {db: per_statement(db, template, first, statements, options)
                 for db in ("ddl_absent", "ddl_present")}
            added.append((t["ddl_present"] - t["ddl_absent"]) * 1000)
            if os.environ.get("DDL_BENCH_RAW"):
                print(f"  {kind}: absent {t['ddl_absent'] * 1000:.3f} ms, "
                      f"present {t['ddl_present'] * 1000:.3f} ms", flush=True)
        out[kind] = statistics.median(added)
    for db in ("ddl_absent", "ddl_present"):
        psql(db, "DROP SCHEMA bench CASCADE; CREATE SCHEMA bench;")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="0 10000 50000")
    ap.add_argument("--protected", default="10 1000")
    ap.add_argument("--statements", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--command", default="bash bench/ddl.sh")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split()]
    protected = [int(p) for p in args.protected.split()]
    rows = []
    for p in protected:
        for db in ("ddl_absent", "ddl_present"):
            psql("postgres", f"DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db};")
            psql(db, "CREATE SCHEMA bench;")
        psql("ddl_present", "CREATE EXTENSION boards_tenant;")
        for db in ("ddl_absent", "ddl_present"):
            grow(db, "prot", "p", 0, p, tenant=True)
        have = 0
        for size in sizes:
            for db in ("ddl_absent", "ddl_present"):
                grown = grow(db, "filler", "f", have, size, tenant=False)
            have = grown
            for label, options in (("default", ""), ("hostile", HOSTILE)):
                res = measure(args.statements, args.repeat, options)
                rows.append((size, p, label, res))
                print(f"tables={size} protected={p} settings={label}: "
                      + ", ".join(f"{k}={v:+.3f}" for k, v in res.items()), flush=True)
    print()
    print(f"ms added per statement (median of {args.repeat} runs of {args.statements}); "
          f"command: {args.command}")
    print("| tables | protected | settings | " + " | ".join(k for k, _ in KINDS)
          + " | worst judged |")
    print("|---" * (len(KINDS) + 4) + "|")
    for size, p, label, res in rows:
        worst = max(v for k, v in res.items() if k not in NOT_OVERHEAD)
        print(f"| {size} | {p} | {label} | "
              + " | ".join(f"{res[k]:+.3f}" for k, _ in KINDS) + f" | {worst:+.3f} |")


if __name__ == "__main__":
    main()
