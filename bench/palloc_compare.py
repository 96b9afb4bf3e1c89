#!/usr/bin/env python3
"""Runs //bench:palloc binaries (say, a copy of the -c opt binary from before a change and the one after)
in turn, each in its own process, for ROUNDS rounds, and prints every figure's median with its minimum and
maximum per binary, side by side.

    bazel build -c opt //bench:palloc && cp bazel-bin/bench/palloc /tmp/palloc.before
    ... change, rebuild ...
    python3 bench/palloc_compare.py 7 repeat0h,mixed,remote /tmp/palloc.before bazel-bin/bench/palloc \\
        [-- palloc flags, default --threads=1,2]

Each round runs every binary over both backends and every workload. One binary's figure moves from one
process to the next with the address-space layout (bench/HISTORY.md), so a comparison is of medians over
processes, never of two single runs.
"""
import collections
import statistics
import subprocess
import sys


def main():
    args = sys.argv[1:]
    flags = args[args.index("--") + 1:] if "--" in args else ["--threads=1,2"]
    args = args[:args.index("--")] if "--" in args else args
    if len(args) < 3:
        sys.exit(__doc__)
    rounds, workloads, binaries = int(args[0]), args[1].split(","), args[2:]
    figures = collections.defaultdict(list)  # (workload, backend, threads, what, binary's index) -> values
    order, units = [], {}
    for _ in range(rounds):
        for index, binary in enumerate(binaries):
            for workload in workloads:
                out = subprocess.run([binary, "all", workload] + flags, check=True, capture_output=True,
                                     text=True).stdout
                for line in out.splitlines():
                    backend, got, threads, what, value = line.split("\t")
                    number, unit = value.split()
                    key = (got, backend.removeprefix("kmem-"), threads, what)
                    if key not in units:
                        order.append(key)
                        units[key] = unit
                    figures[key + (index,)].append(float(number))
    print("| workload | backend | threads | figure | " + " | ".join(binaries) + " |")
    print("| --- | --- | --- | --- |" + " ---: |" * len(binaries))
    for key in order:
        cells = []
        for index in range(len(binaries)):
            v = figures[key + (index,)]
            cells.append("%.1f (%.1f-%.1f) %s" % (statistics.median(v), min(v), max(v), units[key]))
        print("| %s | %s | %s | %s | %s |" % (key + (" | ".join(cells),)))


if __name__ == "__main__":
    main()
