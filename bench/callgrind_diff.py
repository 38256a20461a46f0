"""Where one scenario's extra instructions per transaction go, function by function.

    python3 bench/callgrind_diff.py DIR BASELINE SCENARIO [--inclusive] [--top N]

DIR holds the profiles `BENCH_CALLGRIND_KEEP=DIR bash bench/run.sh --instructions-only` kept
(callgrind.<key>.short and .long). A function's cost per transaction is (long - short) /
(LONG - SHORT), so what runs once per connection (start-up, key loading, the first context
call) cancels out exactly as in the benchmark's own figure; the table lists SCENARIO's cost
minus BASELINE's for the functions that differ most.
"""

import argparse
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from instructions import LONG, SHORT  # noqa: E402

LINE = re.compile(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(?:\*\s+)?(.+?)\s*$")


def per_function(path, inclusive):
    args = ["callgrind_annotate", "--threshold=100", f"--inclusive={'yes' if inclusive else 'no'}", path]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    costs = {}
    body = False
    for line in out.splitlines():
        if line.startswith("-----") and "file:function" not in line:
            body = body or "Ir" in line
        m = LINE.match(line)
        if not m or "PROGRAM TOTALS" in line:
            continue
        name = re.sub(r"'\d+", "", m.group(2))  # recursion levels count as one function
        if ":" not in name:
            continue
        costs[name] = costs.get(name, 0) + int(m.group(1).replace(",", ""))
    return costs


def per_transaction(directory, key, inclusive):
    short = per_function(os.path.join(directory, f"callgrind.{key}.short"), inclusive)
    long = per_function(os.path.join(directory, f"callgrind.{key}.long"), inclusive)
    return {f: (long.get(f, 0) - short.get(f, 0)) / (LONG - SHORT) for f in set(short) | set(long)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("directory")
    ap.add_argument("baseline")
    ap.add_argument("scenario")
    ap.add_argument("--inclusive", action="store_true", help="inclusive costs (callees counted)")
    ap.add_argument("--top", type=int, default=30)
    a = ap.parse_args()
    base = per_transaction(a.directory, a.baseline, a.inclusive)
    scen = per_transaction(a.directory, a.scenario, a.inclusive)
    rows = sorted(((scen.get(f, 0) - base.get(f, 0), f) for f in set(base) | set(scen)),
                  key=lambda r: -abs(r[0]))
    print(f"{'delta/txn':>10}  {a.baseline:>12}  {a.scenario:>12}  function")
    for delta, f in rows[:a.top]:
        print(f"{delta:>10.0f}  {base.get(f, 0):>12.0f}  {scen.get(f, 0):>12.0f}  {f[:110]}")


if __name__ == "__main__":
    main()
