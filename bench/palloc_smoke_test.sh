#!/bin/bash
# Runs the palloc command ($1) on every workload of both backends at a small size and checks each line's
# shape, then the Google Benchmark binary ($2) briefly through bench_smoke_test.sh's checks ($3).
set -euo pipefail
out=$("$1" all all --frames=16384 --steps=20000 --threads=1,2)
echo "$out"
lines=$(wc -l <<<"$out")
# 9 workloads x 2 backends. Per backend: repeat0h, repeat9h and remote 2 lines at 1 thread (pair-thread0,
# throughput) and 3 at 2; mixed those and live-blocks and largest-free-order each time (4 + 5); bulk0,
# bulk9 and metadata 3, newpage 2, pageinit 1: 36.
[ "$lines" -eq 72 ] || { echo "FAIL: $lines lines, expected 72"; exit 1; }
bad=$(grep -Ev $'^kmem-(buddy|colour)\t[a-z0-9]+\t[12] threads?\t[a-z0-9-]+\t[0-9]+\\.[0-9]{1,2} (ns|bytes|blocks|order|%|Mops/s)$' <<<"$out" || true)
[ -z "$bad" ] || { echo "FAIL: malformed lines: $bad"; exit 1; }
for b in buddy colour; do
  for w in repeat0h repeat9h bulk0 bulk9 mixed remote newpage pageinit metadata; do
    grep -q "^kmem-$b"$'\t'"$w"$'\t1 thread\t' <<<"$out" || { echo "FAIL: no $b $w"; exit 1; }
  done
  for w in repeat0h repeat9h mixed remote; do
    for t in 0 1; do
      grep -q "^kmem-$b"$'\t'"$w"$'\t2 threads\t'"[a-z]*-thread$t"$'\t' <<<"$out" || { echo "FAIL: no $b $w thread $t"; exit 1; }
    done
    grep -q "^kmem-$b"$'\t'"$w"$'\t2 threads\tthroughput\t' <<<"$out" || { echo "FAIL: no $b $w throughput"; exit 1; }
  done
done
# A size that is not a number is refused (absl::flags), not read as 0.
if "$1" buddy mixed --frames=16384 --steps=x >/dev/null 2>&1; then echo "FAIL: --steps=x accepted"; exit 1; fi
if "$1" buddy mixed --frames=lots >/dev/null 2>&1; then echo "FAIL: --frames=lots accepted"; exit 1; fi
if "$1" buddy mixed --frames=16384 --threads=0 >/dev/null 2>&1; then echo "FAIL: --threads=0 accepted"; exit 1; fi
# The Google Benchmark binary at the small size: every benchmark must report a time.
# (Console format: the CSV reporter wants the same counters in every row, and workloads differ.)
gb=$("$2" --small --benchmark_min_time=0.001 --benchmark_color=false 2>/dev/null)
echo "$gb"
rows=$(grep -c '^BM_Palloc' <<<"$gb" || true)
[ "$rows" -eq 18 ] || { echo "FAIL: $rows benchmark rows, expected 18"; exit 1; }
bad=$(grep '^BM_Palloc' <<<"$gb" | awk '!($2 > 0)' || true)
[ -z "$bad" ] || { echo "FAIL: benchmarks without a time: $bad"; exit 1; }
echo "PASS"
