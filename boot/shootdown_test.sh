#!/bin/bash
# shootdown_test.sh CPUS on|off: boots the kernel under TCG with -smp CPUS (and, for off, kmem.noshootdown)
# and checks the TLB shootdown self-test's report (arch/x86_64/boot/tlbtest.h). With the shootdown on,
# every CPU but the boot CPU (the boot CPU itself when it is alone) read a vmalloc page in a loop and
# faulted on its next read after the vfree, and the counts show one shootdown to every other CPU at least;
# with it off, every other CPU read the unmapped page through its stale entry and the report says so,
# which is how this test proves that the self-test can fail.
set -u
cpus=$1
mode=$2
log=${TEST_UNDECLARED_OUTPUTS_DIR:-${TMPDIR:-/tmp}}/shootdown-$cpus-$mode.log
append=()
[ "$mode" = off ] && append=(-append kmem.noshootdown)
KMEM_ACCEL=tcg KMEM_KERNEL=boot/kernel_buddy.bin timeout 120 boot/qemu -m 64M -smp "$cpus" "${append[@]}" >"$log" 2>&1
status=$?
clean=$(tr -d '\r' <"$log")
echo "$clean"
fail() { echo "FAIL (shootdown at -smp $cpus, $mode): $*"; exit 1; }
[ $status -eq 0 ] || fail "qemu.sh exited with $status"
grep -q '^kmem: boot ok' <<<"$clean" || fail "no 'kmem: boot ok'"
readers=$(( cpus > 1 ? cpus - 1 : 1 ))
if [ "$mode" = on ]; then
  plural=$([ "$readers" = 1 ] || echo s)
  grep -qx "tlb: self-test ok: $readers cpu$plural read a vmalloc page, its vfree shot the translation down, every next read faulted and was caught" <<<"$clean" ||
    fail "no self-test line for $readers reading cpus"
  shootdowns=$(sed -n 's/^tlb: \([0-9]*\) shootdowns to \([0-9]*\) other cpus, .*shootdown on$/\1 \2/p' <<<"$clean" | tail -1)
  [ -n "$shootdowns" ] || fail "no tlb counts with the shootdown on"
  read -r sent asked <<<"$shootdowns"
  if (( cpus > 1 )); then
    (( sent >= 1 && asked >= sent * (cpus - 1) )) || fail "counts '$shootdowns': not every unmap asked all $((cpus - 1)) other cpus"
  fi
else
  grep -q "^kmem: kmem.noshootdown: " <<<"$clean" || fail "the kernel did not take kmem.noshootdown"
  stale=$(( cpus > 1 ? readers : 0 ))
  grep -qx "tlb: self-test with the shootdown off: $stale of $readers cpus read the unmapped page through a stale translation" <<<"$clean" ||
    fail "the self-test did not report $stale of $readers stale reads with the shootdown off"
  [ "$(grep -c '^tlb: self-test with the shootdown off: cpu [0-9]* read 0x6b6d656d5f746c62 at ' <<<"$clean")" = "$stale" ] ||
    fail "not $stale stale reads of the page's pattern"
fi
echo "PASS: shootdown $mode at -smp $cpus"
