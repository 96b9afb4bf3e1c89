#include "mm/pool/guard.h"

namespace kmem::pool {

size_t FindNot(const void* p, size_t n, uint8_t byte) {
  const auto* b = static_cast<const uint8_t*>(p);
  size_t i = 0;
  while (i < n && (reinterpret_cast<uintptr_t>(b + i) & 7) != 0) {
    if (b[i] != byte) return i;
    ++i;
  }
  // Eight words per step with one test: the compiler turns the block into wide compares where it can.
  const uint64_t pattern = byte * 0x0101010101010101ULL;
  while (n - i >= 64) {
    const auto* w = reinterpret_cast<const uint64_t*>(b + i);
    uint64_t diff = 0;
    for (int k = 0; k < 8; ++k) diff |= w[k] ^ pattern;
    if (diff != 0) break;
    i += 64;
  }
  for (; i < n; ++i) {
    if (b[i] != byte) return i;
  }
  return n;
}

}  // namespace kmem::pool
