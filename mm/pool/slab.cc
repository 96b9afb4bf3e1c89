#include "mm/pool/slab.h"

#include "mm/base/addr.h"
#include "mm/base/format.h"
#include "mm/base/panic.h"
#include "mm/base/placement_new.h"
#include "mm/base/percpu.h"

namespace kmem::pool {

// At the start of every slab; the slab is aligned to its size, so an object finds it by rounding down. Its
// free objects are a stack of their indices right behind it (FreeStack), so that the slab layer moves
// objects in and out without touching them: a free list linked through the objects made every refill a
// cache miss per object, one after the other.
struct Slab {
  uint64_t magic;  // SealMagic(kKmallocSlabMagic or kSlabMagic, this): Kfree tells its own slabs by it
  KmemCache* cache;
  Slab* next;
  Slab* prev;
  uint32_t nfree;  // entries on the free stack; the others are live or held by a CPU
  uint32_t owner;  // the CPU whose refills take from it and whose lists hold it; kInTransit between two
  uint64_t unused[3];
};
static_assert(sizeof(Slab) == 64, "one cache line, and the free stack starts a fresh one");

// An object's index in its slab; kMaxPerSlab bounds objects per slab (a slab grows past a page only until
// it holds kMinObjectsPerSlab objects, so a page of the smallest slots, 32 bytes, is the most).
using ObjIndex = uint8_t;
constexpr uint32_t kMaxPerSlab = 255;

// Right below every object. Its link names its slab (LinkOf: with a Kmalloc object's class in its low
// bits), Kfree's way there in one load, live or free; the magic says which, sealed with the link word as
// well as the header's address, so one compare also catches a smashed link. With tags the site comes
// first, so that the seal and the link stay right below the object.
struct ObjHeader {
  [[no_unique_address]] Site site;  // while live, who allocated it (tags.h); stale while free
  uint64_t magic;  // LiveSeal(this, link) while live, FreeSeal(this, link) while free
  void* link;      // LinkOf(its cache, its slab)
};
static_assert(sizeof(ObjHeader) == (kPoolTags ? 24 : 16),
              "16 keeps 16-byte objects 16-aligned in 16-aligned slots; a slot's stride rounds up the site's 8");

namespace {

constexpr uint64_t kSlabMagic = 0x51ab51ab51ab51abULL;
constexpr uint64_t kKmallocSlabMagic = 0x51abca11ab1e51abULL;
constexpr uint64_t kLiveMagic = 0x0b1ec7a11ab1e0b1ULL;
constexpr uint64_t kFreeMagic = 0x0b1ecf4eef4eeb1cULL;
constexpr size_t kClasses = 9;                     // 16 B .. 4 KiB
constexpr uint64_t kMinObjectsPerSlab = 8;         // bounds slab overhead for the large classes
constexpr size_t kMaxObject = 64 * 1024;

// Half a full magazine's object pointers, obj[0] the oldest: a CPU's bundle, an object of bundle_cache.
struct Bundle {
  void* obj[kMagazine / 2];
};

// One CPU's magazine of one cache, with that CPU's bundles and counters for it. Written only by its CPU with
// interrupts off (or by a cross-call to it); the counters are stored with relaxed atomic stores (plain
// moves) so that KmemCacheStats may read them from any CPU.
struct Magazine {
  uint32_t count = 0;
  uint16_t bundles = 0;  // in bundle[]
  uint16_t sampled = 0;  // allocs + frees, modulo 2^16, when this CPU last read the others' counters
  uint64_t allocs = 0;
  uint64_t frees = 0;
  uint64_t others_live = 0;  // the other CPUs' allocs - frees, as SampleOthers last read them
  uint64_t peak_live = 0;    // the most live objects this CPU saw: its own count plus others_live
  void* obj[kMagazine] = {};  // obj[count - 1] goes out next
  Bundle* bundle[kBundles] = {};  // each holds HalfMagazine(c) objects; bundle[bundles - 1] goes out next
};
static_assert(sizeof(Magazine) == 1024, "sixteen cache lines: the counters and the bottom objects share the first");

// A CPU's magazines, one slot per cache.
struct CpuMagazines {
  Magazine slot[kMaxCaches];
};

constexpr const char* kClassNames[kClasses] = {"kmalloc-16",  "kmalloc-32",   "kmalloc-64",
                                           "kmalloc-128", "kmalloc-256",  "kmalloc-512",
                                           "kmalloc-1k",  "kmalloc-2k",   "kmalloc-4k"};

constinit MemSource source;
constinit KmemCache cache_cache{"kmem_cache"};
// The bundles' arrays. Its own magazines flush straight to its slabs (max_bundles 0): a bundle of bundles
// would need a bundle.
constinit KmemCache bundle_cache{"kmem_bundle"};
constinit KmemCache kmalloc_caches[kClasses] = {
    KmemCache{kClassNames[0]}, KmemCache{kClassNames[1]}, KmemCache{kClassNames[2]},
    KmemCache{kClassNames[3]}, KmemCache{kClassNames[4]}, KmemCache{kClassNames[5]},
    KmemCache{kClassNames[6]}, KmemCache{kClassNames[7]}, KmemCache{kClassNames[8]}};
constinit SpinLock caches_lock{"kmem caches", LockLevel::kGlobal};
constinit KmemCache* all_caches = nullptr;  // under caches_lock
constinit uint32_t magazines_used = 0;      // one bit per magazine slot; under caches_lock
constexpr uint32_t kAllMagazines = (uint32_t{1} << kMaxCaches) - 1;
static_assert(kMaxCaches < 32, "magazines_used has a bit a slot");
constinit PerCpu<CpuMagazines> magazines;

template <typename T>
T Read(const T& field) {
  return __atomic_load_n(&field, __ATOMIC_RELAXED);
}
template <typename T>
void Write(T& field, T value) {
  __atomic_store_n(&field, value, __ATOMIC_RELAXED);
}

uint8_t* Bytes(void* p) { return static_cast<uint8_t*>(p); }
ObjHeader* HeaderOf(void* p) { return static_cast<ObjHeader*>(p) - 1; }
ObjIndex* FreeStack(Slab* s) { return reinterpret_cast<ObjIndex*>(s + 1); }
uint64_t RoundUp(uint64_t x, uint64_t align) { return (x + align - 1) & ~(align - 1); }
bool IsKmallocCache(const KmemCache* c) { return c >= kmalloc_caches && c < kmalloc_caches + kClasses; }
// An object header's link: its slab's address (a slab is aligned to at least a page) with a Kmalloc
// object's class plus one in the low bits, 0 for a cache's object, so that Kfree learns the class, and so
// the object's size and window, from the header's own load instead of the slab's and the cache's after it.
constexpr uintptr_t kLinkClassBits = 15;
static_assert(kClasses < kLinkClassBits && kLinkClassBits < kPageSize, "a class tag fits below a slab's address");
void* LinkOf(const KmemCache* c, const Slab* s) {
  const uintptr_t tag = IsKmallocCache(c) ? static_cast<uintptr_t>(c - kmalloc_caches) + 1 : 0;
  return reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(s) | tag);
}
Slab* SlabOfLink(const void* link) {
  return reinterpret_cast<Slab*>(reinterpret_cast<uintptr_t>(link) & ~kLinkClassBits);
}
uint64_t LiveSeal(const ObjHeader* h, const void* link) {
  return SealMagic(kLiveMagic ^ reinterpret_cast<uintptr_t>(link), h);
}
uint64_t FreeSeal(const ObjHeader* h, const void* link) {
  return SealMagic(kFreeMagic ^ reinterpret_cast<uintptr_t>(link), h);
}
uint64_t SlabMagic(const KmemCache* c, const Slab* s) {
  return SealMagic(IsKmallocCache(c) ? kKmallocSlabMagic : kSlabMagic, s);
}
Magazine& MagazineOn(unsigned cpu, const KmemCache* c) { return magazines[cpu].slot[c->magazine]; }
Magazine& MagazineHere(const KmemCache* c) { return MagazineOn(CpuId(), c); }
// What moves between a magazine and a bundle or the slab layer at once: a refill, a flush, a bundle.
uint32_t HalfMagazine(const KmemCache* c) { return c->magazine_cap / 2; }

// allocs - frees over the CPUs in `cpus`; modular, since a CPU may free more than it allocated.
uint64_t LiveOn(const KmemCache* c, CpuSet cpus) {
  uint64_t live = 0;
  for (unsigned cpu = 0; cpu < kMaxCpus; ++cpu) {
    if (!cpus.Has(cpu)) continue;
    const Magazine& m = magazines[cpu].slot[c->magazine];
    live += Read(m.allocs) - Read(m.frees);
  }
  return live;
}
uint64_t Live(const KmemCache* c) { return LiveOn(c, CpuSet::All()); }

constexpr uint64_t kPoisonWord = kPoisonByte * 0x0101010101010101ULL;
static_assert(kPoisonByte * 0x01010101U > kSlabPoisonWindow, "a destroyed cache's window matches no window");

// Poisons, and checks for poison, the window of a free object: kWindow / 8 words at constant offsets, in
// straight-line code of matching widths. A loop of a runtime count becomes a call to memset, which costs
// more than the rest of a Kmalloc/Kfree pair at these sizes; a 16-byte load of two 8-byte stores just made
// cannot be forwarded from them and waits for them to reach the cache (8.3 instead of 5 ns a Kmalloc/Kfree
// pair at 32 bytes when the free stored words and the allocation loaded pairs of them).
template <uint32_t kWindow>
[[gnu::always_inline]] inline void PoisonWindow(void* p) {
  auto* w = static_cast<uint64_t*>(p);
  for (uint32_t i = 0; i < kWindow / 8; ++i) w[i] = kPoisonWord;
}

template <uint32_t kWindow>
[[gnu::always_inline]] inline bool WindowPoisoned(const void* p) {
  const auto* w = static_cast<const uint64_t*>(p);
  uint64_t diff = 0;
  for (uint32_t i = 0; i < kWindow / 8; ++i) diff |= w[i] ^ kPoisonWord;
  return diff == 0;
}

// A poison window as a type, so that a generic lambda can take it as a constant.
template <uint32_t kBytes>
struct WindowOf {
  static constexpr uint32_t kWindow = kBytes;
};

// Forces a lambda inline: an entry point's window dispatch (below) calls a lambda per window, and one left
// out of line makes its caller spill the captures and call it, as much as the rest of the fast path.
#define KMEM_INLINE_LAMBDA __attribute__((always_inline))

// Calls op(WindowOf<c->window>{}): each window a cache can have (a word to kSlabPoisonWindow bytes) gets
// its own instantiation of the fast path, and bad(), when the window is none of them (a destroyed cache's
// is poison). The full window (every cache of objects of 64 bytes or more) comes first, expected, so that it
// does not wait on the table.
template <typename Op, typename Bad>
[[gnu::always_inline]] inline auto ByWindow(uint32_t window, Op op, Bad bad) {
  if (__builtin_expect(window == 64, 1)) return op(WindowOf<64>{});
  switch (window) {
    case 8: return op(WindowOf<8>{});
    case 16: return op(WindowOf<16>{});
    case 24: return op(WindowOf<24>{});
    case 32: return op(WindowOf<32>{});
    case 40: return op(WindowOf<40>{});
    case 48: return op(WindowOf<48>{});
    case 56: return op(WindowOf<56>{});
    default: return bad();
  }
}
static_assert(kSlabPoisonWindow == 64, "ByWindow lists the windows up to 64 bytes");

void Push(Slab*& head, Slab* s) {
  s->prev = nullptr;
  s->next = head;
  if (head != nullptr) head->prev = s;
  head = s;
}

void Remove(Slab*& head, Slab* s) {
  if (s->prev != nullptr) {
    s->prev->next = s->next;
  } else {
    head = s->next;
  }
  if (s->next != nullptr) s->next->prev = s->prev;
}

// Sets up the descriptor at `c` (its memory raw or a former cache's) and gives it magazine slot `slot`,
// whose every CPU's magazine is empty and counters zero. Out of line: KmemInit calls it for each of kmem's
// own caches.
[[gnu::noinline]] void Setup(KmemCache* c, const char* name, size_t size, size_t align, uint32_t slot) {
  new (c) KmemCache(name);
  c->size = static_cast<uint32_t>(size);
  c->align = static_cast<uint32_t>(align);
  c->object = static_cast<uint32_t>(RoundUp(size, 8));
  c->window = c->object < kSlabPoisonWindow ? c->object : static_cast<uint32_t>(kSlabPoisonWindow);
  c->stride = static_cast<uint32_t>(RoundUp(sizeof(ObjHeader) + c->object + kTailBytes, align));
  c->stride_inverse = ~uint64_t{0} / c->stride + 1;  // ceil(2^64 / stride), for any stride of 2 or more
  // The slab header, its free stack of one index an object, then the objects (the first one's header right
  // before the alignment boundary).
  auto first = [c](uint64_t n) { return RoundUp(sizeof(Slab) + n * sizeof(ObjIndex) + sizeof(ObjHeader), c->align); };
  uint64_t bytes = kPageSize, n;
  for (;; bytes *= 2) {
    for (n = (bytes - first(0)) / c->stride; n > 0 && first(n) + n * c->stride > bytes; --n) {
    }
    if (n >= kMinObjectsPerSlab) break;
  }
  KASSERT(n <= kMaxPerSlab, "cache %s: %lu objects a slab", name, n);
  c->slab_bytes = bytes;
  c->per_slab = static_cast<uint32_t>(n);
  c->first = static_cast<uint32_t>(first(n));
  c->magazine = slot;
  c->magazine_cap = static_cast<uint32_t>(Min<uint64_t>(kMagazine, Max<uint64_t>(2, kMagazineBytes / c->object)));
  const uint64_t bundle_bytes = uint64_t{HalfMagazine(c)} * c->object;
  c->max_bundles = static_cast<uint32_t>(Min<uint64_t>(kBundles, kBundleBytes / bundle_bytes));
}

// Appends a set-up cache to the list (so KmemDump lists caches in creation order). Under caches_lock.
void Link(KmemCache* c) {
  KmemCache** link = &all_caches;
  while (*link != nullptr) link = &(*link)->next;
  *link = c;
}

void* ObjectAt(const KmemCache* c, Slab* s, uint64_t i) { return Bytes(s) + c->first + i * c->stride; }
// The index of the object `p` of slab `s`: its offset divided by the stride, as the high half of a product
// with the stride's inverse (exact for every 32-bit offset: Lemire, Kaser and Kurz, "Faster remainder by
// direct computation", 2019), since a division was a tenth of a flush's time.
ObjIndex IndexOf(const KmemCache* c, const Slab* s, const void* p) {
  const auto offset =
      static_cast<uint32_t>(static_cast<const uint8_t*>(p) - Bytes(const_cast<Slab*>(s)) - c->first);
  return static_cast<ObjIndex>((static_cast<unsigned __int128>(c->stride_inverse) * offset) >> 64);
}
// Objects of slab `s` live or held by a CPU.
uint32_t InUse(const KmemCache* c, const Slab* s) { return c->per_slab - s->nfree; }

Slab* SlabOf(const KmemCache* c, const void* p) {
  return reinterpret_cast<Slab*>(AlignDown(reinterpret_cast<uintptr_t>(p), c->slab_bytes));
}

void PoisonAny(void* p, uint32_t window) {
  ByWindow(window, [p](auto w) { PoisonWindow<decltype(w)::kWindow>(p); }, [] {});
}

// Takes a slab from the source and puts all its objects, poisoned and sealed free, on its free stack (lowest
// on top). Called with no lock held: the slab is this CPU's until AddSlab publishes it.
Slab* NewSlab(KmemCache* c) {
  if (source.take == nullptr) return nullptr;
  auto* s = static_cast<Slab*>(source.take(source.ctx, c->slab_bytes, c->slab_bytes));
  if (s == nullptr) return nullptr;
  s->magic = SlabMagic(c, s);
  s->cache = c;
  s->owner = 0;  // AddSlab names the CPU before any refill takes from it
  s->nfree = c->per_slab;
  for (uint32_t i = 0; i < c->per_slab; ++i) {
    void* p = ObjectAt(c, s, i);
    ObjHeader* h = HeaderOf(p);
    h->link = LinkOf(c, s);
    h->magic = FreeSeal(h, h->link);
    PoisonAny(p, c->window);
    PutTail(Bytes(p) + c->object);
    FreeStack(s)[c->per_slab - 1 - i] = static_cast<ObjIndex>(i);
  }
  return s;
}

// What a cache pointer names. A cache from KmemCacheCreate is a live object of cache_cache, a destroyed
// one is a free object of it (until the descriptor is reused); kmem's own caches are static and live.
enum class CacheState { kLive, kDestroyed, kForeign };

CacheState StateOf(KmemCache* c) {
  if (c == &cache_cache || c == &bundle_cache || IsKmallocCache(c)) return CacheState::kLive;
  ObjHeader* h = HeaderOf(c);
  Slab* s = SlabOf(&cache_cache, c);
  if (h->magic == LiveSeal(h, s) && h->link == s) return CacheState::kLive;
  if (h->magic == FreeSeal(h, h->link)) return CacheState::kDestroyed;
  return CacheState::kForeign;
}

// Why `op` cannot use `c`: destroyed, no cache at all, or a live descriptor whose window was smashed.
[[noreturn, gnu::cold, gnu::noinline]] void BadCache(KmemCache* c, const char* op) {
  switch (StateOf(c)) {
    case CacheState::kDestroyed:
      Panic("cache %s (%p): %s: the cache was destroyed", c->name, static_cast<void*>(c), op);
    case CacheState::kForeign:
      Panic("cache %p: %s: not a cache (no live descriptor from KmemCacheCreate)", static_cast<void*>(c), op);
    case CacheState::kLive:
      break;
  }
  Panic("cache %s (%p): %s: descriptor smashed (poison window %u bytes)", c->name, static_cast<void*>(c), op,
        c->window);
}

// Says what is wrong with an object a free was handed (`expected` is its cache, nullptr for Kfree); the
// fast path only knows that something is. Reads a slab header only through a header whose seal holds.
[[noreturn, gnu::cold, gnu::noinline]] void BadObject(KmemCache* expected, void* p, const char* op) {
  if (expected != nullptr && StateOf(expected) != CacheState::kLive) BadCache(expected, op);
  const char* who = expected != nullptr ? expected->name : "kmalloc";
  if (p == nullptr) Panic("cache %s: %s of %p: null pointer", who, op, p);
  ObjHeader* h = HeaderOf(p);
  if (h->magic == FreeSeal(h, h->link)) Panic("cache %s: %s of %p: double free, the object is free", who, op, p);
  Slab* s = SlabOfLink(h->link);
  if (h->magic != LiveSeal(h, h->link)) {
    Panic("cache %s: %s of %p: foreign pointer or smashed header canary (magic 0x%lx)", who, op, p, h->magic);
  }
  KmemCache* c = s->cache;
  const bool kmalloc = s->magic == SealMagic(kKmallocSlabMagic, s);
  if (!kmalloc && s->magic != SealMagic(kSlabMagic, s)) {
    // The cache pointer of a smashed slab header is trusted for its name only when it names a known cache.
    const char* name = IsKmallocCache(c) || c == expected ? c->name : who;
    Panic("cache %s: %s of %p: slab header at %p smashed", name, op, p, static_cast<void*>(s));
  }
  if (expected == nullptr && !kmalloc) {
    Panic("cache kmalloc: %s of %p: foreign pointer, the object is not from Kmalloc", op, p);
  }
  if (expected != nullptr && c != expected) {
    Panic("cache %s: %s of %p: foreign pointer, the object belongs to cache %s", who, op, p, c->name);
  }
  Panic("cache %s: %s of %p: tail canary smashed, written past the %u-byte object", c->name, op, p, c->size);
}

// For KmemCacheFree: the slab comes from the cache's slab size, so finding it waits on no load.
[[gnu::always_inline]] inline void CheckCacheObject(KmemCache* c, void* p, const char* op) {
  if (__builtin_expect(p == nullptr, 0)) BadObject(c, p, op);  // its header would be at -16
  ObjHeader* h = HeaderOf(p);
  Slab* s = SlabOf(c, p);
  if (h->magic != LiveSeal(h, s) || h->link != s || s->magic != SealMagic(kSlabMagic, s) || s->cache != c ||
      !TailIntact(Bytes(p) + c->object)) {
    BadObject(c, p, op);
  }
}

// The class tag of an object header's link: a Kmalloc object's class plus one, 0 for a cache's object.
uintptr_t TagOfLink(const void* link) { return reinterpret_cast<uintptr_t>(link) & kLinkClassBits; }

// A Kmalloc class as a type, so that a generic lambda can take it as a constant.
template <size_t kClassIndex>
struct KmallocClass {
  static constexpr size_t kClass = kClassIndex;
  static constexpr uint32_t kWindow = Min<uint32_t>(16 << kClassIndex, kSlabPoisonWindow);
};

// Calls op(KmallocClass<tag - 1>{}), or bad() when the tag (below 16: a header link's, or a class plus one)
// names no class, with a case for each class: the code of each knows its object size, window and cache as
// constants, so that what follows a branch on the class waits only for the branch's prediction, not for the
// load the class came from. Kfree's class is in the object's header, and an object freed in random order is a
// cache miss: with the tail canary's address and the magazine computed from the loaded class, the tail's miss
// waited for the header's. Measured with 1000 objects of 512 B to 4 KiB freed in random order
// (bench/pool_bench batch, one thread, the best of 15 interleaved runs): 19.1-19.4 ns an object through a
// Kfree computing them, 18.2-18.5 with these cases, 15.6-16.6 through KmemCacheFree, whose cache names its
// size and slab. Kmalloc's cases know their cache's address: computed from the class, it held a register, and
// the fast path saved two (8 callgrind instructions a Kmalloc/Kfree pair). The cases cover all 16 tags, so
// that Kfree's jump table needs no range check: a switch on the class, the tag less one, had one (3
// instructions a pair).
template <typename Op, typename Bad>
[[gnu::always_inline]] inline auto ByTag(uintptr_t tag, Op op, Bad bad) {
  switch (tag) {
    case 1: return op(KmallocClass<0>{});
    case 2: return op(KmallocClass<1>{});
    case 3: return op(KmallocClass<2>{});
    case 4: return op(KmallocClass<3>{});
    case 5: return op(KmallocClass<4>{});
    case 6: return op(KmallocClass<5>{});
    case 7: return op(KmallocClass<6>{});
    case 8: return op(KmallocClass<7>{});
    case 9: return op(KmallocClass<8>{});
    case 0: case 10: case 11: case 12: case 13: case 14: case 15: return bad();
    default: __builtin_unreachable();
  }
}
static_assert(kClasses == 9 && kLinkClassBits == 15, "ByTag has a case a tag");

// For Kfree, once ByTag took the header link's class kClass: the header is sealed live with its link,
// the slab's magic says it is Kmalloc's, and the tail canary after the 16 << kClass bytes holds.
template <size_t kClass>
[[gnu::always_inline]] inline void CheckKmallocObject(void* p, const char* op) {
  ObjHeader* h = HeaderOf(p);
  void* link = h->link;
  Slab* s = SlabOfLink(link);
  if (h->magic != LiveSeal(h, link) || s->magic != SealMagic(kKmallocSlabMagic, s) ||
      !TailIntact(Bytes(p) + (size_t{16} << kClass))) {
    BadObject(nullptr, p, op);
  }
}

[[noreturn, gnu::cold, gnu::noinline]] void BadFreeObject(KmemCache* c, void* p) {
  Slab* s = SlabOf(c, p);
  ObjHeader* h = HeaderOf(p);
  void* link = h->link;
  if (h->magic != FreeSeal(h, link)) {
    if (link != LinkOf(c, s)) {
      Panic("cache %s: free object %p has a smashed header: its slab link %p is not %p (slab %p)", c->name, p,
            link, LinkOf(c, s), static_cast<void*>(s));
    }
    Panic("cache %s: free object %p has a smashed header (magic 0x%lx)", c->name, p, h->magic);
  }
  size_t off = FindNot(p, c->window, kPoisonByte);
  Panic("cache %s: object %p was written after free: byte at +%lu is 0x%02x, expected 0x%02x", c->name, p, off,
        Bytes(p)[off], kPoisonByte);
}

// The other CPUs' live objects, for this CPU's high-water mark: read at a refill or flush (to or from the
// slab layer or a bundle) once kPeakSampleOps of this CPU's operations have passed since the last reading.
void SampleOthers(const KmemCache* c, Magazine& m) {
  static_assert(kPeakSampleOps < 1 << 16, "Magazine::sampled counts operations modulo 2^16");
  const auto ops = static_cast<uint16_t>(m.allocs + m.frees);
  if (static_cast<uint16_t>(ops - m.sampled) < kPeakSampleOps) return;
  m.sampled = ops;
  m.others_live = LiveOn(c, CpuSet::All().Without(CpuId()));
}

// Whether a refill may take another CPU's partial slab: only once the source has no new slab to give, so
// that two CPUs allocating at once do not share the slab one of them is cutting objects from.
enum class Steal : uint8_t { kNo, kYes };

// Counts `delta` more empty slabs on `l` (whose lock the caller holds), stored so that another CPU may peek.
void AddEmpty(SlabLists& l, int32_t delta) { Write(l.empty_slabs, l.empty_slabs + delta); }

// What a slab's owner reads while it moves from one CPU's lists to another's.
constexpr uint32_t kInTransit = ~uint32_t{0};

// A slab for `cpu`'s refills off another CPU's lists: an empty one, else (when `steal` says so) a partial
// one. Takes each other CPU's lock alone; the slab it returns is on no list and reads as in transit, for
// the caller to push onto `cpu`'s lists.
Slab* TakeFromOthers(KmemCache* c, unsigned cpu, Steal steal) {
  const CpuSet others = OnlineCpus().Without(cpu);
  for (uint32_t pass = 0; pass < (steal == Steal::kYes ? 2 : 1); ++pass) {
    const bool partial = pass == 1;
    for (unsigned other = 0; other < kMaxCpus; ++other) {
      if (!others.Has(other)) continue;
      SlabLists& l = c->owned[other];
      if (!partial && Read(l.empty_slabs) == 0) continue;  // a peek, so that growing takes no other CPU's lock
      LockGuard g(l.lock);
      Slab*& head = partial ? l.partial : l.empty;
      Slab* s = head;
      if (s == nullptr) continue;
      Remove(head, s);
      if (!partial) AddEmpty(l, -1);
      --l.slabs;
      Write(s->owner, kInTransit);
      return s;
    }
  }
  return nullptr;
}

// Locks the lists of the slab's owner and returns them, waiting while the slab is in transit. Only its
// owner's lock keeps a slab where it is, so the owner is read again under it.
SlabLists& LockOwner(KmemCache* c, const Slab* s) {
  for (;;) {
    const uint32_t owner = Read(s->owner);
    if (owner != kInTransit) {
      SlabLists& l = c->owned[owner];
      l.lock.Lock();
      if (Read(s->owner) == owner) return l;
      l.lock.Unlock();
    }
    CpuRelax();
  }
}

// Which slabs HasFree looks for.
enum class FreeIn : uint8_t { kPartial, kPartialOrEmpty };

// Whether any CPU has a slab of `c` with free objects: a partial one, or (kPartialOrEmpty) an empty one.
bool HasFree(KmemCache* c, FreeIn where) {
  for (SlabLists& l : c->owned) {
    LockGuard g(l.lock);
    if (l.partial != nullptr || (where == FreeIn::kPartialOrEmpty && l.empty != nullptr)) return true;
  }
  return false;
}

// Moves up to half a magazine of free objects from the slab layer into the empty magazine `m` (this CPU's,
// interrupts off): from this CPU's partial slabs, then its empty ones, then another CPU's (see
// TakeFromOthers). Returns whether it moved any. Touches no object: the allocation that takes one out of the
// magazine checks it.
bool Refill(KmemCache* c, Magazine& m, Steal steal) {
  const unsigned cpu = CpuId();
  SlabLists& own = c->owned[cpu];
  Slab* adopted = nullptr;
  for (;;) {
    {
      LockGuard g(own.lock);
      if (adopted != nullptr) {  // an empty one on the empty list, as AddSlab puts a new one
        const bool empty = adopted->nfree == c->per_slab;
        Write(adopted->owner, cpu);
        Push(empty ? own.empty : own.partial, adopted);
        if (empty) AddEmpty(own, 1);
        ++own.slabs;
      }
      while (m.count < HalfMagazine(c)) {
        Slab* s = own.partial;
        if (s == nullptr && (s = own.empty) != nullptr) {
          Remove(own.empty, s);
          AddEmpty(own, -1);
          Push(own.partial, s);
        }
        if (s == nullptr) break;
        const ObjIndex* stack = FreeStack(s);
        uint32_t n = s->nfree;
        while (n != 0 && m.count < HalfMagazine(c)) m.obj[m.count++] = ObjectAt(c, s, stack[--n]);
        s->nfree = n;
        if (n == 0) {
          Remove(own.partial, s);
          Push(own.full, s);
        }
      }
    }
    if (m.count == HalfMagazine(c) || (adopted = TakeFromOthers(c, cpu, steal)) == nullptr) break;
  }
  SampleOthers(c, m);
  return m.count != 0;
}

// Publishes a slab from NewSlab on this CPU's empty list: nothing of it is in use until a Refill takes from
// it, and by then a flush may have put a partial slab in front of it, which the Refill prefers. On the
// partial list it would then stay with nothing in use, where no reap finds it.
void AddSlab(KmemCache* c, Slab* s) {
  const unsigned cpu = CpuId();
  SlabLists& l = c->owned[cpu];
  LockGuard g(l.lock);
  Write(s->owner, cpu);
  Push(l.empty, s);
  AddEmpty(l, 1);
  ++l.slabs;
}

// Puts the free object `p` (sealed free) of slab `s`, whose owner's lists `l` the caller has locked, back on
// its free stack. A slab that becomes empty is kept while its owner keeps fewer than kKeptEmptyBytes of
// them, else chained through `next` onto `give`.
void ToSlab(KmemCache* c, SlabLists& l, Slab* s, void* p, Slab*& give) {
  if (s->nfree == 0) {
    Remove(l.full, s);
    Push(l.partial, s);
  }
  FreeStack(s)[s->nfree++] = IndexOf(c, s, p);
  if (s->nfree != c->per_slab) return;
  Remove(l.partial, s);
  if (source.give == nullptr || (l.empty_slabs + 1) * c->slab_bytes <= kKeptEmptyBytes || l.empty_slabs == 0) {
    Push(l.empty, s);
    AddEmpty(l, 1);
  } else {
    --l.slabs;
    s->next = give;
    give = s;
  }
}

// Puts the free objects objs[0, n) back on their slabs, taking each owner's lock once for all of its
// objects (mostly this CPU's own: another's only for objects it freed that another CPU allocated).
void ToSlabs(KmemCache* c, void* const* objs, uint32_t n, Slab*& give) {
  static_assert(kMagazine <= 128, "a magazine's objects fit the bitmap");
  uint64_t done[2] = {};
  for (uint32_t first = 0; first < n; ++first) {
    if ((done[first / 64] >> (first % 64)) & 1) continue;
    SlabLists& l = LockOwner(c, SlabOf(c, objs[first]));
    const uint32_t owner = static_cast<uint32_t>(&l - c->owned);
    for (uint32_t i = first; i < n; ++i) {
      Slab* s = SlabOf(c, objs[i]);
      if (((done[i / 64] >> (i % 64)) & 1) || Read(s->owner) != owner) continue;
      ToSlab(c, l, s, objs[i], give);
      done[i / 64] |= uint64_t{1} << (i % 64);
    }
    l.lock.Unlock();
  }
}

// Drops obj[0, n) from this CPU's magazine `m` (they went back to their slabs or into a bundle), shifts the
// rest down and samples the other CPUs, as every move to or from the slab layer or a bundle does.
void DropBottom(const KmemCache* c, Magazine& m, uint32_t n) {
  m.count -= n;
  __builtin_memmove(m.obj, m.obj + n, m.count * sizeof(void*));
  SampleOthers(c, m);
}

// Returns the objects obj[0, n) of this CPU's magazine `m` to their slabs (interrupts off) and shifts the
// rest down. Returns the slabs to give back to the source, which the caller does once interrupts are as its
// caller had them.
Slab* Flush(KmemCache* c, Magazine& m, uint32_t n) {
  Slab* give = nullptr;
  ToSlabs(c, m.obj, n, give);
  DropBottom(c, m, n);
  return give;
}

void GiveBack(const KmemCache* c, Slab* list) {
  while (list != nullptr) {
    Slab* s = list;
    list = s->next;
    source.give(source.ctx, s, c->slab_bytes);
  }
}

// Moves obj[0, HalfMagazine) of this CPU's full magazine `m` into the empty bundle `b`, which becomes its
// last, and shifts the rest down. No lock: the bundles are the CPU's own. The objects stay as they are in
// the magazine, sealed free and linked to their slabs, and are checked when an allocation takes them out.
void ToBundle(KmemCache* c, Magazine& m, Bundle* b) {
  const uint32_t n = HalfMagazine(c);
  __builtin_memcpy(b->obj, m.obj, n * sizeof(void*));
  m.bundle[m.bundles++] = b;
  DropBottom(c, m, n);
}

// Moves this CPU's last bundle into its empty magazine `m`. Returns the emptied bundle, for the caller to
// free once interrupts are as its caller had them. Out of line: each window's AllocSlow would otherwise
// carry its own copy.
[[gnu::noinline]] Bundle* FromBundle(KmemCache* c, Magazine& m) {
  Bundle* b = m.bundle[--m.bundles];
  const uint32_t n = HalfMagazine(c);
  __builtin_memcpy(m.obj + m.count, b->obj, n * sizeof(void*));
  m.count += n;
  SampleOthers(c, m);
  return b;
}

Bundle* NewBundle();
void FreeBundle(Bundle* b);

// Every object of this CPU's magazine and bundles of `c` back to its slab; the slabs that empty past what
// the cache keeps go back to the source, the emptied bundles to bundle_cache.
void Drain(KmemCache* c, Magazine& m) {
  Slab* give = Flush(c, m, m.count);
  for (uint32_t b = 0; b < m.bundles; ++b) ToSlabs(c, m.bundle[b]->obj, HalfMagazine(c), give);
  while (m.bundles != 0) FreeBundle(m.bundle[--m.bundles]);
  GiveBack(c, give);
}

// Whether the caller of a kmem entry point has interrupts on, so that it may cross-call.
bool InterruptsOn() {
  const IrqState irq = IrqSave();
  IrqRestore(irq);
  return irq == IrqState::kWereOn;
}

// A cross-call's part: this CPU's magazine and bundles of the cache `arg` go back to the slab layer.
void DrainHere(void* arg) {
  auto* c = static_cast<KmemCache*>(arg);
  Drain(c, MagazineHere(c));
}

void DrainEveryCpu(KmemCache* c) { CrossCall(OnlineCpus(), DrainHere, c); }

uint64_t ReapEmpty(KmemCache* c) {
  if (source.give == nullptr) return 0;
  uint64_t bytes = 0;
  for (SlabLists& l : c->owned) {
    Slab* list;
    {
      LockGuard g(l.lock);
      list = l.empty;
      l.empty = nullptr;
      l.slabs -= l.empty_slabs;
      Write(l.empty_slabs, 0u);
    }
    for (Slab* s = list; s != nullptr; s = s->next) bytes += c->slab_bytes;
    GiveBack(c, list);
  }
  return bytes;
}

uint64_t ReapAllEmpty() {
  LockGuard g(caches_lock);
  uint64_t bytes = 0;
  for (KmemCache* c = all_caches; c != nullptr; c = c->next) bytes += ReapEmpty(c);
  return bytes;
}

// Memory for one more refill of `c` when this CPU's slabs and the empty ones have none: a new slab, or
// else, under memory pressure, every cache's kept empty slabs back to the source, then the other CPUs'
// partial slabs (`steal` becomes kYes), then every CPU's magazine of `c` drained into the slab layer, then
// every other cache's too (KmemReap), whose free objects may hold slabs the source can then give `c`. The
// reaps and drains need the caller's interrupts on (which also means it holds no lock: they take the cache
// list's lock and cross-call). Returns false when nothing came of it.
bool Grow(KmemCache* c, Steal& steal) {
  Slab* s = NewSlab(c);
  const bool may_reap = s == nullptr && InterruptsOn();
  if (may_reap && ReapAllEmpty() != 0) s = NewSlab(c);
  if (s != nullptr) {
    AddSlab(c, s);
    return true;
  }
  if (steal == Steal::kNo) {
    steal = Steal::kYes;
    if (HasFree(c, FreeIn::kPartial)) return true;
  }
  if (!may_reap) return false;
  DrainEveryCpu(c);
  if (HasFree(c, FreeIn::kPartialOrEmpty)) return true;
  if (KmemReap() == 0 || (s = NewSlab(c)) == nullptr) return false;
  AddSlab(c, s);
  return true;
}

// Out of line so that the allocation fast path can jump here instead of calling memset. The empty asm
// hides that the result is `p`: knowing it, the compiler keeps `p` live across a call instead of jumping.
[[gnu::noinline]] void* ZeroObject(void* p, size_t size) {
  __builtin_memset(p, 0, size);
  asm("" : "+r"(p));
  return p;
}

// Takes the top object of this CPU's non-empty magazine `m` (interrupts off) and makes it live: checks its
// free seal and poison, seals it live, counts it.
template <uint32_t kWindow>
[[gnu::always_inline]] inline void* TakeFrom(KmemCache* c, Magazine& m, Site site) {
  const uint32_t n = m.count - 1;
  void* p = m.obj[n];
  m.count = n;
  ObjHeader* h = HeaderOf(p);
  void* link = h->link;  // sealed in the magic, so it stays as it is
  if (h->magic != FreeSeal(h, link) || !WindowPoisoned<kWindow>(p)) BadFreeObject(c, p);
  h->magic = LiveSeal(h, link);
  h->site = site;
  const uint64_t allocs = m.allocs + 1;
  Write(m.allocs, allocs);
  // Signed: with others_live stale and this CPU freeing the others' objects, the estimate may dip below 0.
  const uint64_t live = m.others_live + allocs - m.frees;
  if (static_cast<int64_t>(live) > static_cast<int64_t>(m.peak_live)) Write(m.peak_live, live);
  return p;
}

template <uint32_t kWindow>
[[gnu::noinline]] void* AllocSlow(KmemCache* c, Zero zero, Site site) {
  Steal steal = Steal::kNo;
  for (;;) {
    const CpuIrq here = IrqSaveCpu();
    Magazine& m = MagazineOn(here.cpu, c);
    Bundle* emptied = m.count == 0 && m.bundles != 0 ? FromBundle(c, m) : nullptr;
    if (m.count != 0 || Refill(c, m, steal)) {
      void* p = TakeFrom<kWindow>(c, m, site);
      IrqRestore(here.irq);
      if (emptied != nullptr) FreeBundle(emptied);
      return zero == Zero::kYes ? ZeroObject(p, c->size) : p;
    }
    IrqRestore(here.irq);
    if (!Grow(c, steal)) return nullptr;
  }
}

// The fast path makes no calls: the slow, zeroing and failing paths are tail calls, so it saves no
// registers either. `kWindow` must match c->window.
template <uint32_t kWindow>
[[gnu::always_inline]] inline void* AllocWindowed(KmemCache* c, Zero zero, Site site) {
  CpuIrq here;
  if (__builtin_expect(!TryIrqSaveCpu(here), 0)) return AllocSlow<kWindow>(c, zero, site);
  Magazine& m = MagazineOn(here.cpu, c);
  if (__builtin_expect(m.count == 0, 0)) {
    IrqRestore(here.irq);
    return AllocSlow<kWindow>(c, zero, site);
  }
  void* p = TakeFrom<kWindow>(c, m, site);
  IrqRestore(here.irq);
  if (zero == Zero::kYes) return ZeroObject(p, c->size);
  return p;
}

// Puts the free object `p` in this CPU's magazine of `c` when the fast path could not: a full magazine
// first moves its oldest half into a new bundle, or past its bundles (or when bundle_cache has no array to
// give) back to the slab layer. The array is allocated with interrupts off, so that a free never reaps or
// cross-calls for one: it takes a new slab at most, and flushes when there is none.
[[gnu::noinline]] void PutSlow(KmemCache* c, void* p) {
  const CpuIrq here = IrqSaveCpu();
  Magazine& m = MagazineOn(here.cpu, c);
  Slab* give = nullptr;
  if (m.count == c->magazine_cap) {
    Bundle* b = m.bundles < c->max_bundles ? NewBundle() : nullptr;
    if (b != nullptr) {
      ToBundle(c, m, b);
    } else {
      give = Flush(c, m, HalfMagazine(c));
    }
  }
  m.obj[m.count++] = p;
  Write(m.frees, m.frees + 1);
  IrqRestore(here.irq);
  if (give != nullptr) GiveBack(c, give);
}

// Frees the live object `p` of `c`, whose guards the caller checked, into this CPU's magazine: poisons its
// window and seals it free (its link keeps naming its slab) before it goes in. Makes no call but PutSlow's
// tail call.
template <uint32_t kWindow>
[[gnu::always_inline]] inline void FreeWindowed(KmemCache* c, void* p) {
  PoisonWindow<kWindow>(p);
  ObjHeader* h = HeaderOf(p);
  h->magic = FreeSeal(h, h->link);
  CpuIrq here;
  if (__builtin_expect(!TryIrqSaveCpu(here), 0)) return PutSlow(c, p);
  Magazine& m = MagazineOn(here.cpu, c);
  if (__builtin_expect(m.count == c->magazine_cap, 0)) {
    IrqRestore(here.irq);
    return PutSlow(c, p);
  }
  m.obj[m.count++] = p;
  Write(m.frees, m.frees + 1);
  IrqRestore(here.irq);
}

// A bundle's array, or nullptr. bundle_cache's window is the full one: its objects are larger. Out of line,
// so that with tags the array's site is the free that bundled (PutSlow), not whoever called that free.
static_assert(sizeof(Bundle) >= kSlabPoisonWindow, "bundle_cache's objects have the full poison window");
[[gnu::noinline]] Bundle* NewBundle() {
  return static_cast<Bundle*>(AllocWindowed<kSlabPoisonWindow>(&bundle_cache, Zero::kNo, KMEM_CALLER_SITE()));
}
void FreeBundle(Bundle* b) {
  CheckCacheObject(&bundle_cache, b, "free");
  FreeWindowed<kSlabPoisonWindow>(&bundle_cache, b);
}

// AllocWindowed for a cache of objects smaller than the full window, out of line, each window on its own:
// inline beside the full window's, the narrow windows' register needs made every KmemCacheAlloc save and
// restore two registers (6 callgrind instructions a slab pair).
template <uint32_t kWindow>
[[gnu::noinline]] void* AllocNarrow(KmemCache* c, Zero zero, Site site) {
  return AllocWindowed<kWindow>(c, zero, site);
}

// KmemCacheAlloc for the entry points, which name their own caller as the site.
[[gnu::always_inline]] inline void* CacheAlloc(KmemCache* c, Zero zero, Site site) {
  return ByWindow(
      c->window,
      [c, zero, site](auto w) KMEM_INLINE_LAMBDA {
        constexpr uint32_t kWindow = decltype(w)::kWindow;
        if constexpr (kWindow == kSlabPoisonWindow) {
          return AllocWindowed<kWindow>(c, zero, site);
        } else {
          return AllocNarrow<kWindow>(c, zero, site);
        }
      },
      [c]() -> void* { BadCache(c, "alloc"); });
}

// The Kmalloc class of `size` (0..kKmallocMax): 16 << class is the smallest class size >= size. No branch.
size_t ClassOf(size_t size) {
  uint64_t last = size - 1 + (size == 0);  // the largest byte offset, 0 for Kmalloc(0)
  return 60 - __builtin_clzll(last | 15);
}

}  // namespace

