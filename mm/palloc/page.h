// The page descriptor and the vocabulary shared by palloc and its backends: one Page per physical frame of
// every RAM bank, kept in per-bank arrays in caller-supplied memory (9front's preallocpages), so holes in
// the physical address space cost no descriptors. A descriptor's physical address is derived from its
// position in its bank's array, never stored.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/base/addr.h"
#include "mm/base/ram_range.h"

namespace kmem {

// Contiguous blocks go up to 2^18 pages = 1 GiB, so a 1 GiB page can be backed by one allocation.
inline constexpr unsigned kMaxOrder = 18;
inline constexpr unsigned kOrders = kMaxOrder + 1;
inline constexpr unsigned kMaxBanks = kMaxRamBanks;
inline constexpr unsigned kAnyColour = ~0u;

// The two bits Validate borrows in `flags` while it walks.
enum class PageFlag : uint8_t {
  kValidateMark = 1 << 7,
  kValidateAllocMark = 1 << 6,
};

// 9front's Page.modref: what the page-table accessed and dirty bits of a user page's translations said,
// gathered by the ageing pass (AgePage). kModified stays set until the page is freed: the dirty bit it came
// from was cleared, and only writing the page out (swap, not in kmem) could make it clean again.
enum class ModRef : uint8_t {
  kModified = 1 << 0,    // some translation was written through
  kReferenced = 1 << 1,  // some translation was used in the pass that last aged the page
};
constexpr ModRef operator|(ModRef a, ModRef b) { return ModRef(static_cast<uint8_t>(a) | static_cast<uint8_t>(b)); }
constexpr bool Has(ModRef set, ModRef m) { return (static_cast<uint8_t>(set) & static_cast<uint8_t>(m)) != 0; }

// 9front's refage: passes in a row that found a user page unreferenced, up to kMaxRefAge.
inline constexpr uint8_t kMaxRefAge = 255;

// A user page's reference count. Ref panics rather than take it past kMaxPageRef: wrapping to 0 would
// let the next PutPage free the page under its remaining holders.
using PageRef = uint32_t;
inline constexpr PageRef kMaxPageRef = ~PageRef{0};

// Who holds a block of a per-CPU-cached order (palloc.h's kCachedOrders), kept in its head's descriptor so
// that a CPU moves the block between its cache and a caller, and checks the move, without touching the
// zone's shared bitmaps: different descriptors are different memory locations, so no atomics are needed.
// Every other frame, and the head of every larger block, stays kZone; the zone's per-order bitmaps say
// which of those are allocated.
enum class PageUse : uint8_t {
  kZone = 0,  // free in its zone, or a frame of a block that is not of a cached order
  kCached,    // free, in some CPU's page cache (allocated as far as the zone's bitmaps go)
  kBlock,     // handed out by TryAllocContig at order `order`
  kUser,      // handed out by NewPage
};

// Whether a frame is free, and the order of the block it heads, are kept in palloc's per-order bitmaps
// (palloc.h) under the zone lock; `use` and `order` add what the per-CPU caches need.
struct Page {
  Page* next;       // 8: free-list link of the colour lists; the chain link of FreePages(head, tail, n)
  uint64_t va;      // 8: the user virtual address the page backs (NewPage's va), 0 otherwise
  PageRef ref;      // 4: reference count of a user page; 0 for free pages and contiguous blocks
  uint16_t colour;  // 2: pfn mod the colour count, kept so the colour lists need no bank lookup
  uint8_t bank;     // 1: index of the bank whose array holds this descriptor: Pa() starts from it
  uint8_t flags;    // 1: PageFlag bits
  PageUse use;      // 1: see PageUse; written by the CPU that holds the block
  uint8_t order;    // 1: the order of the block this frame heads while `use` is kCached or kBlock
  // The ageing of a user page (AgePage, by the one ageing pass, under the lock of a space that maps it);
  // all 0 from the free lists. A byte each of their own, apart from `flags`: Validate's marks are written
  // under other locks.
  ModRef modref;    // 1: see ModRef
  uint8_t refage;   // 1: see kMaxRefAge
  uint8_t aged;     // 1: the low byte of the pass that last aged the page (a new page's 0: a pass whose low
                    //    byte is 0 skips its first ageing, which costs it one pass of age)
  uint8_t zone;     // 1: the PallocZone of the frame's bank piece: a free finds its CPU's cache from the
                    //    descriptor's own line, with no bank lookup in the chain of loads before the push
  uint8_t spare[2]; // 2: unused, keeps the size a power of two so an index is a shift
};
// 32 bytes: two descriptors per cache line and 8 MiB per GiB of RAM (0.8%); the upper bound.
static_assert(sizeof(Page) == 32, "Page must stay 32 bytes: descriptor arrays are 1/128 of RAM");

// What one translation of a user page showed a pass: its accessed bit as kReferenced and its dirty bit as
// kModified, both cleared there since. AgePage folds that into the page for pass `pass` (a count of
// passes; the page keeps its low byte): the pass's first look at the page drops kReferenced and adds one to
// refage (up to kMaxRefAge), and any look that found the page referenced sets kReferenced and refage 0.
// A page fork shares is looked at by each space that maps it, and so ages once a pass however many do,
// and is young if any of them used it. kModified accumulates. Returns the page's modref and refage. O(1).
struct PageAge {
  ModRef modref;
  uint8_t refage;
};
inline PageAge AgePage(Page& page, ModRef found, uint64_t pass) {
  const auto stamp = static_cast<uint8_t>(pass);
  auto bits = static_cast<uint8_t>(page.modref);
  if (page.aged != stamp) {
    page.aged = stamp;
    bits &= static_cast<uint8_t>(~static_cast<uint8_t>(ModRef::kReferenced));
    if (page.refage < kMaxRefAge) ++page.refage;
  }
  if (Has(found, ModRef::kReferenced)) page.refage = 0;
  page.modref = ModRef(bits | static_cast<uint8_t>(found));
  return PageAge{page.modref, page.refage};
}

// Whether a backend honours Alloc's colour hint (the colour backend) or ignores it (the buddy backend).
// Palloc's per-CPU caches do not sort pages by colour, so a coloured request to a backend that honours
// the hint goes past them to the zone.
enum class Colouring : uint8_t { kIgnoresHint, kHonoursHint };

// One RAM bank as the caller hands it to PageInit: the frames [base, base + npages * kPageSize) and
// Palloc::BankBytes(base, npages) bytes of 64-byte-aligned memory, any contents, for its descriptors,
// bitmaps and backend structures, which PageInit initialises (the kernel takes it off the top of a user
// bank, mm/palloc/prealloc.h; host tests from the heap).
struct PallocBank {
  PhysAddr base;
  uint64_t npages;
  void* meta;
};

enum class PallocStatus : uint8_t {
  kOk,
  kNoMemory,
};

// The answer of the try-variants: a head descriptor, or kNoMemory and no page.
struct PageResult {
  PallocStatus status;
  Page* page;
};

}  // namespace kmem
