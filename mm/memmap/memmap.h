// The typed physical memory map (9front's port/memmap.c in spirit): which physical ranges are RAM, ACPI
// tables, firmware-reserved, upper memory blocks or unbacked address space, and which RAM has been handed
// out before the real allocators exist.
//
// Invariant: entries are sorted, non-overlapping, page-aligned, and no two touching entries have the same
// type and use (they are merged). The map is page-granular because its consumers are: Add trims RAM inward
// to whole pages and widens every other type outward, so a page is RAM only when all of it is.
//
// The kernel builds one at boot (arch/x86_64/boot/meminit.h). Later layers read it: xalloc and palloc take the free RAM
// with `for (const MemRange& r : map.Ranges(MemType::kRam))`; before xalloc exists, page-table pages come
// from `map.Alloc(Memmap::kAnyAddress, kPageSize, kPageSize, MemType::kRam, &pa)` (9front's rampage), which
// takes them out of that free RAM for good.
//
// Locking: one SpinLock (early-allocator level, mm/base/lock.h) protects the entries; Add, Alloc, Free,
// Next, Size and Dump take it. The map is a leaf: it calls no other locked code. Callers may hold global
// and address-space locks (before xinit the kernel's page-table pages come from Alloc, under the space's
// lock), never a zone lock or xalloc's (Rampage drops it before asking the map). count(), entry() and the Ranges() walk read the entries without it, for
// the boot CPU before any other CPU runs and for tools: nothing may change the map meanwhile.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/base/addr.h"
#include "mm/base/lock.h"

namespace kmem {

// Ordered from least to most restrictive: where ranges overlap, the greater type wins.
enum class MemType : uint8_t {
  kUpa,       // unbacked physical address space: where device registers (PCI BARs) may be mapped
  kUmb,       // upper memory blocks: the ISA window between the VGA buffer and the BIOS, minus ROMs
  kRam,       // usable RAM
  kAcpi,      // ACPI tables and NVS: RAM the firmware still owns
  kReserved,  // firmware, ROMs, the kernel image, boot structures: never allocate, never reuse
};
inline constexpr int kMemTypes = 5;
const char* MemTypeName(MemType type);

// Whether a range of the map has been handed out by MemmapAlloc.
enum class MemUse : uint8_t { kFree, kAllocated };

struct MemRange {
  PhysAddr base;
  uint64_t size = 0;
  MemType type = MemType::kUpa;
  MemUse use = MemUse::kFree;

  PhysAddr end() const { return base + size; }
};

enum class MemmapStatus : uint8_t {
  kOk,
  kFull,          // the change needs more than kCapacity entries; the map is unchanged
  kOutOfRange,    // the range is empty, wraps, or reaches past the map's limit
  kBadAlignment,  // alignment is not a power of two, or a fixed address is not aligned to it
  kNoSpace,       // no free range of the type can hold the request
  kNotAllocated,  // MemmapFree of a range that is not wholly allocated memory of the type
};
const char* MemmapStatusName(MemmapStatus status);

class Memmap {
 public:
  // Why 256 suffices: PC firmware maps have well under 128 entries (Linux sizes its boot-time table for
  // 128 and real machines report 10-60), each becoming at most one entry per type after sanitising; the
  // legacy PC rules add 3, the ISA window holds at most a handful of option ROMs, the kernel reserves its
  // image and a few boot structures, and each early allocation splits one entry into at most three (and
  // back-to-back allocations merge). A change that would not fit fails with kFull and changes nothing.
  static constexpr size_t kCapacity = 256;

  // A map of [0, limit): the physical addresses the architecture can have at all (x86_64's 2^52, say), which
  // its caller knows and the map does not. `limit` is page-aligned and not zero; ranges past it are refused.
  constexpr explicit Memmap(PhysAddr limit) : limit_(limit.value()) {}

  PhysAddr limit() const { return PhysAddr(limit_); }

