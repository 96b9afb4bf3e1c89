// Palloc on several CPUs at once: on the host each thread is a CPU (testing/host_env.cc), with its own
// per-CPU caches, and a cross-call reaches it between its interrupts-off sections. Every test runs over
// both backends and ends with the counts added up per CPU and in all, and Validate.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "mm/base/percpu.h"
#include "mm/palloc/palloc.h"
#include "testing/palloc_backends.h"
#include "testing/palloc_host.h"

namespace kmem {
namespace {

using testing::BankRange;
using testing::HostPalloc;

constexpr unsigned kThreads = 4;  // with the test's main thread, within the host's kMaxCpus CPU ids
constexpr uint64_t kMiB = 1 << 20;

// A DMA bank, a bank across 4 GiB and a normal one: every zone, and banks split at a boundary.
std::vector<BankRange> Banks() {
  return {{PhysAddr(0x100000), 1024}, {PhysAddr(4096 * kMiB - 2 * kMiB), 1024}, {PhysAddr(8192 * kMiB), 2048}};
}

// Who holds each frame now, by pa: set when a block is handed out, cleared before it is freed. Two
// holders of one frame at once is an allocator bug, found by the exchange.
class Owners {
 public:
  explicit Owners(const std::vector<BankRange>& banks) : banks_(banks) {
    uint64_t n = 0;
    for (const BankRange& b : banks) n += b.npages;
    held_ = std::vector<std::atomic<uint8_t>>(n);
  }
  void Take(PhysAddr pa, unsigned order) {
    for (uint64_t i = 0; i < (uint64_t{1} << order); ++i) {
      ASSERT_EQ(held_[Index(pa + i * kPageSize)].exchange(1), 0) << "pa 0x" << std::hex << pa.value() << " held twice";
    }
  }
  void Give(PhysAddr pa, unsigned order) {
    for (uint64_t i = 0; i < (uint64_t{1} << order); ++i) held_[Index(pa + i * kPageSize)].store(0);
  }

 private:
  uint64_t Index(PhysAddr pa) const {
    uint64_t base = 0;
    for (const BankRange& b : banks_) {
      if (pa >= b.base && pa - b.base < b.npages * kPageSize) return base + (pa - b.base) / kPageSize;
      base += b.npages;
    }
    ADD_FAILURE() << "pa 0x" << std::hex << pa.value() << " outside every bank";
    return 0;
  }
  std::vector<BankRange> banks_;
  std::vector<std::atomic<uint8_t>> held_;
};

// Runs fn(i) on kThreads threads at once and returns their CPU ids.
template <typename Fn>
std::vector<unsigned> OnCpus(unsigned n, Fn&& fn) {
  std::vector<unsigned> cpus(n);
  std::atomic<unsigned> ready{0};
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      cpus[i] = CpuId();
      ready.fetch_add(1);
      while (ready.load() != n) CpuRelax();
      fn(i);
    });
  }
  for (std::thread& t : threads) t.join();
  return cpus;
}

