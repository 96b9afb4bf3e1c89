// A range of physical memory as plain values, [base, base + size): how a caller hands usable RAM to the
// early allocators (mm/xalloc, mm/conf) without depending on the memory map's own types.
#pragma once

#include <stdint.h>

#include "mm/base/addr.h"

namespace kmem {

struct RamRange {
  PhysAddr base;
  uint64_t size = 0;

  constexpr PhysAddr end() const { return base + size; }
};

}  // namespace kmem
