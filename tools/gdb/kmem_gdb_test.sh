#!/bin/bash
# kmem_gdb_test.sh BACKEND: boots the BACKEND kernel under TCG stopped at its first instruction, with QEMU's
# gdb stub on a socket of its own, and runs gdb in batch mode with tools/gdb/kmem.py. gdb stops the kernel
# five times, and each kmem command's output must agree with what the kernel printed on its serial line:
#   1. at PoolsLate, just after palloc printed its free table: `kmem ptdump` and `kmem ptdump $cr3` print
#      the `mmu:` dump's lines, `kmem buddyinfo` the `palloc:` free-blocks lines (in all, per zone and in
#      each CPU's caches), `kmem translate` the run of the dump that holds the address, `kmem page` names a
#      free user page and a kernel-image page, `kmem cpus` the `cpu0:` identity line and address widths,
#      and no other CPU (the SMP start-up is later);
#   2. at ArchSelfTests, with both CPUs of -smp 2 online: `kmem cpus` each CPU's identity line, address
#      widths and the boot stack its start-up line names;
#   3. at the MMU self-test's user Pmap (the first Pmap after NewAddressSpace): `kmem page` inside the
#      2 MiB block it allocated names that block;
#   4. at ProcInit, after the self-tests printed the pool tables: `kmem pools` prints those tables, and
#      `kmem leaks` says this kernel has no allocation-site tags (kmem_leaks_test runs it against the
#      kernel with them), and `kmem buddyinfo` lists cpu0's cached blocks, adding up to its pages;
#   5. at the first system call of `hello` (-append 'run=hello kmem.ps'): `kmem ps` lists it running, `kmem
#      vmas 1` its VMAs as kmem.ps prints them when it ends (resident pages left out: it may fault more).
# Then gdb detaches and the kernel must finish its boot. Every wait has a deadline.
set -u
backend=$1
dir=$(mktemp -d "${TEST_TMPDIR:-/tmp}/gdb.XXXXXX")
# A Unix socket's path must be under 108 bytes, which the test's own directory is not.
sock_dir=$(mktemp -d /tmp/kmem-gdb.XXXXXX)
sock=$sock_dir/gdb.sock
trap 'rm -rf "$sock_dir"' EXIT
out=${TEST_UNDECLARED_OUTPUTS_DIR:-$dir}
serial=$out/serial.log
gdblog=$out/gdb.log
: >"$gdblog"
fail() { echo "FAIL (gdb, $backend): $*"; echo "--- gdb:"; tail -60 "$gdblog"; kill "$qemu" 2>/dev/null; exit 1; }

KMEM_ACCEL=tcg KMEM_KERNEL=boot/kernel_$backend.bin KMEM_SERIAL="file:$serial" \
  timeout 120 boot/qemu -smp 2 -S -gdb "unix:$sock,server=on,wait=off" -append 'run=hello kmem.ps' \
  >"$dir/qemu.log" 2>&1 &
qemu=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || fail "QEMU opened no gdb socket: $(cat "$dir/qemu.log")"

# Each command's output is framed by a ==NAME line, so section NAME below is exactly that output.
timeout 100 gdb -batch -nx "boot/kernel_$backend.elf" -x tools/gdb/kmem.py \
  -ex "target remote $sock" \
  -ex 'hbreak kmem::boot::PoolsLate' -ex continue -ex 'delete' \
  -ex 'echo ==ptdump\n' -ex 'kmem ptdump' \
  -ex 'echo ==ptdump-cr3\n' -ex 'kmem ptdump $cr3' \
  -ex 'echo ==translate-text\n' -ex 'kmem translate 0xffffffff80100000' \
  -ex 'echo ==translate-direct\n' -ex 'kmem translate 0xffff800000201234' \
  -ex 'echo ==translate-null\n' -ex 'kmem translate 0' \
  -ex 'echo ==buddyinfo\n' -ex 'kmem buddyinfo' \
  -ex 'echo ==page-free\n' -ex 'kmem page 0x30000000' \
  -ex 'echo ==page-kernel\n' -ex 'kmem page 0x100000' \
  -ex 'echo ==cpus\n' -ex 'kmem cpus' \
  -ex 'hbreak kmem::boot::ArchSelfTests' -ex continue -ex 'delete' \
  -ex 'echo ==cpus-smp\n' -ex 'kmem cpus' \
  -ex "hbreak *'kmem::x86::Mmu::NewAddressSpace'" -ex continue -ex 'delete' \
  -ex "hbreak *'kmem::x86::Mmu::Pmap'" -ex continue -ex 'delete' \
  -ex 'echo ==page-block\n' -ex 'kmem page $rdx + 0x3000' -ex 'echo ==block-pa\n' -ex 'printf "0x%lx\n", $rdx' \
  -ex "hbreak *'kmem::kernel::ProcInit'" -ex continue -ex 'delete' \
  -ex 'echo ==pools\n' -ex 'kmem pools' \
  -ex 'echo ==buddyinfo-late\n' -ex 'kmem buddyinfo' \
  -ex 'echo ==leaks\n' -ex 'kmem leaks' -ex 'echo ==leaks-end\n' \
  -ex "hbreak *'kmem::kernel::Syscall'" -ex continue -ex 'delete' \
  -ex 'echo ==ps\n' -ex 'kmem ps' \
  -ex 'echo ==vmas\n' -ex 'kmem vmas 1' \
  -ex 'echo ==end\n' -ex detach >"$gdblog" 2>&1
