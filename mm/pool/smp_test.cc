// Slab caches, Kmalloc and the pools on several CPUs at once (each host thread is a CPU, testing/host_env.cc):
// storms with frees on other CPUs than the allocating one, exhaustion races, draining, statistics that add
// up across CPUs afterwards, and the guards with magazines in the way.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "mm/base/addr.h"
#include "mm/pool/pool.h"
#include "mm/pool/selftest.h"
#include "mm/pool/slab.h"
#include "testing/pool_host.h"

namespace kmem::pool {
namespace {

constexpr int kThreads = 4;  // and at most one more thread beside them: kMaxCpus is 8

// Runs fn(t) on kThreads threads at once and joins them.
template <typename Fn>
void OnThreads(int n, Fn fn) {
  std::vector<std::thread> threads;
  for (int t = 0; t < n; ++t) threads.emplace_back(fn, t);
  for (std::thread& th : threads) th.join();
}

// Objects handed from one thread to another, which frees them.
struct Mailbox {
  std::mutex mu;
  std::vector<std::pair<uint8_t*, size_t>> objs;

  void Put(uint8_t* p, size_t n) {
    std::lock_guard<std::mutex> g(mu);
    objs.emplace_back(p, n);
  }
  std::vector<std::pair<uint8_t*, size_t>> TakeAll() {
    std::lock_guard<std::mutex> g(mu);
    return std::move(objs);
  }
};

// What an object of `n` bytes at `p` holds while live: bytes derived from its address, so two owners of
// one object (a block handed out twice) would overwrite each other's.
uint8_t Mark(const uint8_t* p, size_t i) { return static_cast<uint8_t>(reinterpret_cast<uintptr_t>(p) >> 4) + i; }
void Write(uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) p[i] = Mark(p, i);
}
bool Intact(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != Mark(p, i)) return false;
  }
  return true;
}

class SmpTest : public ::testing::Test {
 protected:
  void SetUp() override { KmemInit(heap_.source()); }
  testing::HeapSource heap_;
};

// Every thread allocates objects of `alloc(rng)` bytes, keeps some and hands every other one to its
// neighbour, and frees what its neighbour handed it; contents are checked on every free. Returns the
// objects allocated in all.
template <typename Alloc, typename Free>
uint64_t Storm(int ops, Alloc alloc, Free free) {
  Mailbox boxes[kThreads];
  std::atomic<uint64_t> corrupted{0}, allocated{0};
  std::barrier done(kThreads);
  OnThreads(kThreads, [&](int t) {
    std::mt19937_64 rng(t);
    std::vector<std::pair<uint8_t*, size_t>> mine;
    uint64_t n_alloc = 0, bad = 0;
    auto release = [&](std::pair<uint8_t*, size_t> o) {
      bad += !Intact(o.first, o.second);
      free(o.first);
    };
    for (int i = 0; i < ops; ++i) {
      auto [p, n] = alloc(rng);
      ASSERT_NE(p, nullptr);
      ++n_alloc;
      Write(p, n);
      if (i % 2 == 0) {
        boxes[(t + 1) % kThreads].Put(p, n);
      } else {
        mine.emplace_back(p, n);
      }
      if (mine.size() > 64) {
        std::shuffle(mine.begin(), mine.end(), rng);
        for (int k = 0; k < 32; ++k, mine.pop_back()) release(mine.back());
      }
      if (i % 16 == 0) {
        for (auto o : boxes[t].TakeAll()) release(o);
      }
    }
    done.arrive_and_wait();  // nobody puts into a box any more
    for (auto o : boxes[t].TakeAll()) release(o);
    for (auto o : mine) release(o);
    corrupted += bad;
    allocated += n_alloc;
  });
  EXPECT_EQ(corrupted.load(), 0u);
  return allocated.load();
}

TEST_F(SmpTest, KmallocStormWithFreesOnOtherCpus) {
  AllocStats before = KmallocStats();
  uint64_t n = Storm(
      20000,
      [](std::mt19937_64& rng) {
        size_t size = 1 + rng() % kKmallocMax;
        return std::pair{static_cast<uint8_t*>(Kmalloc(size)), size};
      },
      [](uint8_t* p) { Kfree(p); });
  KmemCheckAll();
  AllocStats after = KmallocStats();
  EXPECT_EQ(after.live_blocks, 0u);
  EXPECT_EQ(after.live_bytes, 0u);
  EXPECT_EQ(after.allocs - before.allocs, n);
  EXPECT_EQ(after.frees - before.frees, n);
}

