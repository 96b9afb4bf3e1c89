// palloc, the page-frame allocator (9front's port/page.c in spirit): the per-bank descriptor arrays, the
// user-page operations (NewPage, PutPage, FreePages), naturally aligned contiguous blocks of 2^order pages,
// counts, statistics, Validate and the self-tests, over a backend chosen at build time. Palloc is a
// template over its backend so the kernel's hot path has no virtual dispatch; the kernel's instance is
// KernelPalloc (kernel_palloc.h), tests instantiate both backends.
//
// Zones, as the memory-module seed draws them: the banks are grouped into DMA (below 16 MiB), DMA32 (below
// 4 GiB) and normal memory, a bank that straddles a boundary split at it. Each zone has its own backend
// instance, counts and buddyinfo. An allocation names the highest zone it may use (kNormal unless the
// memory must lie below a limit) and takes the zones from that one down, so ordinary allocations leave
// the low zones for last.
//
// Locks: each zone's SpinLock (LockLevel::kZone, "palloc zone DMA32") protects its backend and its banks'
// allocated-block bitmaps. In front of the zones, every CPU has a bounded cache of free blocks of each
// order below kCachedOrders per zone (PerCpu), touched only by that CPU with interrupts off and by
// cross-calls to it, so the common alloc/free pair takes no lock and no atomic read-modify-write. A cache
// refills and drains half its size at a time under its zone's lock. An allocation that finds nothing
// drains its own caches and, when it may call other CPUs (interrupts on), theirs (CrossCall), then tries
// once more, so no such request fails while a free page of its zones sits in a cache. One with interrupts
// off may fail so; a caller that then waits (WaitForPage) drains every CPU before it sleeps, so that its
// retry finds their pages. A cached block counts as allocated in the zone's bitmaps; its head descriptor
// says where it is (PageUse), and that is what a free checks, so a double free of a cached page is caught
// as one of a page in the zone is.
//
// Misuse panics with the physical address and the reason: freeing a free page, freeing a page outside
// every bank or at an address that is not page-aligned, a reference count going below zero or past
// kMaxPageRef, freeing a block with another order than it was allocated with.
//
// FreeCount, UserCount, CpuCounts and every allocation and free may run on any CPU at any time. Stats,
// ForEachFreeBlock, PrintFreeTable, Validate and SelfTest read every zone and every CPU's caches without
// their locks: they need a quiescent allocator (no other CPU allocating or freeing: the boot before the
// other CPUs run, the monitor, a test after joining its threads). SelfTestConcurrent runs on many CPUs.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/base/addr.h"
#include "mm/base/format.h"
#include "mm/base/lock.h"
#include "mm/base/panic.h"
#include "mm/base/percpu.h"
#include "mm/palloc/bit_buddy.h"
#include "mm/palloc/page.h"

namespace kmem {

// How the waiting allocation sleeps, as 9front sleeps on palloc.pwait. sleep(ctx, ready, arg) blocks
// until ready(arg) is true or it gives the waiter up; ready takes palloc's locks, so the hook evaluates it
// before it blocks, not under a lock of its own, and a wakeup after that evaluation must end the sleep.
// wakeup(ctx) is called by every free while someone waits. Without hooks (a host test, the kernel before
// its scheduler runs) there is no way to wait and NewPage panics on exhaustion instead of spinning.
enum class PallocWait : uint8_t {
  kRetry,   // woken (or pages were free already): try again
  kGiveUp,  // the waiter must stop (a process being killed): the waiting allocation fails
  kNoWay,   // this caller cannot sleep (no scheduler yet): as without hooks
};
struct PallocHooks {
  PallocWait (*sleep)(void* ctx, bool (*ready)(void* arg), void* arg) = nullptr;
  void (*wakeup)(void* ctx) = nullptr;
  void* ctx = nullptr;
};

// The zones, lowest first; an allocation's `highest` is the highest it may take memory from.
enum class PallocZone : uint8_t { kDma, kDma32, kNormal };
inline constexpr unsigned kZones = 3;
inline constexpr const char* kZoneNames[kZones] = {"DMA", "DMA32", "normal"};
// The first pfn above each zone: ISA DMA reaches 16 MiB, 32-bit devices 4 GiB.
inline constexpr uint64_t kZoneEnd[kZones] = {(uint64_t{16} << 20) >> kPageShift,
                                              (uint64_t{4} << 30) >> kPageShift, ~uint64_t{0}};

// Orders with per-CPU caches: 0 to 9, blocks up to 2 MiB (Linux's per-CPU lists hold orders 0-3 and its
// 2 MiB pageblock order). With orders 0-3 alone, the 5% of `mixed`'s allocations of orders 4-9 (and every
// one of `repeat9h`'s) took the zone lock and passed it and the zone's bitmaps between the CPUs: two
// threads ran at half the speed of one (bench/README.md's palloc section has the figures).
inline constexpr unsigned kCachedOrders = 10;
// A cache holds 64 pages' worth of blocks of its order, and at least kMinCacheBlocks blocks, and moves half
// of that to or from its zone at a time: a refill splits one block (order kCacheBatchOrder for the orders
// up to 4, twice the cached order above), a full cache gives back its oldest half. The small orders' caches
// are bounded by the pages they may strand, the large orders' by the lock traffic a smaller one lets
// through. A CPU holds at most 4288 pages (16.75 MiB) a zone, 3968 of them in blocks of orders 5-9, and
// gives them back when an allocation finds no page or a failed one waits for memory (WaitForPage).
inline constexpr unsigned kCacheBatchOrder = 5;
inline constexpr unsigned kMinCacheBlocks = 4;
constexpr unsigned CacheSize(unsigned order) { return Max(2u << kCacheBatchOrder >> order, kMinCacheBlocks); }
constexpr unsigned RefillOrder(unsigned order) { return order + __builtin_ctz(CacheSize(order) / 2); }
// Where each order's blocks start in a CPU's slots for one zone: after every lower order's.
struct CacheLayout {
  unsigned first[kCachedOrders + 1];
};
constexpr CacheLayout MakeCacheLayout() {
  CacheLayout l{};
  for (unsigned k = 0; k < kCachedOrders; ++k) l.first[k + 1] = l.first[k] + CacheSize(k);
  return l;
}
inline constexpr CacheLayout kCacheLayout = MakeCacheLayout();
inline constexpr unsigned kCacheSlots = kCacheLayout.first[kCachedOrders];
static_assert(RefillOrder(0) == kCacheBatchOrder && RefillOrder(kCachedOrders - 1) <= kMaxOrder,
              "a refill splits one block of a real order");

// Free memory as Linux's buddyinfo shows it: blocks per order and pages per colour. Cached blocks count as
// free blocks of their order.
struct PallocStats {
  uint64_t total_pages;
  uint64_t free_pages;
  uint64_t user_pages;
  uint64_t free_blocks[kOrders];
  uint64_t free_by_colour[kMaxColours];
};

// What one CPU holds: the blocks in its caches (pages), and the user pages it allocated less those it
// freed (negative on a CPU that frees what others allocated). Summed over the CPUs they give the cached
// share of FreeCount and UserCount.
struct PallocCpuCounts {
  uint64_t cached_pages;
  int64_t users;
};

// What Palloc needs of a backend (the LLFree/ArceOS-style interface; backends.bzl lists the backends):
// its metadata size per bank, init, banks handed over with every frame free, allocation of a free block
// of 2^order pages with a colour hint (nullptr when none) and whether it honours the hint, free of such a
// block, the free-page count, a walk of the free blocks, and a check of its own invariants that panics on
// a broken one. Palloc calls one instance per zone, under the zone's lock.
// (Compiler builtins stand in for <concepts>, which the freestanding kernel build does not have.)
template <typename B>
concept PallocBackend = requires(B b, const B cb, Page* page, Pfn pfn, uint64_t n, void* meta, unsigned u,
                                 void (*visit)(const Page*, unsigned)) {
  requires __is_convertible_to(decltype(B::kName), const char*);
  requires __is_same(decltype(B::kColouring), const Colouring);
  requires __is_same(decltype(B::MetaBytes(pfn, n)), uint64_t);
  b.Init(u);
  b.AddBank(page, pfn, n, meta);
  requires __is_same(decltype(b.Alloc(u, u)), Page*);
  b.Free(page, u);
  requires __is_same(decltype(cb.free_pages()), uint64_t);
  cb.ForEachFree(visit);
  cb.Validate();
};

template <PallocBackend BackendT>
class Palloc {
 public:
  using Backend = BackendT;
  static constexpr const char* kBackendName = Backend::kName;

