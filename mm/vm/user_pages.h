// Where a process's pages come from, for UserVm and the image cache (image.h).
#pragma once

#include <stdint.h>

#include "mm/base/addr.h"
#include "mm/vm/aspace.h"

namespace kmem {

// A user page's ageing as the page allocator keeps it (9front's modref and refage): whether some
// translation used it in the latest pass that looked at it, whether one ever wrote it, and the passes in a
// row that found it unused.
struct PageAgeing {
  bool referenced;
  bool modified;
  uint8_t refage;
};

// Where user pages come from: new_page gives a page for `va` (in va's colour where the allocator colours)
// with one reference, or false when none is left; ref adds a reference to a page handed out (fork shares
// it), put_page drops one (the last frees the page), and sole says whether the caller's reference is the
// only one left (a copy-on-write page that may be written in place); age folds what one translation of a
// page recorded since the last pass into the page's ageing for pass `pass` and says what that is now.
// PallocUserPages (palloc_pages.h) makes one over palloc.
struct UserPages {
  bool (*new_page)(void* ctx, VirtAddr va, PhysAddr* pa) = nullptr;
  void (*put_page)(void* ctx, PhysAddr pa) = nullptr;
  void (*ref)(void* ctx, PhysAddr pa) = nullptr;
  bool (*sole)(void* ctx, PhysAddr pa) = nullptr;
  PageAgeing (*age)(void* ctx, PhysAddr pa, AccessBits found, uint64_t pass) = nullptr;
  void* ctx = nullptr;
};

}  // namespace kmem
