#include "mm/vm/kva.h"

#include "mm/base/format.h"
#include "mm/base/panic.h"

namespace kmem {
namespace {

const char* GuardName(Guard g) {
  switch (g) {
    case Guard::kNone: return "none";
    case Guard::kAbove: return "above";
    case Guard::kBelow: return "below";
  }
  return "?";
}

}  // namespace

const char* KvaStatusName(KvaStatus status) {
  switch (status) {
    case KvaStatus::kOk: return "ok";
    case KvaStatus::kBadRequest: return "size or alignment not whole pages";
    case KvaStatus::kNoSpace: return "no gap large enough";
    case KvaStatus::kNoRecord: return "no free range record";
    case KvaStatus::kNotAllocated: return "not an allocated range";
  }
  return "?";
}

// The lowest reservation of `bytes` at or above `from` whose usable part (after a guard page of
// `below` bytes) is `align`-aligned, if it fits in the window; overflow anywhere means it does not.
bool KvaArena::Place(uint64_t from, uint64_t bytes, uint64_t below, uint64_t align, uint64_t* start) const {
  const uint64_t window = end_ - base_;  // never 0: a window is at least a page and below 2^64 in size
  uint64_t usable;
  if (from - base_ >= window || from + below < from || !AlignUp(from + below, align, &usable)) return false;
  *start = usable - below;
  return *start - base_ < window && bytes <= window - (*start - base_);
}

KvaStatus KvaArena::Alloc(uint64_t size, uint64_t align, Guard guard, VirtAddr* va) {
  if (size == 0 || !IsAligned(size, kPageSize) || align < kPageSize || (align & (align - 1)) != 0) {
    return KvaStatus::kBadRequest;
  }
  const uint64_t below = guard == Guard::kBelow ? kPageSize : 0;
  const uint64_t bytes = size + (guard == Guard::kNone ? 0 : kPageSize);
  if (bytes < size) return KvaStatus::kNoSpace;
  LockGuard g(lock_);
  if (n_ == capacity_) return KvaStatus::kNoRecord;
  uint64_t from = base_;  // the lowest address not ruled out: the end of record i - 1
  for (size_t i = 0;; ++i) {
    uint64_t start;
    const bool fits = Place(from, bytes, below, align, &start) &&
                      (i == n_ || (start <= records_[i].start && bytes <= records_[i].start - start));
    if (fits) {
      for (size_t j = n_; j > i; --j) records_[j] = records_[j - 1];
      records_[i] = KvaRecord{start, bytes, guard};
      ++n_;
      *va = VirtAddr(start + below);
      return KvaStatus::kOk;
    }
    if (i == n_) return KvaStatus::kNoSpace;
    from = records_[i].start + records_[i].bytes;
  }
}

size_t KvaArena::Floor(uint64_t va) const {
  size_t lo = 0, hi = n_;  // the answer is the last index in [lo, hi) with start <= va
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (records_[mid].start <= va) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo == 0 ? n_ : lo - 1;
}

KvaStatus KvaArena::Free(VirtAddr va, uint64_t* size) {
  LockGuard g(lock_);
  const size_t i = Floor(va.value());
  if (i == n_ || UsableStart(records_[i]) != va.value()) return KvaStatus::kNotAllocated;
  if (size != nullptr) *size = UsableBytes(records_[i]);
  for (size_t j = i; j + 1 < n_; ++j) records_[j] = records_[j + 1];
  --n_;
  return KvaStatus::kOk;
}

KvaLookup KvaArena::Find(VirtAddr va) {
  LockGuard g(lock_);
  const size_t i = Floor(va.value());
  if (i == n_ || va.value() - records_[i].start >= records_[i].bytes) return KvaLookup{KvaPlace::kFree, VirtAddr(), 0};
  const KvaRecord& r = records_[i];
  const uint64_t usable = UsableStart(r);
  const bool in_range = va.value() >= usable && va.value() - usable < UsableBytes(r);
  return KvaLookup{in_range ? KvaPlace::kRange : KvaPlace::kGuard, VirtAddr(usable), UsableBytes(r)};
}

KvaStats KvaArena::Stats() {
  LockGuard g(lock_);
  KvaStats s{n_, 0, 0, 0};
  uint64_t gap = base_;
  for (size_t i = 0; i <= n_; ++i) {
    // The gap before record i, or after the last one up to the window's end (which may be 2^64, i.e. 0).
    const uint64_t next = i < n_ ? records_[i].start : end_;
    const uint64_t free = next - gap;
    if (free > s.largest_free) s.largest_free = free;
    if (i == n_) break;
    s.usable_bytes += UsableBytes(records_[i]);
    s.guard_bytes += records_[i].bytes - UsableBytes(records_[i]);
    gap = records_[i].start + records_[i].bytes;
  }
  return s;
}

void KvaArena::Validate() {
  LockGuard g(lock_);
  KASSERT(n_ <= capacity_, "kva arena '%s': %zu records, capacity %zu", name_, n_, capacity_);
  uint64_t gap = base_;
  for (size_t i = 0; i < n_; ++i) {
    const KvaRecord& r = records_[i];
    const bool whole = IsAligned(r.start, kPageSize) && IsAligned(r.bytes, kPageSize) &&
                       r.bytes > (r.guard == Guard::kNone ? 0 : kPageSize);
    const bool inside = r.start >= gap && r.start - base_ <= end_ - 1 - base_ && r.bytes - 1 <= end_ - 1 - r.start;
    KASSERT(whole && inside, "kva arena '%s': record %zu [0x%lx, +0x%lx) guard %s is not whole pages, overlaps the one before, or leaves the window",
            name_, i, r.start, r.bytes, GuardName(r.guard));
    gap = r.start + r.bytes;
  }
}

void KvaArena::Dump() {
  const KvaStats s = Stats();
  LockGuard g(lock_);
  Print("kva %s: [0x%lx, 0x%lx)\n", name_, base_, end_);
  for (size_t i = 0; i < n_; ++i) {
    const KvaRecord& r = records_[i];
    const uint64_t usable = UsableStart(r);
    char size[16];
    FormatSize(size, sizeof size, UsableBytes(r));
    Print("  0x%016lx-0x%016lx %8s guard %s\n", usable, usable + UsableBytes(r), size, GuardName(r.guard));
  }
  Print("kva %s: %zu ranges, %lu KiB in use, %lu KiB of guard pages, largest gap %lu KiB\n", name_, s.ranges,
        s.usable_bytes >> 10, s.guard_bytes >> 10, s.largest_free >> 10);
}

}  // namespace kmem
