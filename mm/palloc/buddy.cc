#include "mm/palloc/buddy.h"

#include "mm/base/panic.h"

namespace kmem {

Page* BuddyBackend::AllocSlow(unsigned order) {
  if (order != 0) {
    Page* p = buddy_.Alloc(order);
    if (p != nullptr || ncache_ == 0) return p;
    // The cached pages may be what stops a merge: give them back and try once more.
    Drain();
    return buddy_.Alloc(order);
  }
  if (!buddy_.HasBlock(kBatchOrder)) return buddy_.Alloc(0);
  Page* block = buddy_.Alloc(kBatchOrder);
  // Push in descending order so that the next allocations go up in address from the block's head.
  for (unsigned i = (1u << kBatchOrder) - 1; i > 0; --i) cache_[ncache_++] = block + i;
  return block;
}

void BuddyBackend::FreeSlow(Page* head, unsigned order) {
  if (order != 0) {
    buddy_.Free(head, order);
    return;
  }
  // Full: the older half goes back to the buddy system, the newer (hotter) half moves down.
  constexpr unsigned kHalf = kCacheSize / 2;
  for (unsigned i = 0; i < kHalf; ++i) buddy_.Free(cache_[i], 0);
  for (unsigned i = kHalf; i < kCacheSize; ++i) cache_[i - kHalf] = cache_[i];
  ncache_ = kCacheSize - kHalf;
  cache_[ncache_++] = head;
}

void BuddyBackend::Drain() {
  while (ncache_ != 0) buddy_.Free(cache_[--ncache_], 0);
}

void BuddyBackend::Validate() const {
  KASSERT(ncache_ <= kCacheSize, "page cache holds %u of %u", ncache_, kCacheSize);
  buddy_.Validate();
}

}  // namespace kmem
