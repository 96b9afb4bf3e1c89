// The conformance suite: every test runs against both backends, whatever --//mm/palloc:backend says.
#include "mm/palloc/palloc.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <condition_variable>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "mm/palloc/buddy.h"
#include "mm/palloc/colour.h"
#include "testing/console_capture.h"
#include "testing/palloc_backends.h"
#include "testing/palloc_host.h"

namespace kmem {
namespace {

using testing::BankRange;
using testing::HostPalloc;

constexpr uint64_t kMiB = 1 << 20;

// Three banks with holes between them, like a PC below 4 GiB plus a bank above it, shuffled.
std::vector<BankRange> PcBanks(uint64_t seed) {
  std::vector<BankRange> banks = {
      {PhysAddr(0x1000), 0x9e},                // low memory, not aligned to anything large
      {PhysAddr(0x100000), (30 * kMiB) >> 12},  // above 1 MiB, odd-sized
      {PhysAddr(0x100000000), (8 * kMiB) >> 12}, // above the PCI hole
  };
  std::shuffle(banks.begin(), banks.end(), std::mt19937_64(seed));
  return banks;
}

uint64_t PagesIn(const std::vector<BankRange>& banks) {
  uint64_t n = 0;
  for (const BankRange& b : banks) n += b.npages;
  return n;
}

// The kernel keeps its Palloc in a global, before constructors run: it must be constant-initialised.
constinit Palloc<BuddyBackend> constinit_buddy;
constinit Palloc<ColourBackend> constinit_colour;

// The backend interface is a concept: both backends meet it, and a type missing any part of it does not.
static_assert(PallocBackend<BuddyBackend> && PallocBackend<ColourBackend>);
struct NoValidate {
  static constexpr const char* kName = "no-validate";
  static constexpr Colouring kColouring = Colouring::kIgnoresHint;
  static uint64_t MetaBytes(Pfn, uint64_t) { return 0; }
  void Init(unsigned) {}
  void AddBank(Page*, Pfn, uint64_t, void*) {}
  Page* Alloc(unsigned, unsigned) { return nullptr; }
  void Free(Page*, unsigned) {}
  uint64_t free_pages() const { return 0; }
  void ForEachFree(void (*)(const Page*, unsigned)) const {}
};
struct Complete : NoValidate {
  void Validate() const {}
};
static_assert(PallocBackend<Complete> && !PallocBackend<NoValidate> && !PallocBackend<int>);

template <typename Backend>
class PallocTest : public ::testing::Test {};

using Backends = testing::PallocBackends;
using BackendNames = testing::PallocBackendNames;
TYPED_TEST_SUITE(PallocTest, Backends, BackendNames);

TYPED_TEST(PallocTest, PageInitCountsEveryBankPage) {
  auto banks = PcBanks(1);
  HostPalloc<TypeParam> p(banks, 8);
  EXPECT_EQ(p->TotalPages(), PagesIn(banks));
  EXPECT_EQ(p->FreeCount(), PagesIn(banks));
  EXPECT_EQ(p->UserCount(), 0u);
  p->Validate();
  for (const BankRange& b : banks) {
    PhysAddr last = b.base + (b.npages - 1) * kPageSize;
    EXPECT_EQ(p->Pa(p->PageOf(b.base)), b.base);
    EXPECT_EQ(p->Pa(p->PageOf(last + 0xfff)), last);
    EXPECT_EQ(p->PageOf(b.base)->colour, (b.base.value() >> kPageShift) & 7);
  }
}

//   pfn  3   4       8               16
//        |0 |  2    |       3       |      an unaligned bank of 13 frames starts as three blocks
TYPED_TEST(PallocTest, UnalignedBankStartsAsMaximalBlocks) {
  HostPalloc<TypeParam> p({{Pfn(3).addr(), 13}}, 1);
  PallocStats s;
  p->Stats(&s);
  EXPECT_EQ(s.free_blocks[0], 1u);
  EXPECT_EQ(s.free_blocks[1], 0u);
  EXPECT_EQ(s.free_blocks[2], 1u);
  EXPECT_EQ(s.free_blocks[3], 1u);
  EXPECT_EQ(s.free_by_colour[0], 13u);
}

// The same unaligned bank seen through ForEachFreeBlock: each block's address and order, none else.
TYPED_TEST(PallocTest, ForEachFreeBlockGivesAddressAndOrder) {
  HostPalloc<TypeParam> p({{Pfn(3).addr(), 13}}, 1);
  std::set<std::pair<uint64_t, unsigned>> blocks;
  p->ForEachFreeBlock([&](PhysAddr pa, unsigned order) { blocks.insert({pa.value() >> kPageShift, order}); });
  EXPECT_EQ(blocks, (std::set<std::pair<uint64_t, unsigned>>{{3, 0}, {4, 2}, {8, 3}}));
}

TYPED_TEST(PallocTest, ContigBlocksAreNaturallyAlignedAtEveryOrder) {
  // 2 GiB from 4 GiB, all normal memory: order 18 takes the first GiB, orders 17..0 together take less
  // than the second. (A bank from 0 is split at 16 MiB, the DMA zone's end: no GiB block starts at 0.)
  HostPalloc<TypeParam> p({{PhysAddr(4096 * kMiB), (2048 * kMiB) >> 12}}, 16);
  std::vector<std::pair<Page*, unsigned>> held;
  for (unsigned order = kMaxOrder + 1; order-- > 0;) {
    PageResult r = p->TryAllocContig(order);
    ASSERT_EQ(r.status, PallocStatus::kOk) << "order " << order;
    EXPECT_TRUE(p->Pa(r.page).IsAlignedTo(kPageSize << order)) << "order " << order;
    held.emplace_back(r.page, order);
  }
  EXPECT_EQ(p->Pa(held.front().first), PhysAddr(4096 * kMiB));
  EXPECT_EQ(p->Pa(held[1].first), PhysAddr(5120 * kMiB));
  p->Validate();
  std::shuffle(held.begin(), held.end(), std::mt19937_64(2));
  for (auto [page, order] : held) p->FreeContig(p->Pa(page), order);
  EXPECT_EQ(p->FreeCount(), p->TotalPages());
  p->Validate();
}

// With interrupts already off (a caller under a spinlock), where the host's cheap section does not apply,
// the caches serve and take blocks all the same: a free in the section is the next allocation's block.
TYPED_TEST(PallocTest, CachesServeCallersWithInterruptsOff) {
  HostPalloc<TypeParam> p({{PhysAddr(0x400000), 1024}}, 1);
  for (unsigned order : {0u, 3u, 9u}) {
    Page* block = p->TryAllocContig(order).page;
    ASSERT_NE(block, nullptr);
    const uint64_t cached = p->CpuCounts(CpuId()).cached_pages;
    const IrqState irq = IrqSave();
    p->FreeContig(block, order);
    const uint64_t cached_after_free = p->CpuCounts(CpuId()).cached_pages;
    PageResult again = p->TryAllocContig(order);
    IrqRestore(irq);
    EXPECT_EQ(block->use, PageUse::kBlock) << "order " << order;
    EXPECT_EQ(cached_after_free, cached + (uint64_t{1} << order)) << "order " << order;
    EXPECT_EQ(again.page, block) << "order " << order;
    EXPECT_EQ(p->CpuCounts(CpuId()).cached_pages, cached) << "order " << order;
    p->FreeContig(block, order);
  }
  EXPECT_EQ(p->FreeCount(), p->TotalPages());
  p->Validate();
}

TYPED_TEST(PallocTest, ContigExhaustionReturnsNoMemoryUntilAFree) {
  HostPalloc<TypeParam> p({{PhysAddr(0), 64}}, 4);
  PageResult a = p->TryAllocContig(5);
  PageResult b = p->TryAllocContig(5);
  ASSERT_EQ(a.status, PallocStatus::kOk);
  ASSERT_EQ(b.status, PallocStatus::kOk);
  EXPECT_EQ(p->TryAllocContig(0).status, PallocStatus::kNoMemory);
  EXPECT_EQ(p->TryNewPage(VirtAddr(0x1000)).status, PallocStatus::kNoMemory);
  p->FreeContig(b.page, 5);
  EXPECT_EQ(p->TryAllocContig(5).status, PallocStatus::kOk);
  EXPECT_EQ(p->TryAllocContig(6).status, PallocStatus::kNoMemory);
  p->Validate();
}

// Order-0 frees sit in the backend's cache or colour lists unmerged; a large request must still find the
// block they make up once merged.
TYPED_TEST(PallocTest, LargeBlockAfterEveryPageWasFreedAlone) {
  HostPalloc<TypeParam> p({{PhysAddr(0), 1024}}, 32);
  std::vector<Page*> pages;
  for (PageResult r; (r = p->TryNewPage(VirtAddr(pages.size() << kPageShift))).status == PallocStatus::kOk;) {
    pages.push_back(r.page);
  }
  ASSERT_EQ(pages.size(), 1024u);
  std::shuffle(pages.begin(), pages.end(), std::mt19937_64(3));
  for (Page* page : pages) p->PutPage(page);
  p->Validate();
  PageResult r = p->TryAllocContig(10);
  ASSERT_EQ(r.status, PallocStatus::kOk);
  EXPECT_EQ(p->Pa(r.page), PhysAddr(0));
  p->Validate();
}

// Freed blocks of order >= 1 wait unmerged on small per-order stacks; when they are all that is left, a
// request for the whole bank must merge them.
//
//   before:  |1 |1 |1 |1 | ... |1 |      512 order-1 blocks, freed in random order
//   after:   |            10            |  one order-10 block
TYPED_TEST(PallocTest, LargeBlockAfterSmallBlocksWereFreed) {
  HostPalloc<TypeParam> p({{PhysAddr(0x400000), 1024}}, 8);
  std::vector<Page*> blocks;
  for (PageResult r; (r = p->TryAllocContig(1)).status == PallocStatus::kOk;) blocks.push_back(r.page);
  ASSERT_EQ(blocks.size(), 512u);
  std::shuffle(blocks.begin(), blocks.end(), std::mt19937_64(10));
  for (Page* b : blocks) p->FreeContig(b, 1);
  p->Validate();
  PageResult r = p->TryAllocContig(10);
  ASSERT_EQ(r.status, PallocStatus::kOk);
  EXPECT_EQ(p->Pa(r.page), PhysAddr(0x400000));
  p->Validate();
}

TYPED_TEST(PallocTest, PutPageFreesAtTheLastReference) {
  HostPalloc<TypeParam> p(PcBanks(4), 8);
  uint64_t free = p->FreeCount();
  Page* page = p->NewPage(VirtAddr(0x7000));
  EXPECT_EQ(page->ref, 1u);
  EXPECT_EQ(page->va, 0x7000u);
  EXPECT_EQ(p->UserCount(), 1u);
  p->Ref(page);
  p->PutPage(page);
  EXPECT_EQ(p->FreeCount(), free - 1);
  p->Validate();
  p->PutPage(page);
  EXPECT_EQ(p->FreeCount(), free);
  EXPECT_EQ(p->UserCount(), 0u);
  p->Validate();
}

// A page aged old and dirty, then freed and handed out again, starts young and clean; Validate checks that
// no free page keeps ageing.
TYPED_TEST(PallocTest, FreedPageForgetsItsAgeing) {
  HostPalloc<TypeParam> p(PcBanks(4), 8);
  Page* page = p->NewPage(VirtAddr(0x7000));
  const PhysAddr pa = p->Pa(page);
  for (uint64_t pass = 1; pass <= 5; ++pass) AgePage(*page, pass == 1 ? ModRef::kModified : ModRef{}, pass);
  EXPECT_EQ(page->refage, 5);
  EXPECT_EQ(page->modref, ModRef::kModified);
  p->PutPage(page);
  p->Validate();
  Page* again = p->PageOf(pa);
  EXPECT_EQ(again->modref, ModRef{});
  EXPECT_EQ(again->refage, 0);
  EXPECT_EQ(again->aged, 0);
}

TYPED_TEST(PallocTest, FreePagesTakesAChain) {
  HostPalloc<TypeParam> p(PcBanks(5), 8);
  Page* head = nullptr;
  Page* tail = nullptr;
  for (int i = 0; i < 100; ++i) {
    Page* page = p->NewPage(VirtAddr(uint64_t(i) << kPageShift));
    page->ref = 0;  // the caller has dropped its references, as 9front's image reclaim does
    page->next = head;
    head = page;
    if (tail == nullptr) tail = page;
  }
  EXPECT_EQ(p->UserCount(), 100u);
  p->FreePages(head, tail, 100);
  EXPECT_EQ(p->UserCount(), 0u);
  EXPECT_EQ(p->FreeCount(), p->TotalPages());
  p->Validate();
}

TYPED_TEST(PallocTest, SelfTestCyclesEveryFreePage) {
  HostPalloc<TypeParam> p(PcBanks(6), 64);
  PageResult held = p->TryAllocContig(3);
  ASSERT_EQ(held.status, PallocStatus::kOk);
  testing::ConsoleCapture console;
  EXPECT_EQ(p->SelfTest(), p->TotalPages() - 8);
  EXPECT_EQ(p->FreeCount(), p->TotalPages() - 8);
  EXPECT_NE(console.text().find("self-test allocated and freed"), std::string::npos) << console.text();
}

TYPED_TEST(PallocTest, StatsAddUpAndPrintAsATable) {
  HostPalloc<TypeParam> p(PcBanks(7), 16);
  std::vector<Page*> pages;
  for (int i = 0; i < 300; ++i) pages.push_back(p->NewPage(VirtAddr(uint64_t(i) << kPageShift)));
  for (int i = 0; i < 300; i += 3) p->PutPage(pages[i]);
  Page* block = p->TryAllocContig(9).page;
  ASSERT_NE(block, nullptr);
  p->FreeContig(block, 9);
  PallocStats s;
  p->Stats(&s);
  uint64_t by_order = 0, by_colour = 0;
  for (unsigned k = 0; k < kOrders; ++k) by_order += s.free_blocks[k] << k;
  for (unsigned c = 0; c < 16; ++c) by_colour += s.free_by_colour[c];
  EXPECT_EQ(by_order, p->FreeCount());
  EXPECT_EQ(by_colour, p->FreeCount());
  EXPECT_EQ(s.user_pages, 200u);
  testing::ConsoleCapture console;
  p->PrintFreeTable();
  EXPECT_NE(console.text().find(std::string("palloc: ") + TypeParam::kName + " backend, 3 banks"),
            std::string::npos)
      << console.text();
  EXPECT_NE(console.text().find("free blocks per order: 0:"), std::string::npos) << console.text();
  EXPECT_NE(console.text().find("free pages per colour:"), std::string::npos) << console.text();
  // This CPU's caches: what it kept of the 100 freed user pages, and two order-9 blocks: the one freed and
  // the other half of the order-10 block its refill split.
  const PallocCpuCounts here = p->CpuCounts(CpuId());
  EXPECT_GE(here.cached_pages, 1024u);
  char line[96];
  std::snprintf(line, sizeof line, "palloc: cpu%u caches %lu free pages; blocks per order: 0:", CpuId(),
                here.cached_pages);
  const size_t at = console.text().find(line);
  ASSERT_NE(at, std::string::npos) << console.text();
  const std::string rest = console.text().substr(at, console.text().find('\n', at) - at);
  EXPECT_NE(rest.find(" 9:2"), std::string::npos) << rest;
}

// A thread blocks in NewPage on an empty allocator and wakes when the main thread frees a page.
TYPED_TEST(PallocTest, NewPageSleepsUntilAPageIsFreed) {
  struct Waiter {
    std::mutex lock;  // the palloc lock
    std::condition_variable cv;
    std::unique_lock<std::mutex>* held = nullptr;
    int sleeps = 0;
  } w;
  PallocHooks hooks;
  hooks.ctx = &w;
  hooks.sleep = [](void* ctx, bool (*ready)(void*), void* arg) {
    auto* w = static_cast<Waiter*>(ctx);
    ++w->sleeps;
    w->cv.wait(*w->held, [&] { return ready(arg); });
    return PallocWait::kRetry;
  };
  hooks.wakeup = [](void* ctx) { static_cast<Waiter*>(ctx)->cv.notify_all(); };
  HostPalloc<TypeParam> p({{PhysAddr(0x200000), 16}}, 4, hooks);
  std::vector<Page*> pages;
  for (int i = 0; i < 16; ++i) pages.push_back(p->NewPage(VirtAddr(uint64_t(i) << kPageShift)));
  Page* got = nullptr;
  std::thread sleeper([&] {
    std::unique_lock<std::mutex> held(w.lock);
    w.held = &held;
    got = p->NewPage(VirtAddr(0x10000));
  });
  for (;;) {
    std::lock_guard<std::mutex> g(w.lock);
    if (w.sleeps != 0) break;
  }
  {
    std::lock_guard<std::mutex> g(w.lock);
    EXPECT_EQ(got, nullptr);
    p->PutPage(pages[5]);
  }
  sleeper.join();
  EXPECT_EQ(got, pages[5]);
  EXPECT_EQ(w.sleeps, 1);
  p->Validate();
}

// A hook that gives the waiter up (a process being killed) makes NewPage fail instead of sleeping again;
// one that cannot sleep (the kernel before its scheduler) makes it panic as without hooks.
TYPED_TEST(PallocTest, NewPageFailsWhenTheHookGivesUp) {
  PallocHooks hooks;
  hooks.sleep = [](void*, bool (*)(void*), void*) { return PallocWait::kGiveUp; };
  hooks.wakeup = [](void*) {};
  HostPalloc<TypeParam> p({{PhysAddr(0x200000), 4}}, 1, hooks);
  std::vector<Page*> pages;
  for (int i = 0; i < 4; ++i) pages.push_back(p->NewPage(VirtAddr(0x1000)));
  EXPECT_EQ(p->NewPage(VirtAddr(0x9000)), nullptr);
  EXPECT_FALSE(p->WaitForPage(VirtAddr(0x9000)));
  for (Page* page : pages) p->PutPage(page);
  p->Validate();
}

//   15M   16M   17M         4G-1M    4G    4G+1M
//   |DMA  |DMA32|   ...     |DMA32   |normal|      two banks, each split where it crosses a zone's end
std::vector<BankRange> ZoneBanks() {
  return {{PhysAddr(15 * kMiB), (2 * kMiB) >> 12}, {PhysAddr(4096 * kMiB - kMiB), (2 * kMiB) >> 12}};
}

TYPED_TEST(PallocTest, BanksAreSplitAtZoneBoundaries) {
  HostPalloc<TypeParam> p(ZoneBanks(), 4);
  PallocStats dma, dma32, normal;
  p->ZoneStats(PallocZone::kDma, &dma);
  p->ZoneStats(PallocZone::kDma32, &dma32);
  p->ZoneStats(PallocZone::kNormal, &normal);
  EXPECT_EQ(dma.total_pages, 256u);
  EXPECT_EQ(dma32.total_pages, 512u);
  EXPECT_EQ(normal.total_pages, 256u);
  EXPECT_EQ(dma.free_pages + dma32.free_pages + normal.free_pages, p->FreeCount());
  EXPECT_EQ(p->ZoneOf(p->PageOf(PhysAddr(16 * kMiB - kPageSize))), PallocZone::kDma);
  EXPECT_EQ(p->ZoneOf(p->PageOf(PhysAddr(16 * kMiB))), PallocZone::kDma32);
  EXPECT_EQ(p->ZoneOf(p->PageOf(PhysAddr(4096 * kMiB - kPageSize))), PallocZone::kDma32);
  EXPECT_EQ(p->ZoneOf(p->PageOf(PhysAddr(4096 * kMiB))), PallocZone::kNormal);
  // No block crosses a boundary: the 2 MiB-aligned block at 16 MiB - 1 MiB stops at 16 MiB.
  EXPECT_EQ(dma.free_blocks[8], 1u);
  p->Validate();
  testing::ConsoleCapture console;
  p->PrintFreeTable();
  EXPECT_NE(console.text().find(std::string("palloc: ") + TypeParam::kName + " backend, 2 banks, 4 MiB: 1024 pages"),
            std::string::npos)
      << console.text();
  for (const char* line : {"palloc: zone DMA: 1 banks, 256 pages, 256 free, 0 user; free blocks per order:",
                           "palloc: zone DMA32: 2 banks, 512 pages, 512 free, 0 user; free blocks per order:",
                           "palloc: zone normal: 1 banks, 256 pages, 256 free, 0 user; free blocks per order:"}) {
    EXPECT_NE(console.text().find(line), std::string::npos) << line << "\n" << console.text();
  }
}

// Ordinary allocations take normal memory first, then DMA32, then DMA; one that names a lower zone never
// gets memory above it, and fails while only higher zones have some.
TYPED_TEST(PallocTest, ZonesAreTakenFromTheHighestAllowedDown) {
  HostPalloc<TypeParam> p(ZoneBanks(), 1);
  std::vector<PallocZone> got;
  for (PageResult r; (r = p->TryAllocContig(0)).status == PallocStatus::kOk;) got.push_back(p->ZoneOf(r.page));
  ASSERT_EQ(got.size(), 1024u);
  EXPECT_TRUE(std::is_sorted(got.rbegin(), got.rend())) << "a lower zone was taken before a higher one";
  EXPECT_EQ(got[0], PallocZone::kNormal);
  EXPECT_EQ(got[256], PallocZone::kDma32);
  EXPECT_EQ(got[768], PallocZone::kDma);

  HostPalloc<TypeParam> q(ZoneBanks(), 1);
  PageResult low = q->TryAllocContig(2, PallocZone::kDma32);
  ASSERT_EQ(low.status, PallocStatus::kOk);
  EXPECT_EQ(q->ZoneOf(low.page), PallocZone::kDma32);
  std::vector<Page*> dma;
  for (PageResult r; (r = q->TryAllocContig(0, PallocZone::kDma)).status == PallocStatus::kOk;) {
    EXPECT_EQ(q->ZoneOf(r.page), PallocZone::kDma);
    dma.push_back(r.page);
  }
  EXPECT_EQ(dma.size(), 256u);
  EXPECT_LT(q->Pa(dma.back()), PhysAddr(16 * kMiB));
  // DMA32 exhausted too: a below-4-GiB request fails while normal memory is free.
  while (q->TryAllocContig(0, PallocZone::kDma32).status == PallocStatus::kOk) {
  }
  EXPECT_EQ(q->FreeCount(), 256u);
  EXPECT_EQ(q->TryAllocContig(0, PallocZone::kDma32).status, PallocStatus::kNoMemory);
  EXPECT_EQ(q->ZoneOf(q->TryAllocContig(0).page), PallocZone::kNormal);
  q->Validate();
}

// refage counts the passes in a row that found the page unreferenced; a referenced look resets it.
TEST(AgePage, AgesUnreferencedPassesAndResetsOnAReference) {
  Page page{};
  EXPECT_EQ(AgePage(page, ModRef{}, 1).refage, 1);
  EXPECT_EQ(AgePage(page, ModRef{}, 2).refage, 2);
  const PageAge young = AgePage(page, ModRef::kReferenced, 3);
  EXPECT_EQ(young.refage, 0);
  EXPECT_EQ(young.modref, ModRef::kReferenced);
  const PageAge old = AgePage(page, ModRef{}, 4);
  EXPECT_EQ(old.refage, 1);
  EXPECT_EQ(old.modref, ModRef{});
}

// Two spaces map one page (fork): the pass ages it once, and it is young if either used it, in either order.
TEST(AgePage, ASharedPageAgesOncePerPass) {
  Page page{};
  AgePage(page, ModRef{}, 1);
  EXPECT_EQ(AgePage(page, ModRef{}, 1).refage, 1);
  AgePage(page, ModRef{}, 2);
  EXPECT_EQ(AgePage(page, ModRef::kReferenced, 2).refage, 0);
  AgePage(page, ModRef::kReferenced, 3);
  const PageAge later = AgePage(page, ModRef{}, 3);
  EXPECT_EQ(later.refage, 0);
  EXPECT_EQ(later.modref, ModRef::kReferenced);
}

// kModified stays once a dirty bit was seen: the bit was cleared, and nothing has written the page out.
TEST(AgePage, ModifiedAccumulates) {
  Page page{};
  AgePage(page, ModRef::kModified | ModRef::kReferenced, 1);
  const PageAge a = AgePage(page, ModRef{}, 2);
  EXPECT_EQ(a.modref, ModRef::kModified);
  EXPECT_EQ(a.refage, 1);
}

TEST(AgePage, RefageSaturates) {
  Page page{};
  for (uint64_t pass = 1; pass <= 1000; ++pass) AgePage(page, ModRef{}, pass);
  EXPECT_EQ(page.refage, kMaxRefAge);
}

TEST(Palloc, GlobalStartsEmptyWithoutAConstructor) {
  EXPECT_EQ(constinit_buddy.TotalPages(), 0u);
  EXPECT_EQ(constinit_colour.FreeCount(), 0u);
}

TEST(ColourBackend, NewPageTakesTheColourOfVa) {
  auto banks = PcBanks(8);
  HostPalloc<ColourBackend> p(banks, 64);
  std::mt19937_64 rng(9);
  std::set<Page*> seen;
  for (int i = 0; i < 5000; ++i) {
    VirtAddr va(rng() & 0x7ffffffff000);
    Page* page = p->NewPage(va);
    EXPECT_EQ(page->colour, (va.value() >> kPageShift) & 63);
    EXPECT_EQ((p->Pa(page).value() >> kPageShift) & 63, page->colour);
    EXPECT_TRUE(seen.insert(page).second);
  }
  p->Validate();
}

template <typename Backend>
class PallocDeathTest : public ::testing::Test {};
TYPED_TEST_SUITE(PallocDeathTest, Backends, BackendNames);

TYPED_TEST(PallocDeathTest, FreeingAFreePagePanics) {
  HostPalloc<TypeParam> p({{PhysAddr(0x100000), 64}}, 4);
  PageResult r = p->TryAllocContig(0);
  p->FreeContig(r.page, 0);
  EXPECT_DEATH(p->FreeContig(PhysAddr(0x100000), 0), "freeing pa 0x100000 \\(a block\\), which is already free");
  EXPECT_DEATH(p->FreeContig(PhysAddr(0x120000), 0), "freeing pa 0x120000 \\(a block\\), which is already free");
}

// The page sits in this CPU's cache after its first free: the second is caught all the same, whether it
// comes from this CPU or another one.
TYPED_TEST(PallocDeathTest, DoubleFreeOfACachedPagePanics) {
  HostPalloc<TypeParam> p({{PhysAddr(0x100000), 64}}, 4);
  Page* page = p->TryAllocContig(0).page;
  Page* user = p->NewPage(VirtAddr(0x5000));
  PhysAddr pa = p->Pa(page), upa = p->Pa(user);
  p->FreeContig(page, 0);
  p->PutPage(user);
  EXPECT_EQ(page->use, PageUse::kCached);
  EXPECT_EQ(user->use, PageUse::kCached);
  EXPECT_NE(p->CpuCounts(CpuId()).cached_pages, 0u);
  char expected[96];
  std::snprintf(expected, sizeof expected, "freeing pa 0x%lx \\(a block\\), which is already free", pa.value());
  EXPECT_DEATH(p->FreeContig(page, 0), expected);
  EXPECT_DEATH(std::thread([&] { p->FreeContig(page, 0); }).join(), expected);
  EXPECT_DEATH(p->FreeContig(page, 1), expected);
  std::snprintf(expected, sizeof expected, "freepages of pa 0x%lx, which is not a user page", upa.value());
  user->ref = 0;
  EXPECT_DEATH(p->FreePages(user, user, 1), expected);
}

// The same for blocks of the cached orders above 3, up to the largest: a second free, at the block's order
// or another, is caught while the block sits in the cache.
TYPED_TEST(PallocDeathTest, DoubleFreeOfACachedBlockPanics) {
  HostPalloc<TypeParam> p({{PhysAddr(0x400000), 1024}}, 4);
  for (unsigned order : {4u, 9u}) {
    Page* block = p->TryAllocContig(order).page;
    ASSERT_NE(block, nullptr);
    const PhysAddr pa = p->Pa(block);
    const uint64_t cached = p->CpuCounts(CpuId()).cached_pages;
    p->FreeContig(block, order);
    EXPECT_EQ(block->use, PageUse::kCached);
    EXPECT_EQ(p->CpuCounts(CpuId()).cached_pages, cached + (uint64_t{1} << order));
    char expected[96];
    std::snprintf(expected, sizeof expected, "freeing pa 0x%lx \\(a block\\), which is already free", pa.value());
    EXPECT_DEATH(p->FreeContig(block, order), expected);
    EXPECT_DEATH(std::thread([&] { p->FreeContig(block, order); }).join(), expected);
    EXPECT_DEATH(p->FreeContig(block, order - 1), expected);
    p->Validate();
    EXPECT_EQ(p->TryAllocContig(order).page, block);  // and it is handed out again, from the cache
    p->FreeContig(block, order);
  }
}

TYPED_TEST(PallocDeathTest, FreeingOutsideEveryBankPanics) {
  HostPalloc<TypeParam> p({{PhysAddr(0x100000), 64}, {PhysAddr(0x400000), 64}}, 4);
  EXPECT_DEATH(p->FreeContig(PhysAddr(0x200000), 0), "pa 0x200000 is outside every bank");
  EXPECT_DEATH(p->FreeContig(PhysAddr(0xff000), 0), "pa 0xff000 is outside every bank");
  EXPECT_DEATH(p->FreeContig(PhysAddr(0x440000), 0), "pa 0x440000 is outside every bank");
}

// A free finds its bank from the descriptor's own `bank`, so a copy of a descriptor (or any pointer that is
// not into a bank's array) must be refused by the range check, not freed as the page it claims to be.
TYPED_TEST(PallocDeathTest, FreeingADescriptorOutsideEveryBankPanics) {
  HostPalloc<TypeParam> p({{PhysAddr(0x100000), 64}, {PhysAddr(0x400000), 64}}, 4);
  Page copy = *p->TryAllocContig(0).page;
  EXPECT_DEATH(p->FreeContig(&copy, 0), "descriptor 0x[0-9a-f]+ is in no bank");
  copy.bank = 200;
  EXPECT_DEATH(p->FreeContig(&copy, 0), "descriptor 0x[0-9a-f]+ is in no bank");
}

TYPED_TEST(PallocDeathTest, RefcountBelowZeroPanics) {
  HostPalloc<TypeParam> p({{PhysAddr(0x100000), 64}}, 4);
  Page* page = p->NewPage(VirtAddr(0x5000));
  PhysAddr pa = p->Pa(page);
  p->PutPage(page);
  char expected[80];
  std::snprintf(expected, sizeof expected, "putpage of pa 0x%lx: reference count would go below zero", pa.value());
  EXPECT_DEATH(p->PutPage(page), expected);
}

// The count is a public field of the descriptor (callers drop references through it before FreePages,
// as FreePagesTakesAChain does): starting one below the limit stands for kMaxPageRef - 2 calls to Ref.
TYPED_TEST(PallocDeathTest, RefcountPastItsLimitPanics) {
  HostPalloc<TypeParam> p({{PhysAddr(0x100000), 64}}, 4);
  Page* page = p->NewPage(VirtAddr(0x5000));
  page->ref = kMaxPageRef - 1;
  p->Ref(page);
  EXPECT_EQ(page->ref, kMaxPageRef);
  char expected[96];
  std::snprintf(expected, sizeof expected, "ref of pa 0x%lx: reference count would pass its limit 4294967295",
                p->Pa(page).value());
  EXPECT_DEATH(p->Ref(page), expected);
  p->PutPage(page);
  EXPECT_EQ(page->ref, kMaxPageRef - 1);
}

TYPED_TEST(PallocDeathTest, FreeingAtAnUnalignedAddressPanics) {
  HostPalloc<TypeParam> p({{PhysAddr(0x100000), 64}}, 4);
  PageResult r = p->TryAllocContig(0);
  PhysAddr pa = p->Pa(r.page);
  char expected[96];
  std::snprintf(expected, sizeof expected, "freeing pa 0x%lx \\(a block\\), which is not page-aligned",
                pa.value() + 0x800);
  EXPECT_DEATH(p->FreeContig(pa + 0x800, 0), expected);
  EXPECT_DEATH(p->FreeContig(pa + 1, 0), "which is not page-aligned");
  p->FreeContig(pa, 0);
  p->Validate();
}

TYPED_TEST(PallocDeathTest, FreeingWithTheWrongOrderPanics) {
  HostPalloc<TypeParam> p({{PhysAddr(0x100000), 64}}, 4);
  PageResult r = p->TryAllocContig(3);
  char expected[96];
  std::snprintf(expected, sizeof expected, "freeing pa 0x%lx \\(a block\\) as order 2 but it was allocated as order 3",
                p->Pa(r.page).value());
  EXPECT_DEATH(p->FreeContig(r.page, 2), expected);
}

TYPED_TEST(PallocDeathTest, FreeingAUserPageAsABlockPanics) {
  HostPalloc<TypeParam> p({{PhysAddr(0x100000), 64}}, 4);
  Page* page = p->NewPage(VirtAddr(0x5000));
  EXPECT_DEATH(p->FreeContig(page, 0), "as a block but it is a user page with 1 references");
}

TYPED_TEST(PallocDeathTest, NewPageWithoutHooksPanicsWhenOutOfMemory) {
  HostPalloc<TypeParam> p({{PhysAddr(0x100000), 4}}, 4);
  for (int i = 0; i < 4; ++i) p->NewPage(VirtAddr(0x1000));
  EXPECT_DEATH(p->NewPage(VirtAddr(0x9000)), "out of memory for va 0x9000 and no way to wait");
}

TYPED_TEST(PallocDeathTest, NewPagePanicsWhenTheHookCannotSleep) {
  PallocHooks hooks;
  hooks.sleep = [](void*, bool (*)(void*), void*) { return PallocWait::kNoWay; };
  hooks.wakeup = [](void*) {};
  HostPalloc<TypeParam> p({{PhysAddr(0x200000), 4}}, 1, hooks);
  for (int i = 0; i < 4; ++i) p->NewPage(VirtAddr(0x1000));
  EXPECT_DEATH(p->NewPage(VirtAddr(0x9000)), "out of memory for va 0x9000 and no way to wait");
}

TYPED_TEST(PallocDeathTest, ValidateCatchesAStrayReference) {
  HostPalloc<TypeParam> p({{PhysAddr(0x100000), 64}}, 4);
  PageResult r = p->TryAllocContig(0);
  char expected[96];
  std::snprintf(expected, sizeof expected, "pa 0x%lx has 1 references but is no user page", p->Pa(r.page).value());
  r.page->ref = 1;  // a caller that took a reference on a kernel block
  EXPECT_DEATH(p->Validate(), expected);
}

TYPED_TEST(PallocDeathTest, FreeingInsideABlockPanics) {
  HostPalloc<TypeParam> p({{PhysAddr(0x100000), 64}}, 4);
  PageResult r = p->TryAllocContig(4);
  char expected[96];
  std::snprintf(expected, sizeof expected, "freeing pa 0x%lx \\(a block\\), which is already free",
                p->Pa(r.page).value() + 3 * kPageSize);
  EXPECT_DEATH(p->FreeContig(r.page + 3, 0), expected);
}

}  // namespace
}  // namespace kmem