void KmemInit(const MemSource& src) {
  source = src;
  all_caches = nullptr;
  // In place: an assignment of CpuMagazines{} may build the 24 KiB value on the stack first.
  for (unsigned cpu = 0; cpu < kMaxCpus; ++cpu) new (&magazines[cpu]) CpuMagazines{};
  magazines_used = 0;
  uint32_t slot = 0;
  Setup(&cache_cache, "kmem_cache", sizeof(KmemCache), alignof(KmemCache), slot++);
  Link(&cache_cache);
  Setup(&bundle_cache, "kmem_bundle", sizeof(Bundle), alignof(Bundle), slot++);
  bundle_cache.max_bundles = 0;
  Link(&bundle_cache);
  for (size_t i = 0; i < kClasses; ++i) {
    Setup(&kmalloc_caches[i], kClassNames[i], size_t{16} << i, 16, slot++);
    Link(&kmalloc_caches[i]);
  }
  magazines_used = (uint32_t{1} << slot) - 1;
}

void* KmemCacheAlloc(KmemCache* c, Zero zero) { return CacheAlloc(c, zero, KMEM_CALLER_SITE()); }

void KmemCacheFree(KmemCache* c, void* p) {
  CheckCacheObject(c, p, "free");
  ByWindow(
      c->window, [c, p](auto w) KMEM_INLINE_LAMBDA { FreeWindowed<decltype(w)::kWindow>(c, p); },
      [c] { BadCache(c, "free"); });
}

