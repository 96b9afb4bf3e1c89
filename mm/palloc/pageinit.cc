#include "mm/palloc/pageinit.h"

#include "mm/base/format.h"

namespace kmem {

PageInitStatus PlanPageInit(const Conf& conf, const DirectMap& direct, BankBytesFn bank_bytes,
                            PreallocPlan* plan, PallocBank* banks) {
  RamRange u[kMaxBanks];
  PageInitStatus s;
  s.user_banks = conf.UserRanges(u, kMaxBanks);
  if (s.user_banks == 0) return s;
  s.prealloc = PlanPrealloc(u, s.user_banks, direct.phys_base() + direct.size(), bank_bytes, plan);
  if (s.prealloc != PreallocStatus::kOk) return s;
  // 9front's preallocpages: the arrays come off the top of high memory, which the direct map reaches.
  for (size_t i = 0; i < plan->n; ++i) {
    void* meta = direct.Kaddr(plan->base + plan->offset[i]);
    banks[i] = PallocBank{plan->bank[i].base, plan->bank[i].size / kPageSize, meta};
  }
  Print("preallocpages: %lu KiB of page descriptors and bitmaps for %zu banks in %lu KiB off the top of "
        "[0x%lx, 0x%lx)\n",
        plan->used >> 10, s.user_banks, plan->bytes >> 10, u[plan->donor].base.value(),
        u[plan->donor].end().value());
  return s;
}

void PageInitArrayNeeds(BankBytesFn bank_bytes, ConfNeeds* needs) {
  constexpr uint64_t kPages = uint64_t{1} << 18;  // a GiB: the arrays' cost per page, rounded up
  needs->arrays_per_page = (bank_bytes(PhysAddr(0), kPages) + kPages - 1) / kPages;
  needs->arrays_fixed = bank_bytes(PhysAddr(0), 1) + kPageSize;
}

}  // namespace kmem
