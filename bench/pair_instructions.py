#!/usr/bin/env python3
"""Instructions per alloc+free pair of //bench:pool's benchmarks, counted by callgrind.

Wall-clock figures on a shared machine move by +-0.5 ns between runs; instruction counts do not, so this
is the repeatable half of the comparison with glibc. Each benchmark runs under valgrind's callgrind; the
functions its loop calls (malloc and free, Kmalloc and Kfree, KmemCacheAlloc and KmemCacheFree) are
summed as inclusive instructions per call.

    bazel build -c opt //bench:pool
    python3 bench/pair_instructions.py bazel-bin/bench/pool_bench [SIZE...]
"""
import collections
import os
import re
import subprocess
import sys
import tempfile

BENCHMARKS = [("glibc", "BM_GlibcMallocFree"), ("Kmalloc", "BM_KmallocKfree"), ("slab", "BM_SlabAllocFree")]


def per_pair(binary, benchmark, size):
    """Inclusive instructions per call of each function the benchmark loop calls, summed."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, binary,
                        "--benchmark_filter=^%s/%d$" % (benchmark, size), "--benchmark_min_time=0.02"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        names, caller, callee, calls_pending = {}, "", "", None
        cost, calls = collections.Counter(), collections.Counter()
        with open(out) as f:
            for line in f:
                m = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
                if m:
                    kind, ident, name = m.groups()
                    if name:
                        names[ident] = name
                    if kind == "fn":
                        caller = names.get(ident, "")
                    else:
                        callee = names.get(ident, "")
                    continue
                m = re.match(r"^calls=(\d+)", line)
                if m:
                    calls_pending = int(m.group(1))
                    continue
                if calls_pending is not None:
                    if benchmark in caller:
                        cost[callee] += int(line.split()[-1])
                        calls[callee] += calls_pending
                    calls_pending = None
    # The loop's two callees run once per iteration; set-up and teardown calls are a handful.
    most = max(calls.values())
    return sum(cost[f] / calls[f] for f in calls if calls[f] > most // 2)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    binary = sys.argv[1]
    sizes = [int(s) for s in sys.argv[2:]] or [16 << i for i in range(9)]
    print("| size | " + " | ".join(name for name, _ in BENCHMARKS) + " |")
    print("| ---: |" + " ---: |" * len(BENCHMARKS))
    for size in sizes:
        row = [per_pair(binary, bench, size) for _, bench in BENCHMARKS]
        print("| %d | " % size + " | ".join("%.0f" % v for v in row) + " |")


if __name__ == "__main__":
    main()
