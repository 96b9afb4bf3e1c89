// Slab caches for fixed-size objects (kmem_cache in osv and Linux) and Kmalloc, the general allocator up to 4
// KiB built on one cache per power-of-two size class.
//
// A cache takes slabs (power-of-two spans aligned to their size) from its MemSource and cuts each into equal
// slots: [object header 16][object][tail canary 8][slack to the alignment]. The header names the slab (which
// names the cache; a Kmalloc object's header names its size class too) and carries a magic tied to its
// address that also says whether the object is live, so a free finds its cache in O(1), and a double free, a
// pointer from another cache or a smashed header panics naming the address, the cache and the reason. A
// slab's free objects are a stack of their indices right behind its header, so that the slab layer moves
// objects in and out without touching them.
//
// A freed object is poisoned in its leading window (kSlabPoisonWindow bytes, the whole object when it is
// smaller), checked when it is handed out again. The window is where a write through a stale pointer to a
// struct lands most often (its first fields, its list links); poisoning all of a 4 KiB object on every free
// would cost several times what a whole glibc malloc/free pair costs, and the slab paths must stay that cheap.
// The pools (Malloc) poison and check every byte.
//
// Several CPUs (Bonwick's magazines, Linux SLAB's per-CPU arrays): every cache has, on every CPU, a magazine
// of free objects (its capacity, below) in front of the slab layer. Alloc and free touch only the calling
// CPU's magazine, with interrupts off and no atomic read-modify-write; a free from another CPU than the
// allocating one goes into the freeing CPU's magazine. Behind the magazine each CPU keeps bundles (Bonwick's
// depot, but the CPU's own, so it takes no lock): a full magazine copies the pointers of its older half into a
// bundle, an array from kmem's own cache of them ("kmem_bundle"), and an empty one copies the last bundle back
// and frees the array; no object is touched on the way. Only past its bundles (kBundles, at most kBundleBytes
// of objects), or when no array can be had, does a magazine refill from, or flush half of itself into, the
// slab layer. Each slab has an owner, the CPU whose refills take from it and whose lists hold it (SLUB's
// per-CPU partial slabs): a CPU refills from its own partial slabs, then its own empty ones, another CPU's
// empty one or a new one, and only when the source has none another CPU's partial one; a flush puts an object
// back in its slab, which stays its owner's. So two CPUs do not hand out objects that share a cache line:
// frees in random order leave free stacks in random order, and refills of two CPUs from one slab then
// interleaved their objects line by line (a batch of 1000 objects cost 3x on 2 CPUs what it costs on one). An
// object in a magazine or a bundle is free as far as every guard is concerned: its header is sealed free on
// the way in (a double free of it panics), its window is poisoned, and the allocation that takes it out checks
// both. Another CPU's magazine and bundles are reached only by a cross-call to that CPU (destroy, reap, memory
// pressure), which drains both into the slab layer.
//
// Locks: each cache has one lock per owner CPU (SlabLists::lock, named for the cache, kZone level: a leaf,
// never held across a call to the source or while taking any other lock, so a holder of any other lock may
// allocate), which protects that CPU's slab lists and their slabs' free stacks; a slab changes owner only
// under its old owner's lock, and reads as in transit until its new owner's lists have it. So refills and
// flushes of two CPUs take no common lock unless one frees the other's objects (measured with 1000 objects
// freed in random order on 2 CPUs, bench/pool_bench batch: one lock a cache cost 24-39 ns an object from 512 B
// to 4 KiB, these 18-31). The cache list's lock ("kmem caches", kGlobal) protects the list of live caches and
// the magazine slots; it is taken with no other lock held and may take cache locks. Statistics are per CPU,
// each written only by its CPU, summed on read.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/base/lock.h"
#include "mm/base/percpu.h"
#include "mm/pool/guard.h"
#include "mm/pool/source.h"
#include "mm/pool/tags.h"

