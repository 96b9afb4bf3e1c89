// The `buddy` backend: the bitmap buddy system (bit_buddy.h) as it is. Colour hints are ignored. Palloc's
// per-CPU caches of order-0 pages sit in front of it, as Linux's per-CPU lists and Zircon's page cache sit
// in front of theirs; the LIFO cache this backend kept before them no longer paid (bench/README.md).
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

  static uint64_t MetaBytes(Pfn base, uint64_t npages) { return BitBuddy::MetaBytes(base, npages); }
  void Init(unsigned /*colours: the buddy system does not colour*/) {}
  void AddBank(Page* pages, Pfn base, uint64_t npages, void* meta) { buddy_.AddBank(pages, base, npages, meta); }

  // A free block of 2^order pages, or nullptr. O(log n).
  Page* Alloc(unsigned order, unsigned /*colour*/) { return buddy_.Alloc(order); }
  // Takes back a block Alloc gave out. O(log64 n).
  void Free(Page* head, unsigned order) { buddy_.Free(head, order); }

  uint64_t free_pages() const { return buddy_.free_pages(); }
  template <typename Fn>
  void ForEachFree(Fn&& fn) const {
    buddy_.ForEachFree(fn);
  }
  void Validate() const;

 private:
  BitBuddy buddy_;
};

}  // namespace kmem
