// xalloc: the kernel's early allocator (9front's port/xalloc.c). Memory donated with Xhole becomes
// "holes"; an allocation takes the bottom of the first hole that fits, a free puts the block back and
// coalesces it with its neighbours. It serves boot-time structures (page tables, the page array, pools)
// before the page allocator exists, and whatever memory the kernel keeps for itself after the split.
//
// Invariant: every donated byte is in exactly one hole or one block ("tile"), and the tiles between two
// holes follow each other with no gap, so each can be found by walking from the hole below it. A block
// is [pad][header][payload]: the header sits right before the pointer handed out, and the pad (present
// only when alignment pushed the pointer up) carries a marker header so the walk can step over it.
//
// Locking: one SpinLock (early-allocator level, mm/base/lock.h) protects the tables, the counters and
// every header and pad marker; each public operation takes it. xalloc is a leaf: it calls no other locked
// code while holding it (Rampage asks the early page source after dropping it). Callers may hold global
// and address-space locks (the kernel's page tables take their pages from Rampage under the space's lock,
// the pools grow from xalloc under theirs), never a zone lock.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/base/addr.h"
#include "mm/base/direct_map.h"
#include "mm/base/lock.h"
#include "mm/base/ram_range.h"
#include "mm/base/zero.h"
#include "mm/xalloc/range_table.h"

namespace kmem {


enum class XholeStatus {
  kOk,
  kTooSmall,          // after trimming to 16-byte boundaries nothing usable is left
  kOutsideDirectMap,  // the range is not reachable through the DirectMap (no KADDR for it)
  kOverlaps,          // some of it was donated already
  kHoleTableFull,     // the hole table has no free slot for a range that touches no hole
  kArenaTableFull,    // the table of donated ranges has no free slot
};
const char* XholeStatusName(XholeStatus status);

// A pointer returned by the allocator as the range of memory its block occupies: [base, base + size)
// covers pad, header and payload. What Block() reports; the tests' reference model checks it.
struct XallocBlock {
  PhysAddr base;
  uint64_t size = 0;
};

struct XallocStats {
  uint64_t donated = 0;    // bytes given by Xhole (after trimming)
  uint64_t free = 0;       // bytes in holes
  uint64_t allocated = 0;  // bytes in live blocks, pads and headers included
  uint64_t headers = 0;    // bytes of block headers and pad markers among them
  uint64_t blocks = 0;     // live blocks
  uint64_t leaked = 0;     // bytes freed while the hole table was full: lost, but never handed out again
  uint64_t holes = 0;
};

// Where page-table pages come from before Xinit: the kernel wires the memory map's allocator in here.
// `take` returns false when it has no page left; the page it stores in *out must be page-aligned.
struct EarlyPageSource {
  bool (*take)(void* ctx, PhysAddr* out) = nullptr;
  void* ctx = nullptr;
};

class HoleAllocator {
 public:
  // 9front's count. Each donated RAM range needs one hole (there are at most kMaxRamBanks), and a
  // block freed out of address order needs one until its neighbours are freed. Boot-time allocations are
  // mostly permanent, so the other 64 slots leave ample room; when they run out a free leaks (counted in
  // Stats().leaked and printed) rather than losing track of the table.
  static constexpr size_t kMaxHoles = 128;
  // Disjoint donated ranges (touching donations merge): one per memory bank.
  static constexpr size_t kMaxArenas = kMaxRamBanks;
  // Payloads are 16-byte aligned, the alignment of any C++ object the kernel builds.
  static constexpr uint64_t kMinAlign = 16;
  // Every block starts with a header (below); a block whose payload was aligned up has a second one,
  // marking the pad below it.
  static constexpr uint64_t kHeaderBytes = 32;

  constexpr explicit HoleAllocator(DirectMap map) : map_(map) {}
  HoleAllocator(const HoleAllocator&) = delete;
  HoleAllocator& operator=(const HoleAllocator&) = delete;

  // xinit: donates each range (Xhole) and switches Rampage to Xspanalloc. Stops at the first range
  // that fails and returns its status (the ranges before it stay donated). Prints nothing; the kernel
  // calls Xsummary after it. O(n * kMaxHoles).
  XholeStatus Xinit(const RamRange* ranges, size_t n);

  // Donates [base, base + size), trimmed inward to 16-byte boundaries, as a new hole (merged with any
  // it touches). Changes nothing unless it returns kOk. O(kMaxHoles).
  XholeStatus Xhole(PhysAddr base, uint64_t size);

