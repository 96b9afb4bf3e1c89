// The corruption guards that pools and slab caches share and that stay on in every build: poison for freed
// memory, a tail canary after every block, header magics tied to their address, and the statistics a leak
// hunt starts from.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace kmem::pool {

// What freed memory is filled with in mainmem, imagmem and slab caches; secrmem fills with zero instead.
inline constexpr uint8_t kPoisonByte = 0x6b;
// Written right after the bytes a caller asked for; overwritten means the caller wrote past its block.
inline constexpr uint64_t kTailCanary = 0x7e11ca11ab1ef00dULL;
inline constexpr size_t kTailBytes = sizeof(kTailCanary);

// Header magics are stored XORed with the header's own address, so a header copied (or a block pointer
// forged) from elsewhere does not pass for a valid one.
inline uint64_t SealMagic(uint64_t magic, const void* at) { return magic ^ reinterpret_cast<uintptr_t>(at); }

inline void Fill(void* p, size_t n, uint8_t byte) { __builtin_memset(p, byte, n); }

// Offset of the first byte of [p, p + n) that is not `byte`, or n when all of them are. O(n), a word at a
// time.
size_t FindNot(const void* p, size_t n, uint8_t byte);

// The tail canary may sit at any byte offset, so it is copied rather than loaded through a uint64_t*.
inline void PutTail(void* at) { __builtin_memcpy(at, &kTailCanary, kTailBytes); }
inline bool TailIntact(const void* at) {
  uint64_t v;
  __builtin_memcpy(&v, at, kTailBytes);
  return v == kTailCanary;
}

// Per-pool and per-cache counters for leak hunting: what is live now and the most that ever was.
struct AllocStats {
  uint64_t live_blocks = 0;
  uint64_t live_bytes = 0;  // bytes the callers asked for (object size for caches)
  uint64_t peak_bytes = 0;  // high-water mark of live_bytes
  uint64_t allocs = 0;      // successful allocations over the lifetime
  uint64_t frees = 0;

  void OnAlloc(uint64_t bytes) {
    ++live_blocks;
    ++allocs;
    live_bytes += bytes;
    if (live_bytes > peak_bytes) peak_bytes = live_bytes;
  }
  void OnFree(uint64_t bytes) {
    --live_blocks;
    ++frees;
    live_bytes -= bytes;
  }
  void OnResize(uint64_t old_bytes, uint64_t new_bytes) {
    live_bytes = live_bytes - old_bytes + new_bytes;
    if (live_bytes > peak_bytes) peak_bytes = live_bytes;
  }
};

}  // namespace kmem::pool