KmemCache* KmemCacheCreate(const char* name, size_t size, size_t align) {
  if (align == 0) align = 8;
  KASSERT(size > 0 && size <= kMaxObject, "cache %s: object size %lu not in 1..%lu", name, size, kMaxObject);
  KASSERT(IsPowerOfTwo(align) && align <= kPageSize, "cache %s: alignment %lu", name, align);
  uint32_t slot;
  {
    LockGuard g(caches_lock);
    if (magazines_used == kAllMagazines) return nullptr;
    slot = static_cast<uint32_t>(__builtin_ctz(~magazines_used));
    magazines_used |= uint32_t{1} << slot;
  }
  void* mem;
  if constexpr (kPoolTags) {
    mem = CacheAlloc(&cache_cache, Zero::kYes, KMEM_CALLER_SITE());  // the descriptor names the creator
  } else {
    mem = KmemCacheAlloc(&cache_cache, Zero::kYes);  // one copy of the allocation, as always without tags
  }
  auto* c = static_cast<KmemCache*>(mem);
  LockGuard g(caches_lock);
  if (c == nullptr) {
    magazines_used &= ~(uint32_t{1} << slot);
    return nullptr;
  }
  Setup(c, name, size, align < 8 ? 8 : align, slot);
  Link(c);
  return c;
}

