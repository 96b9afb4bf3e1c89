#!/bin/bash
# threads_test.sh on|off BACKEND: boots the kernel built with page allocator BACKEND under TCG at -smp 4
# with `run=threads:4` (user/threads: four threads of one process, one a CPU, take turns unmapping, mapping
# again and mprotecting one shared page while the others read it) and checks the serial log:
#   on:  every read saw the round's contents, never the old frame's; in two forked children a read after
#        another thread's munmap and a write after its mprotect were killed by the page fault, exit in a
#        second thread ended the first and thread_exit in the first left the process to the second, and a
#        thread's write after the first thread's fork copied the page (the child kept its own); every
#        page back afterwards (the kernel checks the counts itself and panics otherwise);
#   off: the same with kmem.noshootdown (changes flush only the CPU that makes them): the program reports
#        the stale reads the other CPUs' TLBs gave and exits 1, which is how this test proves that threads
#        can see a missing user-space shootdown.
set -u
mode=$1
backend=$2
words='run=threads:4'
[ "$mode" = off ] && words+=' kmem.noshootdown'
label="threads, shootdown $mode, $backend"
source boot/boot_log.sh
boot_log "threads-$mode-$backend" 300 "boot/kernel_$backend.bin" -m 256M -smp 4 -append "$words"
expect '^run: 1 program ended; every page back ([0-9]* free, 0 user pages, [0-9]* page-table pages)$'
expect '^kmem: boot ok'
case "$mode" in
  on)
    expect '^threads: 4 threads, 200 rounds ok; a read after munmap and a write after mprotect in another thread faulted, a write after fork copied; exit in any thread ended them all$'
    expect '^proc: pid [0-9]* (threads) killed on cpu[0-9]*: read of 0x10000000 outside every VMA (rip 0x4[0-9a-f]*)$'
    expect '^proc: pid [0-9]* (threads) killed on cpu[0-9]*: write to 0x10000000 in anon VMA 0x10000000-0x10001000 r--, which forbids writes'
    expect '^proc: pid [0-9]* (threads) exited with status 3 on cpu[0-9]*$'
    expect '^proc: pid [0-9]* (threads) exited with status 5 on cpu[0-9]*$'
    expect '^proc: pid 1 (threads) exited with status 0 on cpu[0-9]*$'
    refute '^threads: stale' "a thread read through a stale translation"
    echo "PASS: 4 threads on 4 cpus never read a stale translation, and what was taken away faulted ($backend)"
    ;;
  off)
    expect '^threads: stale read in round [0-9]*: thread [0-9]* read 0x[0-9a-f]* at 0x10000000, expected 0x[0-9a-f]*'
    expect '^threads: [1-9][0-9]* stale reads in 200 rounds of 4 threads$'
    expect '^proc: pid 1 (threads) exited with status 1 on cpu[0-9]*$'
    echo "PASS: without shootdowns the threads read stale translations and threads said so ($backend)"
    ;;
  *) echo "threads_test.sh: unknown mode $mode"; exit 2 ;;
esac
