#!/bin/bash
# boot_test.sh BACKEND MEM: boots the kernel built with page allocator BACKEND under TCG with MEM of RAM
# (32M, 1G, 6G) and checks the serial log: the banner naming BACKEND, a memory map whose RAM adds up to
# what QEMU was given, a sanitised E820 table equal line for line to what //tools:memmap prints for the
# firmware map the kernel logged, a typed map with the kernel reserved, and a clean exit. A hang fails
# after the timeout instead of blocking the run.
set -u
backend_wanted=$1
mem=$2
case $mem in
  *M) mib=${mem%M} ;;
  *G) mib=$(( ${mem%G} * 1024 )) ;;
  *) echo "boot_test: memory size '$mem' must end in M or G"; exit 1 ;;
esac
log=${TEST_UNDECLARED_OUTPUTS_DIR:-${TMPDIR:-/tmp}}/boot-$mem.log

KMEM_ACCEL=tcg KMEM_KERNEL=boot/kernel_$backend_wanted.bin timeout 120 boot/qemu -m "$mem" >"$log" 2>&1
status=$?
cat "$log"
fail() { echo "FAIL (boot at $mem): $*"; exit 1; }
[ $status -eq 0 ] || fail "qemu.sh exited with $status"

banner=$(grep -m1 '^kmem: x86_64 kernel, palloc backend ' "$log" | tr -d '\r') || fail "no banner"
backend=${banner##* }
[ "$backend" = "$backend_wanted" ] || fail "banner names backend '$backend', the kernel was built with $backend_wanted"

# Sum the RAM (type 1) entries of the printed map ourselves and hold the kernel's total to it.
ram=0; above4g=0; entries=0
while read -r base end type; do
  entries=$((entries + 1))
  (( end > base )) || fail "entry $base $end is empty or inverted"
  if [ "$type" = 1 ]; then
    ram=$((ram + end - base))
    (( end > 0x100000000 )) && above4g=1
  fi
done < <(tr -d '\r' <"$log" | sed -n 's/^  \(0x[0-9a-f]\{16\}\) \(0x[0-9a-f]\{16\}\) \([0-9]*\)$/\1 \2 \3/p')
(( entries > 0 )) || fail "no memory map entries"
kernel_kib=$(tr -d '\r' <"$log" | sed -n 's/^multiboot RAM: \([0-9]*\) KiB$/\1/p')
[ "$kernel_kib" = $((ram >> 10)) ] || fail "kernel says $kernel_kib KiB of RAM, its map adds up to $((ram >> 10))"
total=$((mib << 20))
(( ram <= total && ram >= total - (2 << 20) )) || fail "RAM $ram bytes is not within 2 MiB below -m $mem"
if (( mib > 4096 )); then (( above4g )) || fail "no RAM above 4 GiB at $mem"; fi

# The kernel's sanitised table must be exactly what the tool makes of the firmware map the kernel logged.
clean=$(tr -d '\r' <"$log")
firmware=$(sed -n 's/^  \(0x[0-9a-f]\{16,17\} 0x[0-9a-f]\{16,17\} [0-9]*\)$/\1/p' <<<"$clean")
kernel_e820=$(awk '/^e820: sanitised/ { on = 1; next } on && /^$/ { exit } on' <<<"$clean")
tool_e820=$(tools/memmap - <<<"$firmware" | awk '/^$/ { exit } { print }') || fail "tools/memmap rejected the kernel's firmware map"
[ -n "$kernel_e820" ] || fail "no sanitised E820 table"
diff <(echo "$kernel_e820") <(echo "$tool_e820") || fail "the kernel's sanitised E820 table differs from tools/memmap's"
grep -q '^meminit: reserving kernel image \[0x100000, ' <<<"$clean" || fail "kernel image not reserved"
usable_kib=$(sed -n 's/^memmap: usable RAM \([0-9]*\) KiB .*/\1/p' <<<"$clean")
[ -n "$usable_kib" ] || fail "no typed memory map total"
(( usable_kib <= kernel_kib && usable_kib >= kernel_kib - 2048 )) ||
  fail "usable RAM $usable_kib KiB is not within 2 MiB below the firmware's $kernel_kib KiB"
grep -q '^kmem: boot ok' "$log" || fail "no 'boot ok'"
echo "PASS: $mem boot, backend $backend, $entries map entries, $((ram >> 20)) MiB RAM, $((usable_kib >> 10)) MiB usable"