  // Bytes of PallocBank::meta one bank needs: for each of its pieces in a zone, 64-byte aligned, the
  // descriptors (32 per page), palloc's block bitmaps, then the backend's structures.
  static uint64_t BankBytes(PhysAddr base, uint64_t npages) {
    uint64_t bytes = 0;
    ForEachPiece(Pfn::Containing(base), npages, [&](Pfn b, uint64_t n, unsigned) { bytes += PieceBytes(b, n); });
    return bytes;
  }
  static uint64_t DescriptorBytes(uint64_t npages) { return AlignDown(npages * sizeof(Page) + 63, 64); }
  // The allocated-block bitmaps, one per order.
  static uint64_t BitmapBytes(Pfn base, uint64_t npages) {
    BitBuddy::Geometry g(base, npages);
    uint64_t words = 0;
    for (unsigned k = 0; k <= g.max_order; ++k) words += Words(g.span >> k);
    return words * 8;
  }

  // pageinit: takes over `banks` (any order, page-aligned, not overlapping, each with BankBytes of meta
  // 64-byte aligned), with every frame free. `colours` is a power of two <= kMaxColours (the kernel's
  // comes from the CPU's caches, x86::CpuInfo::colours). O(total pages): it writes every descriptor.
  // Runs before any other call, on one CPU.
  void PageInit(const PallocBank* banks, size_t nbanks, unsigned colours, PallocHooks hooks = {}) {
    KASSERT(nbanks_ == 0, "PageInit called twice");
    KASSERT(nbanks > 0 && nbanks <= kMaxBanks, "%zu banks, 1 to %u allowed", nbanks, kMaxBanks);
    KASSERT(IsPowerOfTwo(colours) && colours <= kMaxColours, "colour count %u is not a power of two <= %u",
            colours, kMaxColours);
    colours_ = colours;
    hooks_ = hooks;
    for (Zone& z : zones_) z.backend.Init(colours);
    // Sorted by base, so that PageOf can search and each zone's pieces are consecutive; the index of a
    // piece is also its descriptors' `bank`.
    const PallocBank* sorted[kMaxBanks];
    for (size_t i = 0; i < nbanks; ++i) {
      size_t j = i;
      for (; j > 0 && banks[i].base < sorted[j - 1]->base; --j) sorted[j] = sorted[j - 1];
      sorted[j] = &banks[i];
    }
    for (size_t i = 0; i < nbanks; ++i) {
      const PallocBank& in = *sorted[i];
      KASSERT(in.base.IsAlignedTo(kPageSize) && in.npages > 0, "bank 0x%lx (%lu pages) is not page-aligned",
              in.base.value(), in.npages);
      KASSERT(IsAligned(reinterpret_cast<uintptr_t>(in.meta), 64), "bank 0x%lx meta %p not 64-byte aligned",
              in.base.value(), in.meta);
      if (i > 0) {
        const Bank& prev = banks_[nbanks_ - 1];
        KASSERT(prev.base + prev.npages <= Pfn::Containing(in.base).number(),
                "bank 0x%lx overlaps bank 0x%lx (%lu pages)", in.base.value(), sorted[i - 1]->base.value(),
                sorted[i - 1]->npages);
      }
      auto* meta = static_cast<uint8_t*>(in.meta);
      ForEachPiece(Pfn::Containing(in.base), in.npages, [&](Pfn base, uint64_t n, unsigned zone) {
        AddPiece(base, n, zone, meta);
        meta += PieceBytes(base, n);
      });
    }
    ninput_banks_ = static_cast<unsigned>(nbanks);
    for (unsigned z = 0; z < kZones; ++z) {
      if (zones_[z].total_pages != 0) top_zone_ = z;
    }
  }

  // The descriptor of the frame holding `pa`; panics when no bank holds it. O(log banks).
  Page* PageOf(PhysAddr pa) const {
    const uint64_t pfn = Pfn::Containing(pa).number();
    const Bank* bank = BankOf(pfn);
    KASSERT(bank != nullptr, "pa 0x%lx is outside every bank", pa.value());
    return bank->pages + (pfn - bank->base);
  }
  // Whether a bank holds `pa` (the page allocator's frame, not xalloc's or the kernel's). O(log banks).
  bool Holds(PhysAddr pa) const { return BankOf(Pfn::Containing(pa).number()) != nullptr; }
  // The physical address of a descriptor's frame. O(1).
  PhysAddr Pa(const Page* p) const {
    const Bank& bank = banks_[p->bank];
    return Pfn(bank.base + static_cast<uint64_t>(p - bank.pages)).addr();
  }
  // The zone of a descriptor's frame. O(1).
  PallocZone ZoneOf(const Page* p) const { return static_cast<PallocZone>(p->zone); }