TEST_F(SmpTest, CacheStormWithFreesOnOtherCpusAddsUp) {
  KmemCache* c = KmemCacheCreate("storm", 72, 8);
  uint64_t n = Storm(
      30000, [c](std::mt19937_64&) { return std::pair{static_cast<uint8_t*>(KmemCacheAlloc(c)), size_t{72}}; },
      [c](uint8_t* p) { KmemCacheFree(c, p); });
  KmemCacheCheck(c);
  AllocStats s = KmemCacheStats(c);
  EXPECT_EQ(s.allocs, n);
  EXPECT_EQ(s.frees, n);
  EXPECT_EQ(s.live_blocks, 0u);
  // Each thread keeps at most 64 objects and its neighbour's box; every CPU's mark is below what all held.
  EXPECT_GT(s.peak_bytes, 0u);
  EXPECT_LE(s.peak_bytes, uint64_t{72} * 30000 * kThreads);
  EXPECT_TRUE(KmemCacheDestroy(c));
}

// A cache's peak counts the objects another CPU held while this one grew: B holds kHeld objects; A then
// allocates enough for a refill to come after kPeakSampleOps of its operations, where it reads B's counts.
// Without that reading the peak would be A's own count alone.
TEST_F(SmpTest, PeakCountsWhatAnotherCpuHeldWhileThisOneGrew) {
  KmemCache* c = KmemCacheCreate("peak", 64, 8);
  constexpr uint32_t kHeld = 500, kMine = kPeakSampleOps + kMagazine;
  std::barrier held(2), counted(2);
  std::vector<void*> theirs, mine;
  std::thread b([&] {
    for (uint32_t i = 0; i < kHeld; ++i) theirs.push_back(KmemCacheAlloc(c));
    held.arrive_and_wait();
    counted.arrive_and_wait();
    for (void* p : theirs) KmemCacheFree(c, p);
  });
  held.arrive_and_wait();
  std::thread a([&] {
    for (uint32_t i = 0; i < kMine; ++i) mine.push_back(KmemCacheAlloc(c));
    for (void* p : mine) KmemCacheFree(c, p);
  });
  a.join();
  counted.arrive_and_wait();
  b.join();
  AllocStats s = KmemCacheStats(c);
  EXPECT_EQ(s.live_blocks, 0u);
  EXPECT_EQ(s.peak_bytes, uint64_t{64} * (kHeld + kMine));
  EXPECT_TRUE(KmemCacheDestroy(c));
}

// A CPU's refills take from slabs it owns, and an empty slab before another CPU's partial one, so two CPUs
// do not hand out objects of one slab (whose cache lines they would then share). B first leaves empty
// slabs and partial ones of its own; A allocates, leaving its newest slab partial; B then allocates more
// than its magazine and bundles hold. Before slabs had owners, B's refills took A's partial slab from the
// one partial list.
TEST_F(SmpTest, TwoCpusDoNotShareASlab) {
  KmemCache* c = KmemCacheCreate("owned", 64, 8);  // one-page slabs of 45 objects
  constexpr int kObjects = 3 * kHeldPerCpu;  // most frees reach the slabs
  std::barrier step(2);
  std::vector<void*> live[2];
  auto run = [&](int me) {
    std::vector<void*>& mine = live[me];
    if (me == 1) {  // B: empty slabs for A to adopt, and partial ones of its own
      for (int i = 0; i < kObjects; ++i) mine.push_back(KmemCacheAlloc(c));
      std::shuffle(mine.begin(), mine.end(), std::mt19937_64(7));
      for (void* p : mine) KmemCacheFree(c, p);
      mine.clear();
    }
    step.arrive_and_wait();
    if (me == 0) {
      for (int i = 0; i < kObjects; ++i) mine.push_back(KmemCacheAlloc(c));
    }
    step.arrive_and_wait();
    if (me == 1) {
      for (int i = 0; i < kObjects; ++i) mine.push_back(KmemCacheAlloc(c));
    }
    step.arrive_and_wait();
  };
  std::thread a(run, 0), b(run, 1);
  a.join();
  b.join();
  std::map<uintptr_t, int> holders;  // slab (page) -> bit per CPU with a live object in it
  for (int cpu = 0; cpu < 2; ++cpu) {
    for (void* p : live[cpu]) holders[AlignDown(reinterpret_cast<uintptr_t>(p), kPageSize)] |= 1 << cpu;
  }
  int shared = 0;
  for (const auto& [slab, bits] : holders) shared += bits == 3;
  EXPECT_EQ(shared, 0) << "of " << holders.size() << " slabs";
  KmemCacheCheck(c);
  for (auto& objs : live) {
    for (void* p : objs) KmemCacheFree(c, p);
  }
  EXPECT_TRUE(KmemCacheDestroy(c));
}

