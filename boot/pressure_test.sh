#!/bin/bash
# pressure_test.sh MODE BACKEND: boots the kernel built with page allocator BACKEND under TCG at -m 64M,
# -smp 4, and checks memory pressure in the serial log (every page back afterwards is checked by the kernel
# itself, which panics otherwise, and by the runner's line):
#   pressure: kmem.pressuretest's pressure programs, which together want 4x the free memory, all exit 0;
#             their faults slept on pwait ("waited for memory"), each after taking back what the slab
#             caches kept (the ended programs' kernel objects leave empty slabs), and the OOM policy killed
#             nobody;
#   nopwait:  the same with kmem.nopwait, where a fault that finds no page does not wait: programs are
#             killed for no memory (the proof that pwait is what lets them all finish);
#   oom:      run=oom,hello,pressure:2,pressure:8:300 — oom touches memory forever and never exits: it is
#             killed with the OOM policy's line, the others exit 0;
#   oomtree:  run=oom:2 — oom forks two children that do the same and waits for them: asleep in wait, it
#             counts as waiting for memory, so the policy kills both children and oom exits 0.
set -u
mode=$1
backend=$2
case "$mode" in
  pressure) words='kmem.pressuretest' ;;
  nopwait) words='kmem.pressuretest kmem.nopwait' ;;
  oom) words='run=oom,hello,pressure:2,pressure:8:300' ;;
  oomtree) words='run=oom:2' ;;
  *) echo "pressure_test.sh: unknown mode $mode"; exit 2 ;;
esac
label="pressure, $mode, $backend"
source boot/boot_log.sh
boot_log "pressure-$mode-$backend" 600 "boot/kernel_$backend.bin" -m 64M -smp 4 -append "$words"
every_page='^run: [0-9]* programs* ended; every page back ([0-9]* free, 0 user pages, [0-9]* page-table pages)$'
expect "$every_page"
expect '^kmem: boot ok'
line=$(grep '^run: pressure: ' <<<"$clean")
case "$mode" in
  pressure)
    re='^run: pressure: ([0-9]+) programs of 4 MiB \(([0-9]+) MiB free\), 60 ms apart: ([0-9]+) exited ok, '
    re+='([0-9]+) sleeps on pwait, 0 oom kills, ([0-9]+) KiB reaped from the slab caches$'
    [[ $line =~ $re ]] ||
      fail "no pressure line with 0 oom kills: '$line'"
    n=${BASH_REMATCH[1]} free=${BASH_REMATCH[2]} ok=${BASH_REMATCH[3]} sleeps=${BASH_REMATCH[4]}
    reaped=${BASH_REMATCH[5]}
    [ "$ok" = "$n" ] || fail "$ok of $n pressure programs exited ok"
    [ $((n * 4)) -ge $((free * 4 - 4)) ] || fail "$n programs of 4 MiB do not want 4x the $free MiB free"
    [ "$sleeps" -gt 0 ] || fail "no fault slept on pwait: the programs did not run memory out"
    [ "$reaped" -gt 0 ] || fail "the waiters took nothing back from the slab caches (ended programs leave slabs)"
    expect '^proc: pid [0-9]* (pressure) waited for memory [0-9]* times$'
    refute '^oom: ' "the OOM policy killed a pressure program"
    echo "PASS: $n pressure programs of 4 MiB ($free MiB free) all finished, $sleeps sleeps on pwait," \
      "$reaped KiB reaped from the slab caches ($backend)"
    ;;
  nopwait)
    [[ $line =~ ^run:\ pressure:\ ([0-9]+)\ programs.*:\ ([0-9]+)\ exited\ ok,\ 0\ sleeps\ on\ pwait ]] ||
      fail "no pressure line with 0 sleeps: '$line'"
    n=${BASH_REMATCH[1]} ok=${BASH_REMATCH[2]}
    [ "$ok" -lt "$n" ] || fail "all $n programs finished without pwait: the pressure test proves nothing"
    expect '^proc: pid [0-9]* (pressure) killed on cpu[0-9]*: write to 0x[0-9a-f]* in heap VMA .*: no memory for a page'
    echo "PASS: without pwait $((n - ok)) of $n pressure programs were killed for no memory ($backend)"
    ;;
  oom)
    expect '^oom: pid [0-9]* (oom) killed: [0-9]* resident pages, the largest of [0-9]* processes waiting for memory$'
    expect '^proc: pid [0-9]* (oom) killed on cpu[0-9]*: killed by the oom policy'
    expect '^hello: hello from user space, pid [0-9]*$'
    expect '^pressure: 2 MiB ok$'
    expect '^pressure: 8 MiB ok$'
    [ "$(grep -c '^proc: pid [0-9]* ([a-z]*) exited with status 0' <<<"$clean")" = 3 ] || fail "not 3 programs exited 0"
    [ "$(grep -c '^oom: ' <<<"$clean")" = 1 ] || fail "the OOM policy killed more than oom"
    expect '^run: 4 programs ended; every page back'
    echo "PASS: oom was killed by the OOM policy, hello and two pressures finished ($backend)"
    ;;
  oomtree)
    [ "$(grep -c '^oom: pid [0-9]* (oom) killed: [0-9]* resident pages, the largest of [0-9]* processes' <<<"$clean")" = 2 ] ||
      fail "the OOM policy did not kill both children"
    [ "$(grep -c '^proc: pid [0-9]* (oom) killed on cpu[0-9]*: killed by the oom policy' <<<"$clean")" = 2 ] ||
      fail "not 2 children killed by the oom policy"
    expect '^oom: 2 children killed$'
    expect '^proc: pid [0-9]* (oom) exited with status 0'
    expect '^run: 1 program ended; every page back'
    echo "PASS: oom's two children were killed by the OOM policy while it waited for them, and it exited 0 ($backend)"
    ;;
esac