  // newpage: a user page for `va` from any zone, preferring va's colour, with one reference. O(1) on the
  // fast path.
  PageResult TryNewPage(VirtAddr va) {
    PageResult r = Alloc(0, static_cast<unsigned>(va.value() >> kPageShift) & (colours_ - 1), PallocZone::kNormal,
                         PageUse::kUser);
    if (r.status == PallocStatus::kOk) {
      r.page->ref = 1;
      r.page->va = va.value();
    }
    return r;
  }
  // The waiting variant: sleeps through the hooks until a page is freed; nullptr when the hooks give the
  // waiter up. Panics when out of memory with no way to wait, since nothing in mm/ spins.
  Page* NewPage(VirtAddr va) {
    for (;;) {
      PageResult r = TryNewPage(va);
      if (r.status == PallocStatus::kOk) return r.page;
      if (!WaitForPage(va)) return nullptr;
    }
  }
  // Sleeps through the hooks until some page is free, for a caller whose allocation for `va` failed (a
  // user fault that found no page or no page-table page); false when the hooks give the waiter up. Panics
  // when there is no way to wait.
  bool WaitForPage(VirtAddr va) {
    __atomic_fetch_add(&waiters_, 1, __ATOMIC_SEQ_CST);
    if (hooks_.sleep != nullptr) DrainAndPublishFrees();
    const PallocWait w = hooks_.sleep != nullptr ? hooks_.sleep(hooks_.ctx, &Palloc::HasFreePages, this)
                                                 : PallocWait::kNoWay;
    __atomic_fetch_sub(&waiters_, 1, __ATOMIC_RELAXED);
    KASSERT(w != PallocWait::kNoWay, "out of memory for va 0x%lx and no way to wait", va.value());
    return w == PallocWait::kRetry;
  }
  // One more reference to a user page; panics at kMaxPageRef instead of wrapping. Atomic: the holders of a
  // page shared by fork take and drop references on several CPUs at once.
  void Ref(Page* p) {
    const PageRef was = __atomic_fetch_add(&p->ref, 1, __ATOMIC_RELAXED);
    KASSERT(was != 0, "ref of pa 0x%lx, which is not a user page", Pa(p).value());
    KASSERT(was != kMaxPageRef, "ref of pa 0x%lx: reference count would pass its limit %u", Pa(p).value(),
            kMaxPageRef);
  }
  // putpage: drops a reference; the last one frees the page (exactly one of several holders dropping at
  // once sees the count reach 0).
  void PutPage(Page* p) {
    const PageRef was = __atomic_fetch_sub(&p->ref, 1, __ATOMIC_ACQ_REL);
    KASSERT(was != 0, "putpage of pa 0x%lx: reference count would go below zero", Pa(p).value());
    if (was == 1) FreePages(p, p, 1);
  }
  // The references a user page has now; 1 means the caller's is the only one, which no other holder can
  // change. O(1).
  PageRef Refs(const Page* p) const { return __atomic_load_n(&p->ref, __ATOMIC_ACQUIRE); }
  // freepages: frees a chain of n user pages linked through `next` from head to tail, whose references
  // have all been dropped (ref 0). O(n).
  void FreePages(Page* head, Page* tail, uint64_t n) {
    Page* p = head;
    for (uint64_t i = 0; i < n; ++i) {
      KASSERT(p != nullptr, "freepages chain ends after %lu of %lu pages", i, n);
      Page* next = p->next;
      KASSERT(p->ref == 0, "freepages of pa 0x%lx, which still has %u references", Pa(p).value(), p->ref);
      KASSERT(i + 1 < n || p == tail, "freepages chain of %lu pages does not end at its tail", n);
      p->va = 0;
      p->flags = 0;
      // A page handed out again starts young and clean: its ageing was its last holders'.
      p->modref = ModRef{};
      p->refage = 0;
      p->aged = 0;
      Free(p, 0, PageUse::kUser, "freepages");
      p = next;
    }
  }

  // 2^order physically contiguous pages aligned to their size, for the kernel (page tables, 2 MiB and
  // 1 GiB pages, DMA), from `highest` or a zone below it. O(1) from a per-CPU cache, else O(log n) under
  // the zone lock; the colour backend may first drain its lists (colour.h).
  [[gnu::always_inline]] PageResult TryAllocContig(unsigned order, PallocZone highest = PallocZone::kNormal) {
    KASSERT(order <= kMaxOrder, "order %u above the largest, %u", order, kMaxOrder);
    return Alloc(order, kAnyColour, highest, PageUse::kBlock);
  }
  // Frees a block from TryAllocContig with the order it was allocated with. `pa` is the block's first
  // byte: an address inside a page is misuse, not a way to name that page.
  void FreeContig(PhysAddr pa, unsigned order) {
    KASSERT(pa.IsAlignedTo(kPageSize), "freeing pa 0x%lx (a block), which is not page-aligned", pa.value());
    FreeContig(PageOf(pa), order);
  }
  [[gnu::always_inline]] void FreeContig(Page* head, unsigned order) { Free(head, order, PageUse::kBlock, "a block"); }

  uint64_t TotalPages() const { return total_pages_; }
  // Free pages, cached ones included: each zone's count under its lock plus every CPU's cache, so a
  // snapshot that concurrent calls may have moved on from.
  uint64_t FreeCount() const {
    uint64_t n = 0;
    for (unsigned z = 0; z < kZones; ++z) {
      LockGuard g(zones_[z].lock);
      n += zones_[z].backend.free_pages();
    }
    for (unsigned cpu = 0; cpu < kMaxCpus; ++cpu) n += CpuCounts(cpu).cached_pages;
    return n;
  }
  // Pages handed out by NewPage and not yet freed.
  uint64_t UserCount() const {
    int64_t n = 0;
    for (unsigned cpu = 0; cpu < kMaxCpus; ++cpu) n += CpuCounts(cpu).users;
    return static_cast<uint64_t>(n);
  }
  // What one CPU's caches and user-page count hold now (relaxed reads: exact once that CPU is quiet).
  PallocCpuCounts CpuCounts(unsigned cpu) const {
    PallocCpuCounts c{0, 0};
    for (unsigned z = 0; z < kZones; ++z) {
      for (unsigned k = 0; k < kCachedOrders; ++k) c.cached_pages += uint64_t{CacheOf(cpu, z, k).n()} << k;
      c.users += __atomic_load_n(&cpus_[cpu].users[z], __ATOMIC_RELAXED);
    }
    return c;
  }
  unsigned Colours() const { return colours_; }

  // Counts every free block of every zone, or of one: O(free blocks x min(block size, colours)).
  void Stats(PallocStats* s) const {
    *s = PallocStats{};
    for (unsigned z = 0; z < kZones; ++z) AddZoneStats(z, s);
  }
  void ZoneStats(PallocZone zone, PallocStats* s) const {
    *s = PallocStats{};
    AddZoneStats(static_cast<unsigned>(zone), s);
  }
  // ZoneStats' free_pages alone, from the same walk of the free blocks, without the 8 KiB of per-colour
  // counts a PallocStats holds: O(free blocks).
  uint64_t ZoneFreeWalked(PallocZone zone) const {
    uint64_t n = 0;
    ForEachFreeIn(static_cast<unsigned>(zone), [&n](const Page*, unsigned order) { n += uint64_t{1} << order; });
    return n;
  }

  // fn(pa, order) for every free block, cached ones included, in the backends' order (not by address).
  // O(free blocks).
  template <typename Fn>
  void ForEachFreeBlock(Fn&& fn) const {
    for (unsigned z = 0; z < kZones; ++z) ForEachFreeIn(z, [&](const Page* head, unsigned order) { fn(Pa(head), order); });
  }

