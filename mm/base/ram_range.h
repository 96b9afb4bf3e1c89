// A range of physical memory as plain values, [base, base + size): how a caller hands usable RAM to the
// early allocators (mm/xalloc, mm/conf) without depending on the memory map's own types.
#pragma once

#include <stdint.h>

#include "mm/base/addr.h"

namespace kmem {

// The most RAM banks (disjoint RAM ranges) any part of kmem keeps, stated once: 9front's count; firmware
// maps list a handful of RAM ranges, and 64 leaves room for fragmented ones. confinit's banks, palloc's
// banks, xalloc's donated arenas and the boot's record of installed RAM are all sized by it.
inline constexpr unsigned kMaxRamBanks = 64;

struct RamRange {
  PhysAddr base;
  uint64_t size = 0;

  constexpr PhysAddr end() const { return base + size; }
};

}  // namespace kmem