// A CPU whose own slabs are used up takes another CPU's empty ones before new ones from the source: B leaves
// empty slabs on its lists and stays, so that A is another CPU; A then allocates fewer objects than they
// hold (a 64-byte slab holds more than 32) and needs no new slab.
TEST_F(SmpTest, ACpuTakesAnotherCpusEmptySlabsBeforeNewOnes) {
  KmemCache* c = KmemCacheCreate("adopted", 64, 8);
  std::barrier left(2), done(2);
  std::thread b([&] {
    std::vector<void*> objs;
    for (uint32_t i = 0; i < 3 * kHeldPerCpu; ++i) objs.push_back(KmemCacheAlloc(c));
    for (void* p : objs) KmemCacheFree(c, p);
    left.arrive_and_wait();
    done.arrive_and_wait();
  });
  left.arrive_and_wait();
  const uint64_t slabs = KmemCacheSlabs(c), empty = KmemCacheEmptySlabs(c);
  ASSERT_GE(empty, 4u);
  std::vector<void*> objs;
  std::thread a([&] {
    for (uint64_t i = 0; i < (empty - 2) * 32; ++i) objs.push_back(KmemCacheAlloc(c));
  });
  a.join();
  EXPECT_EQ(KmemCacheSlabs(c), slabs);
  EXPECT_LT(KmemCacheEmptySlabs(c), empty);
  KmemCacheCheck(c);
  done.arrive_and_wait();
  b.join();
  for (void* p : objs) KmemCacheFree(c, p);
  EXPECT_TRUE(KmemCacheDestroy(c));
}

// Destroying a cache whose free objects sit in other CPUs' magazines drains them first: every slab goes
// back to the source.
TEST_F(SmpTest, DestroyDrainsTheMagazinesOfEveryCpu) {
  KmemCache* c = KmemCacheCreate("drained", 128, 8);
  std::barrier freed(kThreads + 1), destroyed(kThreads + 1);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      std::vector<void*> objs;
      for (int i = 0; i < 20; ++i) objs.push_back(KmemCacheAlloc(c));
      for (void* p : objs) KmemCacheFree(c, p);  // into this CPU's magazine
      freed.arrive_and_wait();
      destroyed.arrive_and_wait();  // alive, its CPU answering cross-calls, while the cache goes
    });
  }
  freed.arrive_and_wait();
  EXPECT_GT(KmemCacheSlabs(c), 0u);
  EXPECT_TRUE(KmemCacheDestroy(c));
  // The cache's slabs went back: the source has out only the live caches' slabs (kmem_cache's among them,
  // which keeps the descriptor's slab, empty).
  EXPECT_EQ(heap_.bytes_out(), KmemSlabBytes());
  destroyed.arrive_and_wait();
  for (std::thread& th : threads) th.join();
}

