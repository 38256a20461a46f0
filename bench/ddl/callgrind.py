"""The DDL benchmarks' noise-free measure (bench/ddl/drop.py, bench/ddl/scenarios.py): the
cluster restarted under `valgrind --tool=callgrind`, each psql session's backend counted when
it exits, as bench/instructions.py counts the pgbench scenarios."""

import contextlib
import os
import shutil
import subprocess
import time

import instructions
from ddl import psql


@contextlib.contextmanager
def counting_server(pgdata):
    """Yields counted(db, sql): runs `sql` in one session and returns the instructions its
    backend took (its file is written when it exits: waiting for it keeps it from being
    taken for the next). The cluster runs normally again afterwards."""
    outdir = os.path.join(os.path.dirname(pgdata), "callgrind")
    os.makedirs(outdir, exist_ok=True)
    if os.geteuid() == 0:
        subprocess.run(["chown", "postgres:", outdir], check=True)
    instructions._pg_ctl(pgdata, "-m", "fast", "stop")
    bindir = instructions._bindir()
    server = subprocess.Popen(
        instructions._as_server(["valgrind", "--tool=callgrind", "--quiet",
                                 f"--callgrind-out-file={outdir}/cg.%p",
                                 os.path.join(bindir, "postgres"), "-D", pgdata, "-c", "autovacuum=off"]),
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(outdir, "server.log"), "w"))
    try:
        for _ in range(600):
            if subprocess.run([os.path.join(bindir, "pg_isready"), "-q"]).returncode == 0:
                break
            time.sleep(1)
        seen = set()

        def counted(db, sql):
            psql(db, sql)
            return instructions._total(instructions._backend_file(outdir, seen))

        yield counted
    finally:
        subprocess.run(instructions._as_server([os.path.join(bindir, "pg_ctl"), "-D", pgdata, "-m", "fast",
                                                "-w", "-t", "600", "stop"]), stdout=subprocess.DEVNULL)
        server.wait()
        shutil.rmtree(outdir, ignore_errors=True)
        instructions._pg_ctl(pgdata, "-l", os.path.join(os.path.dirname(pgdata), "server.log"), "start")


def per_statement(counted, db, statements, short, long):
    """Instructions per statement: (a session of `long` - one of `short`) / (long - short), so
    start-up and first-use caches cancel. statements(first, n) gives the SQL."""
    totals = [counted(db, statements(first, n)) for first, n in ((0, short), (short, long))]
    return round((totals[1] - totals[0]) / (long - short))
