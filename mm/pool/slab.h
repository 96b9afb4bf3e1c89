// Slab caches for fixed-size objects (kmem_cache in osv and Linux) and Kmalloc, the general allocator up to
// 4 KiB built on one cache per power-of-two size class.
//
// A cache takes slabs (power-of-two spans aligned to their size) from its MemSource and cuts each into
// equal slots: [object header 16][object][tail canary 8][slack to the alignment]. The header names the
// slab (which names the cache) and carries a magic tied to its address that also says whether the object
// is live, so a free finds its cache in O(1), and a double free, a pointer from another cache or a smashed
// header panics naming the address, the cache and the reason.
//
// A freed object is poisoned in its leading window (kSlabPoisonWindow bytes, the whole object when it is
// smaller), checked when it is handed out again. The window is where a write through a stale pointer to a
// struct lands most often (its first fields, its list links); poisoning all of a 4 KiB object on every
// free would cost several times what a whole glibc malloc/free pair costs, and the slab paths must stay
// that cheap. The pools (Malloc) poison and check every byte.
//
// Callers serialise: the kernel runs one CPU without preemption today, and these paths take no lock.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/pool/guard.h"
#include "mm/pool/source.h"

namespace kmem::pool {

struct Slab;

// Bytes at the start of a free object that hold poison: one cache line.
inline constexpr size_t kSlabPoisonWindow = 64;

// One cache. Its fields are the allocator's own: use the functions below, never the fields. Aligned to
// cache lines: two caches never share one, and Kmalloc finds its class by a shift rather than a multiply.
// A destroyed cache's descriptor is a free object of the cache of caches, poisoned in its first
// kSlabPoisonWindow bytes: `window` then reads as poison, which no live cache has, and `name` lies beyond
// the poison so the panic can still say which cache it was.
struct alignas(64) KmemCache {
  KmemCache* next = nullptr;  // every live cache, for KmemDump (a destroyed cache is unlinked first)
  uint32_t size = 0;    // object bytes, as created
  uint32_t object = 0;  // size rounded up to a word: the bytes an object occupies before its canary
  uint32_t window = 0;  // bytes poisoned when free: min(object, kSlabPoisonWindow); poison once destroyed
  uint32_t align = 0;   // object alignment
  uint32_t stride = 0;  // bytes per slot: header, object, canary, slack
  uint32_t first = 0;   // offset of the first object in a slab
  uint32_t per_slab = 0;
  uint64_t slab_bytes = 0;
  Slab* partial = nullptr;  // slabs with at least one free object; the head serves allocations
  Slab* full = nullptr;
  uint64_t slabs = 0;
  Slab* spare = nullptr;  // the one empty slab kept back from the source, when there is one
  const char* name = "";
  // Statistics in the fewest stores a pair can make: live objects are allocs - frees.
  uint64_t allocs = 0;
  uint64_t frees = 0;
  uint64_t peak_live = 0;
};

static_assert(sizeof(KmemCache) == 128, "two cache lines; Kmalloc indexes its class array by shifting");
static_assert(offsetof(KmemCache, window) + sizeof(uint32_t) <= kSlabPoisonWindow &&
                  offsetof(KmemCache, name) >= kSlabPoisonWindow,
              "a destroyed cache is told by the poison over `window` and named by `name`, past the poison");

// Largest Kmalloc request; bigger ones belong to the pools (Malloc).
inline constexpr size_t kKmallocMax = 4096;

// (Re)initialises the caches: Kmalloc's size classes and the cache of cache descriptors take their slabs
// from `source`. Forgets every cache created before (their memory stays with the source's owner).
void KmemInit(const MemSource& source);

// A cache of `size`-byte objects aligned to `align` (a power of two up to kPageSize; 0 means 8). Returns
// nullptr when the descriptor cannot be allocated. `name` must outlive the cache.
KmemCache* KmemCacheCreate(const char* name, size_t size, size_t align);
// Gives every slab back to the source (when it takes memory back) and forgets the cache. Returns false,
// leaving the cache alone, while objects are still live: that is a leak to hunt, and KmemDump shows it.
// Panics when the cache was destroyed already or is no cache.
//
// A destroyed cache panics, naming it, when it is allocated from, freed into or destroyed again, for as
// long as its descriptor is not handed to a new cache (after that the stale pointer is the new cache).
bool KmemCacheDestroy(KmemCache* cache);
// An object of the cache, or nullptr when the source has no slab to give. Its contents are unspecified
// (poison in the window, whatever the last user left beyond it) unless `zero` asks for zeros. O(1) with
// the guards; Zero::kYes adds O(size); a new slab adds O(objects per slab).
void* KmemCacheAlloc(KmemCache* cache, Zero zero = Zero::kNo);
// Returns an object to its cache. O(1). Panics on nullptr, a double free, an object of another cache, a
// pointer that is no object, or a smashed header or tail canary.
void KmemCacheFree(KmemCache* cache, void* p);

// At least `size` bytes (1..kKmallocMax; 0 counts as 1) from the smallest size class that holds them,
// aligned to 16. nullptr for larger sizes or when memory runs out.
void* Kmalloc(size_t size, Zero zero = Zero::kNo);
// Frees a Kmalloc object, finding its class from the object header. nullptr is ignored.
void Kfree(void* p);
// The size class's object size behind a Kmalloc pointer.
size_t KmallocSize(void* p);

AllocStats KmemCacheStats(const KmemCache* cache);
// Kmalloc's size classes summed.
AllocStats KmallocStats();
uint64_t KmemCacheSlabs(const KmemCache* cache);

// Walks every slab of `cache`: slab headers, object headers and canaries, poison of free objects, counts
// against the statistics. Panics with the first broken invariant. O(slab bytes held).
void KmemCacheCheck(KmemCache* cache);
// Checks every live cache, Kmalloc's included.
void KmemCheckAll();

// Prints one row per live cache: name, object size, live objects and bytes, high-water mark, slabs.
void KmemDump();

}  // namespace kmem::pool
