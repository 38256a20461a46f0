#!/usr/bin/env python3
"""Report of bench/ddl/installcheck.sh: the figures of its work directory.

WORK/times.tsv has one row per run (mode, round, seconds, failed, tests); WORK/<mode>-<round>/
holds that run's pg_regress outputs (results/*.out, pg_regress.log). Prints the seconds of each
run, the median per mode and the ratio present/absent, the sum of pg_regress's per-test times
(the suite without its set-up) and the tests the extension slows most, the failed tests per
mode, and compares every round's results/*.out between absent and present: a test whose output
differs is listed with all its diff lines. Each such test is also classified: "extension's
objects only" when the two outputs are the same once the lines naming the extension's own
objects (WORK/extension_objects.txt, read from the present database) are set aside, along
with the row counts and column widths their listing changes; otherwise the remaining lines
are shown again as "other". Tests whose output also varies between two runs of the same mode
are marked (a timing- or order-dependent output, not the extension's).
"""

import argparse
import csv
import difflib
import glob
import os
import re
import statistics

def extension_pattern(work):
    path = os.path.join(work, "extension_objects.txt")
    names = {"boards", "boards_tenant"}
    if os.path.exists(path):
        names |= {line.strip() for line in open(path) if line.strip()}
    # Whole identifiers, or any starting with the extension's prefix boards_.
    alternatives = sorted(map(re.escape, names), key=len, reverse=True) + [r"boards_\w*"]
    return re.compile(r"(?<!\w)(" + "|".join(alternatives) + r")(?!\w)")


def rest(lines, ext):
    """The lines that are not the extension's objects' listing: those naming them, row counts
    and table rules dropped, whitespace (column widths) normalised."""
    out = []
    for line in lines:
        if ext.search(line) or re.fullmatch(r"\s*\(\d+ rows?\)\s*", line) \
                or re.fullmatch(r"[-+]*", line.strip()):
            continue
        out.append(re.sub(r"\s*\|\s*", " | ", re.sub(r"\s+", " ", line)).strip())
    return out


def test_times(run_dir):
    with open(os.path.join(run_dir, "pg_regress.log"), encoding="utf-8", errors="replace") as f:
        return {m.group(1): int(m.group(2)) for m in
                re.finditer(r"^(?:test )?\s*(\S+)\s+\.\.\. +\S+(?: \(ignored\))?\s+(\d+) ms", f.read(), re.M)}


def outputs(run_dir):
    return {os.path.basename(p)[:-4]: p for p in glob.glob(os.path.join(run_dir, "results", "*.out"))}


def read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read().splitlines()


def diff(a, b):
    return [line for line in difflib.unified_diff(read(a), read(b), "absent", "present", n=0, lineterm="")
            if not line.startswith(("---", "+++"))]


def failed_tests(run_dir):
    with open(os.path.join(run_dir, "pg_regress.log"), encoding="utf-8", errors="replace") as f:
        return [m.group(1) for m in re.finditer(r"^(?:test )?\s*(\S+)\s+\.\.\. +(?:FAILED|failed)", f.read(), re.M)]


