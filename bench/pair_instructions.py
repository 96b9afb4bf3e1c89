#!/usr/bin/env python3
"""Instructions per alloc+free of //bench:pool's allocators on one thread, counted by callgrind.

Wall-clock figures on a shared machine move by +-0.5 ns between runs (far more under load); instruction
counts do not, so this is the repeatable half of the comparison. Each allocator runs a fixed number of
pairs (or batches of 1000 objects freed in random order) under valgrind's callgrind; the functions its loop
calls (malloc and free, Kmalloc and Kfree, KmemCacheAlloc and KmemCacheFree) are summed as inclusive
instructions per call, so a pair's figure includes everything they call (the host's interrupt hooks,
refills and flushes of the magazines, the slab layer).

    bazel build -c opt //bench:pool_bench //bench:pool_bench_tcmalloc //bench:pool_bench_mimalloc
    python3 bench/pair_instructions.py bazel-bin/bench/pool_bench [SIZE...]

The tcmalloc and mimalloc binaries are found beside the first one.
"""
import collections
import os
import re
import subprocess
import sys
import tempfile

# Column name, binary suffix, --alloc, the loop's Ops type.
COLUMNS = [("glibc", "", "system", "SystemOps"), ("tcmalloc", "_tcmalloc", "system", "SystemOps"),
           ("mimalloc", "_mimalloc", "system", "SystemOps"), ("Kmalloc", "", "kmem", "KmallocOps"),
           ("slab", "", "kmem", "SlabOps")]
ITERS = {"pair": 20000, "batch": 20}


def per_op(binary, alloc, ops, pattern, size):
    """Inclusive instructions per call of each function the pattern's loop calls, summed."""
    loop = "%sLoop<(anonymous namespace)::%s>" % ("Pair" if pattern == "pair" else "Batch", ops)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, binary, "--alloc=" + alloc,
                        "--patterns=" + pattern, "--threads=1", "--sizes=%d" % size,
                        "--iters=%d" % ITERS[pattern]],
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
                    if loop in caller:
                        cost[callee] += int(line.split()[-1])
                        calls[callee] += calls_pending
                    calls_pending = None
    # The loop's two callees run once per object (warm-up and timed runs alike).
    most = max(calls.values())
    return sum(cost[f] / calls[f] for f in calls if calls[f] > most // 2)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    base = sys.argv[1]
    sizes = [int(s) for s in sys.argv[2:]] or [16 << i for i in range(9)]
    for pattern in ("pair", "batch"):
        print("%s, instructions per object allocated and freed, 1 thread" % pattern)
        print("| size | " + " | ".join(name for name, _, _, _ in COLUMNS) + " |")
        print("| ---: |" + " ---: |" * len(COLUMNS))
        for size in sizes:
            row = [per_op(base + suffix, alloc, ops, pattern, size) for _, suffix, alloc, ops in COLUMNS]
            print("| %d | " % size + " | ".join("%.0f" % v for v in row) + " |", flush=True)


if __name__ == "__main__":
    main()
