// preallocpages then pageinit over confinit's split (9front's order): the page allocator's per-bank arrays
// come off the top of the highest user bank the direct map reaches (prealloc.h), and the page allocator
// takes over the rest of the user share. The kernel and the host tests run this same sequence.
#pragma once

#include <stddef.h>

#include "mm/base/direct_map.h"
#include "mm/conf/conf.h"
#include "mm/palloc/palloc.h"
#include "mm/palloc/prealloc.h"

namespace kmem {

struct PageInitStatus {
  size_t user_banks = 0;  // confinit's user banks; 0 when it left no user memory, and nothing was done
  PreallocStatus prealloc = PreallocStatus::kOk;
  bool ok() const { return user_banks != 0 && prealloc == PreallocStatus::kOk; }
};

// preallocpages: plans the arrays of `conf`'s user banks into `plan` and fills `banks` (room for
// kMaxBanks) with the banks the page allocator gets, each with its arrays reached through `direct`, which
// also bounds where they may go. Prints where the arrays went. O(kMaxBanks^2 log pages).
PageInitStatus PlanPageInit(const Conf& conf, const DirectMap& direct, BankBytesFn bank_bytes,
                            PreallocPlan* plan, PallocBank* banks);

// preallocpages + pageinit: `palloc` (not yet initialised) over `conf`'s user share with `colours` page
// colours and the waiting allocation's `hooks`; prints where the arrays went and the free-block table. On
// an error `palloc` is left untouched.
template <typename Backend>
PageInitStatus PageInit(const Conf& conf, const DirectMap& direct, unsigned colours, PreallocPlan* plan,
                        Palloc<Backend>* palloc, PallocHooks hooks = {}) {
  PallocBank banks[kMaxBanks];
  PageInitStatus s = PlanPageInit(conf, direct, &Palloc<Backend>::BankBytes, plan, banks);
  if (!s.ok()) return s;
  palloc->PageInit(banks, plan->n, colours, hooks);
  palloc->PrintFreeTable();
  return s;
}

// What the page allocator's arrays cost, for ConfNeeds (mm/conf/conf.h): bytes per user page rounded up,
// and per bank, rounded up to the whole page its arrays may start a new one with.
void PageInitArrayNeeds(BankBytesFn bank_bytes, ConfNeeds* needs);

}  // namespace kmem
