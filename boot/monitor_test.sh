#!/bin/bash
# monitor_test.sh: boots the kernel under TCG with `-append kmem.monitor` and its serial line on pipes,
# waits for the monitor's prompt, then types a script of commands into it and checks each answer against
# the boot log above it: ptdump repeats the mmu dump (with what the SMP start-up vmapped since), cpus the lines of both CPUs (-smp 2), pools the self-test's tables,
# mem agrees with buddyinfo; unknown commands and bad counts get one line and the prompt; stress 2 runs
# the self-tests twice more; json's dumps agree with buddyinfo and pools (memjson_check.py) and memviz
# draws them; run starts a program in the background, which ps and vmas show and kill ends (a tree with
# it); exit ends the boot as usual (status 0, 'kmem: boot ok'). Every wait has a deadline, so a
# hang fails instead of blocking.
set -u
dir=$(mktemp -d "${TEST_TMPDIR:-/tmp}/monitor.XXXXXX")
out=${TEST_UNDECLARED_OUTPUTS_DIR:-$dir}
serial=$out/serial.log
mkfifo "$dir/serial.in" "$dir/serial.out"
fail() { echo "FAIL (monitor): $*"; tr -d '\r' <"$serial" | tail -60; kill "$qemu" 2>/dev/null; exit 1; }

KMEM_ACCEL=tcg KMEM_KERNEL=boot/kernel_buddy.bin KMEM_SERIAL="pipe:$dir/serial" \
  timeout 120 boot/qemu -smp 2 -append kmem.monitor >"$dir/qemu.log" 2>&1 &
qemu=$!
: >"$serial"  # exists before the first wait_for reads it
cat "$dir/serial.out" >"$serial" &
exec 3<>"$dir/serial.in"  # a read-write open of the input pipe never blocks

source testing/qemu_wait.sh

# Input typed before the prompt would be lost when the UART's FIFO is reset at boot: wait for it.
wait_for "$serial" '^kmem> ' 90 || fail "no monitor prompt"
printf 'help\nmem\nmemmap\nbuddyinfo\npools\njson\nptdump\ncpus\nkva\ntlb\nfrobnicate\nstress x\nmem 1\nstress 2\n' >&3
# Processes: a program that computes until it is killed, in the background; what ps and vmas say of it; a
# stress refused while it lives; the kill, then nothing left of it.
printf 'run spin 1000000\n' >&3
wait_for "$serial" '^monitor: pid 1 (spin) started$' 30 || fail "run spin 1000000 did not start"
sleep 1  # "started" comes before spin's first instruction; by now, even under TCG, it has faulted its text in
printf 'run frobnicate\nrun\nps\nvmas 1\nstress 1\nkill 1\n' >&3
wait_for "$serial" 'proc: pid 1 (spin) killed on cpu[0-9]*: killed by request$' 90 || fail "kill 1 did not end spin"
sleep 1  # the page ageing, started with spin's run, makes a pass every 100 ms
printf 'vmas 1\nkill 1\nage\n' >&3
# A tree: spin forks two children that compute as long; the kill of the parent ends them with it (a killed
# parent kills the children nobody waited for), else its end would wait for them for good.
printf 'run spin 1000000 2\n' >&3
wait_for "$serial" '^monitor: pid 2 (spin) started$' 30 || fail "run spin 1000000 2 did not start"
sleep 2  # its forks, under TCG
printf 'kill 2\n' >&3
for pid in 3 4; do
  wait_for "$serial" "^proc: pid $pid (spin) killed on cpu[0-9]*: killed by its parent's kill\$" 30 ||
    fail "the kill of spin's parent did not end its child $pid"
done
printf 'exit\n' >&3
wait "$qemu"
status=$?
[ $status -eq 0 ] || fail "qemu.sh exited with $status after exit: $(cat "$dir/qemu.log")"

log() { tr -d '\r' <"$serial"; }
boot() { log | sed '/^kmem> /,$d'; }  # what the kernel printed before the monitor
# The answer to CMD: the lines after the prompt that echoes it, up to the next prompt.
answer() { log | awk -v cmd="kmem> $1" '$0 == cmd {on = 1; next} /^kmem> / {on = 0} on'; }

log | grep -q '^kmem: boot ok' || fail "no 'boot ok' after exit"
log | grep -q '^monitor: left$' || fail "the monitor did not say it left"

