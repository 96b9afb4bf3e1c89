#!/bin/bash
# user_preempt_test.sh: on one CPU, `spin` computes in ring 3 without a system call while `hello`, started
# after it, waits for the CPU. hello can end first only if the APIC timer's tick preempts ring 3 (the
# scheduler's PreemptIfAsked on the return to user mode); without preemption spin would finish first.
set -u
label="user preemption"
source boot/boot_log.sh
boot_log user-preempt 300 boot/kernel_buddy.bin -m 64M -smp 1 -append 'run=spin:400,hello'
hello=$(grep -n '^proc: pid [0-9]* (hello) exited with status 0 on cpu0$' <<<"$clean" | cut -d: -f1)
spin=$(grep -n '^spin: 400 rounds done$' <<<"$clean" | cut -d: -f1)
[ -n "$hello" ] && [ -n "$spin" ] || fail "hello or spin did not finish"
(( hello < spin )) || fail "hello ended after spin: ring 3 was not preempted"
grep -q '^run: 2 programs ended; every page back' <<<"$clean" || fail "no run: line"
echo "PASS: hello ended (line $hello) while spin still computed (done at line $spin) on one CPU"
