#include "testing/phys_arena.h"

#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>

namespace kmem::testing {

PhysArena::PhysArena(PhysAddr base, uint64_t size) {
  mem_ = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem_ == MAP_FAILED) {
    std::perror("PhysArena mmap");
    std::abort();
  }
  map_ = DirectMap(base, size, reinterpret_cast<uintptr_t>(mem_));
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
