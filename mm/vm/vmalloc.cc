#include "mm/vm/vmalloc.h"

#include "mm/base/panic.h"

namespace kmem {

const char* VmallocStatusName(VmallocStatus status) {
  switch (status) {
    case VmallocStatus::kOk: return "ok";
    case VmallocStatus::kBadSize: return "bad size";
    case VmallocStatus::kNoSpace: return "no kernel address range large enough";
    case VmallocStatus::kNoMemory: return "no memory";
    case VmallocStatus::kNotAllocated: return "not allocated by vmalloc";
  }
  return "?";
}

VmallocStatus Vmalloc::Alloc(uint64_t size, Guard guard, VirtAddr* va) {
  uint64_t bytes;
  if (size == 0 || !AlignUp(size, kPageSize, &bytes)) return VmallocStatus::kBadSize;
  VirtAddr at;
  KvaStatus k = arena_.Alloc(bytes, kPageSize, guard, &at);
  if (k == KvaStatus::kBadRequest) return VmallocStatus::kBadSize;
  if (k != KvaStatus::kOk) return VmallocStatus::kNoSpace;
  for (uint64_t off = 0; off < bytes; off += kPageSize) {
    PhysAddr page;
    if (!pages_.alloc(pages_.ctx, &page)) {
      Undo(at, bytes, off);
      return VmallocStatus::kNoMemory;
    }
    VmStatus s = kernel_.Map(at + off, page, kPageSize, Prot::kWrite, CacheMode::kCached);
    if (s != VmStatus::kOk) {
      pages_.free(pages_.ctx, page);
      Undo(at, bytes, off);
      // The arena hands out each range once and the window is the kernel's: only memory can run out.
      KASSERT(s == VmStatus::kNoMemory, "vmalloc: mapping 0x%lx in '%s': %s", (at + off).value(), arena_.name(),
              VmStatusName(s));
      return VmallocStatus::kNoMemory;
    }
  }
  *va = at;
  return VmallocStatus::kOk;
}

// A chunk at a time: its frames are read, then the chunk is unmapped in one call (one TLB shootdown, a full
// flush past TlbBatch::kMaxPages), and only then do its frames go back to the allocator, when no CPU can
// reach them any more.
void Vmalloc::Undo(VirtAddr va, uint64_t size, uint64_t mapped) {
  PhysAddr frames[kUndoChunk];
  for (uint64_t done = 0; done < mapped;) {
    const unsigned n = static_cast<unsigned>(Min<uint64_t>(kUndoChunk, (mapped - done) / kPageSize));
    for (unsigned i = 0; i < n; ++i) {
      VmMapping m;
      const VmStatus s = kernel_.Query(va + done + i * kPageSize, &m);
      KASSERT(s == VmStatus::kOk, "vmalloc: page 0x%lx of [0x%lx, +0x%lx) lost its mapping: %s",
              (va + done + i * kPageSize).value(), va.value(), size, VmStatusName(s));
      frames[i] = m.pa;
    }
    const VmStatus s = kernel_.Unmap(va + done, n * kPageSize);
    KASSERT(s == VmStatus::kOk, "vmalloc: unmapping [0x%lx, +0x%lx): %s", (va + done).value(), n * kPageSize,
            VmStatusName(s));
    for (unsigned i = 0; i < n; ++i) pages_.free(pages_.ctx, frames[i]);
    done += n * kPageSize;
  }
  KvaStatus k = arena_.Free(va, nullptr);
  KASSERT(k == KvaStatus::kOk, "vmalloc: range 0x%lx of '%s': %s", va.value(), arena_.name(), KvaStatusName(k));
}

VmallocStatus Vmalloc::Free(VirtAddr va) {
  const KvaLookup l = arena_.Find(va);
  if (l.place != KvaPlace::kRange || l.va != va) return VmallocStatus::kNotAllocated;
  Undo(va, l.size, l.size);
  return VmallocStatus::kOk;
}

}  // namespace kmem
