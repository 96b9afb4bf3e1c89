#!/bin/bash
# With `kmem.memtest` the kernel ignores the loader's map and finds RAM by the memory test: at -m 32M it
# must stop at exactly 32 MiB and build a typed map whose usable RAM lies just below that.
set -u
log=${TEST_UNDECLARED_OUTPUTS_DIR:-${TMPDIR:-/tmp}}/memtest.log
KMEM_ACCEL=tcg timeout 120 boot/qemu -m 32M -append "kmem.memtest" >"$log" 2>&1
status=$?
cat "$log"
fail() { echo "FAIL: $*"; exit 1; }
[ $status -eq 0 ] || fail "qemu.sh exited with $status"
clean=$(tr -d '\r' <"$log")
grep -q '^meminit: memory test found RAM up to 0x2000000$' <<<"$clean" || fail "memory test did not stop at 32 MiB"
grep -q '^e820: sanitised' <<<"$clean" && fail "the firmware map was used"
usable_kib=$(sed -n 's/^memmap: usable RAM \([0-9]*\) KiB .*/\1/p' <<<"$clean")
(( usable_kib > 30 * 1024 && usable_kib < 32 * 1024 )) || fail "usable RAM '$usable_kib' KiB"
grep -q '^kmem: boot ok' <<<"$clean" || fail "no 'boot ok'"
echo "PASS: memory test, $usable_kib KiB usable"