  // The memory line and the free-block table (per order, then per zone, then each CPU's cached blocks per
  // order, then per colour), like Linux's buddyinfo.
  void PrintFreeTable() {
    Stats(&stats_);
    Print("palloc: %s backend, %u banks, %lu MiB: %lu pages, %lu free, %lu user, %u colour%s\n", kBackendName,
          ninput_banks_, total_pages_ >> (20 - kPageShift), total_pages_, stats_.free_pages, stats_.user_pages,
          colours_, colours_ == 1 ? "" : "s");
    Print("palloc: free blocks per order:");
    for (unsigned k = 0; k < kOrders; ++k) Print(" %u:%lu", k, stats_.free_blocks[k]);
    Print("\n");
    for (unsigned z = 0; z < kZones; ++z) {
      if (zones_[z].total_pages == 0) continue;
      ZoneStats(static_cast<PallocZone>(z), &stats_);
      Print("palloc: zone %s: %u banks, %lu pages, %lu free, %lu user; free blocks per order:", kZoneNames[z],
            zones_[z].nbanks, stats_.total_pages, stats_.free_pages, stats_.user_pages);
      for (unsigned k = 0; k < kOrders; ++k) Print(" %u:%lu", k, stats_.free_blocks[k]);
      Print("\n");
    }
    for (unsigned cpu = 0; cpu < kMaxCpus; ++cpu) {
      const uint64_t cached = CpuCounts(cpu).cached_pages;
      if (cached == 0) continue;
      Print("palloc: cpu%u caches %lu free pages; blocks per order:", cpu, cached);
      for (unsigned k = 0; k < kCachedOrders; ++k) {
        unsigned n = 0;
        for (unsigned z = 0; z < kZones; ++z) n += CacheOf(cpu, z, k).n();
        Print(" %u:%u", k, n);
      }
      Print("\n");
    }
    Stats(&stats_);
    Print("palloc: free pages per colour:");
    for (unsigned c = 0; c < colours_; ++c) Print("%s%4u:%-8lu", c % 8 == 0 ? "\n  " : " ", c, stats_.free_by_colour[c]);
    Print("\n");
  }

  // Walks every structure: each zone's backend invariants, every CPU's caches, then palloc's bitmaps and
  // every descriptor, proving that the free blocks, the cached blocks and the allocated blocks partition
  // every bank exactly and that the per-CPU counts add up. O(total pages). Panics on a violation.
  void Validate() {
    uint64_t free = 0;
    for (unsigned z = 0; z < kZones; ++z) {
      const Backend& backend = zones_[z].backend;
      backend.Validate();
      uint64_t listed = 0;
      backend.ForEachFree([&](Page* head, unsigned order) { listed += MarkFree(head, order); });
      KASSERT(listed == backend.free_pages(), "zone %s's backend lists %lu free pages but counts %lu",
              kZoneNames[z], listed, backend.free_pages());
      free += listed;
    }
    uint64_t cached_blocks = 0;
    for (unsigned cpu = 0; cpu < kMaxCpus; ++cpu) {
      for (unsigned z = 0; z < kZones; ++z) {
        for (unsigned k = 0; k < kCachedOrders; ++k) {
          const Cache c = CacheOf(cpu, z, k);
          KASSERT(c.n() <= c.size, "cpu %u's zone %s order %u cache holds %u of %u", cpu, kZoneNames[z], k, c.n(),
                  c.size);
          for (unsigned i = 0; i < c.n(); ++i) {
            Page* p = c.blocks[i];
            KASSERT(p->use == PageUse::kCached && p->order == k && banks_[BankOf(p)].zone == z,
                    "pa 0x%lx in cpu %u's zone %s order %u cache is use %u order %u", Pa(p).value(), cpu,
                    kZoneNames[z], k, static_cast<unsigned>(p->use), p->order);
            free += MarkFree(p, k);
            ++cached_blocks;
          }
        }
      }
    }
    KASSERT(free == FreeCount(), "the zones and caches hold %lu free pages but count %lu", free, FreeCount());
    int64_t users = 0;
    uint64_t cached_heads = 0;
    for (unsigned b = 0; b < nbanks_; ++b) {
      const Bank& bank = banks_[b];
      for (unsigned k = 0; k <= bank.max_order; ++k) {
        for (uint64_t w = 0; w < Words(bank.span >> k); ++w) {
          for (uint64_t bits = bank.heads[k][w]; bits != 0; bits &= bits - 1) {
            uint64_t first = bank.origin + ((w * 64 + __builtin_ctzll(bits)) << k);
            KASSERT(first >= bank.base && first + (uint64_t{1} << k) <= bank.base + bank.npages,
                    "allocated block pfn 0x%lx order %u is not inside bank %u", first, k, b);
            Page* head = bank.pages + (first - bank.base);
            if (head->use == PageUse::kCached && head->order == k) {
              ++cached_heads;  // its cache marked it free above
              continue;
            }
            KASSERT(head->use == PageUse::kZone || head->order == k, "pa 0x%lx heads an order-%u block but says %u",
                    Pa(head).value(), k, head->order);
            for (uint64_t i = 0; i < (uint64_t{1} << k); ++i) {
              Page* p = head + i;
              KASSERT((p->flags & kMark) == 0, "pa 0x%lx in allocated block pfn 0x%lx order %u is also %s",
                      Pa(p).value(), first, k, (p->flags & kAllocMark) != 0 ? "in another block" : "free");
              p->flags |= kMark | kAllocMark;
            }
          }
        }
      }
      for (uint64_t i = 0; i < bank.npages; ++i) {
        Page* p = bank.pages + i;
        PhysAddr pa = Pa(p);
        KASSERT(p->bank == b && p->zone == bank.zone && p->colour == ((bank.base + i) & (colours_ - 1)),
                "pa 0x%lx descriptor says bank %u zone %u colour %u", pa.value(), p->bank, p->zone, p->colour);
        KASSERT((p->flags & kMark) != 0, "pa 0x%lx is neither free nor in an allocated block", pa.value());
        bool user = p->use == PageUse::kUser;
        uint64_t offset = OriginOffset(bank, p);
        KASSERT(!user || (p->ref != 0 && p->order == 0 && TestBit(bank.heads[0], offset)),
                "user page pa 0x%lx has %u references and is %s order-0 block", pa.value(), p->ref,
                TestBit(bank.heads[0], offset) ? "an" : "no");
        KASSERT(user || p->ref == 0, "pa 0x%lx has %u references but is no user page", pa.value(), p->ref);
        KASSERT(p->use != PageUse::kBlock || TestBit(bank.heads[p->order], offset >> p->order),
                "pa 0x%lx says it heads an order-%u block but no such block is allocated", pa.value(), p->order);
        users += user;
        p->flags &= ~(kMark | kAllocMark);
      }
    }
    KASSERT(cached_heads == cached_blocks, "%lu pages say they are cached, the caches hold %lu blocks",
            cached_heads, cached_blocks);
    KASSERT(users == static_cast<int64_t>(UserCount()), "%ld user pages in the descriptors, the counts say %lu",
            users, UserCount());
  }

