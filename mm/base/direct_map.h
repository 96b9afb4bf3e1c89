// How arch-independent mm/ code reaches physical memory: a linear window in which physical address pa
// lives at virtual address virt_base + (pa - phys_base). The kernel passes its KZERO window (later the
// direct map of all RAM); host tests pass a simulated arena from testing/. A value type with no virtual
// dispatch, so the translation costs an add and a bounds check.
#pragma once

#include <stdint.h>

#include "mm/base/addr.h"
#include "mm/base/panic.h"

namespace kmem {

class DirectMap {
 public:
  constexpr DirectMap() = default;
  constexpr DirectMap(PhysAddr phys_base, uint64_t size, uintptr_t virt_base)
      : phys_base_(phys_base), size_(size), virt_base_(virt_base) {}

  constexpr PhysAddr phys_base() const { return phys_base_; }
  constexpr uint64_t size() const { return size_; }

  // Whether [pa, pa + len) lies inside the window.
  constexpr bool Covers(PhysAddr pa, uint64_t len) const {
    return pa >= phys_base_ && pa - phys_base_ <= size_ && len <= size_ - (pa - phys_base_);
  }

  // KADDR: the pointer through which the kernel reaches `pa`. Panics outside the window: a physical
  // address nobody mapped is a broken invariant, not an error to return.
  template <typename T = void>
  T* Kaddr(PhysAddr pa) const {
    KASSERT(Covers(pa, 0), "pa 0x%llx outside the direct map [0x%llx, +0x%llx)",
            static_cast<unsigned long long>(pa.value()), static_cast<unsigned long long>(phys_base_.value()),
            static_cast<unsigned long long>(size_));
    return reinterpret_cast<T*>(virt_base_ + (pa - phys_base_));
  }

  // PADDR: the physical address behind a pointer obtained from Kaddr.
  PhysAddr Paddr(const void* p) const {
    uintptr_t v = reinterpret_cast<uintptr_t>(p);
    KASSERT(v >= virt_base_ && v - virt_base_ <= size_, "pointer %p is not in the direct map", p);
    return phys_base_ + (v - virt_base_);
  }

 private:
  PhysAddr phys_base_;
  uint64_t size_ = 0;
  uintptr_t virt_base_ = 0;
};

}  // namespace kmem
