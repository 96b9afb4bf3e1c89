#include "mm/conf/meminit.h"

namespace kmem {
namespace {

uint64_t Kib(const RamRange* ram, size_t n) {
  uint64_t bytes = 0;
  for (size_t i = 0; i < n; ++i) bytes += AlignDown(ram[i].size, kPageSize);
  return bytes >> 10;
}

}  // namespace

ConfStatus ConfRamRanges(const Memmap& map, RamRange* out, size_t* n) {
  *n = 0;
  for (const MemRange& r : map.Ranges(MemType::kRam)) {
    if (*n == kMaxRamBanks) return ConfStatus::kTooManyBanks;
    out[(*n)++] = RamRange{r.base, r.size};
  }
  return ConfStatus::kOk;
}

ConfMinimum ConfCheckMinimum(const RamRange* installed, size_t ni, const RamRange* usable, size_t nu,
                             const ConfNeeds& needs) {
  ConfMinimum m;
  m.has_kib = Kib(installed, ni);
  m.need_kib = m.has_kib - Kib(usable, nu) + ConfMinPages(needs) * (kPageSize >> 10);
  return m;
}

}  // namespace kmem
