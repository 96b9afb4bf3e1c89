// The allocator layers of the boot, in 9front's order after the memory map: xalloc's early page source
// (rampage), confinit (banks and the kernel/user split), xinit (the kernel's share to xalloc),
// preallocpages (the page allocator's arrays from high user memory) and pageinit (the rest of the user
// share to the page allocator).
#pragma once

#include "mm/conf/conf.h"
#include "mm/memmap/memmap.h"
#include "mm/palloc/kernel_palloc.h"
#include "mm/xalloc/xalloc.h"

namespace kmem::boot {

// The kernel's one xalloc. Until XInit it hands out page-table pages (Rampage) from the memory map.
HoleAllocator& KernelXalloc(Memmap& map);

// confinit over the RAM still free in `map`; prints the memory line. Panics when no RAM is usable.
Conf& ConfInit(const Memmap& map);

// xinit: the kernel's share of every bank to xalloc; prints the xalloc summary.
void XInit(const Conf& conf);

// preallocpages + pageinit: the page allocator's arrays off the top of the highest user bank that holds
// them (mm/palloc/prealloc.h), then the page allocator over the rest of the user share with `colours` page
// colours (archinit's); prints where the arrays went and the free-block table.
KernelPalloc& PageInit(const Conf& conf, unsigned colours);

}  // namespace kmem::boot
