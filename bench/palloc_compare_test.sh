#!/bin/bash
# Runs bench/palloc_compare.py ($1) over the palloc command ($2) given twice, two rounds at a small size,
# and checks the table: a header naming both, and for each backend and thread count of repeat0h and remote
# a pair row with a median (min-max) in ns under each binary.
set -euo pipefail
out=$(python3 "$1" 2 repeat0h,remote "$2" "$2" -- --threads=1,2 --frames=16384 --steps=20000)
echo "$out"
head -1 <<<"$out" | grep -qF "| workload | backend | threads | figure | $2 | $2 |" || { echo "FAIL: header"; exit 1; }
cell='[0-9]+\.[0-9] \([0-9]+\.[0-9]-[0-9]+\.[0-9]\) ns'
for w in repeat0h remote; do
  for b in buddy colour; do
    for t in "1 thread | pair-thread0" "2 threads | pair-thread0" "2 threads | pair-thread1"; do
      grep -qE "^\| $w \| $b \| $t \| $cell \| $cell \|$" <<<"$out" || { echo "FAIL: no $w $b $t row"; exit 1; }
    done
  done
done
rows=$(grep -c '^| [a-z0-9]* | \(buddy\|colour\) |' <<<"$out")
[ "$rows" -eq 20 ] || { echo "FAIL: $rows rows, expected 20 (2 workloads x 2 backends x 5 figures)"; exit 1; }
if python3 "$1" 2 repeat0h >/dev/null 2>&1; then echo "FAIL: no binary accepted"; exit 1; fi
echo "PASS"
