"""Where one scenario's extra instructions per transaction go, function by function.

    python3 bench/callgrind_diff.py DIR BASELINE SCENARIO [--inclusive] [--top N] [--event E]

DIR holds the profiles `BENCH_CALLGRIND_KEEP=DIR bash bench/run.sh --instructions-only` kept
(callgrind.<key>.short and .long). A function's cost per transaction is (long - short) /
(LONG - SHORT), so what runs once per connection (start-up, key loading, the first context
call) cancels out exactly as in the benchmark's own figure; the table lists SCENARIO's cost
minus BASELINE's for the functions that differ most. `--event` picks another event than
instructions (Ir), e.g. I1mr (instruction-cache misses) in profiles recorded with
`BENCH_CALLGRIND_OPTIONS="--cache-sim=yes --branch-sim=yes"`.
"""

import argparse
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from instructions import LONG, SHORT  # noqa: E402

LINE = re.compile(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(?:\*\s+)?(.+?)\s*$")


def per_function(path, inclusive, event):
    args = ["callgrind_annotate", "--threshold=100", f"--inclusive={'yes' if inclusive else 'no'}",
            f"--show={event}", f"--sort={event}", path]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    costs = {}
    for line in out.splitlines():
        m = LINE.match(line)
        if not m or "PROGRAM TOTALS" in line:
            continue
        name = re.sub(r"'\d+", "", m.group(2))  # recursion levels count as one function
        if ":" not in name:
            continue
        costs[name] = costs.get(name, 0) + int(m.group(1).replace(",", ""))
    return costs


def per_transaction(directory, key, inclusive, event):
    short = per_function(os.path.join(directory, f"callgrind.{key}.short"), inclusive, event)
    long = per_function(os.path.join(directory, f"callgrind.{key}.long"), inclusive, event)
    return {f: (long.get(f, 0) - short.get(f, 0)) / (LONG - SHORT) for f in set(short) | set(long)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("directory")
    ap.add_argument("baseline")
    ap.add_argument("scenario")
    ap.add_argument("--inclusive", action="store_true", help="inclusive costs (callees counted)")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--event", default="Ir", help="the event to compare (default Ir, instructions)")
    a = ap.parse_args()
    base = per_transaction(a.directory, a.baseline, a.inclusive, a.event)
    scen = per_transaction(a.directory, a.scenario, a.inclusive, a.event)
    rows = sorted(((scen.get(f, 0) - base.get(f, 0), f) for f in set(base) | set(scen)),
                  key=lambda r: -abs(r[0]))
    print(f"{'delta/txn':>10}  {a.baseline:>12}  {a.scenario:>12}  function")
    for delta, f in rows[:a.top]:
        print(f"{delta:>10.0f}  {base.get(f, 0):>12.0f}  {scen.get(f, 0):>12.0f}  {f[:110]}")


if __name__ == "__main__":
    main()