// The source runs dry while every CPU allocates: each thread allocates until it gets nullptr, every
// object is distinct, and none is handed out twice. Then the other CPUs free some objects, which stay in
// their magazines; an allocation on this CPU still gets every one of them (they are drained to it), so a
// free object is never stranded on another CPU while an allocation fails.
TEST_F(SmpTest, ExhaustionRaceStrandsNoObjectInAMagazine) {
  testing::HeapSource small(64 * kPageSize);
  KmemInit(small.source_without_give());
  std::vector<void*> got[kThreads];
  std::barrier exhausted(kThreads + 1), freed(kThreads + 1), taken(kThreads + 1);
  constexpr size_t kFreedEach = 5;
  std::atomic<size_t> freed_in_all{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (void* p; (p = Kmalloc(64)) != nullptr;) {
        Write(static_cast<uint8_t*>(p), 64);
        got[t].push_back(p);
      }
      exhausted.arrive_and_wait();
      const size_t n = std::min(kFreedEach, got[t].size());  // a thread may have lost every race
      for (size_t i = 0; i < n; ++i, got[t].pop_back()) Kfree(got[t].back());
      freed_in_all += n;
      freed.arrive_and_wait();
      taken.arrive_and_wait();
    });
  }
  exhausted.arrive_and_wait();
  freed.arrive_and_wait();
  std::vector<void*> again;
  for (void* p; (p = Kmalloc(64)) != nullptr;) again.push_back(p);
  EXPECT_GT(freed_in_all.load(), 0u);
  EXPECT_EQ(again.size(), freed_in_all.load());
  taken.arrive_and_wait();
  for (std::thread& th : threads) th.join();
  std::vector<void*> all(again);
  for (auto& g : got) {
    for (void* p : g) {
      EXPECT_TRUE(Intact(static_cast<uint8_t*>(p), 64));
      all.push_back(p);
    }
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end());
  EXPECT_EQ(KmallocStats().live_blocks, all.size());
  KmemCheckAll();
  for (void* p : all) Kfree(p);
}

// Memory pressure: KmemReap drains every CPU's magazines and gives every empty slab back.
TEST_F(SmpTest, ReapGivesBackWhatOtherCpusHold) {
  uint64_t before = heap_.bytes_out();
  OnThreads(kThreads, [](int) {
    std::vector<void*> objs;
    for (int i = 0; i < 2000; ++i) objs.push_back(Kmalloc(256));
    for (void* p : objs) Kfree(p);
  });
  EXPECT_GT(heap_.bytes_out(), before);
  KmemReap();
  EXPECT_EQ(heap_.bytes_out(), before);
  KmemCheckAll();
}

// Cross-calls drain magazines while their CPUs use them: each CPU's fast path runs with interrupts off, so
// a drain lands between two of its operations, never inside one.
TEST_F(SmpTest, ReapWhileEveryCpuAllocates) {
  std::atomic<bool> storming{true};
  std::thread reaper([&] {
    while (storming.load()) KmemReap();
  });
  uint64_t n = Storm(
      20000,
      [](std::mt19937_64& rng) {
        size_t size = 16 << rng() % 4;
        return std::pair{static_cast<uint8_t*>(Kmalloc(size)), size};
      },
      [](uint8_t* p) { Kfree(p); });
  storming = false;
  reaper.join();
  KmemCheckAll();
  EXPECT_EQ(KmallocStats().live_blocks, 0u);
  EXPECT_GT(n, 0u);
}

// Every CPU runs the pools' self-test stress at once over the shared mainmem and Kmalloc; afterwards the
// counts are as before and every walk agrees.
TEST_F(SmpTest, SelfTestStressOnEveryCpuAtOnce) {
  PoolInit(mainmem, {"mainmem", kThreads * kSelfTestMainmemBytes, 64 << 10, FreeFill::kPoison, heap_.source(), {}});
  AllocStats main_before = PoolStatsOf(mainmem), kmalloc_before = KmallocStats();
  std::atomic<int> passed{0}, counted{0};
  OnThreads(kThreads, [&](int) {
    uint64_t allocations;
    passed += PoolSelfTestConcurrent(&allocations) == SelfTestStatus::kPassed;
    counted += allocations > 0;
  });
  EXPECT_EQ(passed.load(), kThreads);
  EXPECT_EQ(counted.load(), kThreads);
  PoolCheck(mainmem);
  KmemCheckAll();
  EXPECT_EQ(PoolStatsOf(mainmem).live_blocks, main_before.live_blocks);
  EXPECT_EQ(KmallocStats().live_blocks, kmalloc_before.live_blocks);
  EXPECT_EQ(KmallocStats().live_bytes, kmalloc_before.live_bytes);
}

