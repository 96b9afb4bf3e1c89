#include "mm/pool/slab.h"

#include "mm/base/addr.h"
#include "mm/base/format.h"
#include "mm/base/panic.h"

namespace kmem::pool {

// At the start of every slab; the slab is aligned to its size, so an object finds it by rounding down.
struct Slab {
  uint64_t magic;  // SealMagic(kKmallocSlabMagic or kSlabMagic, this): Kfree tells its own slabs by it
  KmemCache* cache;
  Slab* next;
  Slab* prev;
  void* free;  // first free object; each free object's first word points to the next one
  uint64_t inuse;
  uint64_t unused[2];
};
static_assert(sizeof(Slab) == 64, "one cache line, so the first object header starts a fresh line");

// Right below every object. A live object's header names its slab, Kfree's way there in one load; a free
// object's holds the free-list link, so every byte of the object's window holds poison. The magic is
// sealed with the link word as well as the header's address, so one compare also catches a smashed link.
struct ObjHeader {
  uint64_t magic;  // LiveSeal(this, slab) while live, FreeSeal(this, next) while free
  void* link;      // live: the object's Slab; free: the next free object of the slab, or nullptr
};
static_assert(sizeof(ObjHeader) == 16, "keeps 16-byte objects 16-aligned in 16-aligned slots");

namespace {

constexpr uint64_t kSlabMagic = 0x51ab51ab51ab51abULL;
constexpr uint64_t kKmallocSlabMagic = 0x51abca11ab1e51abULL;
constexpr uint64_t kLiveMagic = 0x0b1ec7a11ab1e0b1ULL;
constexpr uint64_t kFreeMagic = 0x0b1ecf4eef4eeb1cULL;
constexpr size_t kClasses = 9;                     // 16 B .. 4 KiB
constexpr uint64_t kMinObjectsPerSlab = 8;         // bounds slab overhead for the large classes
constexpr size_t kMaxObject = 64 * 1024;

const char* const kClassNames[kClasses] = {"kmalloc-16",  "kmalloc-32",   "kmalloc-64",
                                           "kmalloc-128", "kmalloc-256",  "kmalloc-512",
                                           "kmalloc-1k",  "kmalloc-2k",   "kmalloc-4k"};

constinit MemSource source;
constinit KmemCache cache_cache;
constinit KmemCache kmalloc_caches[kClasses];
constinit KmemCache* all_caches = nullptr;

uint8_t* Bytes(void* p) { return static_cast<uint8_t*>(p); }
ObjHeader* HeaderOf(void* p) { return static_cast<ObjHeader*>(p) - 1; }
Slab* SlabOfLive(const ObjHeader* h) { return static_cast<Slab*>(h->link); }
uint64_t RoundUp(uint64_t x, uint64_t align) { return (x + align - 1) & ~(align - 1); }
bool IsKmallocCache(const KmemCache* c) { return c >= kmalloc_caches && c < kmalloc_caches + kClasses; }
uint64_t LiveSeal(const ObjHeader* h, const Slab* s) {
  return SealMagic(kLiveMagic ^ reinterpret_cast<uintptr_t>(s), h);
}
uint64_t FreeSeal(const ObjHeader* h, const void* link) {
  return SealMagic(kFreeMagic ^ reinterpret_cast<uintptr_t>(link), h);
}
uint64_t SlabMagic(const KmemCache* c, const Slab* s) {
  return SealMagic(IsKmallocCache(c) ? kKmallocSlabMagic : kSlabMagic, s);
}
uint64_t Live(const KmemCache* c) { return c->allocs - c->frees; }

constexpr uint64_t kPoisonWord = kPoisonByte * 0x0101010101010101ULL;
static_assert(kPoisonByte * 0x01010101U > kSlabPoisonWindow, "AllocFrom tells a destroyed cache by its window");

// Stores `kWords` poison words at `w`, in a constant-count loop the compiler turns into the same wide
// stores as the matching loads in WindowPoisoned. Widths must match: a 16-byte load of two 8-byte stores
// just made cannot be forwarded from them and waits for them to reach the cache (8.3 instead of 5 ns a
// Kmalloc/Kfree pair at 32 bytes when the free stored words and the allocation loaded pairs of them).
template <int kWords>
[[gnu::always_inline]] inline void PoisonWords(uint64_t* w) {
  for (int i = 0; i < kWords; ++i) w[i] = kPoisonWord;
}

// Poisons words [0, window / 8) of a free object. Straight-line stores (constant-count loops for the
// windows that have their own check, the fall-through switch for the rest), since a loop of a runtime
// count becomes a call to memset, which costs more than the rest of a Kmalloc/Kfree pair at these sizes.
void PoisonWindow(void* p, uint32_t window) {
  auto* w = static_cast<uint64_t*>(p);
  if (__builtin_expect(window == kSlabPoisonWindow, 1)) return PoisonWords<8>(w);  // every object >= 64 B
  if (window == 32) return PoisonWords<4>(w);
  if (window == 16) return PoisonWords<2>(w);
  switch (window / 8) {
    case 8: w[7] = kPoisonWord; [[fallthrough]];
    case 7: w[6] = kPoisonWord; [[fallthrough]];
    case 6: w[5] = kPoisonWord; [[fallthrough]];
    case 5: w[4] = kPoisonWord; [[fallthrough]];
    case 4: w[3] = kPoisonWord; [[fallthrough]];
    case 3: w[2] = kPoisonWord; [[fallthrough]];
    case 2: w[1] = kPoisonWord; [[fallthrough]];
    case 1: w[0] = kPoisonWord; [[fallthrough]];
    default: break;
  }
}

// Which poison window a fast path was specialised for: every cache of objects of 64 bytes or more has the
// full window, whose check is eight constant-offset loads; 16- and 32-byte objects (Kmalloc's two smallest
// classes among them) have their own (two and four loads); any other short window goes through the switch.
enum class Window { kFull, k16, k32, kShort };

// Checks words [0, window / 8) of a free object for poison. Each window is its own instantiation: written
// as one function, the compiler merged the straight-line check with the switch into one block of
// register-held offsets, which spilled and cost Kmalloc about a nanosecond per pair.
template <Window kWindow>
[[gnu::always_inline]] inline bool WindowPoisoned(const void* p, uint32_t window) {
  const auto* w = static_cast<const uint64_t*>(p);
  uint64_t diff = 0;
  if constexpr (kWindow == Window::kFull || kWindow == Window::k16 || kWindow == Window::k32) {
    constexpr int kWords = kWindow == Window::kFull ? 8 : kWindow == Window::k32 ? 4 : 2;
    for (int i = 0; i < kWords; ++i) diff |= w[i] ^ kPoisonWord;
    return diff == 0;
  }
  switch (window / 8) {
    case 8: diff |= w[7] ^ kPoisonWord; [[fallthrough]];
    case 7: diff |= w[6] ^ kPoisonWord; [[fallthrough]];
    case 6: diff |= w[5] ^ kPoisonWord; [[fallthrough]];
    case 5: diff |= w[4] ^ kPoisonWord; [[fallthrough]];
    case 4: diff |= w[3] ^ kPoisonWord; [[fallthrough]];
    case 3: diff |= w[2] ^ kPoisonWord; [[fallthrough]];
    case 2: diff |= w[1] ^ kPoisonWord; [[fallthrough]];
    case 1: diff |= w[0] ^ kPoisonWord; [[fallthrough]];
    default: break;
  }
  return diff == 0;
}

static_assert(kSlabPoisonWindow == 64, "PoisonWindow and WindowPoisoned spell out eight words");

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

void Setup(KmemCache* c, const char* name, size_t size, size_t align) {
  *c = KmemCache{};
  c->name = name;
  c->size = static_cast<uint32_t>(size);
  c->align = static_cast<uint32_t>(align);
  c->object = static_cast<uint32_t>(RoundUp(size, 8));
  c->window = c->object < kSlabPoisonWindow ? c->object : static_cast<uint32_t>(kSlabPoisonWindow);
  c->stride = static_cast<uint32_t>(RoundUp(sizeof(ObjHeader) + c->object + kTailBytes, align));
  c->first = static_cast<uint32_t>(RoundUp(sizeof(Slab) + sizeof(ObjHeader), align));
  uint64_t bytes = kPageSize;
  while ((bytes - c->first) / c->stride < kMinObjectsPerSlab) bytes *= 2;
  c->slab_bytes = bytes;
  c->per_slab = static_cast<uint32_t>((bytes - c->first) / c->stride);
  KmemCache** link = &all_caches;  // appended, so KmemDump lists caches in creation order
  while (*link != nullptr) link = &(*link)->next;
  *link = c;
}

void* ObjectAt(KmemCache* c, Slab* s, uint64_t i) { return Bytes(s) + c->first + i * c->stride; }

Slab* SlabOf(const KmemCache* c, const void* p) {
  return reinterpret_cast<Slab*>(AlignDown(reinterpret_cast<uintptr_t>(p), c->slab_bytes));
}

// Takes a slab from the source and threads all its objects, poisoned, onto its free list (lowest first).
[[gnu::noinline]] Slab* NewSlab(KmemCache* c) {
  if (source.take == nullptr) return nullptr;
  auto* s = static_cast<Slab*>(source.take(source.ctx, c->slab_bytes, c->slab_bytes));
  if (s == nullptr) return nullptr;
  s->magic = SlabMagic(c, s);
  s->cache = c;
  s->inuse = 0;
  s->free = nullptr;
  for (uint64_t i = c->per_slab; i-- > 0;) {
    void* p = ObjectAt(c, s, i);
    ObjHeader* h = HeaderOf(p);
    h->link = s->free;
    h->magic = FreeSeal(h, h->link);
    PoisonWindow(p, c->window);
    PutTail(Bytes(p) + c->object);
    s->free = p;
  }
  Push(c->partial, s);
  ++c->slabs;
  return s;
}

// What a cache pointer names. A cache from KmemCacheCreate is a live object of cache_cache, a destroyed
// one is a free object of it (until the descriptor is reused); kmem's own caches are static and live.
enum class CacheState { kLive, kDestroyed, kForeign };

CacheState StateOf(KmemCache* c) {
  if (c == &cache_cache || IsKmallocCache(c)) return CacheState::kLive;
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
  Slab* s = SlabOfLive(h);
  if (h->magic != LiveSeal(h, s)) {
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

// The cache and slab of the live object `p`. Every guard of a live object is checked here, each failure
// going to BadObject for the message.
struct Owner {
  KmemCache* cache;
  Slab* slab;
};

// For KmemCacheFree: the slab comes from the cache's slab size, so finding it waits on no load.
[[gnu::always_inline]] inline Owner CheckedCacheObject(KmemCache* c, void* p, const char* op) {
  if (__builtin_expect(p == nullptr, 0)) BadObject(c, p, op);  // its header would be at -16
  ObjHeader* h = HeaderOf(p);
  Slab* s = SlabOf(c, p);
  if (h->magic != LiveSeal(h, s) || h->link != s || s->magic != SealMagic(kSlabMagic, s) || s->cache != c ||
      !TailIntact(Bytes(p) + c->object)) {
    BadObject(c, p, op);
  }
  return {c, s};
}

// For Kfree: the header names the slab, the slab magic says it is Kmalloc's, and the slab names the class.
[[gnu::always_inline]] inline Owner CheckedKmallocObject(void* p, const char* op) {
  ObjHeader* h = HeaderOf(p);
  Slab* s = SlabOfLive(h);
  if (h->magic != LiveSeal(h, s) || s->magic != SealMagic(kKmallocSlabMagic, s)) BadObject(nullptr, p, op);
  KmemCache* c = s->cache;
  if (!TailIntact(Bytes(p) + c->object)) BadObject(nullptr, p, op);
  return {c, s};
}

[[noreturn, gnu::cold, gnu::noinline]] void BadFreeObject(KmemCache* c, Slab* s, void* p) {
  ObjHeader* h = HeaderOf(p);
  void* next = h->link;
  if (h->magic != FreeSeal(h, next)) {
    if (next != nullptr && SlabOf(c, next) != s) {
      Panic("cache %s: free object %p has a smashed header: its free-list link %p leaves slab %p", c->name, p,
            next, static_cast<void*>(s));
    }
    Panic("cache %s: free object %p has a smashed header (magic 0x%lx)", c->name, p, h->magic);
  }
  size_t off = FindNot(p, c->window, kPoisonByte);
  Panic("cache %s: object %p was written after free: byte at +%lu is 0x%02x, expected 0x%02x", c->name, p, off,
        Bytes(p)[off], kPoisonByte);
}

void* AllocSlow(KmemCache* c, Zero zero);

// Out of line so that the allocation fast path can jump here instead of calling memset. The empty asm
// hides that the result is `p`: knowing it, the compiler keeps `p` live across a call instead of jumping.
[[gnu::noinline]] void* ZeroObject(void* p, size_t size) {
  __builtin_memset(p, 0, size);
  asm("" : "+r"(p));
  return p;
}

// The fast path makes no calls (the slow, zeroing and failing paths are tail calls), so it saves no
// registers. `kWindow` must match c->window (AllocFrom below picks it).
template <Window kWindow>
[[gnu::always_inline]] inline void* AllocWindowed(KmemCache* c, Zero zero) {
  Slab* s = c->partial;
  if (__builtin_expect(s == nullptr, 0)) return AllocSlow(c, zero);
  void* p = s->free;
  ObjHeader* h = HeaderOf(p);
  void* next = h->link;
  if (h->magic != FreeSeal(h, next) || !WindowPoisoned<kWindow>(p, c->window)) BadFreeObject(c, s, p);
  ++s->inuse;
  s->free = next;
  if (next == nullptr) {
    Remove(c->partial, s);
    Push(c->full, s);
  }
  h->magic = LiveSeal(h, s);
  h->link = s;
  uint64_t live = ++c->allocs - c->frees;
  if (live > c->peak_live) c->peak_live = live;
  if (zero == Zero::kYes) return ZeroObject(p, c->size);
  return p;
}

// A destroyed cache's `window` is poison (slab.h), above every real window: the three common windows
// pay nothing to tell it, the short ones one compare.
[[gnu::always_inline]] inline void* AllocFrom(KmemCache* c, Zero zero) {
  if (c->window == kSlabPoisonWindow) return AllocWindowed<Window::kFull>(c, zero);
  if (c->window == 32) return AllocWindowed<Window::k32>(c, zero);
  if (c->window == 16) return AllocWindowed<Window::k16>(c, zero);
  if (__builtin_expect(c->window > kSlabPoisonWindow, 0)) BadCache(c, "alloc");
  return AllocWindowed<Window::kShort>(c, zero);
}

[[gnu::noinline]] void* AllocSlow(KmemCache* c, Zero zero) {
  if (NewSlab(c) == nullptr) return nullptr;
  return AllocFrom(c, zero);
}

// `s` has just become empty and is not the cache's spare. One empty slab stays (the spare), so that an
// alloc/free pair at a slab boundary does not go to the source each time; a second goes back to the
// source when it takes memory back.
[[gnu::noinline]] void SlabEmptied(KmemCache* c, Slab* s) {
  if (source.give == nullptr || c->spare == nullptr || c->spare->inuse != 0) {
    c->spare = s;
    return;
  }
  Remove(c->partial, s);
  --c->slabs;
  source.give(source.ctx, s, c->slab_bytes);
}

[[gnu::always_inline]] inline void FreeChecked(Owner owner, void* p) {
  KmemCache* c = owner.cache;
  Slab* s = owner.slab;
  ObjHeader* h = HeaderOf(p);
  PoisonWindow(p, c->window);
  void* link = s->free;
  if (link == nullptr) {
    Remove(c->full, s);
    Push(c->partial, s);
  }
  h->link = link;
  h->magic = FreeSeal(h, link);
  s->free = p;
  ++c->frees;
  if (--s->inuse == 0 && c->spare != s) SlabEmptied(c, s);
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
  Setup(&cache_cache, "kmem_cache", sizeof(KmemCache), alignof(KmemCache));
  for (size_t i = 0; i < kClasses; ++i) Setup(&kmalloc_caches[i], kClassNames[i], size_t{16} << i, 16);
}

KmemCache* KmemCacheCreate(const char* name, size_t size, size_t align) {
  if (align == 0) align = 8;
  KASSERT(size > 0 && size <= kMaxObject, "cache %s: object size %lu not in 1..%lu", name, size, kMaxObject);
  KASSERT(IsPowerOfTwo(align) && align <= kPageSize, "cache %s: alignment %lu", name, align);
  void* mem = AllocFrom(&cache_cache, Zero::kYes);
  if (mem == nullptr) return nullptr;
  auto* c = static_cast<KmemCache*>(mem);
  Setup(c, name, size, align < 8 ? 8 : align);
  return c;
}

bool KmemCacheDestroy(KmemCache* c) {
  KASSERT(c != &cache_cache && !IsKmallocCache(c), "cache %s belongs to kmem itself", c->name);
  if (StateOf(c) != CacheState::kLive) BadCache(c, "destroy");
  if (Live(c) != 0) return false;
  while (c->partial != nullptr) {
    Slab* s = c->partial;
    Remove(c->partial, s);
    if (source.give != nullptr) source.give(source.ctx, s, c->slab_bytes);
  }
  for (KmemCache** link = &all_caches; *link != nullptr; link = &(*link)->next) {
    if (*link == c) {
      *link = c->next;
      break;
    }
  }
  KmemCacheFree(&cache_cache, c);
  return true;
}

void* KmemCacheAlloc(KmemCache* c, Zero zero) { return AllocFrom(c, zero); }

void KmemCacheFree(KmemCache* c, void* p) { FreeChecked(CheckedCacheObject(c, p, "free"), p); }

void* Kmalloc(size_t size, Zero zero) {
  if (size > kKmallocMax) return nullptr;
  // The class fixes the window (16 << class bytes, KmemInit), so no load of c->window decides the check.
  const size_t k = ClassOf(size);
  KmemCache* c = &kmalloc_caches[k];
  if (k == 0) return AllocWindowed<Window::k16>(c, zero);
  if (k == 1) return AllocWindowed<Window::k32>(c, zero);
  return AllocWindowed<Window::kFull>(c, zero);
}

void Kfree(void* p) {
  if (p == nullptr) return;
  FreeChecked(CheckedKmallocObject(p, "kfree"), p);
}

size_t KmallocSize(void* p) { return CheckedKmallocObject(p, "ksize").cache->size; }

AllocStats KmemCacheStats(const KmemCache* c) {
  AllocStats s;
  s.live_blocks = Live(c);
  s.live_bytes = Live(c) * c->size;
  s.peak_bytes = c->peak_live * c->size;
  s.allocs = c->allocs;
  s.frees = c->frees;
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

uint64_t KmemCacheSlabs(const KmemCache* c) { return c->slabs; }

void KmemCacheCheck(KmemCache* c) {
  uint64_t live = 0, slabs = 0, empty = 0;
  for (int list = 0; list < 2; ++list) {
    for (Slab* s = list == 0 ? c->partial : c->full; s != nullptr; s = s->next) {
      KASSERT(s->magic == SlabMagic(c, s) && s->cache == c, "cache %s: slab %p header smashed", c->name,
              static_cast<void*>(s));
      ++slabs;
      uint64_t in_slab = 0, free_listed = 0;
      for (uint64_t i = 0; i < c->per_slab; ++i) {
        void* p = ObjectAt(c, s, i);
        ObjHeader* h = HeaderOf(p);
        KASSERT(TailIntact(Bytes(p) + c->object), "cache %s: object %p tail canary smashed", c->name, p);
        if (h->magic == LiveSeal(h, s) && h->link == s) {
          ++in_slab;
          continue;
        }
        KASSERT(h->magic == FreeSeal(h, h->link), "cache %s: object %p header smashed", c->name, p);
        size_t off = FindNot(p, c->window, kPoisonByte);
        KASSERT(off == c->window, "cache %s: free object %p written after free at +%lu", c->name, p, off);
      }
      for (void* p = s->free; p != nullptr; p = HeaderOf(p)->link) {
        KASSERT(SlabOf(c, p) == s && HeaderOf(p)->magic == FreeSeal(HeaderOf(p), HeaderOf(p)->link) &&
                    ++free_listed <= c->per_slab,
                "cache %s: slab %p free list broken at %p", c->name, static_cast<void*>(s), p);
      }
      KASSERT(in_slab == s->inuse && in_slab + free_listed == c->per_slab,
              "cache %s: slab %p has %lu live and %lu listed free objects of %u, counts %lu in use", c->name,
              static_cast<void*>(s), in_slab, free_listed, c->per_slab, s->inuse);
      KASSERT((list == 1) == (free_listed == 0), "cache %s: slab %p on the wrong list", c->name,
              static_cast<void*>(s));
      KASSERT(in_slab != 0 || s == c->spare || source.give == nullptr,
              "cache %s: slab %p is empty but not the spare %p", c->name, static_cast<void*>(s),
              static_cast<void*>(c->spare));
      if (in_slab == 0) ++empty;
      live += in_slab;
    }
  }
  KASSERT(live == Live(c) && slabs == c->slabs,
          "cache %s: walk finds %lu live objects in %lu slabs (%lu empty), statistics say %lu in %lu", c->name,
          live, slabs, empty, Live(c), c->slabs);
}

void KmemCheckAll() {
  for (KmemCache* c = all_caches; c != nullptr; c = c->next) KmemCacheCheck(c);
}

void KmemDump() {
  Print("cache              size  live objects   live bytes   peak bytes  slabs  slab bytes\n");
  for (KmemCache* c = all_caches; c != nullptr; c = c->next) {
    AllocStats s = KmemCacheStats(c);
    Print("%-16s %6u %13lu %12lu %12lu %6lu %11lu\n", c->name, c->size, s.live_blocks, s.live_bytes,
          s.peak_bytes, c->slabs, c->slab_bytes);
  }
}

}  // namespace kmem::pool
