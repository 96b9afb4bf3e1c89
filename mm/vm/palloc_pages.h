// Vmalloc's page source over the page allocator: single frames, any colour. The kernel passes its
// KernelPalloc; host tests pass a Palloc over any backend.
#pragma once

#include "mm/palloc/palloc.h"
#include "mm/vm/vmalloc.h"

namespace kmem {

// `palloc` must outlive the PageSource. alloc fails when no free frame is left. O(1) per call on top of
// the backend's order-0 allocation.
template <typename P>
PageSource PallocPages(P& palloc) {
  return PageSource{
      [](void* ctx, PhysAddr* pa) {
        P& p = *static_cast<P*>(ctx);
        const PageResult r = p.TryAllocContig(0);
        if (r.status != PallocStatus::kOk) return false;
        *pa = p.Pa(r.page);
        return true;
      },
      [](void* ctx, PhysAddr pa) { static_cast<P*>(ctx)->FreeContig(pa, 0); },
      &palloc,
  };
}

}  // namespace kmem