bool KmemCacheDestroy(KmemCache* c) {
  KASSERT(c != &cache_cache && c != &bundle_cache && !IsKmallocCache(c), "cache %s belongs to kmem itself",
          c->name);
  if (StateOf(c) != CacheState::kLive) BadCache(c, "destroy");
  DrainEveryCpu(c);
  if (Live(c) != 0) return false;
  {
    LockGuard g(caches_lock);
    for (KmemCache** link = &all_caches; *link != nullptr; link = &(*link)->next) {
      if (*link == c) {
        *link = c->next;
        break;
      }
    }
    // Every CPU's magazine of the slot is empty (drained) and its counters go with the cache.
    for (unsigned cpu = 0; cpu < kMaxCpus; ++cpu) new (&magazines[cpu].slot[c->magazine]) Magazine{};
    magazines_used &= ~(uint32_t{1} << c->magazine);
  }
  // Drained and with nothing live, every slab is empty, kept or just given back.
  for (const SlabLists& l : c->owned) {
    KASSERT(l.partial == nullptr && l.full == nullptr, "cache %s: slabs in use with no object live", c->name);
    if (source.give != nullptr) GiveBack(c, l.empty);
  }
  KmemCacheFree(&cache_cache, c);
  return true;
}

void* Kmalloc(size_t size, Zero zero) {
  if (size > kKmallocMax) return nullptr;
  // The class fixes the cache and its window (16 << class bytes, KmemInit): no load of c->window decides the
  // check.
  const Site site = KMEM_CALLER_SITE();
  return ByTag(
      ClassOf(size) + 1,
      [zero, site](auto k) KMEM_INLINE_LAMBDA {
        using K = decltype(k);
        return AllocWindowed<K::kWindow>(&kmalloc_caches[K::kClass], zero, site);
      },
      []() -> void* { __builtin_unreachable(); });  // ClassOf of at most kKmallocMax is a class
}

