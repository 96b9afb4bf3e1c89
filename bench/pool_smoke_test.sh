#!/bin/bash
# Runs the pool benchmark ($1, kmem and glibc) and its tcmalloc ($2) and mimalloc ($3) builds for a moment
# and checks that every allocator, pattern and thread count reported a positive figure.
set -euo pipefail
line=$'^[a-z]+\t(pair|batch)\t(16|4096)\t[12]\t[0-9]+\\.[0-9]{2} ns/thread\t[0-9]+\\.[0-9] Mops/s$'
check() {  # check OUTPUT EXPECTED-ALLOCATORS...
  local out=$1
  shift
  echo "$out"
  bad=$(grep -Ev "$line" <<<"$out" || true)
  [ -z "$bad" ] || { echo "FAIL: malformed lines: $bad"; exit 1; }
  for a in "$@"; do
    n=$(grep -c "^$a"$'\t' <<<"$out" || true)
    [ "$n" -eq 8 ] || { echo "FAIL: $n lines for $a, expected 8 (2 patterns x 2 sizes x 2 thread counts)"; exit 1; }
  done
  if grep -q $'\t0\\.00 ns/thread' <<<"$out"; then echo "FAIL: a zero figure"; exit 1; fi
}
check "$("$1" --sizes=16,4096 --ms=1)" glibc kmalloc slab mainmem
check "$("$2" --alloc=system --sizes=16,4096 --ms=1)" tcmalloc
check "$("$3" --alloc=system --sizes=16,4096 --ms=1)" mimalloc
if "$1" --sizes=x >/dev/null 2>&1; then echo "FAIL: --sizes=x accepted"; exit 1; fi
echo "PASS"
