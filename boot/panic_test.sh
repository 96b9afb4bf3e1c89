#!/bin/bash
# A panic reaches the serial console with its message and stops QEMU with the failure status (1 from
# qemu.sh), so a kernel that breaks an invariant can never look like a passing boot.
set -u
log=${TEST_UNDECLARED_OUTPUTS_DIR:-${TMPDIR:-/tmp}}/panic.log
KMEM_ACCEL=tcg timeout 120 boot/qemu -m 32M -append "kmem.panic" >"$log" 2>&1
status=$?
cat "$log"
[ $status -eq 1 ] || { echo "FAIL: expected status 1 from a panic, got $status"; exit 1; }
grep -q '^panic: kmem.panic on the command line' "$log" || { echo "FAIL: panic message missing"; exit 1; }
if grep -q '^kmem: boot ok' "$log"; then echo "FAIL: boot went on after the panic"; exit 1; fi
echo PASS