void Kfree(void* p) {
  if (p == nullptr) return;
  ByTag(
      TagOfLink(HeaderOf(p)->link),
      [p](auto k) KMEM_INLINE_LAMBDA {
        using K = decltype(k);
        CheckKmallocObject<K::kClass>(p, "kfree");
        FreeWindowed<K::kWindow>(&kmalloc_caches[K::kClass], p);
      },
      [p] { BadObject(nullptr, p, "kfree"); });
}

size_t KmallocSize(void* p) {
  return ByTag(
      TagOfLink(HeaderOf(p)->link),
      [p](auto k) {
        CheckKmallocObject<decltype(k)::kClass>(p, "ksize");
        return size_t{16} << decltype(k)::kClass;
      },
      [p]() -> size_t { BadObject(nullptr, p, "ksize"); });
}

AllocStats KmemCacheStats(const KmemCache* c) {
  AllocStats s;
  uint64_t peak = 0;
  for (unsigned cpu = 0; cpu < kMaxCpus; ++cpu) {
    const Magazine& m = magazines[cpu].slot[c->magazine];
    s.allocs += Read(m.allocs);
    s.frees += Read(m.frees);
    const uint64_t p = Read(m.peak_live);
    if (p > peak) peak = p;
  }
  s.live_blocks = s.allocs - s.frees;
  if (s.live_blocks > peak) peak = s.live_blocks;
  s.live_bytes = s.live_blocks * c->size;
  s.peak_bytes = peak * c->size;
  return s;
}