namespace kmem::pool {

struct Slab;

// Bytes at the start of a free object that hold poison: one cache line.
inline constexpr size_t kSlabPoisonWindow = 64;

// Free objects a CPU's magazine of one cache holds at most (with its bundles and its CPU's counters it
// fills 1 KiB). A cache's own capacity is kMagazineBytes of its objects, at most kMagazine (91 objects up
// to 5 KiB, 8 of 64 KiB), and half of it moves between a magazine and a bundle or the slab
// layer at once (a refill, or the flush of a full magazine), so that a CPU alternating allocs and frees at
// a boundary does not go back at once. Measured with 1000 objects freed in random order on 2 CPUs
// (bench/pool_bench batch), before the bundles, when the slab layer's lock was taken once per half
// magazine: 27-object magazines cost 46-170 ns an object, 123-object ones 29-78, against 17-33 on one CPU.
inline constexpr uint32_t kMagazine = 91;
inline constexpr uint64_t kMagazineBytes = 512 << 10;
// Bundles a CPU keeps of one cache at most, each of half its magazine capacity, and at most kBundleBytes of
// objects in all (so 32 of objects up to 2 KiB, 22 of 4 KiB ones: 1081 objects, 4.2 MiB, with the magazine),
// until a drain (KmemReap under memory pressure: a waiter on pwait, a pool's or a cache's source running
// dry; destroy) takes them. A CPU whose allocations and frees swing by no more than its magazine and bundles
// hold never takes the slab layer's lock. Measured with 1000 objects freed in random order (bench/pool_bench
// batch, 1 thread): chains of objects through their header links in place of arrays, 16 of them, cost 12-19
// ns an object from 16 B to 256 B against 9-11.5 for these (a chain's walk is a cache miss per object, one
// after the other); 32 chains gained nothing. With 256 KiB of bundles and 128 KiB magazines, where the
// batch went through the slab layer from 512 B up, it cost 13.3-15.6 ns an object from 512 B to 4 KiB
// against 9.2-9.4 with these (tcmalloc 6.7-12.4).
inline constexpr uint32_t kBundles = 32;
inline constexpr uint64_t kBundleBytes = 4 << 20;
static_assert(kMagazine + kBundles == 123, "a magazine, its bundles and its CPU's counters fill 1 KiB");
// The most free objects one CPU holds of any cache, in its magazine and its bundles.
inline constexpr uint32_t kHeldPerCpu = kMagazine + kBundles * (kMagazine / 2);
// A cache's peak (KmemCacheStats) is the most live objects a CPU counted at one of its allocations: its own
// allocs - frees and the other CPUs' as it last read them, which it does at a refill or flush once
// kPeakSampleOps of its operations of the cache have passed since the last reading, so that reading is at
// most kPeakSampleOps and half a magazine of them old (counted modulo 2^16: past 2^16 operations with no
// refill or flush, one reading may come up to kPeakSampleOps later). Each reading costs a cache miss per
// other CPU and one to each of them, whose next operation writes its counters' line again: done at every
// refill and flush, that took the 2-thread batch of 256-byte objects from 8.5 to 11 ns an object, and 8
// CPUs would pay 7 times as many (bench/README.md).
inline constexpr uint32_t kPeakSampleOps = 1024;
// Live caches at once (kmem's eleven included); each has one magazine slot per CPU, in the kernel image
// (kMaxCaches * kMaxCpus * 1 KiB, 192 KiB, which the kernel's minimum memory pays for).
inline constexpr uint32_t kMaxCaches = 24;
// Empty slabs a cache keeps for reuse on each CPU rather than giving them back to its source, in bytes (at
// least one slab is kept): enough for a few thousand small objects to come and go without the source.
// KmemReap gives them back.
inline constexpr uint64_t kKeptEmptyBytes = 128 << 10;

// One owner CPU's slabs of a cache, on a line of their own so that two CPUs' refills and flushes share
// nothing. `lock` (named for the cache, kZone: a leaf, held across no call to the source and with no other
// lock of the cache) protects the lists, their counts, and the free stacks of the slabs on them.
struct alignas(64) SlabLists {
  explicit constexpr SlabLists(const char* cache_name) : lock(cache_name, LockLevel::kZone) {}

