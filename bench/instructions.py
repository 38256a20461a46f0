"""Instructions per transaction, the noise-free figure beside TPS.

TPS on a shared 2-core VM spreads by +-10 % between rounds, so a few per cent cannot be settled
by timing. Instruction counts can: the cluster is restarted under `valgrind --tool=callgrind`
(every backend the postmaster forks is counted in its own file, written when it exits), and each
scenario's pgbench script runs twice in one client, `SHORT` and `LONG` transactions; the
difference of the two backends' totals divided by `LONG - SHORT` is the cost of one
transaction, with connection start-up, first-use catalog and key loading cancelled out. The
protocol is the benchmark's own (`pgbench -M prepared`), so the figure counts the same
server work the TPS rounds time, parse/bind/execute and commit included, but nothing of
pgbench or the kernel's scheduling.
"""

import glob
import os
import re
import shutil
import subprocess
import time

SHORT, LONG = 200, 1200


def _bindir():
    return subprocess.run([os.environ.get("PG_CONFIG", "pg_config"), "--bindir"], capture_output=True, text=True,
                          check=True).stdout.strip()


def _as_server(cmd):
    return (["runuser", "-u", "postgres", "--"] + cmd) if os.geteuid() == 0 else cmd


def _pg_ctl(pgdata, *args):
    subprocess.run(_as_server([os.path.join(_bindir(), "pg_ctl"), "-D", pgdata, "-w", "-t", "600", *args]),
                   check=True, stdout=subprocess.DEVNULL)


def _total(path):
    with open(path) as f:
        for line in f:
            m = re.match(r"(?:summary|totals):\s+(\d+)", line)
            if m:
                return int(m.group(1))
    raise RuntimeError(f"no instruction total in {path}")


def _backend_file(outdir, seen, timeout=120):
    """The instruction total of the backend that just exited (its file is written at exit,
    shortly after pgbench returns). Autovacuum is off; other short-lived processes (a
    connection probe's backend, the startup process) may exit meanwhile, but the backend that
    ran hundreds of transactions is by far the largest."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        done = [p for p in glob.glob(os.path.join(outdir, "cg.*")) if p not in seen and _complete(p)]
        if done:
            time.sleep(1)
            done = [p for p in glob.glob(os.path.join(outdir, "cg.*")) if p not in seen and _complete(p)]
            seen.update(done)
            return max(done, key=_total)
        time.sleep(0.2)
    raise RuntimeError("no callgrind output from the pgbench backend")


def _complete(path):
    try:
        _total(path)
        return True
    except (RuntimeError, OSError):
        return False


def measure(scripts, pgbench_cmd, pgdata, log):
    """Instructions per transaction of every script (a dict key -> int). `pgbench_cmd(script,
    transactions)` builds the pgbench command line of one client running that many
    transactions. The cluster at `pgdata` is restarted under callgrind and, at the end, normally."""
    # BENCH_CALLGRIND_KEEP=DIR keeps both runs of each scenario (callgrind.<key>.<short|long>):
    # bench/callgrind_diff.py turns two scenarios' pairs into per-function costs per transaction.
    # BENCH_CALLGRIND_OPTIONS adds valgrind options (e.g. "--cache-sim=yes --branch-sim=yes":
    # simulated cache misses and mispredicted branches beside the instructions).
    keep = os.environ.get("BENCH_CALLGRIND_KEEP")
    if keep:
        os.makedirs(keep, exist_ok=True)
    outdir = os.path.join(os.path.dirname(pgdata), "callgrind")
    os.makedirs(outdir, exist_ok=True)
    if os.geteuid() == 0:
        subprocess.run(["chown", "postgres:", outdir], check=True)
    log("restarting the cluster under valgrind --tool=callgrind (instruction counts)")
    _pg_ctl(pgdata, "-m", "fast", "stop")
    server = subprocess.Popen(
        _as_server(["valgrind", "--tool=callgrind", "--quiet", f"--callgrind-out-file={outdir}/cg.%p",
                    *os.environ.get("BENCH_CALLGRIND_OPTIONS", "").split(),
                    os.path.join(_bindir(), "postgres"), "-D", pgdata, "-c", "autovacuum=off"]),
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(outdir, "server.log"), "w"))
    try:
        for _ in range(600):
            if subprocess.run([os.path.join(_bindir(), "pg_isready"), "-q"]).returncode == 0:
                break
            time.sleep(1)
        seen = set(glob.glob(os.path.join(outdir, "cg.*")))
        result = {}
        for s in scripts:
            totals = []
            for n in (SHORT, LONG):
                run = subprocess.run(pgbench_cmd(s, n), capture_output=True, text=True)
                if run.returncode != 0:
                    raise RuntimeError(f"pgbench {s.key} failed ({run.returncode}):\n{run.stdout}{run.stderr}")
                path = _backend_file(outdir, seen)
                totals.append(_total(path))
                if keep:
                    run = "short" if n == SHORT else "long"
                    shutil.copy(path, os.path.join(keep, f"callgrind.{s.key}.{run}"))
            result[s.key] = round((totals[1] - totals[0]) / (LONG - SHORT))
            log(f"  {s.key}: {result[s.key]:,} instructions per transaction")
        return result
    finally:
        subprocess.run(_as_server([os.path.join(_bindir(), "pg_ctl"), "-D", pgdata, "-m", "fast",
                                   "-w", "-t", "600", "stop"]), stdout=subprocess.DEVNULL)
        server.wait()
        for p in glob.glob(os.path.join(outdir, "cg.*")):
            os.unlink(p)
        _pg_ctl(pgdata, "-l", os.path.join(os.path.dirname(pgdata), "server.log"), "start")
