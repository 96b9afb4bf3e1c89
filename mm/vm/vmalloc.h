// Vmalloc (Linux's vmalloc): virtually contiguous kernel memory made of single pages from the page
// allocator, mapped at a range of a kernel-VA arena whose guard page stays unmapped, so running off the
// end of a buffer (Guard::kAbove) or off the bottom of a kernel stack (Guard::kBelow) faults instead of
// reaching a neighbour. Memory is not zeroed. All or nothing: a failed allocation gives back every page,
// table and address it took.
#pragma once

#include <stdint.h>

#include "mm/vm/aspace.h"
#include "mm/vm/kva.h"

namespace kmem {

// Where Vmalloc's pages come from and go back to: the page allocator in the kernel, a fake on the host.
struct PageSource {
  bool (*alloc)(void* ctx, PhysAddr* page) = nullptr;  // false when no page is left
  void (*free)(void* ctx, PhysAddr page) = nullptr;
  void* ctx = nullptr;
};

enum class VmallocStatus : uint8_t {
  kOk,
  kBadSize,       // size 0, or too large to round up to whole pages
  kNoSpace,       // no range of the arena is large enough (or no record is left)
  kNoMemory,      // no page for the memory or for a page table
  kNotAllocated,  // Vfree of an address Vmalloc did not return
};
const char* VmallocStatusName(VmallocStatus status);

class Vmalloc {
 public:
  // Maps into `kernel` (the kernel's address space) at ranges of `arena`, with pages from `pages`.
  constexpr Vmalloc(KvaArena& arena, AddressSpace& kernel, PageSource pages)
      : arena_(arena), kernel_(kernel), pages_(pages) {}

  // `size` bytes rounded up to whole pages, writable, not executable. O(pages).
  VmallocStatus Alloc(uint64_t size, Guard guard, VirtAddr* va);
  // Unmaps and frees what Alloc returned at `va`. O(pages).
  VmallocStatus Free(VirtAddr va);

 private:
  // Pages unmapped by one call, so by one TLB shootdown, when a range goes.
  static constexpr unsigned kUndoChunk = 64;

  // Unmaps the first `mapped` bytes of the range [va, va + size), gives back their pages, then the range.
  // O(pages); one unmap (and shootdown) per kUndoChunk pages.
  void Undo(VirtAddr va, uint64_t size, uint64_t mapped);

  KvaArena& arena_;
  AddressSpace& kernel_;
  PageSource pages_;
};

}  // namespace kmem