  SpinLock lock;
  Slab* partial = nullptr;  // some objects free, some not; the head serves the owner's refills
  Slab* full = nullptr;     // no object on the free stack
  Slab* empty = nullptr;    // kept for reuse, every object free
  uint32_t slabs = 0;       // on the three lists
  uint32_t empty_slabs = 0;  // written as an atomic store: another CPU peeks at it without the lock
};
static_assert(sizeof(SlabLists) == 64, "one line an owner");

// One cache. Its fields are the allocator's own: use the functions below, never the fields. Aligned to
// cache lines, so two caches never share one. The first line is read by every fast path and written only
// when the cache is set up. A destroyed cache's descriptor is a free object of the cache of caches,
// poisoned in its first kSlabPoisonWindow bytes: `window` then reads as poison, which no live cache has,
// and `name` lies beyond the poison so the panic can still say which cache it was.
struct alignas(64) KmemCache {
  explicit constexpr KmemCache(const char* cache_name = "")
      : name(cache_name),
        owned{SlabLists{cache_name}, SlabLists{cache_name}, SlabLists{cache_name}, SlabLists{cache_name},
              SlabLists{cache_name}, SlabLists{cache_name}, SlabLists{cache_name}, SlabLists{cache_name}} {}

  KmemCache* next = nullptr;  // every live cache, for KmemDump (a destroyed cache is unlinked first)
  uint32_t size = 0;    // object bytes, as created
  uint32_t object = 0;  // size rounded up to a word: the bytes an object occupies before its canary
  uint32_t window = 0;  // bytes poisoned when free: min(object, kSlabPoisonWindow); poison once destroyed
  uint32_t align = 0;   // object alignment
  uint32_t stride = 0;  // bytes per slot: header, object, canary, slack
  uint32_t first = 0;   // offset of the first object in a slab
  uint32_t per_slab = 0;
  uint32_t magazine = 0;      // this cache's magazine slot, in [0, kMaxCaches)
  uint32_t magazine_cap = 0;  // the objects its magazines hold at most, in [2, kMagazine]
  uint32_t max_bundles = 0;   // the bundles a CPU keeps at most, in [0, kBundles]
  uint64_t slab_bytes = 0;
  uint64_t stride_inverse = 0;  // ceil(2^64 / stride), which IndexOf multiplies by instead of dividing
  const char* name;
  SlabLists owned[kMaxCpus];  // by owner CPU
};
static_assert(kMaxCpus == 8, "KmemCache's constructor names each owner's lock");

static_assert(offsetof(KmemCache, name) == 64, "the fast paths' line holds no field the slab layer writes");
static_assert(offsetof(KmemCache, window) + sizeof(uint32_t) <= kSlabPoisonWindow &&
                  offsetof(KmemCache, name) >= kSlabPoisonWindow,
              "a destroyed cache is told by the poison over `window` and named by `name`, past the poison");

// Largest Kmalloc request; bigger ones belong to the pools (Malloc).
inline constexpr size_t kKmallocMax = 4096;

// (Re)initialises the caches: Kmalloc's size classes and the cache of cache descriptors take their slabs
// from `source`. Forgets every cache created before and empties every CPU's magazines (their memory stays
// with the source's owner). No other CPU may use kmem meanwhile.
void KmemInit(const MemSource& source);

// A cache of `size`-byte objects aligned to `align` (a power of two up to kPageSize; 0 means 8). Returns
// nullptr when the descriptor cannot be allocated or kMaxCaches caches are live. `name` must outlive the
// cache.
KmemCache* KmemCacheCreate(const char* name, size_t size, size_t align);
// Drains every CPU's magazine of the cache (a cross-call: interrupts must be on), gives every slab back to
// the source (when it takes memory back) and forgets the cache. Returns false, leaving the cache alone
// (drained), while objects are still live: that is a leak to hunt, and KmemDump shows it.
// Panics when the cache was destroyed already or is no cache.
//
// A destroyed cache panics, naming it, when it is allocated from, freed into or destroyed again, for as
// long as its descriptor is not handed to a new cache (after that the stale pointer is the new cache).
bool KmemCacheDestroy(KmemCache* cache);
// An object of the cache, or nullptr when the source has no slab to give even after every cache gave its
// kept empty slabs back and (when the caller has interrupts on) every CPU drained its magazine of this
// cache into the slab layer. Its contents are unspecified (poison in the window, whatever the last user
// left beyond it) unless `zero` asks for zeros. O(1) with the guards and the magazine; Zero::kYes adds
// O(size); a refill adds O(kMagazine) under the lock, a new slab O(objects per slab).
void* KmemCacheAlloc(KmemCache* cache, Zero zero = Zero::kNo);
// Returns an object to its cache, from any CPU. O(1); a full magazine flushes half of itself. Panics on
// nullptr, a double free, an object of another cache, a pointer that is no object, or a smashed header or
// tail canary.
void KmemCacheFree(KmemCache* cache, void* p);

// At least `size` bytes (1..kKmallocMax; 0 counts as 1) from the smallest size class that holds them,
// aligned to 16. nullptr for larger sizes or when memory runs out.
void* Kmalloc(size_t size, Zero zero = Zero::kNo);
// Frees a Kmalloc object, finding its class from the object header. nullptr is ignored.
void Kfree(void* p);
// The size class's object size behind a Kmalloc pointer.
size_t KmallocSize(void* p);

// Counters summed over the CPUs, exact when no CPU is using the cache meanwhile. The high-water mark is
// exact on one CPU; with several, each CPU measures live objects against the other CPUs' counts as they
// were at its last refill or flush, so the mark can be off by what the others did since.
AllocStats KmemCacheStats(const KmemCache* cache);
// Kmalloc's size classes summed.
AllocStats KmallocStats();
uint64_t KmemCacheSlabs(KmemCache* cache);
uint64_t KmemCacheEmptySlabs(KmemCache* cache);
// Bytes of slabs every live cache holds, kmem's own included: what kmem has taken from its source and not
// given back (Linux's Slab: line in /proc/meminfo).
uint64_t KmemSlabBytes();

// Memory pressure: every CPU drains its magazines into the slab layer (a cross-call) and every cache gives
// its kept empty slabs back to a source that takes memory back. Returns the bytes given back. Does nothing
// and returns 0 when the caller has interrupts off (it may hold a lock, and could not cross-call).
uint64_t KmemReap();

// Walks every slab of `cache`: slab headers, object headers and canaries, poison of free objects, counts
// against the statistics (an object in a magazine counts as free and is checked like one). No other CPU
// may use the cache meanwhile. Panics with the first broken invariant. O(slab bytes held).
void KmemCacheCheck(KmemCache* cache);
// Checks every live cache, Kmalloc's included.
void KmemCheckAll();

// Prints one row per live cache: name, object size, live objects and bytes, high-water mark, slabs.
void KmemDump();

// Adds every live object of every cache (Kmalloc's and the cache descriptors included) to `table` under
// its site: the caller of KmemCacheAlloc, Kmalloc or KmemCacheCreate. Objects in magazines are free. Each
// cache is walked under its lock, which a CPU's magazine does not take: exact when no other CPU allocates
// or frees meanwhile. O(slab bytes held + objects * table capacity). Defined only with tags: call it under
// `if constexpr (kPoolTags)`.
void KmemSites(SiteTable& table);

}  // namespace kmem::pool