for name in mem memmap buddyinfo pools ptdump cpus kva json tlb stress ps vmas run kill age leak help 'exit, quit'; do
  answer help | grep -q "^  $name " || fail "help does not list $name"
done

boot | sed -n '/^mmu: page tables of the kernel/,/^[^f]/p' | grep '^ffff' >"$dir/dump.boot"
[ -s "$dir/dump.boot" ] || fail "no mmu dump in the boot log"
# Since the boot's dump the SMP start-up has mapped, in the VMAP window, the local APIC's page and cpu1's boot
# and double-fault stacks (each physically contiguous, one run), and the scheduler cpu0's idle thread's stack
# (its pages in any order); the rest is as the boot dumped it.
answer ptdump | grep -v '^ffff82' | diff "$dir/dump.boot" - || fail "ptdump differs from the boot's mmu dump"
vmap=$(answer ptdump | grep '^ffff82')
grep -q -- ' -W-GC -> 00000000fee00000$' <<<"$vmap" || fail "ptdump shows no uncached vmap of the local APIC: $vmap"
# cpu1's boot stack [base, ...) and its double-fault stack below top, as its start-up line names them: each
# one 16K run (whether the idle thread's stack is one too depends on which pages it got).
started=$(boot | grep -o 'smp: cpu1 (apic id 1) started: boot stack \[0x[0-9a-f]*, 0x[0-9a-f]*), double-fault stack below 0x[0-9a-f]*')
base=$(sed 's/.*boot stack \[0x\([0-9a-f]*\),.*/\1/' <<<"$started")
top=$(sed 's/.*below 0x\([0-9a-f]*\)$/\1/' <<<"$started")
[ -n "$base" ] && [ -n "$top" ] || fail "no start-up line for cpu1"
grep -q "^$base-[0-9a-f]*    16K     4 x 4K -W-G- " <<<"$vmap" || fail "ptdump does not show cpu1's boot stack at $base: $vmap"
grep -q "^[0-9a-f]*-$top    16K     4 x 4K -W-G- " <<<"$vmap" || fail "ptdump does not show cpu1's double-fault stack below $top: $vmap"

boot | grep '^cpu[0-9]*: ' >"$dir/cpus.boot"
grep -q '^cpu1: ' "$dir/cpus.boot" || fail "the boot log has no cpu1 lines"
answer cpus | diff "$dir/cpus.boot" - || fail "cpus differs from the boot's cpuN lines"
answer kva | head -1 | grep -q '^kva vmap: \[0xffff820000000000, 0xffff828000000000)$' || fail "kva names no vmap arena"
answer kva | tail -1 | grep -qE '^kva vmap: [0-9]+ ranges, [0-9]+ KiB in use, [0-9]+ KiB of guard pages, largest gap [0-9]+ KiB$' \
  || fail "kva has no totals line"
[ "$(answer kva | grep -c ' 16K guard below$')" = 3 ] || fail "kva does not show cpu1's two guarded stacks and cpu0's idle thread's: $(answer kva)"

# The counts only grow: tlb's shootdowns and flushes are at least the boot's.
tlb_count() { sed -n "s/^tlb: \([0-9]*\) shootdowns to [0-9]* other cpus, \([0-9]*\) pages and \([0-9]*\) full flushes.*/\1 \2 \3/p"; }
read -r boot_sd boot_pages boot_full < <(boot | tlb_count | tail -1)
read -r mon_sd mon_pages mon_full < <(answer tlb | tlb_count)
[ -n "${boot_pages:-}" ] || fail "no tlb line in the boot log"
[ -n "${mon_pages:-}" ] || fail "tlb: $(answer tlb)"
(( mon_sd >= boot_sd && mon_pages >= boot_pages && mon_full >= boot_full )) ||
  fail "tlb counts went down: boot '$boot_sd $boot_pages $boot_full', monitor '$mon_sd $mon_pages $mon_full'"

boot | sed -n '/^pool       live blocks/,/^pool selftest: passed/p' | sed '$d' >"$dir/pools.boot"
answer pools | diff "$dir/pools.boot" - || fail "pools differs from the self-test's tables"