  // The boot self-test: allocates every free page as a user page, checks none is handed out twice and
  // each maps back to its own descriptor, frees them all and checks the counts are back. Prints one line
  // and returns the number of pages it cycled. O(total pages); needs no memory (it chains the pages).
  uint64_t SelfTest() {
    uint64_t free_before = FreeCount(), users_before = UserCount();
    Page* head = nullptr;
    Page* tail = nullptr;
    uint64_t n = 0;
    for (;;) {
      PageResult r = TryNewPage(VirtAddr(n << kPageShift));
      if (r.status != PallocStatus::kOk) break;
      Page* p = r.page;
      KASSERT((p->flags & kMark) == 0, "self-test: pa 0x%lx handed out twice", Pa(p).value());
      KASSERT(PageOf(Pa(p)) == p, "self-test: pa 0x%lx maps to another descriptor", Pa(p).value());
      p->flags |= kMark;
      p->next = head;
      head = p;
      if (tail == nullptr) tail = p;
      ++n;
    }
    KASSERT(n == free_before && FreeCount() == 0, "self-test: got %lu pages, %lu were free, %lu still free", n,
            free_before, FreeCount());
    for (Page* p = head; p != nullptr; p = p->next) {
      p->flags &= ~kMark;
      p->ref = 0;
    }
    if (n != 0) FreePages(head, tail, n);
    KASSERT(FreeCount() == free_before && UserCount() == users_before,
            "self-test: %lu free and %lu user pages after, %lu and %lu before", FreeCount(), UserCount(),
            free_before, users_before);
    Validate();
    Print("palloc: self-test allocated and freed %lu pages, none twice\n", n);
    return n;
  }

  // One CPU's part of an all-CPU stress test, safe to run on every CPU at once: `rounds` times, it takes
  // up to kStressPages user pages and a block of order 1 to 4 or 9, checks that none was handed out twice
  // (a mark only the holder writes) and that each maps back to its descriptor, frees the block itself and
  // trades its chain of user pages for the one the previous CPU left at the exchange, which it frees
  // (pages another CPU allocated). Its last trade only takes, so once every CPU has returned every page
  // is back. Interrupts must be on (allocations may drain other CPUs). Returns the pages it allocated.
  uint64_t SelfTestConcurrent(uint64_t rounds) {
    uint64_t taken = 0;
    for (uint64_t round = 0; round <= rounds; ++round) {
      Chain mine;
      if (round < rounds) {
        for (unsigned i = 0; i < kStressPages; ++i) {
          PageResult r = TryNewPage(VirtAddr(uint64_t{i} << kPageShift));
          if (r.status != PallocStatus::kOk) break;
          Claim(r.page, "user page");
          mine.Push(r.page);
        }
        constexpr unsigned kBlockOrders[] = {1, 2, 3, 4, 9};  // small and large cached orders
        const unsigned order = kBlockOrders[round % 5];
        PageResult b = TryAllocContig(order);
        if (b.status == PallocStatus::kOk) {
          Claim(b.page, "block");
          b.page->flags &= ~kMark;
          FreeContig(b.page, order);
          taken += uint64_t{1} << order;
        }
        taken += mine.n;
      }
      Chain theirs;
      exchange_lock_.Lock();
      theirs = exchange_;
      exchange_ = mine;
      exchange_lock_.Unlock();
      for (Page* p = theirs.head; p != nullptr; p = p->next) {
        KASSERT((p->flags & kMark) != 0 && p->ref == 1, "self-test: pa 0x%lx came through the exchange unclaimed",
                Pa(p).value());
        p->flags &= ~kMark;
        p->ref = 0;
      }
      if (theirs.n != 0) FreePages(theirs.head, theirs.tail, theirs.n);
    }
    return taken;
  }

 private:
  static constexpr uint8_t kMark = static_cast<uint8_t>(PageFlag::kValidateMark);
  static constexpr uint8_t kAllocMark = static_cast<uint8_t>(PageFlag::kValidateAllocMark);
  static constexpr unsigned kStressPages = 64;

  struct Bank {
    uint64_t base;  // first pfn
    uint64_t npages;
    Page* pages;
    uint64_t origin;  // as BitBuddy::Geometry: block i of order k starts at pfn origin + (i << k)
    uint64_t span;
    unsigned max_order;
    unsigned zone;
    uint64_t* heads[kOrders];  // heads[k] bit i: an allocated block of order k starts at origin + (i << k)
  };
  // The bank holding frame `pfn`, or nullptr. O(log banks).
  const Bank* BankOf(uint64_t pfn) const {
    unsigned lo = 0, hi = nbanks_;  // the bank is below hi
    while (hi - lo > 1) {
      const unsigned mid = (lo + hi) / 2;
      if (banks_[mid].base <= pfn) {
        lo = mid;
      } else {
        hi = mid;
      }
    }
    const Bank& bank = banks_[lo];
    return nbanks_ != 0 && pfn >= bank.base && pfn - bank.base < bank.npages ? &bank : nullptr;
  }

  // One zone: its lock, its backend over its banks (banks_[first_bank, first_bank + nbanks)), its size.
  struct Zone {
    constexpr explicit Zone(const char* name) : lock(name, LockLevel::kZone) {}
    mutable SpinLock lock;
    Backend backend;
    uint64_t total_pages = 0;
    unsigned first_bank = 0;
    unsigned nbanks = 0;
  };

  // One CPU's free blocks from one zone: those of order k in slots [first(k), first(k) + CacheSize(k)),
  // newest last, and their count. A count is written by its CPU only and read by any (CpuCounts), so it
  // is accessed with relaxed atomics: plain moves on x86.
  struct ZoneCaches {
    unsigned count[kCachedOrders] = {};
    Page* slots[kCacheSlots] = {};
  };
  struct CpuCaches {
    ZoneCaches of[kZones];
    int64_t users[kZones] = {};  // user pages of each zone this CPU allocated, less those it freed
  };
  // One order's cache in a ZoneCaches.
  class Cache {
   public:
    Cache(ZoneCaches& z, unsigned order)
        : count_(&z.count[order]),
          blocks(z.slots + kCacheLayout.first[order]),
          size(CacheSize(order)) {}
    unsigned n() const { return __atomic_load_n(count_, __ATOMIC_RELAXED); }
    void Set(unsigned n) { __atomic_store_n(count_, n, __ATOMIC_RELAXED); }

   private:
    unsigned* count_;

   public:
    Page** const blocks;
    const unsigned size;
  };
  Cache CacheOf(unsigned cpu, unsigned zone, unsigned order) const {
    return Cache(const_cast<ZoneCaches&>(cpus_[cpu].of[zone]), order);
  }
  Cache CacheHere(unsigned zone, unsigned order) { return Cache(cpus_.Here().of[zone], order); }
  Cache CacheOn(unsigned cpu, unsigned zone, unsigned order) { return Cache(cpus_[cpu].of[zone], order); }

  // A chain of user pages linked through `next`, for SelfTestConcurrent's exchange.
  struct Chain {
    Page* head = nullptr;
    Page* tail = nullptr;
    uint64_t n = 0;
    void Push(Page* p) {
      p->next = head;
      head = p;
      if (tail == nullptr) tail = p;
      ++n;
    }
  };

