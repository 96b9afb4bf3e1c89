// The memory counts a boot-time run must leave as it found them (the all-CPU stress, the user programs):
// palloc's free and user pages, in all and per zone, each with the pages the pools grew by from that zone
// (their arenas and kept slabs stay theirs) and the page-table pages the MMU keeps pooled; the pools' live
// blocks; the page-table pages in use. Read on a quiet machine, before and after.
#pragma once

#include <stdint.h>

#include "mm/palloc/kernel_palloc.h"

namespace kmem::boot {

struct MemCounts {
  uint64_t free, users, zone_free[kZones], mainmem_live, kmalloc_live, kmalloc_bytes, tables;
};

MemCounts CountMem(KernelPalloc& palloc);

// Panics, naming `who` and the count with both values, unless every count of `after` is `before`'s; then
// checks every pool and slab cache.
void ExpectCountsBack(const char* who, const MemCounts& before, const MemCounts& after);

}  // namespace kmem::boot
