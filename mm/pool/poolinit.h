// The kernel pools' set-up from confinit (9front's order): mainmem, imagmem and secrmem grow from xalloc as
// soon as xinit has run, and from whole blocks of the page allocator once pageinit has; the slab caches and
// Kmalloc take pages from the start. Limits come from confinit.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/base/direct_map.h"
#include "mm/base/panic.h"
#include "mm/conf/conf.h"
#include "mm/palloc/palloc.h"
#include "mm/pool/pool.h"
#include "mm/pool/source.h"
#include "mm/xalloc/xalloc.h"

namespace kmem::pool {

// The smallest arena a pool takes from its source at once.
inline constexpr uint64_t kPoolQuantum = 64 << 10;

// After xinit: the three pools over `xalloc` (which must outlive them), with `conf`'s limits; prints them.
void PoolsEarly(const Conf& conf, HoleAllocator& xalloc);

// After pageinit: the pools switch to `pages` with `conf`'s limits and wait through `sync` from now on, and
// the slab caches start over `pages`.
void PoolsLate(const Conf& conf, const MemSource& pages, const PoolSync& sync);

// The buddy order whose naturally aligned block holds `bytes` at alignment `align`.
unsigned SpanOrder(size_t bytes, size_t align);

// Spans of whole page blocks from a page allocator `P`, reached through `direct`. Pools take arenas
// aligned to at most their size and slabs aligned to exactly theirs, so the order of a span follows from
// its size alone when it comes back. The object must outlive the sources it hands out. It counts the pages
// it holds per zone, so that a test can tell pages the pools grew by from pages lost.
template <typename P>
class PageSpans {
 public:
  constexpr PageSpans() = default;
  PageSpans(P& palloc, const DirectMap& direct) : palloc_(&palloc), direct_(direct) {}

  MemSource source() { return MemSource{this, Take, Give}; }
  // The pages of `zone` handed out and not given back (a relaxed read: exact when no CPU is using them).
  uint64_t Held(PallocZone zone) const {
    return __atomic_load_n(&held_[static_cast<unsigned>(zone)], __ATOMIC_RELAXED);
  }

 private:
  static void* Take(void* ctx, size_t bytes, size_t align) {
    auto* self = static_cast<PageSpans*>(ctx);
    unsigned order = SpanOrder(bytes, align);
    KASSERT(order == SpanOrder(bytes, kPageSize), "a %zu-byte span aligned to %zu could not be given back",
            bytes, align);
    if (order > kMaxOrder) return nullptr;
    PageResult r = self->palloc_->TryAllocContig(order);
    if (r.status != PallocStatus::kOk) return nullptr;
    self->Count(r.page, int64_t{1} << order);
    return self->direct_.Kaddr(self->palloc_->Pa(r.page));
  }

  static void Give(void* ctx, void* span, size_t bytes) {
    auto* self = static_cast<PageSpans*>(ctx);
    const unsigned order = SpanOrder(bytes, kPageSize);
    const PhysAddr pa = self->direct_.Paddr(span);
    self->Count(self->palloc_->PageOf(pa), -(int64_t{1} << order));
    self->palloc_->FreeContig(pa, order);
  }

  void Count(const Page* head, int64_t pages) {
    __atomic_fetch_add(&held_[static_cast<unsigned>(palloc_->ZoneOf(head))], static_cast<uint64_t>(pages),
                       __ATOMIC_RELAXED);
  }

  P* palloc_ = nullptr;
  DirectMap direct_;
  uint64_t held_[kZones] = {};
};

}  // namespace kmem::pool