AllocStats KmallocStats() {
  AllocStats sum;
  for (const KmemCache& c : kmalloc_caches) {
    AllocStats s = KmemCacheStats(&c);
    sum.live_blocks += s.live_blocks;
    sum.live_bytes += s.live_bytes;
    sum.peak_bytes += s.peak_bytes;
    sum.allocs += s.allocs;
    sum.frees += s.frees;
  }
  return sum;
}

uint64_t KmemCacheSlabs(KmemCache* c) {
  uint64_t slabs = 0;
  for (SlabLists& l : c->owned) {
    LockGuard g(l.lock);
    slabs += l.slabs;
  }
  return slabs;
}

uint64_t KmemCacheEmptySlabs(KmemCache* c) {
  uint64_t empty = 0;
  for (SlabLists& l : c->owned) {
    LockGuard g(l.lock);
    empty += l.empty_slabs;
  }
  return empty;
}

uint64_t KmemSlabBytes() {
  LockGuard g(caches_lock);
  uint64_t bytes = 0;
  for (KmemCache* c = all_caches; c != nullptr; c = c->next) bytes += KmemCacheSlabs(c) * c->slab_bytes;
  return bytes;
}

uint64_t KmemReap() {
  if (!InterruptsOn()) return 0;
  CrossCall(
      OnlineCpus(),
      [](void*) {
        LockGuard g(caches_lock);
        for (KmemCache* c = all_caches; c != nullptr; c = c->next) {
          if (c != &bundle_cache) Drain(c, MagazineHere(c));
        }
        Drain(&bundle_cache, MagazineHere(&bundle_cache));  // last: the others' drains free their bundles
      },
      nullptr);
  return ReapAllEmpty();
}

