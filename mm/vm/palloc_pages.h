// Vmalloc's page source over the page allocator (single frames, any colour) and UserVm's (NewPage and
// PutPage: user pages in their address's colour). The kernel passes its KernelPalloc; host tests pass a
// Palloc over any backend.
#pragma once

#include "mm/palloc/palloc.h"
#include "mm/vm/user_vm.h"
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

// A user page from TryNewPage (it fails rather than sleeps: a fault reports kNoMemory), and Ref, PutPage,
// the reference count and AgePage of the descriptor behind a physical address. O(1) on palloc's fast path, plus
// PageOf's O(log banks).
template <typename P>
UserPages PallocUserPages(P& palloc) {
  return UserPages{
      [](void* ctx, VirtAddr va, PhysAddr* pa) {
        P& p = *static_cast<P*>(ctx);
        const PageResult r = p.TryNewPage(va);
        if (r.status != PallocStatus::kOk) return false;
        *pa = p.Pa(r.page);
        return true;
      },
      [](void* ctx, PhysAddr pa) {
        P& p = *static_cast<P*>(ctx);
        p.PutPage(p.PageOf(pa));
      },
      [](void* ctx, PhysAddr pa) {
        P& p = *static_cast<P*>(ctx);
        p.Ref(p.PageOf(pa));
      },
      [](void* ctx, PhysAddr pa) {
        P& p = *static_cast<P*>(ctx);
        return p.Refs(p.PageOf(pa)) == 1;
      },
      [](void* ctx, PhysAddr pa, AccessBits found, uint64_t pass) {
        P& p = *static_cast<P*>(ctx);
        ModRef seen{};
        if (Has(found, AccessBits::kAccessed)) seen = seen | ModRef::kReferenced;
        if (Has(found, AccessBits::kDirty)) seen = seen | ModRef::kModified;
        const PageAge a = AgePage(*p.PageOf(pa), seen, pass);
        return PageAgeing{Has(a.modref, ModRef::kReferenced), Has(a.modref, ModRef::kModified), a.refage};
      },
      &palloc,
  };
}

}  // namespace kmem
