// The in-kernel self-tests of every layer, run once the whole boot is done: the page allocator hands out
// every user page exactly once, the MMU maps, translates, switches and unmaps real memory, and the pools
// survive a stress run and wipe secrets. Each prints what it checked; a failure panics, so a kernel whose
// memory manager is broken can never look like it booted.
#pragma once

#include "arch/x86_64/mmu.h"
#include "mm/palloc/kernel_palloc.h"

namespace kmem::boot {

// Page-table pages the MMU self-test takes from xalloc at most: the VMAP window's second- and first-level
// tables, a top-level table and the user mapping's third-, second- and first-level tables. The vmalloc
// self-test after it maps in the VMAP window again, with tables from the MMU's pool of freed ones.
inline constexpr uint64_t kMmuSelfTestTablePages = 6;

void SelfTests(KernelPalloc& palloc, x86::Mmu& mmu);

}  // namespace kmem::boot
