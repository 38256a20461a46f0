"""CPU time (user + system, in clock ticks) used so far by the gateway and by the cluster.

    python3 bench/gateway/cpu.py GATEWAY_PID PGDATA

Prints "<gateway ticks> <cluster ticks> <cluster system ticks>". The cluster's figure is the postmaster's and every
live child's, plus what exited children left in the postmaster's cumulative counters, so a
difference of two snapshots around a wrk run is the CPU the run cost each side; divided by the
requests served, where a request's time goes.
"""

import os
import sys


def stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    # The command name is in parentheses and may contain spaces: fields start after the last ')'.
    fields = text[text.rindex(")") + 2:].split()
    ppid = int(fields[1])
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return ppid, (utime, stime), (cutime, cstime)


def cluster_ticks(postmaster):
    """(user + system, system) of the postmaster, its exited and its live children."""
    _, own, exited = stat(postmaster)
    user, system = own[0] + exited[0], own[1] + exited[1]
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ppid, ticks, _ = stat(int(entry))
        except (OSError, ValueError):
            continue  # exited meanwhile
        if ppid == postmaster:
            user, system = user + ticks[0], system + ticks[1]
    return user + system, system


def main():
    gateway, pgdata = int(sys.argv[1]), sys.argv[2]
    with open(os.path.join(pgdata, "postmaster.pid")) as f:
        postmaster = int(f.readline())
    total, system = cluster_ticks(postmaster)
    print(sum(stat(gateway)[1]), total, system)


if __name__ == "__main__":
    main()
