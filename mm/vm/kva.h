// Kernel virtual-address arenas (Linux's vmalloc area, the ARM seed's kern_virt_allocator): an arena hands
// out page-aligned ranges of one window of kernel VA and takes them back. A range may carry an unmapped
// guard page below or above it, which belongs to its reservation, so no other range is ever placed there:
// an overrun off the end of a vmalloc'ed buffer or off the bottom of a kernel stack faults instead of
// landing in a neighbour. The arena does the address arithmetic only; its callers map and unmap.
//
// Invariant: the records are sorted by address, lie inside the window and do not overlap; each is one live
// reservation. Metadata is a caller-supplied array of records (no heap), one per live range.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/base/addr.h"
#include "mm/base/lock.h"
#include "mm/base/panic.h"

namespace kmem {

enum class KvaStatus : uint8_t {
  kOk,
  kBadRequest,    // size 0 or not a multiple of 4 KiB, alignment not a power of two of at least 4 KiB
  kNoSpace,       // no gap in the window is large enough
  kNoRecord,      // every record is in use
  kNotAllocated,  // Free of an address Alloc did not return, or returned and was freed already
};
const char* KvaStatusName(KvaStatus status);

// Where a range's guard page lies: above it (buffers overrun upwards), below it (stacks grow down).
enum class Guard : uint8_t { kNone, kAbove, kBelow };

// One live reservation: [start, start + bytes), the guard page included.
struct KvaRecord {
  uint64_t start;
  uint64_t bytes;
  Guard guard;
};

// What an address is to an arena, for fault reports.
enum class KvaPlace : uint8_t { kFree, kRange, kGuard };
struct KvaLookup {
  KvaPlace place;
  VirtAddr va;    // the range's first usable address (kRange, kGuard)
  uint64_t size;  // its usable size
};

struct KvaStats {
  size_t ranges;
  uint64_t usable_bytes;    // what callers asked for
  uint64_t guard_bytes;     // unmapped guard pages
  uint64_t largest_free;    // the largest gap, the most a guardless page-aligned request could get
};

class KvaArena {
 public:
  // [base, base + size) must be page-aligned and end at or below 2^64; `records` holds `capacity` records.
  // Constant-initialisable, so an arena can be a member of a constinit global (the kernel's Mmu).
  constexpr KvaArena(const char* name, VirtAddr base, uint64_t size, KvaRecord* records, size_t capacity)
      : name_(name),
        base_(base.value()),
        end_(base.value() + size),
        records_(records),
        capacity_(capacity),
        lock_(name, LockLevel::kGlobal) {
    KASSERT(base.IsAlignedTo(kPageSize) && IsAligned(size, kPageSize) && size > 0 && (end_ > base_ || end_ == 0),
            "kva arena '%s': window [0x%lx, +0x%lx) is not whole pages below 2^64", name, base.value(), size);
  }
  KvaArena(const KvaArena&) = delete;
  KvaArena& operator=(const KvaArena&) = delete;

  // Reserves `size` bytes at an `align`-aligned address (first fit in address order), plus the guard page.
  // O(n) in the live ranges.
  KvaStatus Alloc(uint64_t size, uint64_t align, Guard guard, VirtAddr* va);
  // Takes back the range Alloc returned at `va`; *size gets its usable size. O(n).
  KvaStatus Free(VirtAddr va, uint64_t* size);
  // What `va` is: free space, inside a range, or a range's guard page. O(log n).
  KvaLookup Find(VirtAddr va);

  KvaStats Stats();
  // Walks every record and checks the invariant; panics with the arena's name and the broken record.
  void Validate();
  // One line a range (usable start and end, size, guard), then the totals.
  void Dump();

  const char* name() const { return name_; }
  VirtAddr base() const { return VirtAddr(base_); }
  uint64_t size() const { return end_ - base_; }

 private:
  // The first usable address of record r.
  static uint64_t UsableStart(const KvaRecord& r) { return r.start + (r.guard == Guard::kBelow ? kPageSize : 0); }
  static uint64_t UsableBytes(const KvaRecord& r) { return r.bytes - (r.guard == Guard::kNone ? 0 : kPageSize); }
  bool Place(uint64_t from, uint64_t bytes, uint64_t below, uint64_t align, uint64_t* start) const;
  // The index of the last record starting at or below `va`, or n_ when there is none.
  size_t Floor(uint64_t va) const;

  const char* name_;
  uint64_t base_;
  uint64_t end_;
  KvaRecord* records_;
  size_t capacity_;
  size_t n_ = 0;
  // Protects records_ and n_: the arena is shared by every CPU (global level: taken with no zone or
  // address-space lock held, since mapping what it hands out takes those).
  SpinLock lock_;
};

}  // namespace kmem
