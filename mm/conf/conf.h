// The machine's memory configuration (9front's Conf and Confmem): the RAM ranges become at most 64 page-
// aligned banks, and Confinit splits their pages between the kernel (its share goes to xalloc) and user
// memory (the page allocator's), and sizes the process, image and swap tables from the totals.
//
// Invariant after Confinit: banks are sorted, disjoint and non-touching; kpages + upages == npage; each
// bank's kernel pages are its lowest ones and lie inside the kernel window, at [kbase, klimit).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/base/addr.h"
#include "mm/base/direct_map.h"
#include "mm/base/ram_range.h"

namespace kmem {

struct Confmem {
  PhysAddr base;     // page-aligned
  uint64_t npage = 0;
  VirtAddr kbase;    // KADDR(base) when the bank gives the kernel pages, else 0
  VirtAddr klimit;   // kbase + the bank's kernel pages * kPageSize
  uint64_t kpages() const { return (klimit - kbase) / kPageSize; }
};

struct Conf {
  static constexpr size_t kMaxBanks = kMaxRamBanks;

  Confmem mem[kMaxBanks];
  size_t nmem = 0;
  uint64_t npage = 0;   // pages in all banks
  uint64_t kpages = 0;  // the kernel's share
  uint64_t upages = 0;  // user memory: npage - kpages
  uint64_t nproc = 0;   // processes the kernel share can hold
  uint64_t nimage = 0;  // cached program images
  uint64_t nswap = 0;   // pages of the swap map
  uint64_t kernel_image_bytes = 0;
  unsigned nmach = 1;   // CPUs online: the boot CPU until the SMP start-up counts the others
  // Pool limits (9front's confinit sets mainmem->maxsize and imagmem->maxsize): see Confinit.
  uint64_t mainmem_limit = 0;
  uint64_t imagmem_limit = 0;
  uint64_t secrmem_limit = 0;

  // The kernel's share of each bank, in bank order, for HoleAllocator::Xinit; and the rest, for the page
  // allocator. Write at most `cap` ranges and return how many there are. O(nmem).
  size_t KernelRanges(RamRange* out, size_t cap) const;
  size_t UserRanges(RamRange* out, size_t cap) const;
};

struct ConfParams {
  // The kernel's window on physical memory: only pages it covers can be kernel pages (they need a KADDR).
  DirectMap kernel_window;
  // The loaded kernel (text, data, bss): not in the RAM ranges, but counted as kernel memory in the line.
  uint64_t kernel_image_bytes = 0;
  // The architecture's low memory, which the kernel and its tables never live in (the PC's first MiB):
  // RAM that all lies below it is nothing to run on.
  PhysAddr low_memory_end;
};

enum class ConfStatus {
  kOk,
  kNoRamAboveLowMemory,  // nothing to run on: no bank ends above ConfParams::low_memory_end
  kTooManyBanks,         // more than kMaxBanks disjoint page-aligned ranges
};
const char* ConfStatusName(ConfStatus status);

// confinit: builds the banks from `ranges` (any order; trimmed inward to pages, touching or overlapping
// ones merged), computes the split and the table sizes (rules in conf.cc), and prints
//     NM memory: AM kernel data, BM user, CM swap
// (9front's line: N total memory and B user memory rounded to the nearest MiB, A = N - B, C the swap
// map's capacity rounded down).
// On an error it prints nothing, leaves *conf unspecified and the caller reports the status.
// O(n log n + n * kMaxBanks).
ConfStatus Confinit(const RamRange* ranges, size_t n, const ConfParams& params, Conf* conf);

// What the boot takes from each share of the split before any process runs (its self-tests), for the
// kernel's minimum memory.
struct ConfNeeds {
  uint64_t kernel_bytes = 0;        // from the kernel share (xalloc) after xinit
  uint64_t user_bytes = 0;          // from the user share (the page allocator), besides its arrays
  uint64_t arrays_per_page = 0;     // the page allocator's arrays per user page, in bytes, rounded up
  uint64_t arrays_fixed = 0;        // and per bank, rounded up to the whole pages they take
  uint64_t mainmem_bytes = 0;       // the least mainmem limit that serves the boot
  uint64_t secrmem_bytes = 0;       // the same for secrmem
};

// The fewest pages of RAM (all of it inside the kernel window, in one bank) on which Confinit's split meets
// `needs`. The shares and the limits only grow with memory, so it is a binary search. O(log pages).
uint64_t ConfMinPages(const ConfNeeds& needs);

}  // namespace kmem