  // MemmapAdd: declares [base, base + size) to be of `type`. Where it overlaps the map the more restrictive
  // type wins; RAM is trimmed inward and other types widened outward to page boundaries (a RAM range with
  // no whole page adds nothing). Added RAM is free; adding RAM over allocated RAM leaves it allocated.
  // O(n) in the number of entries.
  MemmapStatus Add(PhysAddr base, uint64_t size, MemType type);

  // MemmapAlloc: hands out `size` bytes (rounded up to pages) of free memory of `type` aligned to `align`
  // (a power of two; at least a page is used), at exactly `fixed` when given or else at the lowest address
  // that fits, and marks them allocated so they are never handed out twice. O(n).
  static constexpr uint64_t kAnyAddress = ~uint64_t{0};
  MemmapStatus Alloc(uint64_t fixed, uint64_t size, uint64_t align, MemType type, PhysAddr* out);

  // MemmapFree: returns [base, base + size) (rounded out to pages), which must be wholly allocated memory of
  // `type`, to the free memory of that type. O(n).
  MemmapStatus Free(PhysAddr base, uint64_t size, MemType type);

  // MemmapNext: the first free range of `type` that ends above `from`, or false when there is none. Walk a
  // type with `for (r.base = 0; Next(r.end(), type, &r);)` or with Ranges(type) below. O(n).
  bool Next(PhysAddr from, MemType type, MemRange* out) const;

  // MemmapSize: total bytes of `type` in the given use. O(n).
  uint64_t Size(MemType type, MemUse use) const;

  // Prints the map as a table with sizes and the usable (free RAM) total.
  void Dump() const;

  size_t count() const { return count_; }
  const MemRange& entry(size_t i) const { return entries_[i]; }

  // Range-for over the free ranges of one type, in address order: `for (const MemRange& r :
  // map.Ranges(MemType::kRam))`. O(n) for the whole walk; the map must not change during it (walk with Next
  // to allocate on the way).
  class RangeIter {
   public:
    RangeIter(const Memmap* map, MemType type, size_t i) : map_(map), type_(type), i_(i) { SkipOthers(); }
    const MemRange& operator*() const { return map_->entries_[i_]; }
    RangeIter& operator++() {
      ++i_;
      SkipOthers();
      return *this;
    }
    bool operator!=(const RangeIter& other) const { return i_ != other.i_; }

   private:
    void SkipOthers() {
      while (i_ < map_->count_ && (map_->entries_[i_].type != type_ || map_->entries_[i_].use != MemUse::kFree)) ++i_;
    }
    const Memmap* map_;
    MemType type_;
    size_t i_;
  };
  struct RangeList {
    const Memmap* map;
    MemType type;
    RangeIter begin() const { return RangeIter(map, type, 0); }
    RangeIter end() const { return RangeIter(map, type, map->count_); }
  };
  RangeList Ranges(MemType type) const { return RangeList{this, type}; }

 private:
  // What a range of the map holds, or nothing (a hole the map says nothing about).
  struct Attr {
    bool present;
    MemType type;
    MemUse use;
  };
  enum class Op : uint8_t { kAdd, kMarkAllocated, kMarkFree };
  static Attr Apply(Op op, MemType type, Attr old);

  // The one routine that changes the map: rewrites [base, end) by `op` into scratch_, merging as it goes,
  // then commits. Fails with kFull, leaving the map untouched, when the result does not fit.
  MemmapStatus Rewrite(uint64_t base, uint64_t end, Op op, MemType type);
  // Whether [base, end) lies within one free entry of `type` (use kFree) or in allocated memory of it.
  bool Holds(uint64_t base, uint64_t end, MemType type, MemUse use) const;
  // Size, for callers that hold lock_.
  uint64_t Total(MemType type, MemUse use) const;

  uint64_t limit_;
  MemRange entries_[kCapacity];
  size_t count_ = 0;
  MemRange scratch_[kCapacity];
  // Protects count_, entries_ and scratch_; mutable so that the const readers (Next, Size, Dump) take it.
  mutable SpinLock lock_{"memmap", LockLevel::kEarlyAlloc};
};

}  // namespace kmem
