#!/bin/bash
# age_test.sh BACKEND: boots the kernel built with page allocator BACKEND under TCG at -smp 2 with
# run=age,age:32:128,memstat and checks page ageing in the serial log: each age program keeps reading a hot
# set and wrote a cold set once, waits ten ageing passes, and exits 0 only if memstat shows the cold pages
# aged (refage 4 or more), the hot ones young (0 or 1) and the written ones modified; memstat prints the
# age line; every page comes back.
set -u
backend=$1
label="age, $backend"
source boot/boot_log.sh
boot_log "age-$backend" 600 "boot/kernel_$backend.bin" -m 256M -smp 2 -append 'run=age,age:32:128,memstat'
refute '^age: FAIL'
counts='[0-9]* pages: referenced [0-9]*, modified [0-9]*, ages 0:[0-9]* 1:[0-9]* 2-3:[0-9]* 4-7:[0-9]* 8+:[0-9]*$'
[ "$(grep -c "^age: age: pass [1-9][0-9]*, $counts" <<<"$clean")" = 2 ] || fail "not two age lines of memstat's counts"
expect '^age: ok: 64 cold pages aged, 16 hot pages stayed young, over [0-9]* passes$'
expect '^age: ok: 128 cold pages aged, 32 hot pages stayed young, over [0-9]* passes$'
expect "^memstat: age: pass [0-9]*, $counts"
[ "$(grep -c '^proc: pid [0-9]* ([a-z]*) exited with status 0' <<<"$clean")" = 3 ] || fail "not 3 programs exited 0"
expect '^run: 3 programs ended; every page back'
expect '^kmem: boot ok'
echo "PASS: cold pages aged and hot ones stayed young in two programs ($backend)"