// Malloc and Free from every CPU at once, with frees on other CPUs: the pool's lock keeps it whole.
TEST_F(SmpTest, PoolStormWithFreesOnOtherCpus) {
  PoolInit(mainmem, {"mainmem", 64 << 20, 64 << 10, FreeFill::kPoison, heap_.source(), {}});
  uint64_t n = Storm(
      5000,
      [](std::mt19937_64& rng) {
        size_t size = 1 + rng() % 8192;
        return std::pair{static_cast<uint8_t*>(Malloc(size)), size};
      },
      [](uint8_t* p) { Free(p); });
  PoolCheck(mainmem);
  AllocStats s = PoolStatsOf(mainmem);
  EXPECT_EQ(s.live_blocks, 0u);
  EXPECT_EQ(s.allocs, n);
  EXPECT_EQ(s.frees, n);
}

// A source whose take blocks until the test lets it go, so that one CPU's growth stays under way.
struct GateSource {
  std::atomic<bool> entered{false}, open{false};
  alignas(kPageSize) static inline uint8_t arena[64 << 10];
  static void* Take(void* ctx, size_t bytes, size_t) {
    auto* g = static_cast<GateSource*>(ctx);
    g->entered = true;
    while (!g->open) std::this_thread::yield();
    return bytes <= sizeof arena ? arena : nullptr;
  }
};

// CPU A grows the pool to its whole limit and is still taking the arena from the source when CPU B needs a
// block: B waits for A's arena instead of failing over the limit A's growth holds.
TEST_F(SmpTest, AllocationWaitsForAnotherCpusGrowthInsteadOfFailing) {
  GateSource gate;
  PoolInit(mainmem, {"mainmem", 64 << 10, 64 << 10, FreeFill::kPoison, {&gate, &GateSource::Take, nullptr}, {}});
  void* a = nullptr;
  void* b = nullptr;
  std::thread ta([&] { a = Malloc(1000); });
  while (!gate.entered) std::this_thread::yield();
  std::thread tb([&] { b = Malloc(1000); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // B has found the limit taken by now
  gate.open = true;
  ta.join();
  tb.join();
  EXPECT_NE(a, nullptr);
  EXPECT_NE(b, nullptr);
  PoolCheck(mainmem);
  EXPECT_EQ(PoolStatsOf(mainmem).live_blocks, 2u);
}

using SmpDeathTest = SmpTest;

// The first free, on another CPU, puts the object in that CPU's magazine; the second still finds it free.
TEST_F(SmpDeathTest, DoubleFreeOfAnObjectInAnotherCpusMagazinePanics) {
  void* p = Kmalloc(48);
  std::thread([p] { Kfree(p); }).join();
  EXPECT_DEATH(Kfree(p), "cache kmalloc: kfree of 0x[0-9a-f]+: double free, the object is free");
  KmemCache* c = KmemCacheCreate("obj", 48, 8);
  void* q = KmemCacheAlloc(c);
  std::thread([c, q] { KmemCacheFree(c, q); }).join();
  EXPECT_DEATH(KmemCacheFree(c, q), "cache obj: free of 0x[0-9a-f]+: double free");
}

TEST_F(SmpDeathTest, SmashedCanaryIsNoticedByAFreeOnAnotherCpu) {
  auto* p = static_cast<uint8_t*>(Kmalloc(100));
  p[128] = 0;
  EXPECT_DEATH(std::thread([p] { Kfree(p); }).join(),
               "cache kmalloc-128: kfree of 0x[0-9a-f]+: tail canary smashed, written past the 128-byte object");
}

// A write after free into an object that sits in another CPU's magazine is found when that CPU hands it
// out again, and by a check of the cache.
TEST_F(SmpDeathTest, WriteAfterFreeIntoAnotherCpusMagazinePanics) {
  auto* p = static_cast<uint8_t*>(Kmalloc(64));
  void* q = nullptr;
  std::barrier freed(2), written(2);
  std::thread other([&] {
    Kfree(p);
    freed.arrive_and_wait();
    written.arrive_and_wait();
    q = Kmalloc(64);  // LIFO: the same object
  });
  freed.arrive_and_wait();
  p[7] = 0;
  EXPECT_DEATH(KmemCheckAll(), "cache kmalloc-64: free object 0x[0-9a-f]+ written after free at \\+7");
  p[7] = kPoisonByte;
  written.arrive_and_wait();
  other.join();
  EXPECT_EQ(q, p);
  Kfree(q);
}

}  // namespace
}  // namespace kmem::pool
