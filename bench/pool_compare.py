#!/usr/bin/env python3
"""Runs //bench:pool_bench's kmem and three C-library allocators, each in its own process, interleaved, and
prints medians: one table per pattern and thread count, ns per object allocated and freed per thread and the
total throughput, with the issue's targets checked (Kmalloc and slab pairs no slower than tcmalloc; batch no
slower than 1.2x the better of tcmalloc and mimalloc).

    bazel build -c opt //bench:pool_bench //bench:pool_bench_tcmalloc //bench:pool_bench_mimalloc
    python3 bench/pool_compare.py bazel-bin/bench/pool_bench [ROUNDS] [-- pool_bench flags...]

Each round runs kmem, glibc, tcmalloc and mimalloc once, in that order; the machine is shared, so read the
medians, and bench/pair_instructions.py for the repeatable figure.
"""
import collections
import statistics
import subprocess
import sys

RUNS = [("", "kmem"), ("", "system"), ("_tcmalloc", "system"), ("_mimalloc", "system")]
SHOWN = ["glibc", "tcmalloc", "mimalloc", "kmalloc", "slab", "mainmem"]


def main():
    args = sys.argv[1:]
    extra = args[args.index("--") + 1:] if "--" in args else []
    args = args[:args.index("--")] if "--" in args else args
    if not args:
        sys.exit(__doc__)
    base, rounds = args[0], int(args[1]) if len(args) > 1 else 5
    ns, mops = collections.defaultdict(list), collections.defaultdict(list)
    for _ in range(rounds):
        for suffix, alloc in RUNS:
            out = subprocess.run([base + suffix, "--alloc=" + alloc] + extra, check=True, capture_output=True,
                                 text=True).stdout
            for line in out.splitlines():
                name, pattern, size, threads, per_thread, total = line.split("\t")
                key = (name, pattern, int(size), int(threads))
                ns[key].append(float(per_thread.split()[0]))
                mops[key].append(float(total.split()[0]))
    med = {k: statistics.median(v) for k, v in ns.items()}
    thr = {k: statistics.median(v) for k, v in mops.items()}
    for pattern in ("pair", "batch"):
        for threads in sorted({k[3] for k in med}):
            sizes = sorted({k[2] for k in med if k[1] == pattern and k[3] == threads})
            if not sizes:  # --patterns= ran the other one only
                continue
            names = [n for n in SHOWN if (n, pattern, sizes[0], threads) in med]
            print("\n%s, %d thread%s: ns per object per thread (total Mops/s), median of %d" %
                  (pattern, threads, "s" if threads > 1 else "", rounds))
            print("| size | " + " | ".join(names) + " | target met |")
            print("| ---: |" + " ---: |" * len(names) + " :---: |")
            for size in sizes:
                cells = ["%.2f (%.0f)" % (med[(n, pattern, size, threads)], thr[(n, pattern, size, threads)])
                         for n in names]
                tc, mi = med[("tcmalloc", pattern, size, threads)], med[("mimalloc", pattern, size, threads)]
                bound = tc if pattern == "pair" else 1.2 * min(tc, mi)
                ok = all(med[(n, pattern, size, threads)] <= bound for n in ("kmalloc", "slab"))
                print("| %d | %s | %s |" % (size, " | ".join(cells), "yes" if ok else "no"))


if __name__ == "__main__":
    main()
