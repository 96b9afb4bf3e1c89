#include "testing/phys_arena.h"

#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>

namespace kmem::testing {

namespace {

// The kernel's direct map keeps physical alignment up to its 1 GiB pages, and the page allocator's largest
// block is 1 GiB (kMaxOrder): code that finds a span's start by masking a pointer (slabs) relies on a
// naturally aligned block being aligned in virtual memory too. mmap alone guarantees only a page.
constexpr uint64_t kAlign = uint64_t{1} << 30;

}  // namespace

PhysArena::PhysArena(PhysAddr base, uint64_t size) {
  void* reserved = mmap(nullptr, size + kAlign, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                        -1, 0);
  if (reserved == MAP_FAILED) {
    std::perror("PhysArena mmap");
    std::abort();
  }
  // The first address at or after `reserved` congruent to `base` modulo kAlign; the rest goes back.
  const uintptr_t start = reinterpret_cast<uintptr_t>(reserved);
  const uintptr_t at = start + ((base.value() - start) & (kAlign - 1));
  if (at > start) munmap(reserved, at - start);
  munmap(reinterpret_cast<void*>(at + size), start + kAlign - at);
  mem_ = reinterpret_cast<void*>(at);
  map_ = DirectMap(base, size, at);
}

PhysArena::~PhysArena() { munmap(mem_, map_.size()); }

void PhysArena::Revoke(PhysAddr pa, uint64_t len) {
  if (!map_.Covers(pa, len) || mprotect(map_.Kaddr(pa), len, PROT_NONE) != 0) {
    std::fprintf(stderr, "PhysArena::Revoke(0x%llx, 0x%llx) failed\n", static_cast<unsigned long long>(pa.value()),
                 static_cast<unsigned long long>(len));
    std::abort();
  }
}

}  // namespace kmem::testing
