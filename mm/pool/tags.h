// Allocation-site tags, in the manner of 9front's malloc tags: built with --//mm/pool:tags (which defines
// KMEM_POOL_TAGS=1), every live pool block and slab object carries the pc its allocator's caller returns to,
// and PoolSites / KmemSites sum the live blocks per site for a leak hunt (the monitor's `pools`, gdb's
// `kmem leaks`). Without the flag a Site is an empty type: it takes no room in a header ([[no_unique_address]])
// and no register when passed, and the walks are not compiled, so the default build holds no trace of tags.
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifndef KMEM_POOL_TAGS
#define KMEM_POOL_TAGS 0
#endif

namespace kmem::pool {

inline constexpr bool kPoolTags = KMEM_POOL_TAGS;

template <bool kOn>
struct BasicSite {
  uintptr_t pc = 0;  // a return address in the caller of Malloc, Kmalloc, KmemCacheAlloc...
};
template <>
struct BasicSite<false> {};
using Site = BasicSite<kPoolTags>;

// The site of the public entry point this expands in: its caller's return address. A macro because
// __builtin_return_address names the frame it is written in.
#if KMEM_POOL_TAGS
#define KMEM_CALLER_SITE() (::kmem::pool::Site{reinterpret_cast<uintptr_t>(__builtin_return_address(0))})
#else
#define KMEM_CALLER_SITE() (::kmem::pool::Site{})
#endif

// Live blocks of one site.
struct SiteCount {
  uintptr_t pc = 0;
  uint64_t blocks = 0;
  uint64_t bytes = 0;  // bytes the callers asked for (object size for caches), as AllocStats counts them
};

// Live blocks per site, in a caller-supplied array (no heap): the first `capacity` distinct sites met get a
// row each, the blocks of any later site are summed in `other_*`. O(capacity) a block.
struct SiteTable {
  SiteCount* sites;
  size_t capacity;
  size_t used = 0;
  uint64_t other_blocks = 0;
  uint64_t other_bytes = 0;

  void Add(uintptr_t pc, uint64_t bytes) {
    for (size_t i = 0; i < used; ++i) {
      if (sites[i].pc == pc) {
        ++sites[i].blocks;
        sites[i].bytes += bytes;
        return;
      }
    }
    if (used == capacity) {
      ++other_blocks;
      other_bytes += bytes;
      return;
    }
    sites[used++] = SiteCount{pc, 1, bytes};
  }

  // Largest bytes first, then most blocks, then lowest pc (so two listings of one state read alike).
  // Insertion sort: O(used^2), and used is a screenful.
  void Sort() {
    for (size_t i = 1; i < used; ++i) {
      SiteCount s = sites[i];
      size_t j = i;
      for (; j > 0 && Before(s, sites[j - 1]); --j) sites[j] = sites[j - 1];
      sites[j] = s;
    }
  }

  static bool Before(const SiteCount& a, const SiteCount& b) {
    if (a.bytes != b.bytes) return a.bytes > b.bytes;
    if (a.blocks != b.blocks) return a.blocks > b.blocks;
    return a.pc < b.pc;
  }
};

// Prints the table (sorted first): one row per site (pc in hex, live blocks, live bytes), then the other
// sites' sum when some did not fit. Defined only with tags: call it under `if constexpr (kPoolTags)`.
void SitesDump(SiteTable& table);

}  // namespace kmem::pool