  static uint64_t Words(uint64_t bits) { return (bits + 63) / 64; }
  static bool TestBit(const uint64_t* words, uint64_t i) { return (words[i >> 6] >> (i & 63)) & 1; }
  static void SetBit(uint64_t* words, uint64_t i) { words[i >> 6] |= uint64_t{1} << (i & 63); }
  static void ClearBit(uint64_t* words, uint64_t i) { words[i >> 6] &= ~(uint64_t{1} << (i & 63)); }
  // Only the owner writes, so a relaxed load and store is the whole update: no read-modify-write.
  static void AddUsers(CpuCaches& caches, unsigned zone, int64_t delta) {
    __atomic_store_n(&caches.users[zone], caches.users[zone] + delta, __ATOMIC_RELAXED);
  }

  // fn(base, npages, zone) for each piece of [base, base + npages) inside one zone, lowest first.
  template <typename Fn>
  static void ForEachPiece(Pfn base, uint64_t npages, Fn&& fn) {
    uint64_t pfn = base.number(), end = pfn + npages;
    for (unsigned z = 0; z < kZones && pfn < end; ++z) {
      if (pfn >= kZoneEnd[z]) continue;
      uint64_t piece_end = Min(end, kZoneEnd[z]);
      fn(Pfn(pfn), piece_end - pfn, z);
      pfn = piece_end;
    }
  }
  static uint64_t PieceBytes(Pfn base, uint64_t npages) {
    return DescriptorBytes(npages) + AlignDown(BitmapBytes(base, npages) + Backend::MetaBytes(base, npages) + 63, 64);
  }

  // Lays out one piece's descriptors, bitmaps and backend structures in `meta` and hands it to its zone.
  void AddPiece(Pfn base, uint64_t npages, unsigned zone, uint8_t* meta) {
    KASSERT(nbanks_ < kMaxBanks + kZones - 1, "more than %u bank pieces", kMaxBanks + kZones - 1);
    const unsigned index = nbanks_++;
    Bank& bank = banks_[index];
    BitBuddy::Geometry g(base, npages);
    bank = Bank{base.number(), npages, reinterpret_cast<Page*>(meta), g.origin, g.span, g.max_order, zone, {}};
    auto* words = reinterpret_cast<uint64_t*>(meta + DescriptorBytes(npages));
    uint64_t nwords = (PieceBytes(base, npages) - DescriptorBytes(npages)) / 8;
    for (uint64_t w = 0; w < nwords; ++w) words[w] = 0;
    for (unsigned k = 0; k <= g.max_order; ++k) {
      bank.heads[k] = words;
      words += Words(g.span >> k);
    }
    for (uint64_t p = 0; p < npages; ++p) {
      bank.pages[p] = Page{nullptr, 0, 0, static_cast<uint16_t>((bank.base + p) & (colours_ - 1)),
                           static_cast<uint8_t>(index), 0, PageUse::kZone, 0, ModRef{}, 0, 0,
                           static_cast<uint8_t>(zone), {}};
    }
    Zone& z = zones_[zone];
    if (z.nbanks == 0) z.first_bank = index;
    ++z.nbanks;
    z.backend.AddBank(bank.pages, base, npages, words);
    z.total_pages += npages;
    total_pages_ += npages;
  }

  // The bank whose array holds `p`, from the arrays' addresses, reading no descriptor. O(banks).
  unsigned BankOf(const Page* p) const {
    auto a = reinterpret_cast<uintptr_t>(p);
    for (unsigned b = 0;; ++b) {
      KASSERT(b < nbanks_, "descriptor %p is in no bank", static_cast<const void*>(p));
      if (a - reinterpret_cast<uintptr_t>(banks_[b].pages) < banks_[b].npages * sizeof(Page)) return b;
    }
  }

  // The bank of a descriptor a caller hands back, from its own `bank`, checked against that bank's array
  // so that a pointer into no descriptor array panics instead of freeing a stranger. O(1).
  const Bank& BankFrom(const Page* p) const {
    const unsigned b = p->bank;
    KASSERT(b < nbanks_ && reinterpret_cast<uintptr_t>(p) - reinterpret_cast<uintptr_t>(banks_[b].pages) <
                               banks_[b].npages * sizeof(Page),
            "descriptor %p is in no bank", static_cast<const void*>(p));
    return banks_[b];
  }

  // A descriptor's frame as an offset from its bank's origin, which indexes the bitmaps: bit offset >> k
  // of heads[k] stands for an order-k block starting at the frame.
  static uint64_t OriginOffset(const Bank& bank, const Page* p) {
    return static_cast<uint64_t>(p - bank.pages) + bank.base - bank.origin;
  }

  static bool HasFreePages(void* self) { return static_cast<Palloc*>(self)->FreeCount() != 0; }

  // Whether the per-CPU caches may serve a request of this colour: they do not sort by colour.
  static bool CacheServes(unsigned colour) {
    return colour == kAnyColour || Backend::kColouring == Colouring::kIgnoresHint;
  }

  // Gives a block to its caller: its use, and the user-page count of `cpu`, the caller's CPU, whose
  // interrupts are off.
  void Hand(Page* p, unsigned cpu, unsigned zone, unsigned order, PageUse use) {
    if (order >= kCachedOrders) return;  // larger blocks stay kZone: the bitmaps alone say who has them
    p->use = use;
    p->order = static_cast<uint8_t>(order);
    if (use == PageUse::kUser) AddUsers(cpus_[cpu], zone, 1);
  }

  // The hot paths are forced inline: as calls they cost a quarter of an alloc/free pair.
  [[gnu::always_inline]] PageResult Alloc(unsigned order, unsigned colour, PallocZone highest, PageUse use) {
    // PageInit's bound, told to the compiler: an ordinary allocation's zone is then top_zone_ itself.
    if (top_zone_ >= kZones) __builtin_unreachable();
    const unsigned top = Min(top_zone_, static_cast<unsigned>(highest));
    // Only the environment's cheap section (the kernel's every one): AllocSlow takes any other, and its
    // first stop is this same cache. Kept apart from the other sections, the fast path knows how its
    // section began (on the host: with interrupts on), and its restore tests nothing.
    CpuIrq here;
    if (order < kCachedOrders && CacheServes(colour) && __builtin_expect(TryIrqSaveCpu(here), 1)) {
      Cache c = CacheOn(here.cpu, top, order);
      const unsigned n = c.n();
      if (n != 0) {
        Page* p = c.blocks[n - 1];
        c.Set(n - 1);
        Hand(p, here.cpu, top, order, use);
        IrqRestore(here.irq);
        return PageResult{PallocStatus::kOk, p};
      }
      IrqRestore(here.irq);
    }
    return AllocSlow(order, colour, top, use);
  }

