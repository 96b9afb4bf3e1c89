#!/bin/bash
# smp_test.sh BACKEND CPUS [WORDS]: boots the kernel built with page allocator BACKEND under TCG with -smp
# CPUS (and -append WORDS) and checks the SMP start-up in the serial log: ACPI lists CPUS CPUs, every CPU
# started (its "smp: cpuN (apic id N) started" line on a vmalloc'ed stack) and printed its three "cpuN:"
# lines, "smp: N of CPUS CPUs online", the cross-call self-test over all of them, the all-CPU allocator
# stress (a line from each CPU and the total, every page back), the scheduler's self-test over all of them
# (threads switched, slept, joined with every stack back; with several CPUs some migrated), Smalloc's
# (four threads sleep on a full pool until the boot thread frees), and a clean exit. With
# kmem.nosipi the last CPU gets no STARTUP: it must be reported as not started and left out, and the boot
# must go on with the others. Prints the boot's wall-clock time.
set -u
backend=$1
cpus=$2
words=${3:-}
label="-smp $cpus${words:+ -append $words}, $backend"
source boot/boot_log.sh
start=$(date +%s%N)
boot_log "smp-$cpus" 240 "boot/kernel_$backend.bin" -m 64M -smp "$cpus" -append "$words"
ms=$(( ($(date +%s%N) - start) / 1000000 ))

grep -q "^acpi: .*: $cpus CPUs" <<<"$clean" || fail "ACPI does not list $cpus CPUs"
online=$cpus
if [[ " $words " == *" kmem.nosipi "* ]]; then
  online=$((cpus - 1))
  grep -qx "smp: cpu$online (apic id $online) did not start" <<<"$clean" ||
    fail "no 'smp: cpu$online (apic id $online) did not start' for the CPU that got no STARTUP"
fi
grep -q '^smp: local APIC in x\?2\?APIC mode at 0x[0-9a-f]*, boot cpu apic id 0; 8259 PICs masked; interrupts on' <<<"$clean" ||
  fail "no local APIC line"
for ((n = 0; n < online; ++n)); do
  if (( n > 0 )); then
    grep -q "^smp: cpu$n (apic id $n) started: boot stack \[0xffff82[0-9a-f]*, 0xffff82[0-9a-f]*), " <<<"$clean" ||
      fail "cpu$n did not start on a vmalloc'ed stack"
  fi
  [ "$(grep -c "^cpu$n: " <<<"$clean")" = 3 ] || fail "cpu$n did not print its three cpu$n: lines"
done
refute "^cpu$online: " "cpu$online printed, but only $online CPUs should be online"
grep -qx "smp: $online of $cpus CPUs online" <<<"$clean" || fail "no 'smp: $online of $cpus CPUs online'"
grep -q "^smp: self-test ok: $online CPUs answered " <<<"$clean" || fail "no cross-call self-test over $online CPUs"
for ((n = 0; n < online; ++n)); do
  grep -q "^smp stress cpu$n: [1-9][0-9]* page pairs (-\?[0-9]* user pages net here, [0-9]* pages cached), [1-9][0-9]* pool pairs, [1-9][0-9]* maps$" <<<"$clean" ||
    fail "no all-CPU stress line from cpu$n"
done
grep -q "^smp stress: $online cpus, [1-9][0-9]* page pairs, [1-9][0-9]* pool pairs, [1-9][0-9]* maps, every page back " <<<"$clean" ||
  fail "no all-CPU stress total over $online CPUs"
grep -q '^sched: local APIC timer at [1-9][0-9]* counts a ms, 100 Hz on every CPU$' <<<"$clean" || fail "no APIC timer line"
sched=$(grep "^sched: $online CPUs, 64 threads, [1-9][0-9]* switches, [1-9][0-9]* sleeps, [0-9]* migrations ok, every stack freed; yield between two threads on one CPU: [1-9][0-9]* ns a switch$" <<<"$clean") ||
  fail "no scheduler self-test line over $online CPUs"
migrations=$(sed 's/.* sleeps, \([0-9]*\) migrations.*/\1/' <<<"$sched")
(( online == 1 || migrations > 0 )) || fail "no thread migrated between $online CPUs"
smalloc_re="^smalloc: self-test: 4 threads' Smallocs on a full 4096-byte pool waited [0-9]* times for another "
smalloc_re+="thread's 3 frees, all served, the pool empty again$"
smalloc=$(grep "$smalloc_re" <<<"$clean") || fail "no Smalloc self-test line"
waited=$(sed 's/.* waited \([0-9]*\) times.*/\1/' <<<"$smalloc")
(( waited >= 4 )) || fail "the Smalloc self-test's 4 threads slept $waited times, not each at least once"
grep -q '^selftest: every layer passed$' <<<"$clean" || fail "self-tests incomplete"
grep -q '^kmem: boot ok' <<<"$clean" || fail "no 'boot ok'"
echo "PASS: -smp $cpus${words:+ -append $words}, backend $backend: $online of $cpus CPUs online; boot took $ms ms"
