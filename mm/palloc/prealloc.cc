#include "mm/palloc/prealloc.h"

namespace kmem {
namespace {

constexpr uint64_t kArrayAlign = 64;  // PageInit's alignment for each bank's arrays

// Bytes of arrays for `banks` with `donor` shortened by `taken` pages; fills offset[] when given.
uint64_t ArrayBytes(const RamRange* banks, size_t n, size_t donor, uint64_t taken, BankBytesFn bank_bytes,
                    uint64_t* offset) {
  uint64_t total = 0;
  for (size_t i = 0; i < n; ++i) {
    uint64_t npages = banks[i].size / kPageSize - (i == donor ? taken : 0);
    if (offset != nullptr) offset[i] = total;
    total += AlignDown(bank_bytes(banks[i].base, npages) + kArrayAlign - 1, kArrayAlign);
  }
  return total;
}

}  // namespace

const char* PreallocStatusName(PreallocStatus status) {
  switch (status) {
    case PreallocStatus::kOk:
      return "ok";
    case PreallocStatus::kNoRoom:
      return "no user bank within the direct map can hold the page descriptors of all";
    case PreallocStatus::kTooManyBanks:
      return "more banks than the page allocator takes";
  }
  return "unknown";
}

PreallocStatus PlanPrealloc(const RamRange* banks, size_t n, PhysAddr reach, BankBytesFn bank_bytes,
                            PreallocPlan* plan) {
  if (n > kMaxBanks) return PreallocStatus::kTooManyBanks;
  // Donors by descending base, without sorting the caller's array.
  PhysAddr below = PhysAddr(UINT64_MAX);
  for (size_t tried = 0; tried < n; ++tried) {
    size_t j = n;
    for (size_t i = 0; i < n; ++i) {
      if (banks[i].base < below && (j == n || banks[i].base > banks[j].base)) j = i;
    }
    below = banks[j].base;
    uint64_t npages = banks[j].size / kPageSize;
    if (npages < 2 || banks[j].end() > reach) continue;
    // Taking more pages never makes the arrays larger, so "the taken pages hold them" is monotone in the
    // number taken: search for the fewest that do, keeping one page.
    auto holds = [&](uint64_t taken) {
      return ArrayBytes(banks, n, j, taken, bank_bytes, nullptr) <= taken * kPageSize;
    };
    uint64_t lo = 1, hi = npages - 1;
    if (!holds(hi)) continue;
    while (lo < hi) {
      uint64_t mid = lo + (hi - lo) / 2;
      if (holds(mid)) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    *plan = PreallocPlan{};
    plan->n = n;
    plan->donor = j;
    plan->bytes = lo * kPageSize;
    plan->used = ArrayBytes(banks, n, j, lo, bank_bytes, plan->offset);
    for (size_t i = 0; i < n; ++i) plan->bank[i] = banks[i];
    plan->bank[j].size -= plan->bytes;
    plan->base = plan->bank[j].end();
    return PreallocStatus::kOk;
  }
  return PreallocStatus::kNoRoom;
}

}  // namespace kmem
