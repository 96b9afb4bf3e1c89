#!/bin/bash
# user_test.sh BACKEND CPUS: boots the kernel built with page allocator BACKEND under TCG with -smp CPUS and
# `-append 'kmem.usertests kmem.ps'`, and checks the user programs' suite in the serial log: each program's
# own line (hello, memhog, mmapchurn, memstat, forktree's 64 processes of copy-on-write, and 8 that
# nobody waits for, threads' four threads on one page), the kill message of stack and of each way segv misbehaves,
# every process's maps as it ends, 64 memhogs at once, a program run to its end on every CPU (any of the
# suite's processes: which CPU the memhogs land on depends on how QEMU's vCPUs were scheduled on the
# host, and on a loaded host one CPU once ran none of them to its end), and every page back afterwards
# (free, user and page-table pages, which the kernel checks itself and panics over). Prints the boot's
# wall-clock time.
set -u
backend=$1
cpus=$2
label="user programs, -smp $cpus, $backend"
source boot/boot_log.sh
start=$(date +%s%N)
boot_log "user-$backend-$cpus" 600 "boot/kernel_$backend.bin" -m 512M -smp "$cpus" -append 'kmem.usertests kmem.ps'
ms=$(( ($(date +%s%N) - start) / 1000000 ))

expect '^hello: hello from user space, pid [0-9]*$'
expect '^memhog: 8 MiB ok$'
expect '^mmapchurn: 200 rounds ok'
expect '^memstat: pid [0-9]*, [0-9]* VMAs'
expect '^forktree: 64 processes ok$'
expect '^forktree: 8 processes, none waited for$'
expect '^proc: pid [0-9]* (hello) exited with status 0 on cpu[0-9]*$'
expect '^proc: pid [0-9]* (stack) killed on cpu[0-9]*: stack access at 0x7ff[0-9a-f]* below its limit of 1 MiB (guard gap) (rip 0x4[0-9a-f]*)$'
expect '^proc: pid [0-9]* (segv) killed on cpu[0-9]*: read of 0x0 outside every VMA (rip 0x4[0-9a-f]*)$'
expect '^proc: pid [0-9]* (segv) killed on cpu[0-9]*: read of 0xffff800000000000, a kernel address (rip 0x4[0-9a-f]*)$'
expect '^proc: pid [0-9]* (segv) killed on cpu[0-9]*: write to 0x4[0-9a-f]* in text VMA 0x4[0-9a-f]*-0x4[0-9a-f]* r-x, which forbids writes'
expect '^proc: pid [0-9]* (segv) killed on cpu[0-9]*: execution of 0x[0-9a-f]* in anon VMA 0x[0-9a-f]*-0x[0-9a-f]* rw-, which forbids execution'
refute '^stack: survived' "stack went past its limit and survived"
refute '^segv: survived' "a segv case survived its bad access"
# kmem.ps: each process's maps as it ends, one line a VMA with its resident pages.
expect '^proc: pid [0-9]* (hello) maps:$'
expect '^00400000-[0-9a-f]* r-x text  *resident [1-9][0-9]*$'
expect '^7ff[0-9a-f]*-7ff[0-9a-f]* rw- stack  *resident [1-9][0-9]*$'
expect '^threads: 4 threads, 200 rounds ok; '
expect '^run: suite: 12 of 12 programs ended as they must$'
expect '^run: 64 memhogs of 2 MiB at once: 64 exited ok$'
for ((n = 0; n < cpus; ++n)); do
  grep -q "^proc: pid [0-9]* ([a-z]*) exited with status 0 on cpu$n$" <<<"$clean" ||
    fail "no user program ran to its end on cpu$n"
done
expect '^run: 76 programs, 76 as expected; every page back ([0-9]* free, 0 user pages, [0-9]* page-table pages)$'
expect '^kmem: boot ok'
echo "PASS: user programs on -smp $cpus, backend $backend; boot took $ms ms"
