// The `buddy` backend: the bitmap buddy system (bit_buddy.h) behind an exact LIFO cache of order-0 pages,
// as Linux's per-CPU lists and Zircon's page cache sit in front of theirs. The cache makes the common
// alloc/free pair two array operations on hot memory; it refills with one order-5 block and, when full,
// returns its older half to the buddy system (which merges lazily). Colour hints are ignored.
//
// Invariant: the cache holds at most kCacheSize distinct free pages that the buddy system counts as
// allocated; free_pages() counts both, and ForEachFree reports cached pages as order-0 blocks.
#pragma once

#include <stdint.h>

#include "mm/base/addr.h"
#include "mm/palloc/bit_buddy.h"
#include "mm/palloc/page.h"

namespace kmem {

class BuddyBackend {
 public:
  static constexpr Colouring kColouring = Colouring::kIgnoresHint;
  static constexpr const char* kName = "buddy";
  static constexpr unsigned kCacheSize = 64;
  static constexpr unsigned kBatchOrder = 5;  // refill and flush 32 pages at a time
  static_assert((1u << kBatchOrder) <= kCacheSize / 2, "a refill must fit in the flushed half");

  static uint64_t MetaBytes(Pfn base, uint64_t npages) { return BitBuddy::MetaBytes(base, npages); }
  void Init(unsigned /*colours: the buddy system does not colour*/) {}
  void AddBank(Page* pages, Pfn base, uint64_t npages, void* meta) { buddy_.AddBank(pages, base, npages, meta); }

  // A free block of 2^order pages, or nullptr. O(1) from the cache, else O(log n).
  Page* Alloc(unsigned order, unsigned /*colour*/) {
    if (order == 0 && ncache_ != 0) return cache_[--ncache_];
    return AllocSlow(order);
  }
  // Takes back a block Alloc gave out. O(1) into the cache, else O(order).
  void Free(Page* head, unsigned order) {
    if (order == 0 && ncache_ != kCacheSize) {
      cache_[ncache_++] = head;
      return;
    }
    FreeSlow(head, order);
  }

  uint64_t free_pages() const { return buddy_.free_pages() + ncache_; }
  template <typename Fn>
  void ForEachFree(Fn&& fn) const {
    for (unsigned i = 0; i < ncache_; ++i) fn(cache_[i], 0u);
    buddy_.ForEachFree(fn);
  }
  void Validate() const;

 private:
  Page* AllocSlow(unsigned order);
  void FreeSlow(Page* head, unsigned order);
  void Drain();

  BitBuddy buddy_;
  Page* cache_[kCacheSize] = {};
  unsigned ncache_ = 0;
};

}  // namespace kmem