void KmemCacheCheck(KmemCache* c) {
  // What every CPU holds, in its magazine and its bundles: free objects of this cache, sealed free, which
  // their slabs count in use; the slab walk below checks their poison.
  uint64_t held = 0;
  auto check_held = [c, &held](void* p, unsigned cpu, const char* where) {
    const ObjHeader* h = HeaderOf(p);
    const Slab* s = SlabOf(c, p);
    KASSERT(s->magic == SlabMagic(c, s) && s->cache == c && h->link == LinkOf(c, s) &&
                h->magic == FreeSeal(h, h->link),
            "cache %s: cpu %u holds %p in its %s, which is no free object of the cache", c->name, cpu, p, where);
    ++held;
  };
  for (unsigned cpu = 0; cpu < kMaxCpus; ++cpu) {
    const Magazine& m = MagazineOn(cpu, c);
    KASSERT(m.count <= c->magazine_cap && m.bundles <= c->max_bundles,
            "cache %s: cpu %u holds %u objects of at most %u and %u bundles of at most %u", c->name, cpu, m.count,
            c->magazine_cap, m.bundles, c->max_bundles);
    for (uint32_t i = 0; i < m.count; ++i) check_held(m.obj[i], cpu, "magazine");
    for (uint32_t b = 0; b < m.bundles; ++b) {
      for (uint32_t i = 0; i < HalfMagazine(c); ++i) check_held(m.bundle[b]->obj[i], cpu, "bundles");
    }
  }
  uint64_t live = 0, unlisted = 0;
  enum List : uint32_t { kPartial, kFull, kEmpty, kLists };
  for (unsigned owner = 0; owner < kMaxCpus; ++owner) {
    SlabLists& l = c->owned[owner];
    LockGuard g(l.lock);
    uint32_t slabs = 0, empty = 0;
    for (uint32_t list = kPartial; list < kLists; ++list) {
      for (Slab* s = list == kPartial ? l.partial : list == kFull ? l.full : l.empty; s != nullptr; s = s->next) {
        KASSERT(s->magic == SlabMagic(c, s) && s->cache == c, "cache %s: slab %p header smashed", c->name,
                static_cast<void*>(s));
        KASSERT(s->owner == owner, "cache %s: slab %p of cpu %u is on cpu %u's lists", c->name,
                static_cast<void*>(s), s->owner, owner);
        ++slabs;
        const void* link = LinkOf(c, s);  // every object's of the slab, live or free
        uint64_t in_slab = 0, free_objects = 0;
        for (uint64_t i = 0; i < c->per_slab; ++i) {
          void* p = ObjectAt(c, s, i);
          ObjHeader* h = HeaderOf(p);
          KASSERT(TailIntact(Bytes(p) + c->object), "cache %s: object %p tail canary smashed", c->name, p);
          if (h->magic == LiveSeal(h, link) && h->link == link) {
            ++in_slab;
            continue;
          }
          KASSERT(h->magic == FreeSeal(h, link) && h->link == link, "cache %s: object %p header smashed", c->name,
                  p);
          size_t off = FindNot(p, c->window, kPoisonByte);
          KASSERT(off == c->window, "cache %s: free object %p written after free at +%lu", c->name, p, off);
          ++free_objects;
        }
        // The free stack: distinct indices of free objects (the loop above checked their headers' seals).
        KASSERT(s->nfree <= c->per_slab, "cache %s: slab %p has %u free of %u objects", c->name,
                static_cast<void*>(s), s->nfree, c->per_slab);
        uint64_t stacked[(kMaxPerSlab + 1) / 64] = {};
        for (uint32_t k = 0; k < s->nfree; ++k) {
          const ObjIndex i = FreeStack(s)[k];
          const ObjHeader* h = i < c->per_slab ? HeaderOf(ObjectAt(c, s, i)) : nullptr;
          KASSERT(h != nullptr && (stacked[i / 64] & (uint64_t{1} << (i % 64))) == 0 &&
                      h->magic != LiveSeal(h, link),
                  "cache %s: slab %p free stack broken at entry %u (object %u)", c->name, static_cast<void*>(s), k, i);
          stacked[i / 64] |= uint64_t{1} << (i % 64);
        }
        // The free objects off the free stack are in magazines and bundles, which count as in use to their slab.
        KASSERT(in_slab + free_objects == c->per_slab,
                "cache %s: slab %p has %lu live and %lu free objects of %u", c->name, static_cast<void*>(s), in_slab,
                free_objects, c->per_slab);
        const bool right = list == (s->nfree == c->per_slab ? kEmpty : s->nfree == 0 ? kFull : kPartial);
        KASSERT(right, "cache %s: slab %p (%u in use) on the wrong list", c->name, static_cast<void*>(s), InUse(c, s));
        if (list == kEmpty) ++empty;
        live += in_slab;
        unlisted += free_objects - s->nfree;
      }
    }
    KASSERT(slabs == l.slabs && empty == l.empty_slabs,
            "cache %s: cpu %u's lists hold %u slabs (%u empty), their counts say %u (%u empty)", c->name, owner,
            slabs, empty, l.slabs, l.empty_slabs);
  }
  KASSERT(unlisted == held, "cache %s: the slabs have %lu free objects off their free stacks, the CPUs hold %lu",
          c->name, unlisted, held);
  KASSERT(live == Live(c), "cache %s: walk finds %lu live objects, statistics say %lu", c->name, live, Live(c));
}

