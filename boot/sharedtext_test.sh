#!/bin/bash
# sharedtext_test.sh BACKEND: boots the kernel built with page allocator BACKEND under TCG at -smp 4 with
# `-append kmem.sharedtext`: 32 copies of user/sharedtext at once, each of which reads all its text, waits
# until all 32 have used it and checks through memstat that the image cache holds its text pages, one
# copy for all (shared text, mm/vm/image.h). Checks each copy's line (32 processes, the same text pages),
# that the cache is empty afterwards, and every page back (which the kernel checks itself and panics over).
set -u
backend=$1
label="sharedtext, $backend"
source boot/boot_log.sh
boot_log "sharedtext-$backend" 600 "boot/kernel_$backend.bin" -m 256M -smp 4 -append 'kmem.sharedtext'
refute '^sharedtext: FAIL'
lines=$(grep -E '^sharedtext: pid [0-9]+: 32 processes share its [1-9][0-9]* text pages$' <<<"$clean")
[ "$(grep -c . <<<"$lines")" = 32 ] || fail "not 32 copies said they share their text with 32 processes"
[ "$(sed 's/.* its //' <<<"$lines" | sort -u | wc -l)" = 1 ] || fail "the copies disagree on their text pages"
pages=$(sed 's/.* its \([0-9]*\) text pages/\1/' <<<"$lines" | head -1)
expect '^run: sharedtext: 32 programs at once: 32 exited ok; the image cache after: 0 images, 0 pages$'
expect '^run: 32 programs ended; every page back ([0-9]* free, 0 user pages, [0-9]* page-table pages)$'
expect '^kmem: boot ok'
echo "PASS: 32 copies of sharedtext shared one copy of their $pages text pages ($backend)"
