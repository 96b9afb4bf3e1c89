#!/bin/bash
# mmu_qemu_test.sh MEM [CPU]: boots the kernel under TCG with MEM of RAM (on QEMU's CPU model CPU, default
# qemu.sh's), its serial line and QEMU's monitor on pipes, and `kmem.mmuwait` so that it stops once its own page tables are live. Asks the monitor for
# `info mem` and `info tlb`, requires both to agree with the kernel's dump (mmu_qemu_compare.py) and the
# W+X check to have passed, then releases the kernel and requires a clean exit. Every wait has a deadline,
# so a hang fails instead of blocking.
set -u
mem=$1
cpu_args=()
if [ $# -ge 2 ]; then cpu_args=(-cpu "$2"); fi
dir=$(mktemp -d "${TEST_TMPDIR:-/tmp}/mmu.XXXXXX")
out=${TEST_UNDECLARED_OUTPUTS_DIR:-$dir}
mkfifo "$dir/serial.in" "$dir/serial.out" "$dir/mon.in" "$dir/mon.out"
fail() { echo "FAIL (mmu at $mem): $*"; cat "$out/serial-$mem.log" 2>/dev/null | tail -40; kill "$qemu" 2>/dev/null; exit 1; }

KMEM_ACCEL=tcg KMEM_KERNEL=boot/kernel_buddy.bin KMEM_SERIAL="pipe:$dir/serial" KMEM_MONITOR="pipe:$dir/mon" \
  timeout 120 boot/qemu -m "$mem" "${cpu_args[@]}" -append kmem.mmuwait >"$dir/qemu.log" 2>&1 &
qemu=$!
: >"$out/serial-$mem.log"  # exists before the first wait_for reads it
: >"$out/monitor-$mem.log"
cat "$dir/serial.out" >"$out/serial-$mem.log" &
serial_reader=$!
cat "$dir/mon.out" >"$out/monitor-$mem.log" &
# Read-write opens of the input pipes never block, whether QEMU is there or not.
exec 3<>"$dir/serial.in" 4<>"$dir/mon.in"

source testing/qemu_wait.sh

wait_for "$out/serial-$mem.log" '^kmem: mmu tables live, waiting' 90 || fail "the kernel never said its tables are live"
printf 'info mem\ninfo tlb\ninfo status\n' >&4
wait_for "$out/monitor-$mem.log" 'VM status' 60 || fail "no answer from the monitor"
tr -d '\r' <"$out/serial-$mem.log" | grep -q '^mmu: W+X check passed' || fail "no passed W+X check"
python3 "$(dirname "$0")/mmu_qemu_compare.py" "$out/serial-$mem.log" "$out/monitor-$mem.log" || fail "QEMU sees other page tables"

printf 'x' >&3
wait "$qemu"
status=$?
# The reader drains what QEMU wrote before it closed the pipe, on a loaded machine after QEMU has exited.
wait "$serial_reader"
[ $status -eq 0 ] || fail "qemu.sh exited with $status: $(cat "$dir/qemu.log")"
tr -d '\r' <"$out/serial-$mem.log" | grep -q '^kmem: boot ok' || fail "no 'boot ok' after the wait"
echo "PASS: kernel tables at $mem agree with QEMU's info mem and info tlb"
