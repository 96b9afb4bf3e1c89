#include "mm/palloc/colour.h"

#include "mm/base/panic.h"

namespace kmem {

void ColourBackend::Init(unsigned colours) {
  KASSERT(IsPowerOfTwo(colours) && colours <= kMaxColours, "colour count %u is not a power of two <= %u",
          colours, kMaxColours);
  colours_ = colours;
  mask_ = colours - 1;
  unsigned log = __builtin_ctz(colours);
  refill_order_ = log < 5 ? 5 : log;
}

Page* ColourBackend::AllocPageSlow(unsigned colour) {
  if (buddy_.HasBlock(refill_order_)) {
    // An aligned block of 2^refill_order_ >= colours pages starts at colour 0 and holds every colour.
    Page* block = buddy_.Alloc(refill_order_);
    for (unsigned i = (1u << refill_order_); i-- > 0;) {
      if (i != colour) Push(block + i);
    }
    return block + colour;
  }
  // No block to refill from: any colour beats no page. Take the lists first, to keep buddy blocks whole;
  // O(colours), only when memory is nearly gone or fragmented.
  for (unsigned i = 1; i < colours_ && list_pages_ != 0; ++i) {
    unsigned c = (colour + i) & mask_;
    if (Page* p = heads_[c]; p != nullptr) {
      Pop(c);
      return p;
    }
  }
  return buddy_.Alloc(0);
}

Page* ColourBackend::AllocAnySlow() {
  for (unsigned i = 1; i < colours_ && list_pages_ != 0; ++i) {
    unsigned c = (cursor_ + i) & mask_;
    if (Page* p = heads_[c]; p != nullptr) {
      cursor_ = c;
      Pop(c);
      return p;
    }
  }
  return AllocPageSlow(cursor_);
}

Page* ColourBackend::AllocBlock(unsigned order) {
  Page* p = buddy_.Alloc(order);
  if (p != nullptr || list_pages_ == 0) return p;
  // Lazy merging: the pages on the lists may complete the block; give them all back and retry.
  for (unsigned c = 0; c < colours_; ++c) {
    while (heads_[c] != nullptr) {
      Page* q = heads_[c];
      Pop(c);
      buddy_.Free(q, 0);
    }
  }
  return buddy_.Alloc(order);
}

void ColourBackend::Validate() const {
  uint64_t total = 0;
  for (unsigned c = 0; c < kMaxColours; ++c) {
    KASSERT(c < colours_ || (heads_[c] == nullptr && counts_[c] == 0), "colour %u of %u has pages", c,
            colours_);
    if (c >= colours_) continue;
    const Page* p = heads_[c];
    for (uint64_t n = 0; n < counts_[c]; ++n, p = p->next) {
      KASSERT(p != nullptr, "colour %u list ends after %lu of %lu pages", c, n, counts_[c]);
      KASSERT(p->colour == c, "page of colour %u on the list of colour %u", p->colour, c);
    }
    KASSERT(p == nullptr, "colour %u list is longer than its count %lu (or a cycle)", c, counts_[c]);
    total += counts_[c];
  }
  KASSERT(total == list_pages_, "colour lists hold %lu pages, count says %lu", total, list_pages_);
  buddy_.Validate();
}

}  // namespace kmem
