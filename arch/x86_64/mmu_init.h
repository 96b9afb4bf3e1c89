// Start-up of the kernel's own page tables (kernel-only). Replaces the boot tables of arch/x86_64/boot/multiboot.S
// (2 GiB mapped RWX twice) with:
//   - the direct map: every RAM range at kDirectMap + pa, RW NX global, with the largest pages;
//   - KZERO: the kernel image with text RX, rodata R NX, data and bss RW NX and an unmapped guard page
//     under the boot stack, and the rest of the RAM below 2 GiB RW NX (KzeroPointer keeps working);
//   - nothing else: the identity map is gone.
#pragma once

#include <stddef.h>

#include "arch/x86_64/mmu.h"
#include "mm/base/ram_range.h"

namespace kmem::x86 {

// Whether CR4.PGE is set so that the kernel's Global entries survive address-space switches.
enum class GlobalPages { kNo, kYes };

// Builds the tables in `mmu` (constructed over the KZERO window of the boot tables, with the kernel's
// page-table page source), loads them, runs the W+X check and prints the dump. `ram` lists the machine's
// RAM, page-aligned, in any order; `giant` and `global` say what the CPU offers and `phys_limit` where its
// physical addresses end (archinit decides).
// Prints "mmu: " lines: the tables' location, page count, page sizes and global pages, the W+X result,
// the dump. Panics when a mapping fails or W^X does not hold: the kernel cannot go on without its
// tables.
void MmuInit(Mmu& mmu, const RamRange* ram, size_t n, Mmu::GiantPages giant, GlobalPages global, PhysAddr phys_limit);

}  // namespace kmem::x86
