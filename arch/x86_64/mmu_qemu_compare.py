#!/usr/bin/env python3
"""mmu_qemu_compare.py SERIAL_LOG MONITOR_LOG: holds the kernel's page-table dump to QEMU's own view.

From the dump (ptdump.h format) it derives what QEMU's `info mem` must print (ranges contiguous in VA
with the same user/write bits merged, NX ignored as QEMU does) and what `info tlb` must print (one line per
leaf entry: VA, PA, NX, global, large, PCD, PWT, user, write; accessed and dirty are the CPU's business),
and requires both to agree exactly with the monitor's output.
"""
import re
import sys

DUMP = re.compile(r"^([0-9a-f]{16})-([0-9a-f]{16}) +\S+ +(\d+) x (4K|2M|1G) ([U-])([W-])([X-])([G-])([Cc-]) -> ([0-9a-f]{16})$")
MEM = re.compile(r"^([0-9a-f]{16})-([0-9a-f]{16}) ([0-9a-f]{16}) ([u-])r([w-])$")
TLB = re.compile(r"^([0-9a-f]{16}): ([0-9a-f]{16}) ([X-])([G-])([P-])([D-])([A-])([C-])([T-])([U-])([W-])$")
PAGE = {"4K": 1 << 12, "2M": 1 << 21, "1G": 1 << 30}
MASK = (1 << 64) - 1


def lines(path):
    with open(path, "rb") as f:
        text = f.read().decode("ascii", "replace")
    # The monitor echoes typed commands with cursor escapes; only whole output lines matter.
    return [l.strip("\r") for l in text.split("\n")]


def main():
    serial, monitor = lines(sys.argv[1]), lines(sys.argv[2])
    runs = [m.groups() for m in map(DUMP.match, serial) if m]
    if not runs:
        sys.exit("FAIL: no page-table dump in the serial log")
    want_mem, want_tlb = [], set()
    for start, end, count, page, u, w, x, g, c, pa in runs:
        start, pa, count, size = int(start, 16), int(pa, 16), int(count), PAGE[page]
        end = (start + count * size) & MASK
        for i in range(count):
            # C is PCD with PWT (PAT UC), c PWT alone (PAT WC with the kernel's PAT).
            want_tlb.add((start + i * size, pa + i * size, x == "-", g == "G", page != "4K", c == "C", c != "-",
                          u == "U", w == "W"))
        prot = (u == "U", w == "W")
        if want_mem and want_mem[-1][1] == start and want_mem[-1][2] == prot:
            want_mem[-1][1] = end
        else:
            want_mem.append([start, end, prot])
    got_mem = []
    for m in map(MEM.match, monitor):
        if m:
            end = int(m.group(2), 16)
            # A range that runs to the top of the address space ends at 2^48 in QEMU's print, unextended.
            end = 0 if end == 1 << 48 else end
            got_mem.append([int(m.group(1), 16), end, (m.group(4) == "u", m.group(5) == "w")])
    got_tlb = set()
    for m in map(TLB.match, monitor):
        if m:
            f = m.groups()
            got_tlb.add((int(f[0], 16), int(f[1], 16), f[2] == "X", f[3] == "G", f[4] == "P", f[7] == "C", f[8] == "T",
                         f[9] == "U", f[10] == "W"))
    ok = True
    if got_mem != want_mem:
        ok = False
        print("FAIL: info mem disagrees with the kernel's dump")
        fmt = lambda r: "%016x-%016x %s" % (r[0], r[1], r[2])
        print("  kernel:", *map(fmt, want_mem), sep="\n    ")
        print("  qemu:", *map(fmt, got_mem), sep="\n    ")
    if got_tlb != want_tlb:
        ok = False
        print("FAIL: info tlb disagrees with the kernel's dump")
        for t in sorted(want_tlb - got_tlb)[:20]:
            print("  only in the kernel's dump: %016x -> %016x %s" % (t[0], t[1], t[2:]))
        for t in sorted(got_tlb - want_tlb)[:20]:
            print("  only in QEMU's view:       %016x -> %016x %s" % (t[0], t[1], t[2:]))
    if not ok:
        sys.exit(1)
    print("PASS: %d dump lines; info mem agrees on %d ranges, info tlb on %d entries" % (len(runs), len(got_mem), len(got_tlb)))


main()
