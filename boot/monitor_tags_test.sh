#!/bin/bash
# monitor_tags_test.sh: boots the kernel built with allocation-site tags (//boot:kernel_tags) under TCG with
# `-append kmem.monitor`, types `leak 3` (3 Malloc blocks of 1000 bytes and 3 Kmalloc objects of 100,
# never freed), `pools` and `exit`, and checks pools' answer: the pool and cache tables, then a `site` header
# and one line per allocation site (pc, live blocks, live bytes), largest bytes first, adding up to what
# the tables count live; every pc lies inside a function of the kernel's text (kernel_tags.elf's symbols,
# llvm-nm), and the leak's two sites, in the leak command's function, hold its 3 blocks of 1000 bytes and
# 3 of Kmalloc's 128-byte class. Every wait has a deadline.
set -u
dir=$(mktemp -d "${TEST_TMPDIR:-/tmp}/monitor_tags.XXXXXX")
out=${TEST_UNDECLARED_OUTPUTS_DIR:-$dir}
serial=$out/serial.log
elf=boot/kernel_tags.elf
mkfifo "$dir/serial.in" "$dir/serial.out"
fail() { echo "FAIL (monitor, tags): $*"; tr -d '\r' <"$serial" | tail -40; kill "$qemu" 2>/dev/null; exit 1; }

KMEM_ACCEL=tcg KMEM_KERNEL=boot/kernel_tags.bin KMEM_SERIAL="pipe:$dir/serial" \
  timeout 120 boot/qemu -append kmem.monitor >"$dir/qemu.log" 2>&1 &
qemu=$!
: >"$serial"
cat "$dir/serial.out" >"$serial" &
exec 3<>"$dir/serial.in"

source testing/qemu_wait.sh

wait_for "$serial" '^kmem> ' 90 || fail "no monitor prompt"
printf 'leak 3\npools\nexit\n' >&3
wait "$qemu"
status=$?
[ $status -eq 0 ] || fail "qemu.sh exited with $status after exit: $(cat "$dir/qemu.log")"

answer() { tr -d '\r' <"$serial" | awk -v cmd="kmem> $1" '$0 == cmd {on = 1; next} /^kmem> / {on = 0} on'; }
answer pools >"$dir/pools"
grep -q '^pool       live blocks' "$dir/pools" || fail "pools prints no pool table"
grep -q '^cache  ' "$dir/pools" || fail "pools prints no cache table"
sed -n '/^site               live blocks   live bytes$/,$p' "$dir/pools" | sed '1d' >"$dir/sites"
[ -s "$dir/sites" ] || fail "pools lists no allocation sites: $(cat "$dir/pools")"
grep -vqE '^(0x[0-9a-f]{16}|other sites       ) +[0-9]+ +[0-9]+$' "$dir/sites" &&
  fail "a site line is malformed: $(cat "$dir/sites")"
sort -k3,3nr -s "$dir/sites" | grep -v '^other' | diff <(grep -v '^other' "$dir/sites") - >/dev/null ||
  fail "the sites are not listed largest first: $(cat "$dir/sites")"

# What the tables count as live, pools and caches together, is what the site lines add up to.
live=$(awk '/^pool       live blocks/ {t = "p"; next} /^cache  / {t = "c"; next} /^site / {t = ""}
            t == "p" {b += $2; B += $3} t == "c" {b += $3; B += $4} END {print b, B}' "$dir/pools")
sum=$(awk '{b += $(NF - 1); B += $NF} END {print b, B}' "$dir/sites")
[ "$live" = "$sum" ] || fail "the tables count '$live' live blocks and bytes, the site lines '$sum'"

# Each pc is a return address inside a function of the kernel's text: past the start of a function
# symbol and before its end.
llvm-nm -S --defined-only "$elf" | awk '$3 ~ /^[tTwW]$/ && NF == 4 {print $1, $2, $4}' >"$dir/functions"
[ -s "$dir/functions" ] || fail "no function symbols in $elf"
grep -o '^0x[0-9a-f]*' "$dir/sites" | /usr/bin/python3 -c '
import sys
functions = [(int(a, 16), int(n, 16), name) for a, n, name in (l.split() for l in open(sys.argv[1]))]
for pc in map(lambda w: int(w, 16), sys.stdin.read().split()):
    print("0x%016x %s" % (pc, next((f for a, n, f in functions if a < pc < a + n), "-")))
' "$dir/functions" >"$dir/site_functions"
grep ' -$' "$dir/site_functions" && fail "a site is in no function of the kernel's text: $(cat "$dir/site_functions")"
leak_sites=$(grep ' _ZN4kmem4boot12_GLOBAL__N_14LeakEPvm$' "$dir/site_functions" | cut -d' ' -f1)
[ "$(wc -w <<<"$leak_sites")" = 2 ] || fail "the leak's two call sites are not listed: $(cat "$dir/site_functions")"
for want in '3 3000' '3 384'; do
  grep -E "^($(paste -sd'|' <<<"$leak_sites")) " "$dir/sites" | awk '{print $2, $3}' | grep -qx "$want" ||
    fail "no leak site with '$want' live blocks and bytes: $(cat "$dir/sites")"
done
# The allocators never name themselves: the site is their caller.
grep -E ' _ZN4kmem4pool(7Kmalloc|6Malloc|7Mallocz|14KmemCacheAlloc|9PoolAlloc)E' "$dir/site_functions" &&
  fail "a site lies inside an allocator's own entry point"

echo "PASS: the tags kernel's pools lists $(wc -l <"$dir/sites") allocation sites in its text, adding up to the tables"