  // `size` zeroed bytes, 16-byte aligned; nullptr when no hole is big enough (the table is untouched;
  // the caller reports what it needed). A block costs its size rounded up to 16 plus a 32-byte header.
  // Size 0 is served as 1, as 9front's xalloc(0) returns a real block: the pointer then lies inside its
  // own block (one past a header-only block could be one past the direct map, which Xfree refuses), and
  // is distinct from every other live pointer. First fit in address order: O(kMaxHoles), plus the zeroing.
  void* Xalloc(uint64_t size) { return Xallocz(size, Zero::kYes); }
  void* Xallocz(uint64_t size, Zero zero);
  // `size` zeroed bytes at an address aligned to `align`, not crossing a multiple of `span` (0: no
  // limit). Both are powers of two (align 0 means 16); size > span returns nullptr; size 0 is served as 1,
  // like Xalloc. First fit; the pad below an aligned payload belongs to the block (a page-aligned page
  // costs up to two pages).
  void* Xspanalloc(uint64_t size, uint64_t align, uint64_t span);

  // Returns a block to the holes. A pointer that is not a live block (outside the allocator, already
  // freed, into the middle of a block, header overwritten; nullptr is foreign), or a block that ran over
  // the header of the tile above it, prints Xsummary and panics naming the address and the fault. O(log kMaxHoles) to check, O(kMaxHoles) to insert; a bad pointer costs a walk of the
  // blocks between two holes to diagnose.
  void Xfree(void* ptr);

  // Prints the holes and the totals on the console.
  void Xsummary() const;

  // rampage: one zeroed page-aligned page for a page table, through the DirectMap. From the early
  // source until Xinit, from Xspanalloc after. nullptr when the source is exhausted.
  void* Rampage();
  void SetEarlyPageSource(EarlyPageSource source);

  // The block `ptr` (a live pointer from this allocator) occupies; panics like Xfree otherwise.
  XallocBlock Block(const void* ptr) const;
  XallocStats Stats() const;
  size_t HoleCount() const;
  RamRange Hole(size_t i) const;
  // Walks every hole and block and checks the invariant above and the counters; panics on a mismatch.
  // O(blocks).
  void Validate() const;

 private:
  // Sits right below every pointer handed out, and at the start of a pad as its marker.
  struct Header {
    uint64_t magic;  // a tag ^ the header's physical address (xalloc.cc)
    uint64_t size;   // block: bytes from this header to the block's end; pad marker: bytes of pad
    uint64_t lead;   // block: bytes of pad below this header (0, or at least one header); pad marker: 0
    uint64_t check;  // magic ^ size ^ lead ^ a tag: a partly overwritten header fails
  };
  // Two 16-byte units: keeps the payload 16-byte aligned, and holds the lead so that an aligned block
  // can be freed whole without another table.
  static_assert(sizeof(Header) == kHeaderBytes, "xalloc headers are two 16-byte units");
  struct Tile;
  // The unlocked cores of the public operations above, for callers that hold lock_.
  XholeStatus AddHole(PhysAddr base, uint64_t size);
  void* FirstFit(uint64_t size, uint64_t align, uint64_t span, Zero zero);
  void Summary() const;
  PhysAddr CheckedHeader(const void* ptr, const char* verb) const;
  void CheckTileAbove(const void* ptr, PhysAddr h, const char* verb) const;
  [[noreturn]] void Corrupt(const char* verb, const void* ptr, const char* fmt, ...) const
      __attribute__((format(printf, 4, 5)));
  RamRange GapAround(PhysAddr pa) const;
  Tile TileAt(PhysAddr p, PhysAddr gap_end) const;
  Header* HeaderAt(PhysAddr pa) const;
  bool Carve(size_t hole, uint64_t size, uint64_t align, uint64_t span, PhysAddr* data);

  DirectMap map_;
  RangeTable<kMaxHoles> holes_;
  RangeTable<kMaxArenas> arenas_;
  EarlyPageSource early_;
  bool ready_ = false;
  uint64_t donated_ = 0;
  uint64_t free_ = 0;
  uint64_t allocated_ = 0;
  uint64_t headers_ = 0;
  uint64_t blocks_ = 0;
  uint64_t leaked_ = 0;
  // Protects everything above (and the headers in the donated memory); mutable so that the const readers
  // (Stats, Validate, Xsummary, Block) take it too.
  mutable SpinLock lock_{"xalloc", LockLevel::kEarlyAlloc};
};

}  // namespace kmem
