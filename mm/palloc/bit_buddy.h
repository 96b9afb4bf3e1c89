// A binary buddy system over up to kMaxBanks RAM banks whose free sets are hierarchical bitmaps instead of
// linked lists: one bit per naturally aligned block of each order, with summary words above them. Both
// palloc backends keep their contiguous memory here.
//
// Invariant: a block is free iff its bit is set at its order; free blocks lie inside their bank and do not
// overlap. The allocator never writes to descriptors or pages, so its working set is the bitmaps (about a
// quarter byte per frame), which stay in cache where descriptor lists would miss on every split and merge.
//
// Lazy merging: Free only sets the block's bit, O(log64 n) with no data-dependent branches, and the next
// allocation of that order takes it back. Buddies are merged when an allocation finds no block large
// enough and something was freed since the last merge: one pass over the bitmaps, order by order, pairs
// free buddies 64 bits at a time (O(bitmap words), about 30 us for 4 GiB), so no request fails while the
// memory for it is free, and a run of failing requests does not repeat the pass.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/base/addr.h"
#include "mm/base/panic.h"
#include "mm/palloc/page.h"

namespace kmem {

// A set of bit positions [0, nbits) with one summary bit per word on each level above the leaves, so the
// lowest set bit is found by one descent: O(log64 nbits), at most kLevels word reads.
class BitTree {
 public:
  static constexpr unsigned kLevels = 7;  // 64^7 = 2^42 bits: banks up to 4 PiB even at order 0

  // Words the tree needs for nbits positions, summaries included.
  static uint64_t WordsFor(uint64_t nbits);
  // Lays the tree out over `words` (WordsFor(nbits) of them, zeroed by the caller).
  void Init(uint64_t nbits, uint64_t* words);

  bool Test(uint64_t i) const { return (level_[0][i >> 6] >> (i & 63)) & 1; }
  // Set and Clear return the count before the change, so the caller sees the empty/non-empty transitions.
  uint64_t Set(uint64_t i);
  uint64_t Clear(uint64_t i);
  // The lowest set position; the tree must not be empty.
  uint64_t First() const;
  uint64_t count() const { return count_; }
  uint64_t nbits() const { return nbits_; }
  // Leaf word w: positions [64w, 64w + 64).
  uint64_t Word(uint64_t w) const { return level_[0][w]; }

  // Calls fn(i) for every set position in increasing order.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (uint64_t w = 0; w < words_[0]; ++w) {
      for (uint64_t bits = level_[0][w]; bits != 0; bits &= bits - 1) fn(w * 64 + __builtin_ctzll(bits));
    }
  }
  // Panics unless every summary bit says exactly whether the word below is non-zero, no bit beyond nbits
  // is set and the count is the number of set leaves.
  void Validate() const;

 private:
  uint64_t* level_[kLevels] = {};
  uint64_t words_[kLevels] = {};
  uint64_t nbits_ = 0;
  uint64_t count_ = 0;
  unsigned levels_ = 0;
};

class BitBuddy {
 public:
  // Where a bank's blocks sit: the largest order that fits in it, and the aligned window its bitmaps
  // cover; block i of order k starts at pfn origin + (i << k).
  struct Geometry {
    unsigned max_order;
    uint64_t origin;
    uint64_t span;  // frames covered, a multiple of 2^max_order
    Geometry(Pfn base, uint64_t npages);
  };

  // Bytes of caller memory one bank [base, base + npages) needs: the order bitmaps and their headers.
  // About 2 bits per frame plus up to 2^18 frames of alignment slack and 1.6 KiB of headers.
  static uint64_t MetaBytes(Pfn base, uint64_t npages);

  // Adds a bank whose frames are all free; `pages` is its descriptor array, `meta` MetaBytes() bytes of
  // zeroed, 8-byte-aligned memory. Banks must not overlap and are numbered 0, 1, ... in the order added.
  void AddBank(Page* pages, Pfn base, uint64_t npages, void* meta);

  // The lowest-addressed free block of the smallest order >= `order` is split down to `order` and its
  // head returned; nullptr when no block is large enough even after merging. O(log n) bit operations,
  // plus the merge pass when it runs.
  Page* Alloc(unsigned order);
  // Frees the block of 2^order frames at `head`, without merging. O(log64 n).
  void Free(Page* head, unsigned order);
  // Whether a free block of order >= `order` is there without merging. O(1).
  bool HasBlock(unsigned order) const { return (order_mask_ >> order) != 0; }

  uint64_t free_pages() const { return free_pages_; }

  // The bank whose descriptor array holds `p`, found from the arrays' addresses so that no descriptor is
  // read (a random free would miss on it). O(banks): the loader's maps have a handful.
  unsigned BankOf(const Page* p) const {
    auto a = reinterpret_cast<uintptr_t>(p);
    for (unsigned b = 0;; ++b) {
      KASSERT(b < nbanks_, "descriptor %p is in no bank", static_cast<const void*>(p));
      if (a - reinterpret_cast<uintptr_t>(banks_[b].pages) < (banks_[b].end - banks_[b].base) * sizeof(Page)) {
        return b;
      }
    }
  }
  uint64_t PfnOf(const Page* p) const {
    const Bank& bank = banks_[BankOf(p)];
    return bank.base + static_cast<uint64_t>(p - bank.pages);
  }
  // fn(head, order) for every free block, bank by bank, order by order.
  template <typename Fn>
  void ForEachFree(Fn&& fn) const {
    for (unsigned b = 0; b < nbanks_; ++b) {
      const Bank& bank = banks_[b];
      for (unsigned k = 0; k <= bank.max_order; ++k) {
        bank.trees[k].ForEach([&](uint64_t idx) { fn(bank.PageAt(idx << k), k); });
      }
    }
  }
  void Validate() const;

 private:
  struct Bank {
    Page* pages;
    uint64_t base;    // first pfn
    uint64_t end;     // pfn past the last frame
    uint64_t origin;  // base aligned down to 2^max_order: block index i of order k starts at origin + i<<k
    unsigned max_order;
    BitTree* trees;   // max_order + 1 trees in the bank's meta memory

    Page* PageAt(uint64_t offset) const { return pages + (origin + offset - base); }
    uint64_t OffsetOf(const Page* p) const { return static_cast<uint64_t>(p - pages) + base - origin; }
  };
  Page* AllocFromBitmaps(unsigned order);
  void MergeAll();
  void SetBit(unsigned bank, unsigned order, uint64_t idx);
  void ClearBit(unsigned bank, unsigned order, uint64_t idx);

  Bank banks_[kMaxBanks] = {};
  unsigned nbanks_ = 0;
  uint64_t nonempty_[kOrders] = {};  // bit b: bank b has a free block of this order
  uint64_t order_mask_ = 0;          // bit k: some bank has a free block of order k
  uint64_t free_pages_ = 0;
  bool unmerged_ = false;  // something was freed since the last merge pass
};

}  // namespace kmem
