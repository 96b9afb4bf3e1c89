// A Palloc on the host over made-up RAM banks: the per-bank metadata comes from the heap, as the kernel
// takes it from xalloc. The allocator never touches the frames themselves, so no PhysArena is needed.
#pragma once

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "mm/base/addr.h"
#include "mm/palloc/palloc.h"

namespace kmem::testing {

// Heap memory for palloc metadata. Large blocks are 2 MiB aligned and asked to be backed by huge pages:
// the kernel reaches descriptors through its large-page direct map, so a benchmark over 4 KiB host pages
// would measure TLB misses the kernel does not have.
inline std::unique_ptr<void, decltype(&std::free)> AllocMeta(uint64_t bytes) {
  constexpr uint64_t kHuge = 2 << 20;
  uint64_t align = bytes >= kHuge ? kHuge : 64;
  bytes = (bytes + align - 1) & ~(align - 1);
  void* p = std::aligned_alloc(align, bytes);
  if (p == nullptr) std::abort();
  if (align == kHuge) madvise(p, bytes, MADV_HUGEPAGE);
  return {p, &std::free};
}

struct BankRange {
  PhysAddr base;
  uint64_t npages;
};

template <typename Backend>
class HostPalloc {
 public:
  using P = Palloc<Backend>;

  HostPalloc(const std::vector<BankRange>& ranges, unsigned colours, PallocHooks hooks = {})
      : palloc_(std::make_unique<P>()) {
    std::vector<PallocBank> banks;
    for (const BankRange& r : ranges) {
      uint64_t bytes = P::BankBytes(r.base, r.npages);
      meta_.push_back(AllocMeta(bytes));
      meta_bytes_ += bytes;
      banks.push_back(PallocBank{r.base, r.npages, meta_.back().get()});
    }
    palloc_->PageInit(banks.data(), banks.size(), colours, hooks);
  }

  P& operator*() { return *palloc_; }
  P* operator->() { return palloc_.get(); }
  uint64_t meta_bytes() const { return meta_bytes_; }

 private:
  std::unique_ptr<P> palloc_;
  std::vector<std::unique_ptr<void, decltype(&std::free)>> meta_;
  uint64_t meta_bytes_ = 0;
};

}  // namespace kmem::testing
