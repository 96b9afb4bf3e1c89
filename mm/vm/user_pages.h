// Where a process's pages come from, for UserVm and the image cache (image.h).
#pragma once

#include "mm/base/addr.h"

namespace kmem {

// Where user pages come from: new_page gives a page for `va` (in va's colour where the allocator colours)
// with one reference, or false when none is left; ref adds a reference to a page handed out (fork shares
// it), put_page drops one (the last frees the page), and sole says whether the caller's reference is the
// only one left (a copy-on-write page that may be written in place). PallocUserPages (palloc_pages.h)
// makes one over palloc.
struct UserPages {
  bool (*new_page)(void* ctx, VirtAddr va, PhysAddr* pa) = nullptr;
  void (*put_page)(void* ctx, PhysAddr pa) = nullptr;
  void (*ref)(void* ctx, PhysAddr pa) = nullptr;
  bool (*sole)(void* ctx, PhysAddr pa) = nullptr;
  void* ctx = nullptr;
};

}  // namespace kmem
