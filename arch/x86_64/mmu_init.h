// Start-up of the kernel's own page tables (kernel-only). Replaces the boot tables of boot/multiboot.S
// (2 GiB mapped RWX twice) with:
//   - the direct map: every RAM range at kDirectMap + pa, RW NX global, with the largest pages;
//   - KZERO: the kernel image with text RX, rodata R NX, data and bss RW NX and an unmapped guard page
//     under the boot stack, and the rest of the RAM below 2 GiB RW NX (KzeroPointer keeps working);
//   - nothing else: the identity map is gone.
#pragma once

#include <stddef.h>

#include "arch/x86_64/mmu.h"
#include "mm/base/addr.h"

namespace kmem::x86 {

struct RamRange {
  PhysAddr base;
  PhysAddr end;  // exclusive
};

// Builds the tables, loads them, runs the W+X check and prints the dump. `ram` lists the firmware map's
// RAM ranges in any order; page-table pages are taken upwards from `free`, the first byte above the
// kernel image and everything the loader handed over, within its RAM range and below 2 GiB (the boot
// window). Prints "mmu: " lines: the tables' location, the pages they took, the W+X result, the dump.
// Panics when a mapping fails or W^X does not hold: the kernel cannot go on without its tables.
void MmuInit(const RamRange* ram, size_t n, PhysAddr free);

// The kernel's MMU, valid after MmuInit.
Mmu& KernelMmu();

}  // namespace kmem::x86
