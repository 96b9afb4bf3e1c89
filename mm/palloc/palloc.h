// palloc, the page-frame allocator (9front's port/page.c in spirit): the per-bank descriptor arrays, the
// user-page operations (NewPage, PutPage, FreePages), naturally aligned contiguous blocks of 2^order pages,
// counts, statistics, Validate and the boot self-test, over a backend chosen at build time. Palloc is a
// template over its backend so the kernel's hot path has no virtual dispatch; the kernel's instance is
// KernelPalloc (kernel_palloc.h), tests instantiate both backends.
//
// Misuse panics with the physical address and the reason: freeing a free page, freeing a page outside
// every bank or at an address that is not page-aligned, a reference count going below zero or past
// kMaxPageRef, freeing a block with another order than it was allocated with. Which blocks are allocated, and at which order, is kept in per-bank bitmaps (one bit per
// possible block head and order, 2 bits per frame in all, plus one bit per frame for user pages) rather
// than in the descriptors, so a free checks cache-resident bits instead of missing on a cold descriptor.
// Palloc is not internally locked: callers serialise calls (the kernel's palloc lock).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/base/addr.h"
#include "mm/base/format.h"
#include "mm/base/panic.h"
#include "mm/palloc/bit_buddy.h"
#include "mm/palloc/page.h"