# gdb's status is not the test's: the kernel may finish and QEMU close the socket before gdb has read the
# answer to detach ("Remote communication error"). That every command ran is what ==end says.

section() { sed -n "/^==$1\$/,/^==/p" "$gdblog" | sed '1d;$d'; }
log() { tr -d '\r' <"$serial"; }
grep -q '^==end$' "$gdblog" || fail "gdb did not get through its commands"
grep -E 'Python Exception|^Error|not defined' "$gdblog" && fail "a kmem command failed"

# The dump lines: the boot log's lines after the 'page tables of the kernel' header, up to the next line
# that is not a run.
log | sed -n '/^mmu: page tables of the kernel/,/^[^f]/p' | grep '^ffff' >"$dir/dump.kernel"
[ -s "$dir/dump.kernel" ] || fail "no mmu dump in the serial log"
section ptdump >"$dir/dump.gdb"
diff "$dir/dump.kernel" "$dir/dump.gdb" || fail "kmem ptdump differs from the kernel's mmu dump"
section ptdump-cr3 | diff "$dir/dump.kernel" - || fail "kmem ptdump \$cr3 differs from the kernel's mmu dump"

grep -q '^ffffffff80100000-[0-9a-f]* .* --XG- -> 0000000000100000$' "$dir/dump.kernel" ||
  fail "the kernel's dump has no text run at 0xffffffff80100000"
[ "$(section translate-text)" = "0xffffffff80100000 -> 0x100000: 4K page, flags --XG-" ] ||
  fail "kmem translate of the kernel text: $(section translate-text)"
direct=$(grep '^ffff800000200000-' "$dir/dump.kernel" | awk '{print $5 " page, flags " $6}')
[ "$(section translate-direct)" = "0xffff800000201234 -> 0x201234: $direct" ] ||
  fail "kmem translate of the direct map: $(section translate-direct), the dump says $direct"
[ "$(section translate-null)" = "0x0: not mapped (no entry at level 3)" ] ||
  fail "kmem translate 0: $(section translate-null)"

want=$(log | grep '^palloc: free blocks per order:')
[ -n "$want" ] || fail "no free-block table in the serial log"
[ "$(section buddyinfo | grep '^palloc: free blocks per order:')" = "$want" ] ||
  fail "kmem buddyinfo: $(section buddyinfo); the kernel printed: $want"
zones=$(log | grep '^palloc: zone ')
[ -n "$zones" ] || fail "no per-zone free-block lines in the serial log"
[ "$(section buddyinfo | grep '^palloc: zone ')" = "$zones" ] ||
  fail "kmem buddyinfo's zones: $(section buddyinfo | grep '^palloc: zone '); the kernel printed: $zones"
cached=$(log | grep '^palloc: cpu[0-9]* caches ')
[ "$(section buddyinfo | grep '^palloc: cpu')" = "$cached" ] ||
  fail "kmem buddyinfo's CPU caches: $(section buddyinfo | grep '^palloc: cpu'); the kernel printed: $cached"
# After the self-tests the boot CPU's caches hold pages: its line counts them, and its blocks add up to them.
late=$(section buddyinfo-late | grep '^palloc: cpu0 caches ')
[ -n "$late" ] || fail "kmem buddyinfo after the self-tests lists no cpu0 caches: $(section buddyinfo-late)"
pages=$(sed 's/^palloc: cpu0 caches \([0-9]*\) free pages.*/\1/' <<<"$late")
sum=$(sed 's/.*blocks per order://' <<<"$late" | tr ' ' '\n' | awk -F: 'NF == 2 {s += $2 * 2 ^ $1} END {print s}')
[ "$pages" = "$sum" ] || fail "kmem buddyinfo: cpu0's blocks add up to $sum pages, not $pages: $late"
header=$(log | grep "^palloc: $backend backend" | sed 's/, [0-9]* colours\?$//')
[ "$(section buddyinfo | head -1)" = "$header" ] ||
  fail "kmem buddyinfo: $(section buddyinfo | head -1); the kernel printed: $header"

