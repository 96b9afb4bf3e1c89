// A fixed-capacity table of disjoint physical ranges kept sorted by address and coalesced: two ranges that
// touch are always one entry. xalloc keeps its free holes in one and the memory it was given in another.
// No heap: the capacity is a template parameter and the table lives inside its owner.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/base/addr.h"
#include "mm/base/panic.h"
#include "mm/base/ram_range.h"

namespace kmem {

enum class RangeAdd {
  kOk,
  kOverlaps,  // the new range shares a byte with an entry
  kFull,      // the new range touches no entry and every slot is taken
};

template <size_t N>
class RangeTable {
 public:
  size_t count() const { return count_; }
  const RamRange& operator[](size_t i) const { return ranges_[i]; }

  // The number of entries that start at or below `pa`: the entry that could contain pa is the one before.
  // O(log n).
  size_t UpperBound(PhysAddr pa) const {
    size_t lo = 0, hi = count_;
    while (lo < hi) {
      size_t mid = (lo + hi) / 2;
      if (ranges_[mid].base <= pa) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  // The index of the entry containing `pa`, or count() when none does. O(log n).
  size_t Find(PhysAddr pa) const {
    size_t i = UpperBound(pa);
    if (i == 0 || pa - ranges_[i - 1].base >= ranges_[i - 1].size) return count_;
    return i - 1;
  }

  // What Add(r) would do, without doing it. O(log n).
  RangeAdd Check(RamRange r) const {
    size_t i = UpperBound(r.base);
    if (i > 0 && ranges_[i - 1].end() > r.base) return RangeAdd::kOverlaps;
    if (i < count_ && ranges_[i].base < r.end()) return RangeAdd::kOverlaps;
    bool joins_below = i > 0 && ranges_[i - 1].end() == r.base;
    bool joins_above = i < count_ && ranges_[i].base == r.end();
    if (!joins_below && !joins_above && count_ == N) return RangeAdd::kFull;
    return RangeAdd::kOk;
  }

  // Adds `r` (size > 0), merging it with the entries it touches; changes nothing unless it returns kOk.
  // O(n): entries above move by one slot.
  RangeAdd Add(RamRange r) {
    KASSERT(r.size > 0 && r.base + r.size > r.base, "range [0x%lx, +0x%lx) is empty or wraps",
            r.base.value(), r.size);
    RangeAdd verdict = Check(r);
    if (verdict != RangeAdd::kOk) return verdict;
    size_t i = UpperBound(r.base);
    bool joins_below = i > 0 && ranges_[i - 1].end() == r.base;
    bool joins_above = i < count_ && ranges_[i].base == r.end();
    if (joins_below && joins_above) {
      ranges_[i - 1].size += r.size + ranges_[i].size;
      RemoveAt(i);
    } else if (joins_below) {
      ranges_[i - 1].size += r.size;
    } else if (joins_above) {
      ranges_[i].base = r.base;
      ranges_[i].size += r.size;
    } else {
      for (size_t j = count_; j > i; --j) ranges_[j] = ranges_[j - 1];
      ranges_[i] = r;
      ++count_;
    }
    return RangeAdd::kOk;
  }

  // Takes `bytes` off the bottom of entry i, dropping the entry when nothing is left. Never needs a slot.
  // O(1), or O(n) when the entry goes.
  void TakeBottom(size_t i, uint64_t bytes) {
    KASSERT(i < count_ && bytes <= ranges_[i].size, "take 0x%lx from entry %zu of %zu", bytes, i, count_);
    ranges_[i].base = ranges_[i].base + bytes;
    ranges_[i].size -= bytes;
    if (ranges_[i].size == 0) RemoveAt(i);
  }

 private:
  void RemoveAt(size_t i) {
    for (size_t j = i + 1; j < count_; ++j) ranges_[j - 1] = ranges_[j];
    --count_;
  }

  RamRange ranges_[N] = {};
  size_t count_ = 0;
};

}  // namespace kmem
