// The `colour` backend: one LIFO free list of order-0 pages per page colour (pfn mod the colour count), in
// front of the bitmap buddy system (bit_buddy.h) that keeps everything else. NewPage(va) pops the list of
// va's colour in O(1). An empty list refills from one aligned block of at least one page per colour
// (2^max(log2 colours, 5) pages), which spreads over every list.
//
// Contiguous requests go to the buddy system. Order-0 frees stay on the lists unmerged (lazy merging), so
// when the buddy system has no block large enough, every list is drained into it and the request retried,
// which lets the buddy system's merge pass see them: O(pages on the lists + bitmap words) once, after
// which the lists refill gradually.
//
// Invariant: list c holds exactly counts_[c] distinct free pages, all of colour c, that the buddy system
// counts as allocated.
#pragma once

#include <stdint.h>

#include "mm/base/addr.h"
#include "mm/palloc/bit_buddy.h"
#include "mm/palloc/page.h"

namespace kmem {

class ColourBackend {
 public:
  static constexpr Colouring kColouring = Colouring::kHonoursHint;
  static constexpr const char* kName = "colour";

  static uint64_t MetaBytes(Pfn base, uint64_t npages) { return BitBuddy::MetaBytes(base, npages); }
  // `colours` is a power of two, at most kMaxColours.
  void Init(unsigned colours);
  void AddBank(Page* pages, Pfn base, uint64_t npages, void* meta) { buddy_.AddBank(pages, base, npages, meta); }

  // A free block of 2^order pages, or nullptr. Order 0 prefers `colour`: O(1) from a non-empty list.
  // kAnyColour takes from the list it took from last, like a LIFO page cache, and moves on to the next
  // non-empty list when that one runs dry (O(colours) then, at most once per page refilled).
  Page* Alloc(unsigned order, unsigned colour) {
    if (order == 0) {
      unsigned c = colour == kAnyColour ? cursor_ : (colour & mask_);
      Page* p = heads_[c];
      if (p != nullptr) {
        Pop(c);
        return p;
      }
      return colour == kAnyColour ? AllocAnySlow() : AllocPageSlow(c);
    }
    return AllocBlock(order);
  }
  // O(1) for order 0 (onto its colour's list), O(order) otherwise.
  void Free(Page* head, unsigned order) {
    if (order == 0) {
      Push(head);
      return;
    }
    buddy_.Free(head, order);
  }

  uint64_t free_pages() const { return buddy_.free_pages() + list_pages_; }
  template <typename Fn>
  void ForEachFree(Fn&& fn) const {
    for (unsigned c = 0; c < colours_; ++c) {
      for (Page* p = heads_[c]; p != nullptr; p = p->next) fn(p, 0u);
    }
    buddy_.ForEachFree(fn);
  }
  void Validate() const;

 private:
  void Push(Page* p) {
    unsigned c = static_cast<unsigned>(buddy_.PfnOf(p)) & mask_;  // not p->colour: no descriptor read
    p->next = heads_[c];
    heads_[c] = p;
    ++counts_[c];
    ++list_pages_;
  }
  void Pop(unsigned c) {
    heads_[c] = heads_[c]->next;
    --counts_[c];
    --list_pages_;
  }
  Page* AllocPageSlow(unsigned colour);
  Page* AllocAnySlow();
  Page* AllocBlock(unsigned order);

  BitBuddy buddy_;
  unsigned colours_ = 1;
  unsigned mask_ = 0;
  unsigned refill_order_ = 0;
  unsigned cursor_ = 0;  // the list anonymous allocations take from
  uint64_t list_pages_ = 0;
  Page* heads_[kMaxColours] = {};
  uint64_t counts_[kMaxColours] = {};
};

}  // namespace kmem
