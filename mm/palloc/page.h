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

// The bits the MMU code keeps per page (9front's Page.modref) and two bits Validate borrows while it walks.
enum class PageFlag : uint8_t {
  kModified = 1 << 0,
  kReferenced = 1 << 1,
  kValidateMark = 1 << 7,
  kValidateAllocMark = 1 << 6,
};

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
  uint8_t spare[6]; // 6: unused, keeps the size a power of two so an index is a shift
};
// 32 bytes: two descriptors per cache line and 8 MiB per GiB of RAM (0.8%); the upper bound.
static_assert(sizeof(Page) == 32, "Page must stay 32 bytes: descriptor arrays are 1/128 of RAM");

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