// A CPU whose caches hold what `fill` freed: a thread that runs `fill`, then idles with interrupts on (a
// cross-call reaches it there) until Release. The constructor returns once `fill` is done.
class IdleCpu {
 public:
  template <typename Fn>
  explicit IdleCpu(Fn fill)
      : thread_([this, fill] {
          cpu_ = CpuId();
          fill();
          step_ = 1;
          while (step_.load() != 2) CpuRelax();
        }) {
    while (step_.load() != 1) CpuRelax();
  }
  ~IdleCpu() { Release(); }
  unsigned cpu() const { return cpu_; }
  // Ends the thread, so that the allocator is quiet (for Validate and the counts).
  void Release() {
    step_ = 2;
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::atomic<int> step_{0};
  unsigned cpu_ = 0;
  std::thread thread_;  // last: it reads the members above from its first instruction
};

// The counts after every thread is done: each CPU's cached pages and user pages add up to the totals.
template <typename P>
void ExpectCountsAddUp(P& p, uint64_t users) {
  uint64_t cached = 0;
  int64_t per_cpu_users = 0;
  for (unsigned cpu = 0; cpu < kMaxCpus; ++cpu) {
    cached += p.CpuCounts(cpu).cached_pages;
    per_cpu_users += p.CpuCounts(cpu).users;
  }
  PallocStats s;
  p.Stats(&s);
  EXPECT_EQ(s.free_pages, p.FreeCount());
  EXPECT_LE(cached, p.FreeCount());
  EXPECT_EQ(per_cpu_users, static_cast<int64_t>(users));
  EXPECT_EQ(p.UserCount(), users);
  uint64_t zones = 0;
  for (PallocZone z : {PallocZone::kDma, PallocZone::kDma32, PallocZone::kNormal}) {
    p.ZoneStats(z, &s);
    EXPECT_EQ(p.ZoneFreeWalked(z), s.free_pages);
    zones += s.free_pages;
  }
  EXPECT_EQ(zones, p.FreeCount());
  p.Validate();
}

template <typename Backend>
class PallocSmpTest : public ::testing::Test {};
TYPED_TEST_SUITE(PallocSmpTest, testing::PallocBackends, testing::PallocBackendNames);

// Every thread allocates user pages and blocks of orders 0-4 and 9 and hands them to the next thread,
// which frees them: most frees run on another CPU than their allocation.
TYPED_TEST(PallocSmpTest, FreesOnOtherCpusThanTheAllocating) {
  auto banks = Banks();
  HostPalloc<TypeParam> p(banks, 8);
  Owners owners(banks);
  struct Handed {
    Page* page;
    unsigned order;  // kOrders: a user page
  };
  std::mutex lock;
  std::vector<std::vector<Handed>> inbox(kThreads);
  std::vector<int64_t> users(kThreads);
  auto cpus = OnCpus(kThreads, [&](unsigned i) {
    std::vector<Handed> mine;
    for (unsigned round = 0; round < 300; ++round) {
      for (unsigned k = 0; k < 24; ++k) {
        constexpr unsigned kPicks[] = {0, 1, 2, 3, 4, 9, kOrders};  // kOrders: a user page
        const unsigned order = kPicks[(round + k) % 7];
        const bool user = order == kOrders;
        PageResult r = user ? p->TryNewPage(VirtAddr(uint64_t{k} << kPageShift)) : p->TryAllocContig(order);
        if (r.status != PallocStatus::kOk) continue;
        owners.Take(p->Pa(r.page), user ? 0 : order);
        mine.push_back({r.page, order});
        users[i] += user;
      }
      std::vector<Handed> theirs;
      {
        std::lock_guard<std::mutex> g(lock);
        auto& next = inbox[(i + 1) % kThreads];
        next.insert(next.end(), mine.begin(), mine.end());
        theirs.swap(inbox[i]);
      }
      mine.clear();
      for (const Handed& h : theirs) {
        owners.Give(p->Pa(h.page), h.order == kOrders ? 0 : h.order);
        if (h.order == kOrders) {
          p->PutPage(h.page);
          --users[i];
        } else {
          p->FreeContig(h.page, h.order);
        }
      }
    }
  });
  int64_t left = 0;
  for (unsigned i = 0; i < kThreads; ++i) {
    EXPECT_EQ(p->CpuCounts(cpus[i]).users, users[i]) << "cpu " << cpus[i];
    for (const Handed& h : inbox[i]) left += h.order == kOrders;
  }
  ExpectCountsAddUp(*p, static_cast<uint64_t>(left));
  for (auto& box : inbox) {
    for (const Handed& h : box) h.order == kOrders ? p->PutPage(h.page) : p->FreeContig(h.page, h.order);
  }
  EXPECT_EQ(p->FreeCount(), p->TotalPages());
  ExpectCountsAddUp(*p, 0);
}

// All memory allocated by every thread at once, pages and blocks mixed: each frame is handed out exactly
// once, every page is handed out before the last allocation fails, and the counts are right.
TYPED_TEST(PallocSmpTest, ExhaustionRaceHandsOutEveryPageOnce) {
  auto banks = Banks();
  HostPalloc<TypeParam> p(banks, 8);
  Owners owners(banks);
  std::vector<std::vector<std::pair<Page*, unsigned>>> got(kThreads);
  OnCpus(kThreads, [&](unsigned i) {
    // Orders 2, 1 and 0 in turn, then single pages only, until there are none.
    for (unsigned n = 0;; ++n) {
      unsigned order = n < 300 ? 2 - n % 3 : 0;
      PageResult r = i % 2 == 0 && order == 0 ? p->TryNewPage(VirtAddr(uint64_t{n} << kPageShift))
                                              : p->TryAllocContig(order);
      if (r.status != PallocStatus::kOk) {
        if (order == 0) break;
        continue;
      }
      owners.Take(p->Pa(r.page), order);
      got[i].push_back({r.page, order});
    }
  });
  uint64_t pages = 0, users = 0;
  for (unsigned i = 0; i < kThreads; ++i) {
    for (auto [page, order] : got[i]) {
      pages += uint64_t{1} << order;
      users += page->ref;
    }
  }
  EXPECT_EQ(pages, p->TotalPages());
  EXPECT_EQ(p->FreeCount(), 0u);
  ExpectCountsAddUp(*p, users);
  // And all of it back, each thread freeing what the next one allocated.
  OnCpus(kThreads, [&](unsigned i) {
    for (auto [page, order] : got[(i + 1) % kThreads]) {
      owners.Give(p->Pa(page), order);
      page->ref != 0 ? p->PutPage(page) : p->FreeContig(page, order);
    }
  });
  EXPECT_EQ(p->FreeCount(), p->TotalPages());
  ExpectCountsAddUp(*p, 0);
}

// One thread's cache holds pages while it sits idle; another that allocates everything must get them too.
TYPED_TEST(PallocSmpTest, AllocationDrainsTheOtherCpusCaches) {
  HostPalloc<TypeParam> p({{PhysAddr(0x200000), 256}}, 1);
  IdleCpu idle([&] {
    std::vector<Page*> pages;
    for (int i = 0; i < 48; ++i) pages.push_back(p->TryAllocContig(0).page);
    for (Page* page : pages) p->FreeContig(page, 0);
  });
  uint64_t cached = p->CpuCounts(idle.cpu()).cached_pages;
  EXPECT_GE(cached, 48u);
  uint64_t n = 0;
  std::thread([&] {
    while (p->TryAllocContig(0).status == PallocStatus::kOk) ++n;
  }).join();
  EXPECT_EQ(n, 256u) << cached << " pages were in the idle CPU's cache";
  EXPECT_EQ(p->CpuCounts(idle.cpu()).cached_pages, 0u);
  idle.Release();
  EXPECT_EQ(p->FreeCount(), 0u);
  p->Validate();
}

// The same for a block: the free pages that would make it up sit in another CPU's cache.
TYPED_TEST(PallocSmpTest, BlockAllocationDrainsTheOtherCpusCaches) {
  HostPalloc<TypeParam> p({{PhysAddr(0x200000), 64}}, 1);
  IdleCpu idle([&] {
    std::vector<Page*> pages;
    for (PageResult r; (r = p->TryAllocContig(0)).status == PallocStatus::kOk;) pages.push_back(r.page);
    for (Page* page : pages) p->FreeContig(page, 0);
  });
  PageResult r;
  std::thread([&] { r = p->TryAllocContig(6); }).join();
  EXPECT_EQ(r.status, PallocStatus::kOk);
  idle.Release();
  p->Validate();
}

// The same for blocks of the largest cached order: two order-9 blocks in an idle CPU's cache make up the
// order-10 block another CPU asks for.
TYPED_TEST(PallocSmpTest, LargeBlocksInAnotherCpusCacheMakeUpALargerOne) {
  HostPalloc<TypeParam> p({{PhysAddr(0x400000), 1024}}, 1);
  IdleCpu idle([&] {
    Page* a = p->TryAllocContig(9).page;
    Page* b = p->TryAllocContig(9).page;
    EXPECT_TRUE(a != nullptr && b != nullptr);
    if (a != nullptr) p->FreeContig(a, 9);
    if (b != nullptr) p->FreeContig(b, 9);
  });
  EXPECT_EQ(p->CpuCounts(idle.cpu()).cached_pages, 1024u);
  PageResult r;
  std::thread([&] { r = p->TryAllocContig(10); }).join();
  EXPECT_EQ(r.status, PallocStatus::kOk);
  EXPECT_EQ(p->CpuCounts(idle.cpu()).cached_pages, 0u);
  idle.Release();
  EXPECT_EQ(p->FreeCount(), 0u);
  p->FreeContig(r.page, 10);
  ExpectCountsAddUp(*p, 0);
}

// A caller with interrupts off (a fault under its process's spinlock) cannot drain the other CPUs' caches,
// so its allocation fails while an idle CPU holds every free page; it then waits with interrupts on
// (WaitForPage), and the wait hands the cached pages back to their zones, so that its retry, with
// interrupts off again, finds them instead of failing (and waiting, and failing) for as long as the idle
// CPU stays idle.
TYPED_TEST(PallocSmpTest, AWaitForPagesEmptiesTheOtherCpusCaches) {
  // A wait that does not block: it retries when some page counts as free, as pwait's does before it sleeps.
  auto retry_if_free = [](void*, bool (*ready)(void*), void* arg) {
    return ready(arg) ? PallocWait::kRetry : PallocWait::kGiveUp;
  };
  PallocHooks hooks{retry_if_free, [](void*) {}, nullptr};
  HostPalloc<TypeParam> p({{PhysAddr(0x400000), 1024}}, 1, hooks);
  IdleCpu idle([&] {
    std::vector<std::pair<Page*, unsigned>> held;
    for (unsigned order : {9u, 8u, 7u, 6u, 5u, 4u, 3u, 2u, 1u, 0u}) {
      for (PageResult r; (r = p->TryAllocContig(order)).status == PallocStatus::kOk;) {
        held.emplace_back(r.page, order);
      }
    }
    for (auto [page, order] : held) p->FreeContig(page, order);
  });
  std::thread([&] {
    const IrqState irq = IrqSave();
    const PageResult first = p->TryNewPage(VirtAddr(0x1000));
    IrqRestore(irq);
    EXPECT_EQ(first.status, PallocStatus::kNoMemory) << "the idle CPU's caches did not hold every page";
    ASSERT_TRUE(p->WaitForPage(VirtAddr(0x1000)));
    const IrqState again = IrqSave();
    const PageResult retry = p->TryNewPage(VirtAddr(0x1000));
    IrqRestore(again);
    ASSERT_EQ(retry.status, PallocStatus::kOk);
    p->PutPage(retry.page);
  }).join();
  idle.Release();
  ExpectCountsAddUp(*p, 0);
}

// Palloc's own concurrent self-test on every thread at once: all pages back after, per CPU and in all.
TYPED_TEST(PallocSmpTest, SelfTestConcurrentOnEveryCpu) {
  HostPalloc<TypeParam> p(Banks(), 8);
  std::vector<uint64_t> taken(kThreads);
  OnCpus(kThreads, [&](unsigned i) { taken[i] = p->SelfTestConcurrent(200); });
  for (unsigned i = 0; i < kThreads; ++i) EXPECT_GT(taken[i], 0u);
  EXPECT_EQ(p->FreeCount(), p->TotalPages());
  ExpectCountsAddUp(*p, 0);
}

}  // namespace
}  // namespace kmem
