// Where pools and slab caches get their backing memory, and how a pool waits for memory. Both are small
// hook structs filled in by whoever owns the lower layer: xalloc early in boot, the page allocator later,
// a heap-backed fake in host tests (testing/pool_host.h). Plain function pointers keep mm/pool free of
// virtual dispatch and of any dependency on the layers below it.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/base/zero.h"

namespace kmem::pool {

// Whether newly handed-out memory is cleared (9front mallocz's clr): mm/base/zero.h.
using kmem::Zero;

// A supplier of backing memory in large spans (pool arenas, slabs).
struct MemSource {
  void* ctx = nullptr;
  // Returns `bytes` of kernel-addressable memory aligned to `align` (both powers of two, at least
  // kPageSize), or nullptr when the supplier has none left. Never called with a lock of the supplier held.
  void* (*take)(void* ctx, size_t bytes, size_t align) = nullptr;
  // Gives back a span obtained from `take`, with the same `bytes`. nullptr when the supplier cannot take
  // memory back (xalloc early in boot): then spans stay with their pool or cache for good.
  void (*give)(void* ctx, void* span, size_t bytes) = nullptr;
};

// How Smalloc waits for memory in one pool (the pool's own SpinLock serialises the pool; these hooks are a
// sleep lock and condition variable beside it). All hooks may be nullptr: the kernel has no sleep yet, and
// Smalloc then panics instead of waiting forever. Smalloc holds `lock` from an attempt that failed until
// `sleep`, and a free calls `wakeup` under `lock` after the pool's lock is released, so no wakeup is lost.
struct PoolSync {
  void* ctx = nullptr;
  void (*lock)(void* ctx) = nullptr;
  void (*unlock)(void* ctx) = nullptr;
  // Blocks until wakeup is called; entered and left with the lock held (a condition-variable wait).
  void (*sleep)(void* ctx) = nullptr;
  // Wakes every sleeper; called with the lock held after memory went back to the pool.
  void (*wakeup)(void* ctx) = nullptr;
};

}  // namespace kmem::pool
