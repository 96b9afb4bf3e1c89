// The kernel's virtual layout on x86_64 (9front pc64's mem.h in spirit) and the named conversions between
// physical and kernel-virtual addresses.
#pragma once

#include <stdint.h>

#include "mm/base/addr.h"

namespace kmem::x86 {

// The kernel is linked at KZERO + 1 MiB; physical memory [0, 2 GiB) appears at KZERO.
inline constexpr uint64_t kKzero = 0xffffffff80000000;
inline constexpr uint64_t kKzeroWindow = uint64_t{2} << 30;

// The kernel-virtual address of `pa` in the KZERO window. Only valid for pa < kKzeroWindow.
constexpr VirtAddr KzeroAddressOf(PhysAddr pa) { return VirtAddr(pa.value() + kKzero); }

template <typename T>
T* KzeroPointer(PhysAddr pa) {
  return reinterpret_cast<T*>(KzeroAddressOf(pa).value());
}

}  // namespace kmem::x86
