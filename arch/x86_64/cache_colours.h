// The number of page colours of this CPU, from CPUID leaf 4 (deterministic cache parameters; AMD's
// 0x8000001d): for the
// largest unified or data cache, size / (ways x page size) is how many page-sized slices one way holds,
// so frames whose pfn agrees modulo that count compete for the same cache sets. Kernel-only: host tests
// pass explicit counts to PageInit.
#pragma once

namespace kmem::x86 {

// A power of two in [1, kMaxColours], from the largest data or unified cache: rounded down, clamped, and
// 1 on CPUs that describe no caches (some QEMU CPU models), where colouring then does nothing.
unsigned CacheColours();

}  // namespace kmem::x86
