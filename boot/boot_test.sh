#!/bin/bash
# boot_test.sh BACKEND MEM [CPU]: boots the kernel built with page allocator BACKEND under TCG with MEM of
# RAM (5M to 64G), on QEMU's CPU model CPU (default: qemu.sh's), and checks the serial log: the banner
# naming BACKEND, a CPU identification that archinit and mmuinit act on consistently, a memory map whose
# RAM adds up to what QEMU was given, a sanitised E820 table equal line for line to what //tools:memmap
# prints for the firmware map the kernel logged, a typed map with the kernel reserved, and a clean exit.
# A hang fails after the timeout instead of blocking the run. KMEM_RAM_FILE=1 backs the guest RAM with a
# sparse file in $TEST_TMPDIR, deleted afterwards, so that large sizes take only the pages touched.
set -u
backend_wanted=$1
mem=$2
cpu_args=()
if [ $# -ge 3 ]; then cpu_args=(-cpu "$3"); fi
case $mem in
  *M) mib=${mem%M} ;;
  *G) mib=$(( ${mem%G} * 1024 )) ;;
  *) echo "boot_test: memory size '$mem' must end in M or G"; exit 1 ;;
esac
log=${TEST_UNDECLARED_OUTPUTS_DIR:-${TMPDIR:-/tmp}}/boot-$mem.log

ram_args=()
if [ -n "${KMEM_RAM_FILE:-}" ]; then
  ram_file=$(mktemp "${TEST_TMPDIR:-/tmp}/guest-ram.XXXXXX")
  trap 'rm -f "$ram_file"' EXIT
  truncate -s "$mem" "$ram_file"
  ram_args=(-object "memory-backend-file,id=ram,size=$mem,mem-path=$ram_file,share=on" -machine memory-backend=ram)
fi
KMEM_ACCEL=tcg KMEM_KERNEL=boot/kernel_$backend_wanted.bin timeout 120 boot/qemu -m "$mem" "${cpu_args[@]}" "${ram_args[@]}" \
  >"$log" 2>&1
status=$?
cat "$log"
fail() { echo "FAIL (boot at $mem): $*"; exit 1; }
[ $status -eq 0 ] || fail "qemu.sh exited with $status"

