// mmuinit (9front's name) at boot: the kernel's page tables over the machine's RAM, with page-table pages
// from xalloc's Rampage, and, for the boot test that compares the kernel's tables with QEMU's view, a way
// to hold the kernel still while the tables are live.
#pragma once

#include <stddef.h>

#include "arch/x86_64/mmu.h"
#include "arch/x86_64/mtrr.h"
#include "arch/x86_64/boot/archinit.h"
#include "boot/arch.h"
#include "mm/base/ram_range.h"
#include "mm/palloc/kernel_palloc.h"
#include "mm/vm/aspace.h"
#include "mm/xalloc/xalloc.h"

namespace kmem::boot {

// Builds and loads the kernel's page tables over `ram` (all of the machine's RAM, page-aligned), taking
// page-table pages from xalloc.Rampage() (the memory map before xinit, xalloc after). With MmuWait::kYes,
// prints "kmem: mmu tables live, waiting" and waits for a byte on the serial line before returning.
// `arch` says which page sizes and global pages the CPU offers. Vmap learns the RAM and `mtrrs` (both must
// stay valid): it refuses RAM and keeps its cache types within what the MTRRs allow.
void SetUpMmu(const RamRange* ram, size_t n, const x86::Mtrrs& mtrrs, HoleAllocator& xalloc, const ArchConfig& arch,
              MmuWait wait);

// From here new page-table pages come from `palloc` (before, from xalloc's Rampage), and those freed go back
// to it when they are its own. Once, after pageinit.
void TablePagesFromPalloc(KernelPalloc& palloc);

// The kernel's MMU and its address space (loaded on the boot CPU), valid after SetUpMmu.
x86::Mmu& KernelMmu();
AddressSpace& KernelSpace();

}  // namespace kmem::boot