  // The zones from `top` down, each through this CPU's cache or under its lock; then, when that finds
  // nothing, the same again after the caches are drained. A coloured request to a backend that honours
  // colours looks for its colour in every zone before it takes another colour from the first.
  [[gnu::noinline]] PageResult AllocSlow(unsigned order, unsigned colour, unsigned top, PageUse use) {
    for (int pass = 0; pass < 2; ++pass) {
      for (unsigned m = CacheServes(colour) ? 1 : 0; m < 2; ++m) {
        const ColourMatch match = m == 0 ? ColourMatch::kExact : ColourMatch::kPreferred;
        for (unsigned z = top + 1; z-- > 0;) {
          if (zones_[z].total_pages == 0) continue;
          if (Page* p = AllocFrom(z, order, colour, match, use)) return PageResult{PallocStatus::kOk, p};
        }
      }
      if (pass == 0 && !DrainForRetry(top)) break;
    }
    return PageResult{PallocStatus::kNoMemory, nullptr};
  }

  enum class ColourMatch : uint8_t { kExact, kPreferred };
  Page* AllocFrom(unsigned zone, unsigned order, unsigned colour, ColourMatch match, PageUse use) {
    const CpuIrq here = IrqSaveCpu();
    Page* p = nullptr;
    if (order < kCachedOrders && CacheServes(colour)) {
      Cache c = CacheOn(here.cpu, zone, order);
      if (c.n() == 0) Refill(zone, order, c);
      if (c.n() != 0) {
        p = c.blocks[c.n() - 1];
        c.Set(c.n() - 1);
      }
    } else {
      Zone& z = zones_[zone];
      LockGuard g(z.lock);
      p = z.backend.Alloc(order, colour);
      if (p != nullptr && match == ColourMatch::kExact && p->colour != colour) {
        z.backend.Free(p, order);  // the backend's "any colour beats no page": a lower zone may have it
        p = nullptr;
      }
      if (p != nullptr) MarkAllocated(p, order);
    }
    if (p != nullptr) Hand(p, here.cpu, zone, order, use);
    IrqRestore(here.irq);
    return p;
  }

  // Sets the allocated bit of a block the backend just handed out. Zone lock held.
  void MarkAllocated(Page* p, unsigned order) {
    const Bank& bank = BankFrom(p);
    uint64_t idx = OriginOffset(bank, p) >> order;
    KASSERT(!TestBit(bank.heads[order], idx), "the %s backend handed out pa 0x%lx, which is allocated",
            kBackendName, Pa(p).value());
    SetBit(bank.heads[order], idx);
  }

  // Fills an empty cache with half its size in blocks from its zone: one block of RefillOrder, split, or
  // else one block at a time. Interrupts are off.
  void Refill(unsigned zone, unsigned order, Cache& c) {
    Zone& z = zones_[zone];
    LockGuard g(z.lock);
    const unsigned batch = c.size / 2;
    unsigned n = 0;
    if (Page* big = z.backend.Alloc(RefillOrder(order), kAnyColour)) {
      // Pushed from the top, so that the allocations go up in address from the block's head.
      for (unsigned i = batch; i-- > 0;) {
        Page* p = big + (uint64_t{i} << order);
        MarkAllocated(p, order);
        c.blocks[n++] = Cached(p, order);
      }
    } else {
      for (Page* p; n < batch && (p = z.backend.Alloc(order, kAnyColour)) != nullptr;) {
        MarkAllocated(p, order);
        c.blocks[n++] = Cached(p, order);
      }
    }
    c.Set(n);
  }
  static Page* Cached(Page* p, unsigned order) {
    p->use = PageUse::kCached;
    p->order = static_cast<uint8_t>(order);
    return p;
  }

  // Gives a cache's oldest blocks back to its zone, keeping the newest `keep`. Interrupts are off. The
  // Cache comes by value (it names the CPU's count and slots, which it updates): taken by reference, the
  // free's fast path would build one in memory on every call for the sake of this rare one.
  [[gnu::noinline]] void Drain(unsigned zone, unsigned order, Cache c, unsigned keep) {
    const unsigned n = c.n(), give = n - keep;
    {
      LockGuard g(zones_[zone].lock);
      for (unsigned i = 0; i < give; ++i) {
        Page* p = c.blocks[i];
        p->use = PageUse::kZone;
        const Bank& bank = BankFrom(p);
        ClearBit(bank.heads[order], OriginOffset(bank, p) >> order);
        zones_[zone].backend.Free(p, order);
      }
    }
    for (unsigned i = give; i < n; ++i) c.blocks[i - give] = c.blocks[i];
    c.Set(keep);
  }

  // Every cache of this CPU, for a cross-call or the CPU itself with interrupts off.
  static void DrainHere(void* self) {
    auto* palloc = static_cast<Palloc*>(self);
    for (unsigned z = 0; z < kZones; ++z) {
      for (unsigned k = 0; k < kCachedOrders; ++k) {
        Cache c = palloc->CacheHere(z, k);
        if (c.n() != 0) palloc->Drain(z, k, c, 0);
      }
    }
  }

  // After a failed allocation from zones `top` and below: drains this CPU's caches and, when interrupts
  // are on, every other CPU's through a cross-call. Says whether any cached page went back to a zone.
  bool DrainForRetry(unsigned top) {
    if (CachedPages(top) == 0) return false;
    const IrqState irq = IrqSave();
    DrainHere(this);
    IrqRestore(irq);
    if (irq == IrqState::kWereOn && CachedPages(top) != 0) CrossCall(OnlineCpus(), &Palloc::DrainHere, this);
    return true;
  }

  // A free's fast path stores its cache's count and then reads waiters_ with no fence between (one would
  // cost every free): a free still holding that store in its CPU's store buffer could read no waiter while
  // the waiter reads the old count, and the waiter would sleep with a page free (a lost wake-up, Dekker's
  // pattern). So a waiter, once counted, calls every CPU: a CPU answers between two of its interrupts-off
  // sections, after its earlier frees' stores and before its later frees' reads of waiters_, so each free
  // is either visible to the waiter's check or sees the waiter. Costs a cross-call per sleep, nothing per
  // free; with interrupts off (no call possible) nothing can sleep anyway. The call also gives every CPU's
  // cached pages back to their zones: the waiter's failed allocation may have run with interrupts off (a
  // fault under its process's lock), unable to drain the other CPUs, and its retry would fail the same way
  // for as long as they kept the pages, while the pages counted as free (HasFreePages) never let it sleep.
  void DrainAndPublishFrees() {
    const IrqState irq = IrqSave();
    IrqRestore(irq);
    if (irq == IrqState::kWereOn) CrossCall(OnlineCpus(), &Palloc::DrainHere, this);
  }

  // Pages in every CPU's caches of zones `top` and below.
  uint64_t CachedPages(unsigned top = kZones - 1) const {
    uint64_t n = 0;
    for (unsigned cpu = 0; cpu < kMaxCpus; ++cpu) {
      for (unsigned z = 0; z <= top; ++z) {
        for (unsigned k = 0; k < kCachedOrders; ++k) n += uint64_t{CacheOf(cpu, z, k).n()} << k;
      }
    }
    return n;
  }