banner=$(grep -m1 '^kmem: x86_64 kernel, palloc backend ' "$log" | tr -d '\r') || fail "no banner"
backend=${banner##* }
grep -qxF "kmem: command line ''" <(tr -d '\r' <"$log") || fail "the command line is not shown as the (empty) words the user gave"
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
# The page the application processors start in is reserved, and the typed map shows it so.
grep -q '^meminit: reserving AP trampoline \[0x8000, 0x9000)$' <<<"$clean" || fail "AP trampoline page not reserved"
while read -r base end; do
  (( base <= 0x8000 && 0x9000 <= end )) && trampoline_shown=1
done < <(sed -n 's/^  \(0x[0-9a-f]\{16\}\) \(0x[0-9a-f]\{16\}\) Reserved .*/\1 \2/p' <<<"$clean")
[ -n "${trampoline_shown:-}" ] || fail "the typed map does not show the AP trampoline page [0x8000, 0x9000) reserved"
usable_kib=$(sed -n 's/^memmap: usable RAM \([0-9]*\) KiB .*/\1/p' <<<"$clean")
[ -n "$usable_kib" ] || fail "no typed memory map total"
(( usable_kib <= kernel_kib && usable_kib >= kernel_kib - 2048 )) ||
  fail "usable RAM $usable_kib KiB is not within 2 MiB below the firmware's $kernel_kib KiB"

# mach0init identified the CPU; archinit and mmuinit act on what it found: the physical address width
# bounds the map, 1 GiB pages are used exactly when the CPU has them.
num() { sed -n "$1" <<<"$clean" | head -n 1; }
grep -q '^mach0init: cpu0, boot stack \[0x[0-9a-f]*, 0x[0-9a-f]*) above a guard page$' <<<"$clean" ||
  fail "no mach0init line"
phys_bits=$(num 's/^cpu0: \([0-9]*\)-bit physical, [0-9]*-bit virtual addresses; paging features:.*/\1/p')
features=$(num 's/^cpu0: .*paging features:\(.*\)$/\1 /p')
[ -n "$phys_bits" ] || fail "no cpu0 address widths"
[[ "$features" == *" nx "* ]] || fail "the CPU shows no nx, yet the kernel booted"
limit=$(num 's/^archinit: no-execute on, .*, physical addresses below \(0x[0-9a-f]*\)$/\1/p')
[ -n "$limit" ] || fail "no archinit line"
(( limit == 1 << phys_bits )) || fail "archinit's limit $limit is not 2^$phys_bits"
if (( phys_bits < 52 )); then
  grep -q "^meminit: reserving what the CPU cannot address \[$limit, 0x10000000000000)$" <<<"$clean" ||
    fail "the map does not reserve [$limit, 2^52)"
fi
giant="2M and 4K"; archgiant="off (not offered)"
if [[ "$features" == *" 1g-pages "* ]]; then giant="1G, 2M and 4K"; archgiant="on"; fi
archsmep="off (not offered)"
if [[ "$features" == *" smep "* ]]; then archsmep="on"; fi
archsmap="off (not offered)"
if [[ "$features" == *" smap "* ]]; then archsmap="on"; fi
grep -q "^archinit: no-execute on, smep $archsmep, smap $archsmap, 1G pages $archgiant," <<<"$clean" ||
  fail "archinit does not say smep $archsmep, smap $archsmap, 1G pages $archgiant"
archpcids="off (not offered)"
if [[ "$features" == *" pge "* && "$features" == *" pcid "* ]]; then archpcids="on"; fi
grep -q "^archinit: .*, global pages [^,]*, pcids $archpcids, " <<<"$clean" || fail "archinit does not say pcids $archpcids"
grep -q "^mmu: kernel tables live at 0x[0-9a-f]*: [0-9]* page-table pages, $giant pages, " <<<"$clean" ||
  fail "mmuinit does not use $giant pages"
cpu_colours=$(num 's/^cpu0: caches:.*; \([0-9]*\) page colours*$/\1/p')
arch_colours=$(num 's/^archinit: .*, \([0-9]*\) page colours*, .*/\1/p')
palloc_colours=$(num 's/^palloc: [a-z]* backend, .* user, \([0-9]*\) colours*$/\1/p')
[ -n "$cpu_colours" ] && [ "$cpu_colours" = "$arch_colours" ] && [ "$arch_colours" = "$palloc_colours" ] ||
  fail "page colours: the CPU's '$cpu_colours', archinit's '$arch_colours', palloc's '$palloc_colours' differ"

# Every usable page ends up in exactly one place: the boot page tables (taken from the map before
# confinit), xalloc (the kernel share), the page allocator's arrays (preallocpages, off the top of a user
# bank) or the page allocator (the rest of the user share).
pt_pages=$(num 's/^mmu: kernel tables live at 0x[0-9a-f]*: \([0-9]*\) page-table pages.*/\1/p')
donated_kib=$(num 's/^xalloc: .* \([0-9]*\) KiB donated$/\1/p')
read -r arrays_used_kib arrays_kib < <(num 's/^preallocpages: \([0-9]*\) KiB of page descriptors and bitmaps for [0-9]* banks in \([0-9]*\) KiB off the top of \[0x[0-9a-f]*, 0x[0-9a-f]*)$/\1 \2/p')
read -r palloc_backend palloc_pages palloc_free < <(num 's/^palloc: \([a-z]*\) backend, .*: \([0-9]*\) pages, \([0-9]*\) free, .*/\1 \2 \3/p')
[ -n "$pt_pages" ] && [ -n "$donated_kib" ] && [ -n "$arrays_kib" ] && [ -n "$palloc_pages" ] ||
  fail "missing mmu, xalloc, preallocpages or palloc summary"
(( arrays_used_kib <= arrays_kib && arrays_kib <= arrays_used_kib + 4 )) ||
  fail "preallocpages took $arrays_kib KiB for $arrays_used_kib KiB of arrays, not the fewest pages"
(( usable_kib == pt_pages * 4 + donated_kib + arrays_kib + palloc_pages * 4 )) ||
  fail "usable $usable_kib KiB != page tables $((pt_pages * 4)) + xalloc $donated_kib + arrays $arrays_kib + palloc $((palloc_pages * 4)) KiB"
[ "$palloc_backend" = "$backend_wanted" ] || fail "palloc runs the $palloc_backend backend"
(( palloc_free == palloc_pages )) || fail "palloc starts with $palloc_free of $palloc_pages pages free"

# confinit's line: N = A + B; N is the banks plus the kernel image, B the page allocator's share.
read -r n_mib a_mib b_mib < <(num 's/^\([0-9]*\)M memory: \([0-9]*\)M kernel data, \([0-9]*\)M user, [0-9]*M swap map, no swap device$/\1 \2 \3/p')
[ -n "$n_mib" ] || fail "no confinit memory line"
(( a_mib + b_mib == n_mib )) || fail "confinit: $a_mib M kernel + $b_mib M user != $n_mib M"
read -r img_lo img_hi < <(num 's/^meminit: reserving kernel image \[\(0x[0-9a-f]*\), \(0x[0-9a-f]*\))$/\1 \2/p')
want_n=$(( (donated_kib + arrays_kib + palloc_pages * 4 + (img_hi - img_lo) / 1024 + 512) / 1024 ))
(( n_mib >= want_n - 1 && n_mib <= want_n + 1 )) || fail "confinit says ${n_mib}M, the banks and image make ${want_n}M"
want_b=$(( (arrays_kib + palloc_pages * 4 + 512) / 1024 ))
(( b_mib >= want_b - 1 && b_mib <= want_b + 1 )) || fail "confinit gives users ${b_mib}M, palloc and its arrays have ${want_b}M"

# One CPU (QEMU's default -smp 1), listed by ACPI and online; smp_test.sh boots more.
grep -qx 'smp: 1 of 1 CPUs online' <<<"$clean" || fail "no 'smp: 1 of 1 CPUs online'"

# The self-tests ran, over every user page, and passed.
grep -q '^mmu: W+X check passed' <<<"$clean" || fail "no W+X check"
grep -q "^palloc: self-test allocated and freed $palloc_pages pages, none twice$" <<<"$clean" ||
  fail "the palloc self-test did not cover all $palloc_pages pages"
grep -q '^mmu: self-test ok' <<<"$clean" || fail "no MMU self-test"
grep -q '^pool selftest: passed$' <<<"$clean" || fail "no pool self-test"
grep -q '^selftest: every layer passed$' <<<"$clean" || fail "self-tests incomplete"
grep -q '^kmem: boot ok' "$log" || fail "no 'boot ok'"
echo "PASS: $mem boot, backend $backend, ${phys_bits}-bit physical addresses, $giant pages, $entries map entries, $((ram >> 20)) MiB RAM, $((usable_kib >> 10)) MiB usable" \
  "= $pt_pages page-table pages + $((donated_kib >> 10)) MiB xalloc + $arrays_kib KiB palloc arrays + $palloc_pages pages palloc;" \
  "${n_mib}M = ${a_mib}M + ${b_mib}M"
