// Kernel memory pools in 9front's shape (port/alloc.c): mainmem serves malloc, imagmem holds kernel images,
// secrmem holds secrets and zeroes every block when it is freed. A pool carves variable-sized blocks out of
// arenas it takes from its MemSource, growing up to a configured limit and refusing beyond it.
//
// Invariant: every byte of every arena belongs to exactly one block (allocated, free, or an arena's end
// marker); blocks carry their size and their predecessor's size, so neighbours coalesce in O(1), and no two
// free blocks are adjacent. Free blocks sit on segregated lists by power of two of their size.
//
// Corruption checks stay on: header magic per block, tail canary after the caller's bytes, freed memory
// filled (poison, or zero for secrmem) and checked when handed out again; a bad free panics naming the
// address, the pool and the reason.
//
// Several CPUs: each pool's `lock` (kGlobal level, named for the pool) protects its arenas, blocks, free
// lists and counters; every entry point takes it. It is never held across a call to the source (xalloc's
// and the zone locks are taken with it released: growing reserves the bytes, drops the lock, takes the
// span and lays it out under the lock again), nor while waiting: Smalloc sleeps on the PoolSync hooks.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/base/lock.h"
#include "mm/pool/guard.h"
#include "mm/pool/source.h"
#include "mm/pool/tags.h"

namespace kmem::pool {

// What freed memory is filled with: poison catches use after free, zero keeps secrets from lingering.
enum class FreeFill : uint8_t { kPoison = kPoisonByte, kZero = 0 };

enum class PoolStatus {
  kOk,
  kTooLarge,         // the request and its arena overhead exceed the pool's limit: waiting cannot help
  kOverLimit,        // growing the pool for this request would pass its limit
  kSourceExhausted,  // the MemSource had no more memory to give
};
const char* PoolStatusName(PoolStatus status);

struct PoolConfig {
  const char* name = "";
  uint64_t limit = 0;    // most backing bytes the pool may take from its source (9front: confinit sets it)
  uint64_t quantum = 0;  // smallest arena the pool takes at once; a power of two, at least kPageSize
  FreeFill fill = FreeFill::kPoison;
  MemSource source;
  PoolSync sync;
};

struct FreeBlock;
struct Arena;

// One pool. Its fields are the allocator's own: use the functions below (tests included), never the fields.
struct Pool {
  static constexpr int kBins = 48;  // free lists by floor(log2(block size)); 2^47 bytes is beyond any pool

  explicit constexpr Pool(const char* lock_name = "pool") : lock(lock_name, LockLevel::kGlobal) {}

  mutable SpinLock lock;  // mutable: the const readers below take it too
  PoolConfig config;
  Arena* arenas = nullptr;
  FreeBlock* bins[kBins] = {};
  uint64_t nonempty = 0;  // bit b set when bins[b] has a block
  uint64_t grown = 0;     // backing bytes taken from the source
  uint64_t growing = 0;   // bytes being taken from the source right now, counted against the limit
  uint64_t waiters = 0;   // Smallocs between a failed attempt and their next one
  uint64_t released = 0;  // atomic, written under the lock: bumped by each release of memory while waiters != 0
  AllocStats stats;
};

// The three pools of 9front. Not usable before PoolInit.
extern Pool mainmem;
extern Pool imagmem;
extern Pool secrmem;

// (Re)initialises `pool` empty, forgetting any arenas it had (their memory stays with whoever supplied it).
void PoolInit(Pool& pool, const PoolConfig& config);
// Makes the pool grow from `source` from now on (xalloc early in boot, pages once pageinit ran), keeping
// its arenas and blocks: pools never hand arenas back, so no span ever returns to the wrong supplier.
// `limit` is the new limit (confinit's figure); it may not drop below what the pool already holds.
void PoolSetSource(Pool& pool, const MemSource& source, uint64_t limit);
// Gives the pool the hooks its Smallocs sleep on from now on (the kernel's once its wait queue exists).
void PoolSetSync(Pool& pool, const PoolSync& sync);

struct PoolAllocation {
  void* p = nullptr;
  PoolStatus status = PoolStatus::kOk;
};

// Allocates `size` bytes aligned to 16 from `pool`, growing it when no free block fits. The block holds
// poison (or zero in secrmem) unless `zero` asks for zeros. O(size) for the poison check plus O(number of
// bins); growing adds a call to the source.
PoolAllocation PoolAlloc(Pool& pool, size_t size, Zero zero);
// Returns a block to `pool`: checks it, fills it (poison or zero) and coalesces it with free neighbours.
// O(block size). Panics on a double free, a pointer from elsewhere, or a smashed header or tail canary.
void PoolFree(Pool& pool, void* p);
// Resizes in place when the block has room, otherwise moves the contents to a new block. nullptr p
// allocates; size 0 frees and returns nullptr. On failure returns nullptr and leaves p untouched.
void* PoolRealloc(Pool& pool, void* p, size_t size);
// The size last asked for with p (9front's msize). Checks the block like PoolFree does.
size_t PoolMsize(Pool& pool, void* p);
// Wipes every arena of `pool` (fills it with the pool's free fill) and makes each one a single free block:
// every outstanding allocation is gone. The arenas stay with the pool. O(bytes grown).
void Poolreset(Pool& pool);

// With tags (tags.h) each entry point below and above tags the block with its own caller's pc: PoolRealloc
// and Realloc retag the block they return, moved or not, with theirs.
//
// 9front's vocabulary on mainmem. Malloc and Mallocz return nullptr on failure (PoolAlloc says why).
// Malloc zeroes the block, as 9front's does, after the allocation has checked its poison; Mallocz takes
// the choice (9front's mallocz(size, clr)): Zero::kNo leaves poison, for a caller that overwrites every
// byte at once.
void* Malloc(size_t size);
void* Mallocz(size_t size, Zero zero);
// Like Malloc (zeroed) but never fails: when the pool cannot serve it (at its limit, or its source has no
// memory) it sleeps on the pool's PoolSync until a free, a Poolreset or a new source or limit releases
// memory, and tries again. Only the pool's own releases wake it, not pages coming back to the source: a
// pool whose source ran dry serves it as its own blocks are freed (9front's smalloc polls every 100 ms
// instead). Panics when waiting cannot help: the size above the limit, no live block in the pool whose
// free could make room, or no way to sleep.
void* Smalloc(size_t size);
// Smalloc on `pool` (a dedicated pool; the kernel's self-test's).
void* PoolSmalloc(Pool& pool, size_t size);
void* Realloc(void* p, size_t size);
void Free(void* p);
size_t Msize(void* p);

// A copy of the pool's counters and the backing bytes it holds, each read under the pool's lock.
AllocStats PoolStatsOf(const Pool& pool);
uint64_t PoolGrown(const Pool& pool);
// The most backing bytes the pool may take from its source.
uint64_t PoolLimit(const Pool& pool);

// Walks every arena and free list of `pool` and checks every invariant above (headers, canaries, poison of
// free blocks, list links, counters against the walk). Panics with the first broken one. O(bytes grown).
void PoolCheck(Pool& pool);

// Prints one table row per pool: name, live blocks and bytes, high-water mark, bytes grown and the limit.
void PoolDump(Pool* const* pools, size_t count);

// Adds every live block of `pools` to `table` under its site, each pool walked under its lock. O(bytes
// grown + blocks * table capacity). Defined only with tags: call it under `if constexpr (kPoolTags)`.
void PoolSites(Pool* const* pools, size_t count, SiteTable& table);

}  // namespace kmem::pool
