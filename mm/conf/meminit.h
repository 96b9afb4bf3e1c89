// What the boot does around confinit: the RAM still free in the memory map becomes confinit's ranges, and
// the machine is checked against the least memory the boot can run on before anything is split.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/base/ram_range.h"
#include "mm/conf/conf.h"
#include "mm/memmap/memmap.h"

namespace kmem {

// Writes the RAM ranges of `map` (room for kMaxBanks) for Confinit and their count to *n. kTooManyBanks
// when the map has more. O(ranges in the map).
ConfStatus ConfRamRanges(const Memmap& map, RamRange* out, size_t* n);

// The machine's RAM against what the boot needs, in KiB of whole pages.
struct ConfMinimum {
  uint64_t need_kib = 0;
  uint64_t has_kib = 0;
  bool Met() const { return has_kib >= need_kib; }
};

// `installed` is all the machine's RAM, `usable` what is still free of it when confinit runs (the image,
// the boot structures and the page tables are gone): the machine needs what is already gone plus
// ConfMinPages(needs). O(ni + nu + log pages).
ConfMinimum ConfCheckMinimum(const RamRange* installed, size_t ni, const RamRange* usable, size_t nu,
                             const ConfNeeds& needs);

}  // namespace kmem
