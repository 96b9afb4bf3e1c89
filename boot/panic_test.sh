#!/bin/bash
# panic_test.sh MESSAGE [QEMU ARGS...]: a boot that must panic does, with a line "panic: MESSAGE..." (MESSAGE
# an extended regular expression) on the serial console, and stops QEMU with the failure status (1 from qemu.sh), so a kernel that breaks an invariant or
# meets a machine it cannot run on can never look like a passing boot.
set -u
message=$1
shift
log=${TEST_UNDECLARED_OUTPUTS_DIR:-${TMPDIR:-/tmp}}/panic.log
KMEM_ACCEL=tcg timeout 120 boot/qemu -m 32M "$@" >"$log" 2>&1
status=$?
cat "$log"
[ $status -eq 1 ] || { echo "FAIL: expected status 1 from a panic, got $status"; exit 1; }
# The banner's command line shows the -append words, not the loader's path of the kernel image.
words=""
args=("$@")
for ((i = 0; i + 1 < ${#args[@]}; ++i)); do [ "${args[i]}" = -append ] && words=${args[i + 1]}; done
grep -qxF "kmem: command line '$words'" <(tr -d '\r' <"$log") || { echo "FAIL: no line \"kmem: command line '$words'\""; exit 1; }
grep -qE "^panic: $message" "$log" || { echo "FAIL: no line matching 'panic: $message'"; exit 1; }
if grep -q '^kmem: boot ok' "$log"; then echo "FAIL: boot went on after the panic"; exit 1; fi
echo PASS