namespace kmem {

// How the waiting allocation sleeps, as 9front sleeps on palloc.pwait. sleep(ctx, ready, arg) must release
// the caller's palloc lock, block until ready(arg) is true (re-checking it under the lock), and return
// with the lock held again; wakeup(ctx) is called, lock held, by every free while someone waits. The
// kernel has no scheduler yet and passes no hooks: NewPage then panics on exhaustion instead of spinning.
struct PallocHooks {
  void (*sleep)(void* ctx, bool (*ready)(void* arg), void* arg) = nullptr;
  void (*wakeup)(void* ctx) = nullptr;
  void* ctx = nullptr;
};

// Free memory as Linux's buddyinfo shows it: blocks per order and pages per colour.
struct PallocStats {
  uint64_t total_pages;
  uint64_t free_pages;
  uint64_t user_pages;
  uint64_t free_blocks[kOrders];
  uint64_t free_by_colour[kMaxColours];
};

// What Palloc needs of a backend (the LLFree/ArceOS-style interface; backends.bzl lists the backends):
// its metadata size per bank, init, banks handed over with every frame free, allocation of a free block
// of 2^order pages with a colour hint (nullptr when none), free of such a block, the free-page count, a
// walk of the free blocks, and a check of its own invariants that panics on a broken one.
// (Compiler builtins stand in for <concepts>, which the freestanding kernel build does not have.)
template <typename B>
concept PallocBackend = requires(B b, const B cb, Page* page, Pfn pfn, uint64_t n, void* meta, unsigned u,
                                 void (*visit)(const Page*, unsigned)) {
  requires __is_convertible_to(decltype(B::kName), const char*);
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

  // Bytes of PallocBank::meta one bank needs: its descriptors (32 per page), palloc's block bitmaps, then
  // the backend's structures.
  static uint64_t BankBytes(PhysAddr base, uint64_t npages) {
    return DescriptorBytes(npages) + BitmapBytes(Pfn::Containing(base), npages) +
           Backend::MetaBytes(Pfn::Containing(base), npages);
  }
  static uint64_t DescriptorBytes(uint64_t npages) { return AlignDown(npages * sizeof(Page) + 63, 64); }
  // The allocated-block bitmaps (one per order) and the user-page bitmap.
  static uint64_t BitmapBytes(Pfn base, uint64_t npages) {
    BitBuddy::Geometry g(base, npages);
    uint64_t words = Words(npages);
    for (unsigned k = 0; k <= g.max_order; ++k) words += Words(g.span >> k);
    return words * 8;
  }

  // pageinit: takes over `banks` (any order, page-aligned, not overlapping, each with BankBytes of meta
  // 64-byte aligned), with every frame free. `colours` is a power of two <= kMaxColours (the kernel's
  // comes from the CPU's caches, x86::CpuInfo::colours). O(total pages): it writes every descriptor.
  void PageInit(const PallocBank* banks, size_t nbanks, unsigned colours, PallocHooks hooks = {}) {
    KASSERT(nbanks_ == 0, "PageInit called twice");
    KASSERT(nbanks > 0 && nbanks <= kMaxBanks, "%zu banks, 1 to %u allowed", nbanks, kMaxBanks);
    KASSERT(IsPowerOfTwo(colours) && colours <= kMaxColours, "colour count %u is not a power of two <= %u",
            colours, kMaxColours);
    colours_ = colours;
    hooks_ = hooks;
    backend_.Init(colours);
    // Sorted by base, so that PageOf can search; the index is also the descriptors' `bank`.
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
        const Bank& prev = banks_[i - 1];
        KASSERT(prev.base + prev.npages <= Pfn::Containing(in.base).number(),
                "bank 0x%lx overlaps bank 0x%lx (%lu pages)", in.base.value(), prev.base << kPageShift,
                prev.npages);
      }
      Bank& bank = banks_[i];
      Pfn base = Pfn::Containing(in.base);
      BitBuddy::Geometry g(base, in.npages);
      bank = Bank{base.number(), in.npages, static_cast<Page*>(in.meta), g.origin, g.span, g.max_order, {}, nullptr};
      auto* words = reinterpret_cast<uint64_t*>(static_cast<uint8_t*>(in.meta) + DescriptorBytes(in.npages));
      uint64_t nwords = (BitmapBytes(base, in.npages) + Backend::MetaBytes(base, in.npages)) / 8;
      for (uint64_t w = 0; w < nwords; ++w) words[w] = 0;
      for (unsigned k = 0; k <= g.max_order; ++k) {
        bank.heads[k] = words;
        words += Words(g.span >> k);
      }
      bank.users = words;
      words += Words(in.npages);
      void* backend_meta = words;
      for (uint64_t p = 0; p < in.npages; ++p) {
        bank.pages[p] = Page{nullptr, 0, 0, static_cast<uint16_t>((bank.base + p) & (colours - 1)),
                             static_cast<uint8_t>(i), 0, {}};
      }
      backend_.AddBank(bank.pages, Pfn(bank.base), in.npages, backend_meta);
      total_pages_ += in.npages;
    }
    nbanks_ = static_cast<unsigned>(nbanks);
  }

  // The descriptor of the frame holding `pa`; panics when no bank holds it. O(log banks).
  Page* PageOf(PhysAddr pa) const {
    uint64_t pfn = Pfn::Containing(pa).number();
    unsigned lo = 0, hi = nbanks_;  // the bank is below hi
    while (hi - lo > 1) {
      unsigned mid = (lo + hi) / 2;
      if (banks_[mid].base <= pfn) {
        lo = mid;
      } else {
        hi = mid;
      }
    }
    const Bank& bank = banks_[lo];
    KASSERT(nbanks_ != 0 && pfn >= bank.base && pfn - bank.base < bank.npages, "pa 0x%lx is outside every bank",
            pa.value());
    return bank.pages + (pfn - bank.base);
  }
  // The physical address of a descriptor's frame. O(1).
  PhysAddr Pa(const Page* p) const {
    const Bank& bank = banks_[p->bank];
    return Pfn(bank.base + static_cast<uint64_t>(p - bank.pages)).addr();
  }

  // newpage: a user page for `va`, preferring va's colour, with one reference. O(1) on the fast path.
  PageResult TryNewPage(VirtAddr va) {
    const Bank* bank;
    PageResult r = Alloc(0, static_cast<unsigned>(va.value() >> kPageShift) & (colours_ - 1), &bank);
    if (r.status == PallocStatus::kOk) {
      r.page->ref = 1;
      r.page->va = va.value();
      SetBit(bank->users, static_cast<uint64_t>(r.page - bank->pages));
      ++user_pages_;
    }
    return r;
  }
  // The waiting variant: sleeps through the hooks until a page is freed. Panics when out of memory
  // without hooks, since nothing in mm/ spins.
  Page* NewPage(VirtAddr va) {
    for (;;) {
      PageResult r = TryNewPage(va);
      if (r.status == PallocStatus::kOk) return r.page;
      KASSERT(hooks_.sleep != nullptr, "out of memory for va 0x%lx and no way to wait", va.value());
      ++waiters_;
      hooks_.sleep(hooks_.ctx, &Palloc::HasFreePages, this);
      --waiters_;
    }
  }
  // One more reference to a user page; panics at kMaxPageRef instead of wrapping.
  void Ref(Page* p) {
    KASSERT(p->ref != 0, "ref of pa 0x%lx, which is not a user page", Pa(p).value());
    KASSERT(p->ref != kMaxPageRef, "ref of pa 0x%lx: reference count would pass its limit %u", Pa(p).value(),
            kMaxPageRef);
    ++p->ref;
  }
  // putpage: drops a reference; the last one frees the page.
  void PutPage(Page* p) {
    KASSERT(p->ref != 0, "putpage of pa 0x%lx: reference count would go below zero", Pa(p).value());
    if (--p->ref == 0) FreePages(p, p, 1);
  }
  // freepages: frees a chain of n user pages linked through `next` from head to tail, whose references
  // have all been dropped (ref 0). O(n).
  void FreePages(Page* head, Page* tail, uint64_t n) {
    Page* p = head;
    for (uint64_t i = 0; i < n; ++i) {
      KASSERT(p != nullptr, "freepages chain ends after %lu of %lu pages", i, n);
      Page* next = p->next;
      KASSERT(p->ref == 0, "freepages of pa 0x%lx, which still has %u references", Pa(p).value(), p->ref);
      KASSERT(i + 1 < n || p == tail, "freepages chain of %lu pages does not end at its tail", n);
      const Bank& bank = banks_[BankOf(p)];
      uint64_t index = static_cast<uint64_t>(p - bank.pages);
      KASSERT(TestBit(bank.users, index), "freepages of pa 0x%lx, which is not a user page", Pa(p).value());
      ClearBit(bank.users, index);
      p->va = 0;
      p->flags = 0;
      Free(bank, p, 0, "freepages");
      p = next;
    }
    user_pages_ -= n;
  }

  // 2^order physically contiguous pages aligned to their size, for the kernel (page tables, 2 MiB and
  // 1 GiB pages, DMA). O(log n); the colour backend may first drain its lists (colour.h).
  [[gnu::always_inline]] PageResult TryAllocContig(unsigned order) {
    KASSERT(order <= kMaxOrder, "order %u above the largest, %u", order, kMaxOrder);
    const Bank* bank;
    return Alloc(order, kAnyColour, &bank);
  }
  // Frees a block from TryAllocContig with the order it was allocated with. `pa` is the block's first
  // byte: an address inside a page is misuse, not a way to name that page.
  void FreeContig(PhysAddr pa, unsigned order) {
    KASSERT(pa.IsAlignedTo(kPageSize), "freeing pa 0x%lx (a block), which is not page-aligned", pa.value());
    FreeContig(PageOf(pa), order);
  }
  [[gnu::always_inline]] void FreeContig(Page* head, unsigned order) {
    const Bank& bank = banks_[BankOf(head)];
    KASSERT(!TestBit(bank.users, static_cast<uint64_t>(head - bank.pages)),
            "freeing pa 0x%lx as a block but it is a user page with %u references", Pa(head).value(), head->ref);
    Free(bank, head, order, "a block");
  }

  uint64_t TotalPages() const { return total_pages_; }
  uint64_t FreeCount() const { return backend_.free_pages(); }
  // Pages handed out by NewPage and not yet freed.
  uint64_t UserCount() const { return user_pages_; }
  unsigned Colours() const { return colours_; }

  // Counts every free block: O(free blocks x min(block size, colours)).
  void Stats(PallocStats* s) const {
    *s = PallocStats{total_pages_, FreeCount(), user_pages_, {}, {}};
    backend_.ForEachFree([&](const Page* head, unsigned order) {
      ++s->free_blocks[order];
      uint64_t size = uint64_t{1} << order;
      if (size >= colours_) {
        for (unsigned c = 0; c < colours_; ++c) s->free_by_colour[c] += size / colours_;
      } else {
        for (uint64_t i = 0; i < size; ++i) ++s->free_by_colour[(head->colour + i) & (colours_ - 1)];
      }
    });
  }

  // fn(pa, order) for every free block, in the backend's order (not by address). O(free blocks).
  template <typename Fn>
  void ForEachFreeBlock(Fn&& fn) const {
    backend_.ForEachFree([&](const Page* head, unsigned order) { fn(Pa(head), order); });
  }

  // The memory line and the free-block table (per order, then per colour), like Linux's buddyinfo.
  void PrintFreeTable() {
    Stats(&stats_);
    Print("palloc: %s backend, %u banks, %lu MiB: %lu pages, %lu free, %lu user, %u colour%s\n", kBackendName,
          nbanks_, total_pages_ >> (20 - kPageShift), total_pages_, stats_.free_pages, stats_.user_pages,
          colours_, colours_ == 1 ? "" : "s");
    Print("palloc: free blocks per order:");
    for (unsigned k = 0; k < kOrders; ++k) Print(" %u:%lu", k, stats_.free_blocks[k]);
    Print("\npalloc: free pages per colour:");
    for (unsigned c = 0; c < colours_; ++c) Print("%s%4u:%-8lu", c % 8 == 0 ? "\n  " : " ", c, stats_.free_by_colour[c]);
    Print("\n");
  }

  // Walks every structure: the backend's own invariants, then palloc's bitmaps and every descriptor,
  // proving that the free blocks and the allocated blocks partition every bank exactly. O(total pages).
  // Panics on a violation.
  void Validate() {
    backend_.Validate();
    uint64_t free = 0;
    backend_.ForEachFree([&](Page* head, unsigned order) {
      const Bank& bank = banks_[BankOf(head)];
      uint64_t index = static_cast<uint64_t>(head - bank.pages);
      uint64_t size = uint64_t{1} << order;
      KASSERT(index + size <= bank.npages, "free block pa 0x%lx order %u runs out of its bank",
              Pa(head).value(), order);
      for (uint64_t i = 0; i < size; ++i) {
        Page* p = head + i;
        KASSERT((p->flags & kMark) == 0, "pa 0x%lx is free twice", Pa(p).value());
        KASSERT(p->ref == 0, "pa 0x%lx is free but has %u references", Pa(p).value(), p->ref);
        p->flags |= kMark;
      }
      free += size;
    });
    KASSERT(free == FreeCount(), "the backend lists %lu free pages but counts %lu", free, FreeCount());
    uint64_t users = 0;
    for (unsigned b = 0; b < nbanks_; ++b) {
      const Bank& bank = banks_[b];
      for (unsigned k = 0; k <= bank.max_order; ++k) {
        for (uint64_t w = 0; w < Words(bank.span >> k); ++w) {
          for (uint64_t bits = bank.heads[k][w]; bits != 0; bits &= bits - 1) {
            uint64_t first = bank.origin + ((w * 64 + __builtin_ctzll(bits)) << k);
            KASSERT(first >= bank.base && first + (uint64_t{1} << k) <= bank.base + bank.npages,
                    "allocated block pfn 0x%lx order %u is not inside bank %u", first, k, b);
            for (uint64_t i = 0; i < (uint64_t{1} << k); ++i) {
              Page* p = bank.pages + (first - bank.base) + i;
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
        KASSERT(p->bank == b && p->colour == ((bank.base + i) & (colours_ - 1)),
                "pa 0x%lx descriptor says bank %u colour %u", pa.value(), p->bank, p->colour);
        KASSERT((p->flags & kMark) != 0, "pa 0x%lx is neither free nor in an allocated block", pa.value());
        bool user = TestBit(bank.users, i);
        uint64_t head0 = bank.base + i - bank.origin;
        KASSERT(!user || (p->ref != 0 && TestBit(bank.heads[0], head0)),
                "user page pa 0x%lx has %u references and is %s order-0 block", pa.value(), p->ref,
                TestBit(bank.heads[0], head0) ? "an" : "no");
        KASSERT(user || p->ref == 0, "pa 0x%lx has %u references but is no user page", pa.value(), p->ref);
        users += user;
        p->flags &= ~(kMark | kAllocMark);
      }
    }
    KASSERT(users == user_pages_, "%lu user pages in the bitmap, the count says %lu", users, user_pages_);
  }

  // The boot self-test: allocates every free page as a user page, checks none is handed out twice and
  // each maps back to its own descriptor, frees them all and checks the counts are back. Prints one line
  // and returns the number of pages it cycled. O(total pages); needs no memory (it chains the pages).
  uint64_t SelfTest() {
    uint64_t free_before = FreeCount(), users_before = user_pages_;
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
    KASSERT(FreeCount() == free_before && user_pages_ == users_before,
            "self-test: %lu free and %lu user pages after, %lu and %lu before", FreeCount(), user_pages_,
            free_before, users_before);
    Validate();
    Print("palloc: self-test allocated and freed %lu pages, none twice\n", n);
    return n;
  }

 private:
  static constexpr uint8_t kMark = static_cast<uint8_t>(PageFlag::kValidateMark);
  static constexpr uint8_t kAllocMark = static_cast<uint8_t>(PageFlag::kValidateAllocMark);

  struct Bank {
    uint64_t base;  // first pfn
    uint64_t npages;
    Page* pages;
    uint64_t origin;  // as BitBuddy::Geometry: block i of order k starts at pfn origin + (i << k)
    uint64_t span;
    unsigned max_order;
    uint64_t* heads[kOrders];  // heads[k] bit i: an allocated block of order k starts at origin + (i << k)
    uint64_t* users;           // bit pfn - base: a page from NewPage not yet freed
  };

  static uint64_t Words(uint64_t bits) { return (bits + 63) / 64; }
  static bool TestBit(const uint64_t* words, uint64_t i) { return (words[i >> 6] >> (i & 63)) & 1; }
  static void SetBit(uint64_t* words, uint64_t i) { words[i >> 6] |= uint64_t{1} << (i & 63); }
  static void ClearBit(uint64_t* words, uint64_t i) { words[i >> 6] &= ~(uint64_t{1} << (i & 63)); }

  // The bank whose array holds `p`, from the arrays' addresses, reading no descriptor. O(banks).
  unsigned BankOf(const Page* p) const {
    auto a = reinterpret_cast<uintptr_t>(p);
    for (unsigned b = 0;; ++b) {
      KASSERT(b < nbanks_, "descriptor %p is in no bank", static_cast<const void*>(p));
      if (a - reinterpret_cast<uintptr_t>(banks_[b].pages) < banks_[b].npages * sizeof(Page)) return b;
    }
  }

  static bool HasFreePages(void* self) { return static_cast<Palloc*>(self)->FreeCount() != 0; }

  // The hot paths are forced inline: as calls they cost a quarter of an alloc/free pair.
  [[gnu::always_inline]] PageResult Alloc(unsigned order, unsigned colour, const Bank** bank_out) {
    Page* p = backend_.Alloc(order, colour);
    if (p == nullptr) return PageResult{PallocStatus::kNoMemory, nullptr};
    const Bank& bank = banks_[BankOf(p)];
    *bank_out = &bank;
    uint64_t idx = (static_cast<uint64_t>(p - bank.pages) + bank.base - bank.origin) >> order;
    KASSERT(!TestBit(bank.heads[order], idx), "the %s backend handed out pa 0x%lx, which is allocated",
            kBackendName, Pa(p).value());
    SetBit(bank.heads[order], idx);
    return PageResult{PallocStatus::kOk, p};
  }

  [[gnu::always_inline]] void Free(const Bank& bank, Page* head, unsigned order, const char* what) {
    uint64_t offset = static_cast<uint64_t>(head - bank.pages) + bank.base - bank.origin;
    if (order > bank.max_order || !IsAligned(offset, uint64_t{1} << order) ||
        !TestBit(bank.heads[order], offset >> order)) {
      Misfree(bank, offset, order, what);
    }
    ClearBit(bank.heads[order], offset >> order);
    backend_.Free(head, order);
    if (waiters_ != 0) hooks_.wakeup(hooks_.ctx);
  }

  // Why a free was refused: another order heads a block here, or nothing does.
  [[noreturn]] void Misfree(const Bank& bank, uint64_t offset, unsigned order, const char* what) const {
    uint64_t pa = (bank.origin + offset) << kPageShift;
    for (unsigned k = 0; k <= bank.max_order; ++k) {
      if (IsAligned(offset, uint64_t{1} << k) && TestBit(bank.heads[k], offset >> k)) {
        Panic("freeing pa 0x%lx (%s) as order %u but it was allocated as order %u", pa, what, order, k);
      }
    }
    Panic("freeing pa 0x%lx (%s), which is already free (or not the start of a block)", pa, what);
  }

  Bank banks_[kMaxBanks] = {};
  unsigned nbanks_ = 0;
  unsigned colours_ = 1;
  uint64_t total_pages_ = 0;
  uint64_t user_pages_ = 0;
  uint64_t waiters_ = 0;
  PallocHooks hooks_;
  Backend backend_;
  PallocStats stats_ = {};  // PrintFreeTable's scratch: too large for a kernel stack
};

}  // namespace kmem
