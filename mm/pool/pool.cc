#include "mm/pool/pool.h"

#include "mm/base/addr.h"
#include "mm/base/format.h"
#include "mm/base/panic.h"
#include "mm/pool/slab.h"

namespace kmem::pool {

// With tags the header opens with a 16-byte unit of the site and a word that keeps the data 16-aligned, so
// that the 32 bytes right below the data read as they do without tags.
template <bool kOn>
struct BasicSitePad {
  uint64_t unused;
};
template <>
struct BasicSitePad<false> {};

// Block layout, 16-byte aligned:  [BlockHeader 32 (48 with tags)][caller's bytes][tail canary 8][slack to 16]
// A free block keeps its header, then two list links, then fill up to its end.
struct BlockHeader {
  [[no_unique_address]] Site site;  // while live, who allocated it (tags.h); stale while free
  [[no_unique_address]] BasicSitePad<kPoolTags> pad;
  uint64_t magic;      // SealMagic(kAllocMagic | kFreeMagic | kEndMagic, this)
  uint64_t size;       // whole block, header included; a multiple of 16 (0 for an arena's end marker)
  uint64_t prev_size;  // size of the block just below, 0 for an arena's first block
  uint64_t req;        // bytes the caller asked for; while free, LinkSeal of the free-list links
};
static_assert(sizeof(BlockHeader) == (kPoolTags ? 48 : 32),
              "a header of 16-byte units keeps every block's data 16-aligned; without tags it holds no site");

// The links sit where the caller's first 16 bytes were, the first place a stale pointer writes to; they
// are sealed in the header (LinkSeal) and checked before they are followed or rewritten.
struct FreeBlock {
  BlockHeader h;
  FreeBlock* next;
  FreeBlock* prev;
};
static_assert(sizeof(FreeBlock) == sizeof(BlockHeader) + 16, "the smallest block: a header and two links");

// An arena: [Arena 32][blocks ...][end marker 32]. The end marker stops the upward walk and coalescing.
struct Arena {
  uint64_t magic;
  Arena* next;
  uint64_t bytes;  // the whole span taken from the source
  uint64_t unused;
};
static_assert(sizeof(Arena) == 32, "keeps the first block 16-aligned");

namespace {

constexpr uint64_t kAllocMagic = 0xa110c8edb10cca75ULL;
constexpr uint64_t kFreeMagic = 0xf4eeb10cf4eeb10cULL;
constexpr uint64_t kEndMagic = 0xe4dae4dae4dae4daULL;
constexpr uint64_t kArenaMagic = 0xa4e4aa4e4aa4e4a0ULL;
constexpr uint64_t kLinkMagic = 0x11a4ed11a4ed11a4ULL;
constexpr uint64_t kHeader = sizeof(BlockHeader);
constexpr uint64_t kMinBlock = sizeof(FreeBlock);

uint8_t FillByte(const Pool& pool) { return static_cast<uint8_t>(pool.config.fill); }
uint8_t* Bytes(void* p) { return static_cast<uint8_t*>(p); }
BlockHeader* HeaderOf(void* data) { return reinterpret_cast<BlockHeader*>(Bytes(data) - kHeader); }
void* DataOf(BlockHeader* h) { return Bytes(h) + kHeader; }
BlockHeader* Next(BlockHeader* h) { return reinterpret_cast<BlockHeader*>(Bytes(h) + h->size); }
bool IsFree(BlockHeader* h) { return h->magic == SealMagic(kFreeMagic, h); }
int BinOf(uint64_t size) { return 63 - __builtin_clzll(size); }

// Block size for a request of `size` bytes: header, data, tail canary, rounded to 16.
uint64_t BlockFor(uint64_t size) {
  uint64_t n = (kHeader + size + kTailBytes + 15) & ~uint64_t{15};
  return n < kMinBlock ? kMinBlock : n;
}

void Lock(const Pool& pool) { pool.lock.Lock(); }
void Unlock(const Pool& pool) { pool.lock.Unlock(); }

// Reads `what` of a pool under its lock.
template <typename Fn>
auto Locked(const Pool& pool, Fn what) {
  Lock(pool);
  auto v = what();
  Unlock(pool);
  return v;
}

// Called under the lock once memory went back to the pool: moves `released` on for the Smallocs waiting
// and returns the hooks to wake them with after the lock is dropped (no hooks when nobody waits, so a free
// costs one more load and branch).
PoolSync Release(Pool& pool) {
  if (pool.waiters == 0) return {};
  __atomic_store_n(&pool.released, pool.released + 1, __ATOMIC_RELEASE);
  return pool.config.sync;
}

// Wakes the Smallocs that Release counted. Called with the pool's lock released.
void Wakeup(const PoolSync& sync) {
  if (sync.wakeup != nullptr) sync.wakeup(sync.ctx);
}

// A Smalloc asleep on its pool: it retries once `released` moved on from what it saw at its failed attempt.
struct SmallocWaiter {
  const Pool* pool;
  uint64_t seen;
};

bool MemoryReleased(void* arg) {
  const SmallocWaiter& w = *static_cast<const SmallocWaiter*>(arg);
  return __atomic_load_n(&w.pool->released, __ATOMIC_ACQUIRE) != w.seen;
}

// The block's address and both links (prev rotated, so swapped links do not cancel out).
uint64_t LinkSeal(const FreeBlock* f) {
  auto next = reinterpret_cast<uintptr_t>(f->next), prev = reinterpret_cast<uintptr_t>(f->prev);
  return SealMagic(kLinkMagic ^ next ^ (prev << 32 | prev >> 32), f);
}

void SetLinks(FreeBlock* f, FreeBlock* next, FreeBlock* prev) {
  f->next = next;
  f->prev = prev;
  f->h.req = LinkSeal(f);
}

[[noreturn, gnu::cold, gnu::noinline]] void BadFreeBlock(const Pool& pool, FreeBlock* f) {
  if (!IsFree(&f->h)) {
    Panic("pool %s: free block %p has a smashed header (magic 0x%lx)", pool.config.name, static_cast<void*>(f),
          f->h.magic);
  }
  Panic("pool %s: block %p was written after free: its free-list links (next %p, prev %p) are smashed",
        pool.config.name, DataOf(&f->h), static_cast<void*>(f->next), static_cast<void*>(f->prev));
}

// `f`, a block reached through a free list, with its header and links as the pool left them; the links
// may be followed after this.
FreeBlock* CheckedFree(const Pool& pool, FreeBlock* f) {
  if (__builtin_expect(!IsFree(&f->h) || f->h.req != LinkSeal(f), 0)) BadFreeBlock(pool, f);
  return f;
}

void Insert(Pool& pool, BlockHeader* h) {
  auto* f = reinterpret_cast<FreeBlock*>(h);
  int b = BinOf(h->size);
  h->magic = SealMagic(kFreeMagic, h);
  FreeBlock* head = pool.bins[b];
  if (head != nullptr) SetLinks(CheckedFree(pool, head), head->next, f);
  SetLinks(f, head, nullptr);
  pool.bins[b] = f;
  pool.nonempty |= uint64_t{1} << b;
}

void Unlink(Pool& pool, FreeBlock* f) {
  int b = BinOf(f->h.size);
  FreeBlock* next = CheckedFree(pool, f)->next;
  FreeBlock* prev = f->prev;
  KASSERT(prev != nullptr ? CheckedFree(pool, prev)->next == f : pool.bins[b] == f,
          "pool %s: free list broken before block %p (bin %d)", pool.config.name, static_cast<void*>(f), b);
  KASSERT(next == nullptr || CheckedFree(pool, next)->prev == f,
          "pool %s: free list broken after block %p (bin %d)", pool.config.name, static_cast<void*>(f), b);
  if (prev != nullptr) {
    SetLinks(prev, next, prev->prev);
  } else {
    pool.bins[b] = next;
    if (next == nullptr) pool.nonempty &= ~(uint64_t{1} << b);
  }
  if (next != nullptr) SetLinks(next, next->next, prev);
}

// Lays out a fresh (or wiped) arena as one free block and puts that block on the free lists.
void LayOutArena(Pool& pool, Arena* a) {
  auto* first = reinterpret_cast<BlockHeader*>(Bytes(a) + sizeof(Arena));
  uint64_t size = a->bytes - sizeof(Arena) - kHeader;
  Fill(Bytes(first) + kMinBlock, size - kMinBlock, FillByte(pool));
  first->size = size;
  first->prev_size = 0;
  BlockHeader* end = Next(first);
  end->magic = SealMagic(kEndMagic, end);
  end->size = 0;
  end->prev_size = size;
  end->req = 0;
  Insert(pool, first);
}

// Takes from the source with the pool's lock released (the source takes locks of its own); under memory
// pressure the slab caches give their kept slabs back first, which helps when they share the source.
void* TakeSpan(Pool& pool, uint64_t bytes) {
  const MemSource& src = pool.config.source;
  if (src.take == nullptr) return nullptr;
  Unlock(pool);
  void* span = src.take(src.ctx, bytes, kPageSize);
  if (span == nullptr && KmemReap() != 0) span = src.take(src.ctx, bytes, kPageSize);
  Lock(pool);
  return span;
}

// Takes a new arena big enough for a block of `need` bytes: at least the quantum and at least what the
// pool already holds (so a pool needs O(log) arenas), never past the limit. Called with the lock held; drops
// it while the source works, with the bytes reserved against the limit meanwhile.
PoolStatus Grow(Pool& pool, uint64_t need) {
  const PoolConfig& c = pool.config;
  uint64_t room = c.limit - pool.grown - pool.growing;
  uint64_t minimal = (need + sizeof(Arena) + kHeader + c.quantum - 1) & ~(c.quantum - 1);
  if (minimal > room) return PoolStatus::kOverLimit;
  uint64_t bytes = pool.grown > c.quantum ? pool.grown : c.quantum;
  if (bytes < minimal) bytes = minimal;
  if (bytes > room) bytes = room & ~(c.quantum - 1);
  pool.growing += bytes;
  void* span = TakeSpan(pool, bytes);
  if (span == nullptr && bytes > minimal) {
    pool.growing -= bytes - minimal;
    bytes = minimal;
    span = TakeSpan(pool, bytes);
  }
  pool.growing -= bytes;
  if (span == nullptr) return PoolStatus::kSourceExhausted;
  auto* a = static_cast<Arena*>(span);
  a->magic = SealMagic(kArenaMagic, a);
  a->bytes = bytes;
  a->next = pool.arenas;
  pool.arenas = a;
  pool.grown += bytes;
  LayOutArena(pool, a);
  return PoolStatus::kOk;
}

// First fit in the block's own bin, else the head of the first larger non-empty bin (which always fits).
FreeBlock* FindFree(Pool& pool, uint64_t need) {
  int b = BinOf(need);
  for (FreeBlock* f = pool.bins[b]; f != nullptr; f = f->next) {
    if (CheckedFree(pool, f)->h.size >= need) return f;
  }
  uint64_t larger = b + 1 < 64 ? pool.nonempty & ~((uint64_t{2} << b) - 1) : 0;
  return larger != 0 ? pool.bins[__builtin_ctzll(larger)] : nullptr;
}

// Whether even an empty pool at its limit could not hold a block of `size` bytes in an arena of its own.
bool TooLarge(const Pool& pool, size_t size) {
  const PoolConfig& c = pool.config;
  if (size > c.limit) return true;
  uint64_t arena = (BlockFor(size) + sizeof(Arena) + kHeader + c.quantum - 1) & ~(c.quantum - 1);
  return arena > c.limit;
}

PoolAllocation AllocLocked(Pool& pool, size_t size, Zero zero, Site site) {
  if (TooLarge(pool, size)) return {nullptr, PoolStatus::kTooLarge};
  uint64_t need = BlockFor(size);
  FreeBlock* f = FindFree(pool, need);
  // Growing drops the lock, so another CPU may take the new arena's room first: look again each time. The
  // limit may be taken up by another CPU's growth still under way: wait for its arena rather than fail.
  while (f == nullptr) {
    PoolStatus status = Grow(pool, need);
    if (status == PoolStatus::kOverLimit && pool.growing != 0) {
      Unlock(pool);
      CpuRelax();
      Lock(pool);
    } else if (status != PoolStatus::kOk) {
      return {nullptr, status};
    }
    f = FindFree(pool, need);
  }
  Unlink(pool, f);
  BlockHeader* h = &f->h;
  if (h->size - need >= kMinBlock) {
    auto* rest = reinterpret_cast<BlockHeader*>(Bytes(h) + need);
    rest->size = h->size - need;
    rest->prev_size = need;
    Next(rest)->prev_size = rest->size;
    h->size = need;
    Insert(pool, rest);
  }
  uint8_t fill = FillByte(pool);
  size_t checked = h->size - kMinBlock;
  size_t off = FindNot(Bytes(h) + kMinBlock, checked, fill);
  if (off != checked) {
    Panic("pool %s: block %p was written after free: byte at +%lu is 0x%02x, expected 0x%02x",
          pool.config.name, DataOf(h), off + (kMinBlock - kHeader), Bytes(h)[kMinBlock + off], fill);
  }
  h->magic = SealMagic(kAllocMagic, h);
  h->req = size;
  h->site = site;
  void* data = DataOf(h);
  // The old list links would hand the caller kernel pointers; give it fill like the rest.
  Fill(data, kMinBlock - kHeader, zero == Zero::kYes ? 0 : fill);
  if (zero == Zero::kYes) Fill(data, size, 0);
  PutTail(Bytes(data) + size);
  pool.stats.OnAlloc(size);
  return {data, PoolStatus::kOk};
}

Arena* ArenaOf(Pool& pool, const void* p) {
  auto v = reinterpret_cast<uintptr_t>(p);
  for (Arena* a = pool.arenas; a != nullptr; a = a->next) {
    auto base = reinterpret_cast<uintptr_t>(a);
    if (v >= base + sizeof(Arena) + kHeader && v < base + a->bytes - kHeader) return a;
  }
  return nullptr;
}

// The header of the live block `p` of `pool`, or a panic saying what is wrong with it. `op` names the
// caller's operation for the message.
BlockHeader* CheckedBlock(Pool& pool, void* p, const char* op) {
  const char* name = pool.config.name;
  Arena* a = ArenaOf(pool, p);
  if (a == nullptr) Panic("pool %s: %s of %p: foreign pointer, not in any arena of this pool", name, op, p);
  BlockHeader* h = HeaderOf(p);
  if (h->magic == SealMagic(kFreeMagic, h)) Panic("pool %s: %s of %p: double free, the block is free", name, op, p);
  if (h->magic != SealMagic(kAllocMagic, h)) {
    Panic("pool %s: %s of %p: header canary smashed (magic 0x%lx), or not the start of a block", name, op, p,
          h->magic);
  }
  uint64_t room = reinterpret_cast<uintptr_t>(a) + a->bytes - kHeader - reinterpret_cast<uintptr_t>(h);
  if (h->size < kMinBlock || h->size % 16 != 0 || h->size > room || h->req + kHeader + kTailBytes > h->size) {
    Panic("pool %s: %s of %p: header smashed (size %lu, asked %lu)", name, op, p, h->size, h->req);
  }
  if (!TailIntact(Bytes(p) + h->req)) {
    Panic("pool %s: %s of %p: tail canary smashed, written past the %lu bytes asked for", name, op, p, h->req);
  }
  return h;
}

// PoolAlloc and PoolRealloc for the entry points, which name their own caller as the site (Resize is
// inlined into PoolRealloc: without tags the pair compiles to what one routine did).
PoolAllocation Alloc(Pool& pool, size_t size, Zero zero, Site site) {
  Lock(pool);
  PoolAllocation r = AllocLocked(pool, size, zero, site);
  Unlock(pool);
  return r;
}

// A resized block is tagged with the resizer: it is the site that now holds the block at its new size.
[[gnu::always_inline]] inline void* Resize(Pool& pool, void* p, size_t size, Site site) {
  if (p == nullptr) return Alloc(pool, size, Zero::kNo, site).p;
  if (size == 0) {
    PoolFree(pool, p);
    return nullptr;
  }
  Lock(pool);
  BlockHeader* h = CheckedBlock(pool, p, "realloc");
  uint64_t old = h->req;
  if (!TooLarge(pool, size) && BlockFor(size) <= h->size) {
    pool.stats.OnResize(old, size);
    h->req = size;
    h->site = site;
    PutTail(Bytes(p) + size);
    Unlock(pool);
    return p;
  }
  Unlock(pool);
  void* q = Alloc(pool, size, Zero::kNo, site).p;
  if (q == nullptr) return nullptr;
  __builtin_memcpy(q, p, old < size ? old : size);
  PoolFree(pool, p);
  return q;
}

// Panics, with the lock released, when Smalloc's failed attempt (`status`) cannot end by waiting: the
// request can never fit, or no live block is left whose free could make room.
void CheckSmallocCanWait(Pool& pool, size_t size, PoolStatus status) {
  const char* name = pool.config.name;
  if (status == PoolStatus::kTooLarge) {
    const uint64_t limit = pool.config.limit;
    Unlock(pool);
    Panic("smalloc: %lu bytes exceed pool %s's limit of %lu bytes", size, name, limit);
  }
  if (pool.stats.live_blocks == 0) {
    Unlock(pool);
    Panic("smalloc: pool %s cannot serve %lu bytes (%s) and holds no live block whose free could make room", name,
          size, PoolStatusName(status));
  }
}

// Smalloc's loop: attempt under the lock; on failure count itself a waiter and note `released` under the
// same lock, so a free after the attempt sees the waiter and moves `released` on; sleep with no lock held.
void* Salloc(Pool& pool, size_t size, Site site) {
  Lock(pool);
  for (;;) {
    PoolAllocation r = AllocLocked(pool, size, Zero::kYes, site);
    if (r.p != nullptr) {
      Unlock(pool);
      return r.p;
    }
    CheckSmallocCanWait(pool, size, r.status);
    SmallocWaiter w{&pool, pool.released};
    ++pool.waiters;
    const PoolSync sync = pool.config.sync;
    Unlock(pool);
    const PoolWait how = sync.sleep != nullptr ? sync.sleep(sync.ctx, &MemoryReleased, &w) : PoolWait::kNoWay;
    Lock(pool);
    --pool.waiters;
    if (how == PoolWait::kNoWay) {
      Unlock(pool);
      Panic("smalloc: pool %s cannot serve %lu bytes (%s) and has no way to wait", pool.config.name, size,
            PoolStatusName(r.status));
    }
  }
}

}  // namespace

constinit Pool mainmem{"mainmem"};
constinit Pool imagmem{"imagmem"};
constinit Pool secrmem{"secrmem"};

const char* PoolStatusName(PoolStatus status) {
  switch (status) {
    case PoolStatus::kOk:
      return "ok";
    case PoolStatus::kTooLarge:
      return "request larger than the pool's limit";
    case PoolStatus::kOverLimit:
      return "pool at its limit";
    case PoolStatus::kSourceExhausted:
      return "no backing memory left";
  }
  return "?";
}

void PoolInit(Pool& pool, const PoolConfig& config) {
  KASSERT(IsPowerOfTwo(config.quantum) && config.quantum >= kPageSize, "pool %s: quantum 0x%lx",
          config.name, config.quantum);
  pool.config = config;
  pool.arenas = nullptr;
  for (FreeBlock*& b : pool.bins) b = nullptr;
  pool.nonempty = 0;
  pool.grown = 0;
  pool.growing = 0;
  pool.waiters = 0;
  pool.released = 0;
  pool.stats = AllocStats{};
}

void PoolSetSource(Pool& pool, const MemSource& source, uint64_t limit) {
  Lock(pool);
  KASSERT(limit >= pool.grown, "pool %s: new limit %lu below the %lu bytes it holds", pool.config.name, limit,
          pool.grown);
  pool.config.source = source;
  pool.config.limit = limit;
  const PoolSync wake = Release(pool);
  Unlock(pool);
  Wakeup(wake);
}

void PoolSetSync(Pool& pool, const PoolSync& sync) {
  Lock(pool);
  pool.config.sync = sync;
  Unlock(pool);
}

PoolAllocation PoolAlloc(Pool& pool, size_t size, Zero zero) { return Alloc(pool, size, zero, KMEM_CALLER_SITE()); }

void PoolFree(Pool& pool, void* p) {
  if (p == nullptr) return;
  Lock(pool);
  BlockHeader* h = CheckedBlock(pool, p, "free");
  uint8_t fill = FillByte(pool);
  pool.stats.OnFree(h->req);
  Fill(p, h->size - kHeader, fill);
  BlockHeader* next = Next(h);
  if (IsFree(next)) {
    Unlink(pool, reinterpret_cast<FreeBlock*>(next));
    h->size += next->size;
    Fill(next, kMinBlock, fill);
  }
  if (h->prev_size != 0) {
    auto* prev = reinterpret_cast<BlockHeader*>(Bytes(h) - h->prev_size);
    if (IsFree(prev)) {
      Unlink(pool, reinterpret_cast<FreeBlock*>(prev));
      prev->size += h->size;
      Fill(h, kMinBlock, fill);
      h = prev;
    }
  }
  Next(h)->prev_size = h->size;
  Insert(pool, h);
  const PoolSync wake = Release(pool);
  Unlock(pool);
  Wakeup(wake);
}

void* PoolRealloc(Pool& pool, void* p, size_t size) { return Resize(pool, p, size, KMEM_CALLER_SITE()); }

size_t PoolMsize(Pool& pool, void* p) {
  Lock(pool);
  size_t n = CheckedBlock(pool, p, "msize")->req;
  Unlock(pool);
  return n;
}

void Poolreset(Pool& pool) {
  Lock(pool);
  for (FreeBlock*& b : pool.bins) b = nullptr;
  pool.nonempty = 0;
  for (Arena* a = pool.arenas; a != nullptr; a = a->next) {
    Fill(Bytes(a) + sizeof(Arena), kMinBlock, FillByte(pool));  // LayOutArena fills the rest
    LayOutArena(pool, a);
  }
  pool.stats.live_blocks = 0;
  pool.stats.live_bytes = 0;
  const PoolSync wake = Release(pool);
  Unlock(pool);
  Wakeup(wake);
}

void* Malloc(size_t size) { return Alloc(mainmem, size, Zero::kYes, KMEM_CALLER_SITE()).p; }
void* Mallocz(size_t size, Zero zero) { return Alloc(mainmem, size, zero, KMEM_CALLER_SITE()).p; }
void* Realloc(void* p, size_t size) {
  if constexpr (kPoolTags) return Resize(mainmem, p, size, KMEM_CALLER_SITE());
  return PoolRealloc(mainmem, p, size);  // the same routine, as the build without tags always called it
}
void Free(void* p) { PoolFree(mainmem, p); }
size_t Msize(void* p) { return PoolMsize(mainmem, p); }

void* Smalloc(size_t size) { return Salloc(mainmem, size, KMEM_CALLER_SITE()); }
void* PoolSmalloc(Pool& pool, size_t size) { return Salloc(pool, size, KMEM_CALLER_SITE()); }

AllocStats PoolStatsOf(const Pool& pool) {
  return Locked(pool, [&] { return pool.stats; });
}
uint64_t PoolGrown(const Pool& pool) {
  return Locked(pool, [&] { return pool.grown; });
}
uint64_t PoolLimit(const Pool& pool) {
  return Locked(pool, [&] { return pool.config.limit; });
}

void PoolCheck(Pool& pool) {
  Lock(pool);
  const char* name = pool.config.name;
  uint8_t fill = FillByte(pool);
  uint64_t live = 0, live_bytes = 0, free_blocks = 0, grown = 0;
  for (Arena* a = pool.arenas; a != nullptr; a = a->next) {
    KASSERT(a->magic == SealMagic(kArenaMagic, a), "pool %s: arena %p header smashed", name, static_cast<void*>(a));
    grown += a->bytes;
    auto* h = reinterpret_cast<BlockHeader*>(Bytes(a) + sizeof(Arena));
    uint64_t prev_size = 0;
    bool prev_free = false;
    while (h->magic != SealMagic(kEndMagic, h)) {
      KASSERT(h->prev_size == prev_size, "pool %s: block %p says the block below has %lu bytes, it has %lu",
              name, static_cast<void*>(h), h->prev_size, prev_size);
      if (IsFree(h)) {
        KASSERT(!prev_free, "pool %s: free blocks at %p and below are not coalesced", name, static_cast<void*>(h));
        CheckedFree(pool, reinterpret_cast<FreeBlock*>(h));
        size_t n = h->size - kMinBlock;
        size_t off = FindNot(Bytes(h) + kMinBlock, n, fill);
        KASSERT(off == n, "pool %s: free block %p written after free at +%lu", name, DataOf(h),
                off + (kMinBlock - kHeader));
        ++free_blocks;
        prev_free = true;
      } else {
        CheckedBlock(pool, DataOf(h), "check");
        ++live;
        live_bytes += h->req;
        prev_free = false;
      }
      prev_size = h->size;
      h = Next(h);
      KASSERT(reinterpret_cast<uintptr_t>(h) + kHeader <= reinterpret_cast<uintptr_t>(a) + a->bytes,
              "pool %s: walk left arena %p", name, static_cast<void*>(a));
    }
    KASSERT(h->prev_size == prev_size && Bytes(h) + kHeader == Bytes(a) + a->bytes,
            "pool %s: arena %p end marker misplaced", name, static_cast<void*>(a));
  }
  uint64_t listed = 0;
  for (int b = 0; b < Pool::kBins; ++b) {
    KASSERT(((pool.nonempty >> b) & 1) == (pool.bins[b] != nullptr ? 1u : 0u), "pool %s: bin %d mask wrong",
            name, b);
    for (FreeBlock* f = pool.bins[b]; f != nullptr; f = f->next) {
      CheckedFree(pool, f);
      KASSERT(BinOf(f->h.size) == b && (f->next == nullptr || f->next->prev == f),
              "pool %s: bin %d holds a bad block %p", name, b, static_cast<void*>(f));
      ++listed;
    }
  }
  KASSERT(listed == free_blocks, "pool %s: %lu free blocks in arenas, %lu on the lists", name, free_blocks, listed);
  KASSERT(grown == pool.grown, "pool %s: arenas hold %lu bytes, counted %lu", name, grown, pool.grown);
  KASSERT(live == pool.stats.live_blocks && live_bytes == pool.stats.live_bytes,
          "pool %s: walk finds %lu blocks / %lu bytes live, statistics say %lu / %lu", name, live, live_bytes,
          pool.stats.live_blocks, pool.stats.live_bytes);
  Unlock(pool);
}

void PoolDump(Pool* const* pools, size_t count) {
  Print("pool       live blocks   live bytes   peak bytes        grown        limit\n");
  for (size_t i = 0; i < count; ++i) {
    const Pool& p = *pools[i];
    const AllocStats s = PoolStatsOf(p);
    Print("%-10s %11lu %12lu %12lu %12lu %12lu\n", p.config.name, s.live_blocks, s.live_bytes, s.peak_bytes,
          PoolGrown(p), PoolLimit(p));
  }
}

#if KMEM_POOL_TAGS
void PoolSites(Pool* const* pools, size_t count, SiteTable& table) {
  for (size_t i = 0; i < count; ++i) {
    Pool& pool = *pools[i];
    Lock(pool);
    for (Arena* a = pool.arenas; a != nullptr; a = a->next) {
      auto* h = reinterpret_cast<BlockHeader*>(Bytes(a) + sizeof(Arena));
      for (; h->magic != SealMagic(kEndMagic, h); h = Next(h)) {
        if (!IsFree(h)) table.Add(h->site.pc, h->req);
      }
    }
    Unlock(pool);
  }
}

void SitesDump(SiteTable& table) {
  table.Sort();
  Print("site               live blocks   live bytes\n");
  for (size_t i = 0; i < table.used; ++i) {
    const SiteCount& s = table.sites[i];
    Print("0x%016lx %11lu %12lu\n", s.pc, s.blocks, s.bytes);
  }
  if (table.other_blocks != 0) Print("other sites        %11lu %12lu\n", table.other_blocks, table.other_bytes);
}
#endif

}  // namespace kmem::pool
