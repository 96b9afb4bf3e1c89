// The kernel pools at boot (9front's order): mainmem, imagmem and secrmem grow from xalloc as soon as xinit
// has run, and from the page allocator once pageinit has; the slab caches and Kmalloc take pages from the
// start. Limits come from confinit.
#pragma once

#include "mm/conf/conf.h"
#include "mm/palloc/kernel_palloc.h"
#include "mm/pool/pool.h"
#include "mm/xalloc/xalloc.h"

namespace kmem::boot {

// The three pools in the order the dumps list them (the monitor's pools, the JSON dump).
inline pool::Pool* const kKernelPools[] = {&pool::mainmem, &pool::imagmem, &pool::secrmem};
inline constexpr size_t kKernelPoolCount = sizeof kKernelPools / sizeof kKernelPools[0];

// After xinit: the three pools over xalloc, with confinit's limits.
void PoolsEarly(const Conf& conf, HoleAllocator& xalloc);

// After pageinit: the pools switch to whole blocks of pages (reached through the direct map), their
// Smallocs wait through `sync` (kernel/proc's SmallocSync, sleeping once the scheduler runs), and the slab
// caches start over the same source.
void PoolsLate(const Conf& conf, KernelPalloc& palloc, const pool::PoolSync& sync);

// The pages of `zone` that the pools and slab caches hold from the page allocator now.
uint64_t PoolPages(PallocZone zone);

}  // namespace kmem::boot