void KmemCheckAll() {
  LockGuard g(caches_lock);
  for (KmemCache* c = all_caches; c != nullptr; c = c->next) KmemCacheCheck(c);
}

void KmemDump() {
  Print("cache              size  live objects   live bytes   peak bytes  slabs  slab bytes\n");
  LockGuard g(caches_lock);
  for (KmemCache* c = all_caches; c != nullptr; c = c->next) {
    AllocStats s = KmemCacheStats(c);
    Print("%-16s %6u %13lu %12lu %12lu %6lu %11lu\n", c->name, c->size, s.live_blocks, s.live_bytes,
          s.peak_bytes, KmemCacheSlabs(c), c->slab_bytes);
  }
}

#if KMEM_POOL_TAGS
void KmemSites(SiteTable& table) {
  LockGuard g(caches_lock);
  for (KmemCache* c = all_caches; c != nullptr; c = c->next) {
    for (SlabLists& l : c->owned) {
      LockGuard lists(l.lock);
      Slab* const in_use[] = {l.partial, l.full};  // an empty slab holds nothing live
      for (Slab* s : in_use) {
        for (; s != nullptr; s = s->next) {
          for (uint64_t i = 0; i < c->per_slab; ++i) {
            ObjHeader* h = HeaderOf(ObjectAt(c, s, i));
            if (h->magic == LiveSeal(h, LinkOf(c, s))) table.Add(h->site.pc, c->size);
          }
        }
      }
    }
  }
}
#endif

}  // namespace kmem::pool
