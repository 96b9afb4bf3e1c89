#include "arch/x86_64/cache_colours.h"

#include <stdint.h>

#include "mm/base/addr.h"
#include "mm/palloc/page.h"

namespace kmem::x86 {
namespace {

struct CpuidRegs {
  uint32_t eax, ebx, ecx, edx;
};

CpuidRegs Cpuid(uint32_t leaf, uint32_t subleaf) {
  CpuidRegs r;
  asm volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
  return r;
}

}  // namespace

unsigned CacheColours() {
  // Intel describes its caches in leaf 4; AMD in leaf 0x8000001d, same layout, leaf 4 reading as zeros.
  uint32_t leaf = Cpuid(0, 0).eax >= 4 && (Cpuid(4, 0).eax & 0x1f) != 0 ? 4 : 0x8000001d;
  if (leaf != 4 && Cpuid(0x80000000, 0).eax < leaf) return 1;
  uint64_t largest = 0, colours = 1;
  for (uint32_t i = 0; i < 16; ++i) {
    CpuidRegs r = Cpuid(leaf, i);
    uint32_t type = r.eax & 0x1f;  // 0: no more caches, 1: data, 2: instruction, 3: unified
    if (type == 0) break;
    if (type == 2) continue;
    uint64_t ways = (r.ebx >> 22) + 1;
    uint64_t partitions = ((r.ebx >> 12) & 0x3ff) + 1;
    uint64_t line = (r.ebx & 0xfff) + 1;
    uint64_t sets = uint64_t{r.ecx} + 1;
    uint64_t size = ways * partitions * line * sets;
    if (size > largest) {
      largest = size;
      colours = size / (ways * kPageSize);
    }
  }
  unsigned pow2 = 1;
  while (pow2 * 2 <= colours && pow2 * 2 <= kMaxColours) pow2 *= 2;
  return pow2;
}

}  // namespace kmem::x86
