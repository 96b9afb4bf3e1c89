// preallocpages (9front's name): where the page allocator's per-bank arrays (descriptors, bitmaps, the
// backend's structures: Palloc::BankBytes) live. They come off the top of the highest user bank that can
// hold them all, as 9front steals them from high memory, and that bank shrinks by the pages taken, so the
// page allocator never hands them out. The kernel reaches them through the direct map, where all RAM is:
// xalloc's share cannot hold them on a large machine, being bounded by the 2 GiB KZERO window while the
// arrays of 256 GiB of user memory take 2 GiB.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/base/addr.h"
#include "mm/base/ram_range.h"
#include "mm/palloc/page.h"

namespace kmem {

// Bytes of arrays one bank of `npages` frames from `base` needs: Palloc<Backend>::BankBytes.
using BankBytesFn = uint64_t (*)(PhysAddr base, uint64_t npages);

struct PreallocPlan {
  size_t donor = 0;          // the user bank the arrays come from
  PhysAddr base;             // they take [base, base + bytes), the donor's top pages
  uint64_t bytes = 0;        // a page multiple
  uint64_t used = 0;         // bytes of arrays in it, each bank's 64-byte aligned
  RamRange bank[kMaxBanks];  // the user banks the page allocator gets: the input, the donor shortened
  uint64_t offset[kMaxBanks] = {};  // bank i's arrays are at base + offset[i]
  size_t n = 0;
};

enum class PreallocStatus {
  kOk,
  kNoRoom,        // no bank within reach can hold the arrays of all and keep a page of its own
  kTooManyBanks,  // more than kMaxBanks
};
const char* PreallocStatusName(PreallocStatus status);

// Plans the arrays of `banks` (page-aligned, disjoint, non-empty, any order): the donor is the bank with
// the highest base that ends at or below `reach` (the end of what the kernel can address: its direct map)
// and can hold them and keep at least one page; it gives the fewest whole pages that hold the arrays of
// every bank as shortened. O(n^2 log pages).
PreallocStatus PlanPrealloc(const RamRange* banks, size_t n, PhysAddr reach, BankBytesFn bank_bytes,
                            PreallocPlan* plan);

}  // namespace kmem
