#!/bin/bash
# Runs a benchmark binary ($1) for a moment and checks that every benchmark in it reported a figure.
set -euo pipefail
out=$("$1" --benchmark_min_time=0.001 --benchmark_format=csv 2>/dev/null)
echo "$out"
rows=$(grep -c '^"BM_' <<<"$out" || true)
[ "$rows" -gt 0 ] || { echo "FAIL: no benchmark rows"; exit 1; }
# Column 3 is real_time: every row must carry a positive figure.
bad=$(grep '^"BM_' <<<"$out" | awk -F, '!($3 > 0)' || true)
[ -z "$bad" ] || { echo "FAIL: benchmarks without a time: $bad"; exit 1; }
echo "PASS: $rows benchmarks ran"
