#!/bin/bash
# user_smap_test.sh on|nosmap|qemu64: boots under TCG and checks the ring-3 self-test's line
# (arch/x86_64/boot/usertest.cc): the program's write, the -EFAULTs, the demand pages, the interrupt in
# ring 3, the kill naming the kernel address, the exit status (on each CPU), the #GP naming its rip and the null system
# call's cost; and SMAP as archinit set it: on (-cpu max, on two CPUs) an unchecked kernel read of user
# memory faults, with kmem.nosmap it gets through and the line says the protection is off, on qemu64 the
# CPU does not offer it.
set -u
mode=$1
log=${TEST_UNDECLARED_OUTPUTS_DIR:-${TMPDIR:-/tmp}}/user-smap-$mode.log
case $mode in
  on) args=(-smp 2); archsmap="on"; cpus="2 cpus" ;;
  nosmap) args=(-append kmem.nosmap); archsmap="off (kmem.nosmap)"; cpus="1 cpu" ;;
  qemu64) args=(-cpu qemu64); archsmap="off (not offered)"; cpus="1 cpu" ;;
  *) echo "user_smap_test: mode '$mode' is not on, nosmap or qemu64"; exit 1 ;;
esac
KMEM_ACCEL=tcg KMEM_KERNEL=boot/kernel_buddy.bin timeout 120 boot/qemu -m 64M "${args[@]}" >"$log" 2>&1
status=$?
clean=$(tr -d '\r' <"$log")
echo "$clean"
fail() { echo "FAIL (user, smap $mode): $*"; exit 1; }
[ $status -eq 0 ] || fail "qemu.sh exited with $status"
grep -q '^kmem: boot ok' <<<"$clean" || fail "no 'kmem: boot ok'"
grep -q "^archinit: no-execute on, smep [^,]*, smap $archsmap, " <<<"$clean" || fail "archinit does not say smap $archsmap"
line=$(grep '^user: ' <<<"$clean")
[ -n "$line" ] || fail "no user: line"
hex='0x[0-9a-f]+'
expect="^user: self-test ok: ring 3 wrote \"hello from ring 3\", a bad and a kernel pointer got -EFAULT, a page faulted in by a user write and one by CopyToUser, an interrupt in ring 3, killed by \"user read of 0xffffffff80100000 at rip $hex: a kernel address\", exit 7 on $cpus, \"general protection fault at rip $hex\"; "
if [ "$mode" = on ]; then
  expect+="smap on: an unchecked kernel read of user memory faults; "
else
  expect+="smap off: an unchecked kernel read of user memory succeeded, the protection is off; "
fi
expect+="null system call [0-9]+ ns \\(the best of 10 batches of 100\\)$"
grep -qE "$expect" <<<"$line" || fail "the user: line is not what the self-test says when it passes with smap $mode"
echo "PASS: user, smap $mode"
