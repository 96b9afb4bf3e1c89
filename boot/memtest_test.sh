#!/bin/bash
# memtest_test.sh MEM END SKIPPED_MIB BELOW4G_MIB TOTAL_MIB: with `kmem.memtest` the kernel ignores the
# loader's map and finds RAM by the memory test. At -m MEM it must stop at exactly END (the first missing
# chunk above 32 MiB), skip SKIPPED_MIB that the MTRRs make other than write-back (QEMU's pc machine has its
# PCI hole below 4 GiB UC), and build a typed map whose RAM below 4 GiB lies just below BELOW4G_MIB and whose
# usable RAM lies just below TOTAL_MIB.
set -u
mem=$1 end=$2 skipped_mib=$3 below4g_mib=$4 total_mib=$5
log=${TEST_UNDECLARED_OUTPUTS_DIR:-${TMPDIR:-/tmp}}/memtest-$mem.log
KMEM_ACCEL=tcg timeout 120 boot/qemu -m "$mem" -append "kmem.memtest" >"$log" 2>&1
status=$?
cat "$log"
fail() { echo "FAIL (memtest at $mem): $*"; exit 1; }
[ $status -eq 0 ] || fail "qemu.sh exited with $status"
clean=$(tr -d '\r' <"$log")
grep -q "^meminit: memory test found RAM up to $end\$" <<<"$clean" || fail "memory test did not stop at $end"
grep -q "^meminit: memory test: [0-9]* MiB RAM in 4 MiB chunks from 0x[0-9a-f]*, $skipped_mib MiB skipped (not write-back), 0 MiB of holes below 32 MiB\$" <<<"$clean" ||
  fail "memory test did not skip $skipped_mib MiB"
grep -q '^e820: sanitised' <<<"$clean" && fail "the firmware map was used"
# The typed map's RAM lines: base, end, RAM, size.
below4g=0
while read -r base top; do
  (( base < 1 << 32 )) && below4g=$(( below4g + (top < 1 << 32 ? top : 1 << 32) - base ))
done < <(sed -n 's/^  \(0x[0-9a-f]\{16\}\) \(0x[0-9a-f]\{16\}\) RAM .*/\1 \2/p' <<<"$clean")
(( below4g > (below4g_mib - 2) << 20 && below4g <= below4g_mib << 20 )) ||
  fail "RAM below 4 GiB is $((below4g >> 10)) KiB, not just below $below4g_mib MiB"
usable_kib=$(sed -n 's/^memmap: usable RAM \([0-9]*\) KiB .*/\1/p' <<<"$clean")
(( usable_kib > (total_mib - 2) * 1024 && usable_kib < total_mib * 1024 )) || fail "usable RAM '$usable_kib' KiB"
grep -q '^kmem: boot ok' <<<"$clean" || fail "no 'boot ok'"
echo "PASS: memory test at $mem up to $end, $((below4g >> 20)) MiB below 4 GiB, $usable_kib KiB usable"