  [[gnu::always_inline]] void Free(Page* head, unsigned order, PageUse as, const char* what) {
    const Bank& bank = BankFrom(head);
    if (order < kCachedOrders && head->use == as && head->order == order) {
      CpuIrq here;
      if (__builtin_expect(TryIrqSaveCpu(here), 1)) {
        ToCache(here, head, order, as);
      } else {
        ToCacheInAnySection(head, order, as);
      }
    } else {
      FreeSlow(bank, head, order, as, what);
    }
    if (__atomic_load_n(&waiters_, __ATOMIC_RELAXED) != 0) hooks_.wakeup(hooks_.ctx);
  }

  // A free's push into the cache of its CPU, whose section `here` is, and the section's end.
  [[gnu::always_inline]] void ToCache(CpuIrq here, Page* head, unsigned order, PageUse as) {
    CpuCaches& caches = cpus_[here.cpu];
    const unsigned zone = head->zone;
    Cache c(caches.of[zone], order);
    if (c.n() == c.size) Drain(zone, order, c, c.size / 2);
    head->use = PageUse::kCached;
    c.blocks[c.n()] = head;
    c.Set(c.n() + 1);
    if (as == PageUse::kUser) AddUsers(caches, zone, -1);
    IrqRestore(here.irq);
  }
  // The same in a section the environment's cheap one is not (on the host: nested, or a thread's first).
  [[gnu::noinline]] void ToCacheInAnySection(Page* head, unsigned order, PageUse as) {
    ToCache(IrqSaveCpu(), head, order, as);
  }

  // A free the caches do not take: a block of a larger order back to its zone, or misuse, which panics.
  [[gnu::noinline]] void FreeSlow(const Bank& bank, Page* head, unsigned order, PageUse as, const char* what) {
    KASSERT(as != PageUse::kUser || head->use == PageUse::kUser, "freepages of pa 0x%lx, which is not a user page",
            Pa(head).value());
    KASSERT(head->use != PageUse::kUser || as == PageUse::kUser,
            "freeing pa 0x%lx as a block but it is a user page with %u references", Pa(head).value(), head->ref);
    uint64_t offset = OriginOffset(bank, head);
    Zone& z = zones_[bank.zone];
    LockGuard g(z.lock);
    if (head->use == PageUse::kCached) Misfree(bank, offset, kOrders, what);
    if (order > bank.max_order || !IsAligned(offset, uint64_t{1} << order) ||
        !TestBit(bank.heads[order], offset >> order)) {
      Misfree(bank, offset, order, what);
    }
    ClearBit(bank.heads[order], offset >> order);
    head->use = PageUse::kZone;
    z.backend.Free(head, order);
  }

  // Why a free was refused: another order heads a block here, or nothing does (order kOrders: the block
  // is in a cache, so free whatever the bitmaps say).
  [[noreturn]] void Misfree(const Bank& bank, uint64_t offset, unsigned order, const char* what) const {
    uint64_t pa = (bank.origin + offset) << kPageShift;
    for (unsigned k = 0; k <= bank.max_order && order != kOrders; ++k) {
      if (IsAligned(offset, uint64_t{1} << k) && TestBit(bank.heads[k], offset >> k)) {
        Panic("freeing pa 0x%lx (%s) as order %u but it was allocated as order %u", pa, what, order, k);
      }
    }
    Panic("freeing pa 0x%lx (%s), which is already free (or not the start of a block)", pa, what);
  }

  // fn(head, order) for every free block of one zone, cached ones first.
  template <typename Fn>
  void ForEachFreeIn(unsigned zone, Fn&& fn) const {
    for (unsigned cpu = 0; cpu < kMaxCpus; ++cpu) {
      for (unsigned k = 0; k < kCachedOrders; ++k) {
        const Cache c = CacheOf(cpu, zone, k);
        for (unsigned i = 0; i < c.n(); ++i) fn(static_cast<const Page*>(c.blocks[i]), k);
      }
    }
    zones_[zone].backend.ForEachFree([&](const Page* head, unsigned order) { fn(head, order); });
  }

  void AddZoneStats(unsigned zone, PallocStats* s) const {
    s->total_pages += zones_[zone].total_pages;
    for (unsigned cpu = 0; cpu < kMaxCpus; ++cpu) {
      s->user_pages += static_cast<uint64_t>(__atomic_load_n(&cpus_[cpu].users[zone], __ATOMIC_RELAXED));
    }
    ForEachFreeIn(zone, [&](const Page* head, unsigned order) {
      ++s->free_blocks[order];
      uint64_t size = uint64_t{1} << order;
      s->free_pages += size;
      if (size >= colours_) {
        for (unsigned c = 0; c < colours_; ++c) s->free_by_colour[c] += size / colours_;
      } else {
        for (uint64_t i = 0; i < size; ++i) ++s->free_by_colour[(head->colour + i) & (colours_ - 1)];
      }
    });
  }

  // Validate's marking of a free block's frames; returns its size.
  uint64_t MarkFree(Page* head, unsigned order) {
    const Bank& bank = banks_[BankOf(head)];
    uint64_t index = static_cast<uint64_t>(head - bank.pages);
    uint64_t size = uint64_t{1} << order;
    KASSERT(index + size <= bank.npages, "free block pa 0x%lx order %u runs out of its bank", Pa(head).value(),
            order);
    for (uint64_t i = 0; i < size; ++i) {
      Page* p = head + i;
      KASSERT((p->flags & kMark) == 0, "pa 0x%lx is free twice", Pa(p).value());
      KASSERT(p->ref == 0, "pa 0x%lx is free but has %u references", Pa(p).value(), p->ref);
      KASSERT(p->modref == ModRef{} && p->refage == 0, "pa 0x%lx is free but keeps ageing: modref 0x%x refage %u",
              Pa(p).value(), static_cast<unsigned>(p->modref), p->refage);
      p->flags |= kMark;
    }
    return size;
  }

  // SelfTestConcurrent's check of a block it was just handed: no other holder has marked it.
  void Claim(Page* p, const char* what) {
    KASSERT((p->flags & kMark) == 0, "self-test: pa 0x%lx (%s) handed out twice", Pa(p).value(), what);
    KASSERT(PageOf(Pa(p)) == p, "self-test: pa 0x%lx maps to another descriptor", Pa(p).value());
    p->flags |= kMark;
  }

  Bank banks_[kMaxBanks + kZones - 1] = {};  // a bank split at both zone boundaries is three pieces
  unsigned nbanks_ = 0;
  unsigned ninput_banks_ = 0;
  unsigned top_zone_ = 0;  // the highest zone with memory
  unsigned colours_ = 1;
  uint64_t total_pages_ = 0;
  uint64_t waiters_ = 0;
  PallocHooks hooks_;
  Zone zones_[kZones] = {Zone("palloc zone DMA"), Zone("palloc zone DMA32"), Zone("palloc zone normal")};
  PerCpu<CpuCaches> cpus_;
  SpinLock exchange_lock_{"palloc self-test exchange", LockLevel::kZone};
  Chain exchange_;          // SelfTestConcurrent's pages in transit between CPUs
  PallocStats stats_ = {};  // PrintFreeTable's scratch: too large for a kernel stack
};

}  // namespace kmem
