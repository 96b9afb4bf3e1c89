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

// How Smalloc waits for memory in a pool, in palloc's shape (PallocHooks, 9front's pwait): sleep(ctx, ready,
// arg) blocks until ready(arg) is true, and wakeup(ctx) ends the sleeps whose ready became true. ready
// reads one word and takes no lock, so the hook evaluates it under its own lock (a wait queue's, a
// mutex's) before it blocks, and a wakeup, which takes that lock, after ready became true always finds the
// sleeper: no wake-up is lost. Smalloc holds no lock across sleep, and a free calls wakeup with every pool
// lock released, only while someone waits. All hooks may be nullptr: the kernel before its scheduler runs
// (whose sleep says kNoWay instead), and Smalloc then panics instead of waiting forever.
enum class PoolWait : uint8_t {
  kRetry,  // woken, or ready already: try again
  kNoWay,  // this caller cannot sleep (no scheduler yet): as without hooks
};
struct PoolSync {
  PoolWait (*sleep)(void* ctx, bool (*ready)(void* arg), void* arg) = nullptr;
  void (*wakeup)(void* ctx) = nullptr;
  void* ctx = nullptr;
};

}  // namespace kmem::pool
