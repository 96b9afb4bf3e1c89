#!/bin/bash
# Runs a benchmark binary ($1) for a moment, with any further arguments (a --benchmark_filter), and checks
# that every benchmark it ran reported a figure (a run that failed with SkipWithError has none).
set -euo pipefail
out=$("$@" --benchmark_min_time=0.001 --benchmark_format=csv 2>/dev/null)
echo "$out"
rows=$(grep -c '^"BM_' <<<"$out" || true)
[ "$rows" -gt 0 ] || { echo "FAIL: no benchmark rows"; exit 1; }
# Column 3 is real_time: every row must carry a positive figure.
bad=$(grep '^"BM_' <<<"$out" | awk -F, '!($3 > 0)' || true)
[ -z "$bad" ] || { echo "FAIL: benchmarks without a time: $bad"; exit 1; }
echo "PASS: $rows benchmarks ran"