answer memmap | head -1 | grep -q '^memmap: base ' || fail "memmap prints no table: $(answer memmap)"
answer memmap | tail -1 | grep -q '^memmap: usable RAM ' || fail "memmap prints no total"

free=$(answer buddyinfo | sed -n 's/^palloc: buddy backend, .* pages, \([0-9]*\) free, .*/\1/p')
[ -n "$free" ] || fail "buddyinfo: $(answer buddyinfo)"
answer buddyinfo | grep -q '^palloc: free blocks per order: 0:' || fail "buddyinfo has no free-block line"
# The self-tests' frees leave pages in the boot CPU's caches, and buddyinfo shows them by order.
answer buddyinfo | grep -q '^palloc: cpu0 caches [1-9][0-9]* free pages; blocks per order: 0:[0-9]* .* 9:[0-9]*$' ||
  fail "buddyinfo shows no per-CPU cache line: $(answer buddyinfo)"
answer mem | grep -q "^palloc: [0-9]* pages ([0-9]* MiB), $free free, 0 user$" ||
  fail "mem does not agree with buddyinfo's $free free pages: $(answer mem)"
answer mem | grep -q '^xalloc: ' || fail "mem has no xalloc summary"

[ "$(answer frobnicate)" = "monitor: unknown command 'frobnicate'; 'help' lists them" ] ||
  fail "unknown command: $(answer frobnicate)"
[ "$(answer 'stress x')" = "monitor: stress takes a count from 1 to 1000, not 'x'" ] ||
  fail "stress x: $(answer 'stress x')"
[ "$(answer 'mem 1')" = "monitor: mem takes no argument" ] || fail "mem 1: $(answer 'mem 1')"

[ "$(answer 'stress 2' | grep -c '^stress: run [12] of 2$')" = 2 ] || fail "stress 2 did not run twice"
[ "$(answer 'stress 2' | grep -c '^selftest: every layer passed$')" = 2 ] ||
  fail "stress 2: the self-tests did not pass twice"
/usr/bin/python3 boot/memjson_check.py "$serial" || fail "json disagrees with the text tables"
BUILD_WORKING_DIRECTORY=$dir tools/memviz "$serial" -o memory.png || fail "memviz cannot draw the json dump"
[ -s "$dir/memory.png" ] || fail "memviz wrote no picture"

[ "$(answer 'run spin 1000000')" = "monitor: pid 1 (spin) started" ] || fail "run spin: $(answer 'run spin 1000000')"
[ "$(answer 'run frobnicate')" = "monitor: frobnicate: no such program: no program called 'frobnicate' in the kernel" ] ||
  fail "run frobnicate: $(answer 'run frobnicate')"
[ "$(answer run)" = "monitor: run takes 1 to 7 words" ] || fail "run: $(answer run)"
answer ps | grep -qE '^ +1 spin +running +[01] +1 +[0-9]+ +[1-9][0-9]*$' || fail "ps does not show spin running: $(answer ps)"
answer 'vmas 1' | head -1 | grep -qx 'pid 1 (spin):' || fail "vmas 1: $(answer 'vmas 1')"
answer 'vmas 1' | grep -qE '^00400000-[0-9a-f]+ r-x text +resident [1-9]' || fail "vmas 1 shows no text: $(answer 'vmas 1')"
[ "$(answer 'stress 1')" = "monitor: stress needs every process ended (1 live: see ps, kill)" ] ||
  fail "stress 1 with spin running: $(answer 'stress 1')"
answer 'kill 1' | head -1 | grep -qx 'monitor: pid 1 will end at its next return to user mode' || fail "kill 1: $(answer 'kill 1')"
log | grep -qx 'monitor: no process 1' || fail "vmas 1 after the kill did not say there is no process 1"
log | grep -qx 'monitor: no running process 1' || fail "kill 1 after the kill did not say there is none"
# The page ageing started with spin's run and has made passes since (spin's pages counted while it lived).
counts='[0-9]+ pages: referenced [0-9]+, modified [0-9]+, ages 0:[0-9]+ 1:[0-9]+ 2-3:[0-9]+ 4-7:[0-9]+ 8\+:[0-9]+$'
answer age | grep -qE "^age: pass [1-9][0-9]* over [0-9]+ processes, $counts" ||
  fail "age: $(answer age)"

echo "PASS: the monitor answers every command as the boot log says and leaves on exit"