def differing(dirs_a, dirs_b):
    """Tests whose output differs between a run in dirs_a and its counterpart in dirs_b."""
    out = {}
    for a, b in zip(dirs_a, dirs_b):
        oa, ob = outputs(a), outputs(b)
        for test in sorted(set(oa) | set(ob)):
            if test not in oa or test not in ob:
                out.setdefault(test, []).append((a, b, ["(output missing in one run)"]))
                continue
            lines = diff(oa[test], ob[test])
            if lines:
                out.setdefault(test, []).append((a, b, lines))
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("work")
    parser.add_argument("--command", default="bash bench/ddl/installcheck.sh")
    args = parser.parse_args()
    with open(os.path.join(args.work, "times.tsv")) as f:
        runs = list(csv.DictReader(f, delimiter="\t"))
    modes = ("absent", "present")
    rounds = sorted({int(r["round"]) for r in runs})
    by = {(r["mode"], int(r["round"])): r for r in runs}

    print(f"`{args.command}`\n")
    print("| round | absent s | present s | absent failed | present failed |")
    print("|---|---|---|---|---|")
    for n in rounds:
        a, p = by[("absent", n)], by[("present", n)]
        print(f"| {n} | {a['seconds']} | {p['seconds']} | {a['failed']} of {a['tests']} "
              f"| {p['failed']} of {p['tests']} |")
    med = {m: statistics.median(float(by[(m, n)]["seconds"]) for n in rounds) for m in modes}
    print(f"| median | {med['absent']:.2f} | {med['present']:.2f} | | |")
    print(f"\nratio present/absent (medians): {med['present'] / med['absent']:.3f} "
          f"(+{med['present'] - med['absent']:.2f} s)\n")
    times = {(m, n): test_times(os.path.join(args.work, f"{m}-{n}")) for m in modes for n in rounds}
    sums = {m: [sum(times[(m, n)].values()) / 1000 for n in rounds] for m in modes}
    print("sum of per-test times (s, pg_regress's own; set-up and CREATE EXTENSION excluded): "
          + "; ".join(f"{m} {', '.join(f'{x:.2f}' for x in sums[m])} (median {statistics.median(sums[m]):.2f})"
                      for m in modes))
    tests = set.intersection(*(set(t) for t in times.values()))
    delta = {t: statistics.median(times[("present", n)][t] for n in rounds)
             - statistics.median(times[("absent", n)][t] for n in rounds) for t in tests}
    top = sorted(delta.items(), key=lambda kv: -kv[1])[:8]
    print("largest per-test median differences (ms, present - absent): "
          + ", ".join(f"{t} {d:+.0f}" for t, d in top) + "\n")

    for m in modes:
        names = {}
        for n in rounds:
            for t in failed_tests(os.path.join(args.work, f"{m}-{n}")):
                names.setdefault(t, []).append(n)
        listed = ", ".join(f"{t} (rounds {','.join(map(str, r))})" for t, r in sorted(names.items()))
        print(f"failed, extension {m}: {listed or 'none'}")

    dirs = {m: [os.path.join(args.work, f"{m}-{n}") for n in rounds] for m in modes}
    ext = extension_pattern(args.work)
    across = differing(dirs["absent"], dirs["present"])
    # Same-mode variation: every later round against the first.
    noisy = set()
    for m in modes:
        noisy |= set(differing(dirs[m][:1] * (len(rounds) - 1), dirs[m][1:]))
    print(f"\nresults/*.out differing between absent and present (same round): "
          f"{len(across)} test(s){'' if across else ' -- identical'}")
    for test, pairs in sorted(across.items()):
        seen = [os.path.basename(a).split("-")[1] for a, _, _ in pairs]
        note = "; also varies between runs of the same mode" if test in noisy else ""
        print(f"\n## {test}: differs in round(s) {','.join(seen)} of {len(rounds)}{note}")
        shown = set()
        for a, b, lines in pairs:
            key = tuple(lines)
            if key in shown:
                continue
            shown.add(key)
            named = [line for line in lines if line[:1] in "+-" and ext.search(line)]
            test_out = os.path.join("results", test + ".out")
            try:
                ra, rb = (rest(read(os.path.join(d, test_out)), ext) for d in (a, b))
            except FileNotFoundError:
                ra, rb = [], ["(output missing)"]
            other = [line for line in difflib.unified_diff(ra, rb, n=0, lineterm="")
                     if not line.startswith(("---", "+++"))]
            verdict = "extension's objects only" if not other else f"OTHER differences: {len(other)} line(s)"
            print(f"round {os.path.basename(a).split('-')[1]}: {len(lines)} diff line(s), "
                  f"{len(named)} naming the extension's objects -- {verdict}")
            for line in lines[:80]:
                print("    " + line)
            if len(lines) > 80:
                print(f"    ... {len(lines) - 80} more")
            if other:
                print("  other (extension's objects set aside):")
                for line in other:
                    print("    " + line)
    if noisy:
        print(f"\nvarying between runs of the same mode (either mode): {', '.join(sorted(noisy))}")


if __name__ == "__main__":
    main()