section page-free | grep -q '^pa 0x30000000: pfn 0x30000, bank 0, colour [0-9]*, free' ||
  fail "kmem page of a free user page: $(section page-free)"
section page-kernel | grep -q '^pa 0x100000: in no palloc bank' ||
  fail "kmem page of the kernel image: $(section page-kernel)"
# The MMU self-test's 2 MiB block (order 9), at the user Pmap's entry: pa is its second argument after `this`.
block=$(section block-pa)
section page-block | grep -q ", allocated in a block of order 9 at $block;" ||
  fail "kmem page inside the self-test's block at $block: $(section page-block)"

[ "$(section cpus | head -1)" = "$(log | grep -m1 '^cpu0: .* family')" ] || fail "kmem cpus: $(section cpus | head -1)"
widths=$(log | grep -m1 '^cpu0: .*-bit physical' | sed 's/; paging features.*//')
section cpus | grep -q "^$widths; features " || fail "kmem cpus lacks '$widths': $(section cpus)"
[ "$(section cpus | grep -c '^cpu[0-9]*: .* family')" = 1 ] || fail "kmem cpus lists another CPU before the SMP start-up"
for n in 0 1; do
  cpus=$(section cpus-smp | grep "^cpu$n: ")
  [ "$(head -1 <<<"$cpus")" = "$(log | grep -m1 "^cpu$n: .* family")" ] || fail "kmem cpus, cpu$n: $cpus"
  widths=$(log | grep -m1 "^cpu$n: .*-bit physical" | sed 's/; paging features.*//')
  grep -q "^$widths; features " <<<"$cpus" || fail "kmem cpus lacks '$widths': $cpus"
done
stack=$(log | sed -n 's/^smp: cpu1 (apic id 1) started: boot stack \(\[0x[0-9a-f]*, 0x[0-9a-f]*)\).*/\1/p')
[ -n "$stack" ] || fail "no start-up line for cpu1 in the serial log"
section cpus-smp | grep -qxF "cpu1: apic id 1, boot stack $stack" ||
  fail "kmem cpus does not give cpu1 the boot stack $stack: $(section cpus-smp)"

log | sed -n '/^pool       live blocks/,/^pool selftest: passed/p' | sed '$d' >"$dir/pools.kernel"
[ -s "$dir/pools.kernel" ] || fail "no pool tables in the serial log"
section pools | diff "$dir/pools.kernel" - || fail "kmem pools differs from the kernel's pool tables"

section ps | grep -qE '^ +1 hello +running +[01] +1 +[1-9][0-9]* +[1-9][0-9]*$' || fail "kmem ps: $(section ps)"
log | sed -n '/^proc: pid 1 (hello) maps:$/,/^[^0-9a-f]/p' | grep '^[0-9a-f]*-' | sed 's/ *resident.*//' >"$dir/maps.kernel"
[ -s "$dir/maps.kernel" ] || fail "no maps of hello in the serial log"
section vmas | head -1 | grep -qx 'pid 1 (hello):' || fail "kmem vmas 1: $(section vmas)"
section vmas | sed '1d; s/ *resident.*//' | diff "$dir/maps.kernel" - || fail "kmem vmas 1 differs from hello's maps"
[ "$(section ps | sed -n 2p | awk '{print $6}')" = "$(wc -l <"$dir/maps.kernel")" ] ||
  fail "kmem ps counts other VMAs than hello has: $(section ps)"
no_tags='^kmem leaks: this kernel was built without --//mm/pool:tags; '
[ "$(section leaks | wc -l)" = 1 ] && section leaks | grep -q "$no_tags" ||
  fail "kmem leaks on a kernel without tags: $(section leaks)"

wait "$qemu"
status=$?
[ $status -eq 0 ] || fail "qemu.sh exited with $status after gdb detached: $(cat "$dir/qemu.log")"
log | grep -q '^kmem: boot ok' || fail "no 'boot ok' after gdb detached"
echo "PASS: kmem ptdump, translate, buddyinfo, page, cpus (of both CPUs), pools, ps and vmas agree with the $backend kernel's log"
