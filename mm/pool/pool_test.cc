#include "mm/pool/pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "testing/console_capture.h"
#include "testing/pool_host.h"

namespace kmem::pool {
namespace {

// What an arena of one block spends on its own bookkeeping: its header, the block's header and tail canary
// and the end marker, the block headers 16 bytes longer with allocation-site tags (pool.cc's layout).
constexpr uint64_t kArenaOverhead = kPoolTags ? 160 : 128;

constexpr uint64_t kQuantum = 64 << 10;

class PoolTest : public ::testing::Test {
 protected:
  void SetUp() override { Init(1 << 20, FreeFill::kPoison); }

  void Init(uint64_t limit, FreeFill fill, MemSource source = {}) {
    PoolInit(pool_, {"testpool", limit, kQuantum, fill, source.take != nullptr ? source : heap_.source(), {}});
  }

  void* Alloc(size_t n) {
    PoolAllocation a = PoolAlloc(pool_, n, Zero::kNo);
    EXPECT_EQ(a.status, PoolStatus::kOk) << n;
    return a.p;
  }

  testing::HeapSource heap_;
  Pool pool_;
  std::mt19937_64 rng_{42};
};

bool AllBytes(const void* p, size_t from, size_t to, uint8_t b) {
  auto* c = static_cast<const uint8_t*>(p);
  return std::all_of(c + from, c + to, [b](uint8_t x) { return x == b; });
}

TEST_F(PoolTest, BlocksAreAlignedDisjointAndKeepTheirContents) {
  std::vector<size_t> sizes;
  for (size_t n = 0; n < 300; ++n) sizes.push_back(1 + (n * 37) % 3000);
  std::shuffle(sizes.begin(), sizes.end(), rng_);
  std::map<uint8_t*, size_t> blocks;
  for (size_t n : sizes) {
    auto* p = static_cast<uint8_t*>(Alloc(n));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 16, 0u);
    EXPECT_EQ(PoolMsize(pool_, p), n);
    std::memset(p, static_cast<int>(n), n);
    blocks[p] = n;
  }
  for (auto it = blocks.begin(); std::next(it) != blocks.end(); ++it) {
    EXPECT_LE(it->first + it->second, std::next(it)->first);
  }
  EXPECT_EQ(PoolStatsOf(pool_).live_blocks, sizes.size());
  PoolCheck(pool_);
  std::vector<std::pair<uint8_t*, size_t>> order(blocks.begin(), blocks.end());
  std::shuffle(order.begin(), order.end(), rng_);
  for (auto [p, n] : order) {
    EXPECT_TRUE(AllBytes(p, 0, n, static_cast<uint8_t>(n)));
    PoolFree(pool_, p);
  }
  PoolCheck(pool_);
  EXPECT_EQ(PoolStatsOf(pool_).live_blocks, 0u);
  EXPECT_EQ(PoolStatsOf(pool_).live_bytes, 0u);
}

TEST_F(PoolTest, FreedBlockIsPoisonedAndMalloczZeroes) {
  auto* p = static_cast<uint8_t*>(Alloc(200));
  std::memset(p, 0xee, 200);
  PoolFree(pool_, p);
  // Past the free-list links the whole block, tail canary included, reads poison.
  EXPECT_TRUE(AllBytes(p, 16, 200 + 8, kPoisonByte));
  auto* q = static_cast<uint8_t*>(PoolAlloc(pool_, 200, Zero::kYes).p);
  ASSERT_EQ(q, p);
  EXPECT_TRUE(AllBytes(q, 0, 200, 0));
  auto* r = static_cast<uint8_t*>(Alloc(100));
  EXPECT_TRUE(AllBytes(r, 0, 100, kPoisonByte));  // no stale links or data handed out
}

//  a b c allocated side by side; free a, then c, then b:
//  [a][b][c][rest...]  ->  [a free][b][c free + rest]  ->  [one free block]
TEST_F(PoolTest, FreeCoalescesBothNeighbours) {
  auto* a = static_cast<uint8_t*>(Alloc(100));
  auto* b = static_cast<uint8_t*>(Alloc(100));
  auto* c = static_cast<uint8_t*>(Alloc(100));
  ASSERT_LT(a, b);
  ASSERT_LT(b, c);
  PoolFree(pool_, a);
  PoolFree(pool_, c);
  PoolCheck(pool_);
  PoolFree(pool_, b);
  PoolCheck(pool_);  // panics if two free blocks were left adjacent
  // The whole arena is one block again: the largest request it can hold fits at a.
  uint64_t grown = PoolGrown(pool_);
  EXPECT_EQ(Alloc(grown - kArenaOverhead), a);
  EXPECT_EQ(PoolGrown(pool_), grown);
}

TEST_F(PoolTest, GrowsUpToTheLimitThenRefuses) {
  Init(256 << 10, FreeFill::kPoison);
  std::vector<void*> held;
  PoolAllocation a;
  while ((a = PoolAlloc(pool_, 10000, Zero::kNo)).p != nullptr) held.push_back(a.p);
  EXPECT_EQ(a.status, PoolStatus::kOverLimit);
  EXPECT_STREQ(PoolStatusName(a.status), "pool at its limit");
  EXPECT_LE(PoolGrown(pool_), 256u << 10);
  EXPECT_GE(held.size(), 24u);  // 256 KiB holds at least 24 blocks of 10000 bytes and their headers
  PoolFree(pool_, held.back());
  EXPECT_NE(PoolAlloc(pool_, 10000, Zero::kNo).p, nullptr);  // room again after a free
}

TEST_F(PoolTest, RequestAboveTheLimitIsTooLarge) {
  PoolAllocation a = PoolAlloc(pool_, (1 << 20) + 1, Zero::kNo);
  EXPECT_EQ(a.p, nullptr);
  EXPECT_EQ(a.status, PoolStatus::kTooLarge);
  // Just under the limit is too large as well: the arena's own headers would push it over.
  EXPECT_EQ(PoolAlloc(pool_, (1 << 20) - 8, Zero::kNo).status, PoolStatus::kTooLarge);
  EXPECT_EQ(PoolGrown(pool_), 0u);
  EXPECT_NE(PoolAlloc(pool_, (1 << 20) - kArenaOverhead, Zero::kNo).p, nullptr);  // the largest block that fits
}

TEST_F(PoolTest, SourceRunningDryIsReported) {
  testing::HeapSource small(kQuantum);
  Init(1 << 20, FreeFill::kPoison, small.source());
  EXPECT_NE(PoolAlloc(pool_, 40000, Zero::kNo).p, nullptr);
  PoolAllocation a = PoolAlloc(pool_, 40000, Zero::kNo);
  EXPECT_EQ(a.status, PoolStatus::kSourceExhausted);
  EXPECT_EQ(small.bytes_out(), kQuantum);
}

// Early arenas come from one supplier (xalloc), later ones from another (pages); both stay in use.
TEST_F(PoolTest, SwitchingSourceKeepsEarlyArenas) {
  testing::HeapSource early(kQuantum), late;
  Init(256 << 10, FreeFill::kPoison, early.source());
  void* a = Alloc(30000);
  void* b = Alloc(30000);
  EXPECT_EQ(PoolAlloc(pool_, 30000, Zero::kNo).status, PoolStatus::kSourceExhausted);
  PoolSetSource(pool_, late.source(), 1 << 20);
  void* c = Alloc(30000);
  EXPECT_EQ(early.bytes_out(), kQuantum);
  EXPECT_GT(late.bytes_out(), 0u);
  PoolFree(pool_, a);
  PoolFree(pool_, b);
  PoolFree(pool_, c);
  PoolCheck(pool_);
  EXPECT_EQ(PoolGrown(pool_), early.bytes_out() + late.bytes_out());
}

TEST_F(PoolTest, GrowthTakesGeometricArenas) {
  for (int i = 0; i < 100; ++i) Alloc(8000);
  // 800 KB in arenas that double: 64K, 64K, 128K, 256K, 512K at most, never one per quantum.
  EXPECT_LE(heap_.spans_out(), 5u);
  PoolCheck(pool_);
}

TEST_F(PoolTest, ReallocKeepsContents) {
  auto* p = static_cast<uint8_t*>(Alloc(40));
  for (int i = 0; i < 40; ++i) p[i] = static_cast<uint8_t>(i);
  auto* same = static_cast<uint8_t*>(PoolRealloc(pool_, p, 20));
  EXPECT_EQ(same, p);  // shrinking stays in place
  EXPECT_EQ(PoolMsize(pool_, same), 20u);
  Alloc(16);  // a neighbour, so growing has to move
  auto* moved = static_cast<uint8_t*>(PoolRealloc(pool_, same, 5000));
  ASSERT_NE(moved, nullptr);
  EXPECT_NE(moved, p);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(moved[i], i);
  EXPECT_EQ(PoolMsize(pool_, moved), 5000u);
  EXPECT_EQ(PoolStatsOf(pool_).live_bytes, 5016u);
  EXPECT_EQ(PoolRealloc(pool_, moved, 0), nullptr);
  EXPECT_EQ(PoolStatsOf(pool_).live_blocks, 1u);
  void* fresh = PoolRealloc(pool_, nullptr, 64);
  EXPECT_EQ(PoolMsize(pool_, fresh), 64u);
  PoolCheck(pool_);
}

TEST_F(PoolTest, ReallocBeyondTheLimitLeavesTheBlock) {
  auto* p = static_cast<uint8_t*>(Alloc(64));
  EXPECT_EQ(PoolRealloc(pool_, p, 2 << 20), nullptr);
  EXPECT_EQ(PoolMsize(pool_, p), 64u);
}

TEST_F(PoolTest, ZeroFillPoolWipesOnFree) {
  Init(1 << 20, FreeFill::kZero);
  auto* p = static_cast<uint8_t*>(Alloc(300));
  std::memset(p, 0x5a, 300);
  PoolFree(pool_, p);
  EXPECT_TRUE(AllBytes(p, 16, 300, 0));
  PoolCheck(pool_);
}

TEST_F(PoolTest, PoolresetWipesAndEmpties) {
  Init(1 << 20, FreeFill::kZero);
  std::vector<uint8_t*> held;
  for (int i = 0; i < 50; ++i) {
    held.push_back(static_cast<uint8_t*>(Alloc(1000)));
    std::memset(held.back(), 0x5a, 1000);
  }
  uint64_t grown = PoolGrown(pool_);
  Poolreset(pool_);
  for (uint8_t* p : held) EXPECT_TRUE(AllBytes(p, 16, 1000, 0));
  EXPECT_EQ(PoolStatsOf(pool_).live_blocks, 0u);
  EXPECT_EQ(PoolStatsOf(pool_).live_bytes, 0u);
  PoolCheck(pool_);
  for (int i = 0; i < 50; ++i) Alloc(1000);
  EXPECT_EQ(PoolGrown(pool_), grown);  // the arenas were kept and reused
}

TEST_F(PoolTest, StatisticsTrackLiveBytesAndHighWater) {
  void* a = Alloc(1000);
  void* b = Alloc(3000);
  PoolFree(pool_, a);
  Alloc(10);
  AllocStats s = PoolStatsOf(pool_);
  EXPECT_EQ(s.live_blocks, 2u);
  EXPECT_EQ(s.live_bytes, 3010u);
  EXPECT_EQ(s.peak_bytes, 4000u);
  EXPECT_EQ(s.allocs, 3u);
  EXPECT_EQ(s.frees, 1u);
  PoolFree(pool_, b);
  testing::ConsoleCapture out;
  Pool* pools[] = {&pool_};
  PoolDump(pools, 1);
  EXPECT_NE(out.text().find("testpool             1           10         4000"), std::string::npos) << out.text();
}

class MainmemTest : public ::testing::Test {
 protected:
  void Init(uint64_t limit, PoolSync sync) {
    PoolInit(mainmem, {"mainmem", limit, kQuantum, FreeFill::kPoison, heap_.source(), sync});
  }
  testing::HeapSource heap_;
};

TEST_F(MainmemTest, NinefrontVocabularyServesMainmem) {
  Init(1 << 20, {});
  void* p = Malloc(100);
  auto* z = static_cast<uint8_t*>(Mallocz(50, Zero::kYes));
  EXPECT_TRUE(AllBytes(z, 0, 50, 0));
  EXPECT_EQ(Msize(p), 100u);
  p = Realloc(p, 1000);
  EXPECT_EQ(Msize(p), 1000u);
  EXPECT_EQ(PoolStatsOf(mainmem).live_bytes, 1050u);
  Free(p);
  Free(z);
  Free(nullptr);
  EXPECT_EQ(PoolStatsOf(mainmem).live_blocks, 0u);
  EXPECT_EQ(Malloc(2 << 20), nullptr);
}

// 9front's malloc and smalloc zero the block; the poison is still checked first (PoolTest covers that).
TEST_F(MainmemTest, MallocAndSmallocZeroAndMalloczMayNot) {
  Init(1 << 20, {});
  for (size_t size : {1, 16, 100, 4096}) {
    auto* p = static_cast<uint8_t*>(Malloc(size));
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(AllBytes(p, 0, size, 0)) << size;
    std::memset(p, 0xee, size);
    Free(p);
    auto* s = static_cast<uint8_t*>(Smalloc(size));
    ASSERT_EQ(s, p);  // the same block, poisoned by the free
    EXPECT_TRUE(AllBytes(s, 0, size, 0)) << size;
    Free(s);
    auto* n = static_cast<uint8_t*>(Mallocz(size, Zero::kNo));
    ASSERT_EQ(n, p);
    EXPECT_TRUE(AllBytes(n, 0, size, kPoisonByte)) << size;
    Free(n);
  }
}

TEST_F(MainmemTest, MallocChecksThePoisonBeforeZeroing) {
  Init(1 << 20, {});
  auto* p = static_cast<uint8_t*>(Malloc(100));
  Malloc(100);
  Free(p);
  p[40] = 1;
  EXPECT_DEATH(Malloc(100), "pool mainmem: block 0x[0-9a-f]+ was written after free: byte at \\+40 is 0x01");
}

// The pool is full; a second thread's Smalloc sleeps until the first thread frees.
TEST_F(MainmemTest, SmallocWaitsForAFree) {
  testing::ThreadSync sync;
  Init(kQuantum, sync.sync());
  void* hog = Malloc(kQuantum - 200);
  ASSERT_NE(hog, nullptr);
  ASSERT_EQ(Malloc(1000), nullptr);
  void* got = nullptr;
  std::thread waiter([&] { got = Smalloc(1000); });
  while (sync.sleeps() == 0) std::this_thread::yield();
  Free(hog);
  waiter.join();
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(Msize(got), 1000u);
  EXPECT_GE(sync.sleeps(), 1);
  Free(got);
}

using PoolDeathTest = PoolTest;

TEST_F(PoolDeathTest, DoubleFreePanics) {
  void* p = Alloc(24);
  PoolFree(pool_, p);
  EXPECT_DEATH(PoolFree(pool_, p), "pool testpool: free of 0x[0-9a-f]+: double free, the block is free");
}

TEST_F(PoolDeathTest, ForeignPointerPanics) {
  Alloc(24);
  alignas(16) static uint8_t elsewhere[64];
  EXPECT_DEATH(PoolFree(pool_, elsewhere + 32),
               "pool testpool: free of 0x[0-9a-f]+: foreign pointer, not in any arena of this pool");
}

TEST_F(PoolDeathTest, PointerOfAnotherPoolPanics) {
  Pool other;
  PoolInit(other, {"other", 1 << 20, kQuantum, FreeFill::kPoison, heap_.source(), {}});
  void* p = PoolAlloc(other, 24, Zero::kNo).p;
  Alloc(24);
  EXPECT_DEATH(PoolFree(pool_, p), "pool testpool: free of 0x[0-9a-f]+: foreign pointer");
}

TEST_F(PoolDeathTest, InteriorPointerPanics) {
  auto* p = static_cast<uint8_t*>(Alloc(100));
  EXPECT_DEATH(PoolFree(pool_, p + 48), "pool testpool: free of 0x[0-9a-f]+: header canary smashed");
}

TEST_F(PoolDeathTest, WritePastTheEndPanicsOnFree) {
  auto* p = static_cast<uint8_t*>(Alloc(24));
  p[24] = 0;
  EXPECT_DEATH(PoolFree(pool_, p), "pool testpool: free of 0x[0-9a-f]+: tail canary smashed, written past the 24 bytes");
}

TEST_F(PoolDeathTest, WriteBeforeTheStartPanicsOnFree) {
  auto* p = static_cast<uint8_t*>(Alloc(24));
  p[-32] ^= 1;  // the header's magic
  EXPECT_DEATH(PoolFree(pool_, p), "pool testpool: free of 0x[0-9a-f]+: header canary smashed \\(magic 0x");
}

TEST_F(PoolDeathTest, SmashedSizePanicsOnMsize) {
  auto* p = static_cast<uint8_t*>(Alloc(24));
  reinterpret_cast<uint64_t*>(p)[-3] = 1 << 30;  // the header's size
  EXPECT_DEATH(PoolMsize(pool_, p), "pool testpool: msize of 0x[0-9a-f]+: header smashed \\(size 1073741824");
}

TEST_F(PoolDeathTest, WriteAfterFreePanicsWhenHandedOutAgain) {
  auto* p = static_cast<uint8_t*>(Alloc(100));
  PoolFree(pool_, p);
  p[40] = 1;
  EXPECT_DEATH(Alloc(100), "pool testpool: block 0x[0-9a-f]+ was written after free: byte at \\+40 is 0x01, expected 0x6b");
}

TEST_F(PoolDeathTest, WriteAfterFreeIsFoundByTheCheck) {
  auto* p = static_cast<uint8_t*>(Alloc(100));
  Alloc(100);
  PoolFree(pool_, p);
  p[60] = 1;
  EXPECT_DEATH(PoolCheck(pool_), "pool testpool: free block 0x[0-9a-f]+ written after free at \\+60");
}

//   p's block, free: [header 32][next][prev][poison ...]    a stale pointer writes p's first word
TEST_F(PoolDeathTest, SmashedFreeListLinkPanicsWhenHandedOutAgain) {
  auto* p = static_cast<uint64_t*>(Alloc(100));
  Alloc(100);  // keeps p's block apart from the rest of the arena
  PoolFree(pool_, p);
  p[0] = 0x1234;
  EXPECT_DEATH(Alloc(100), "pool testpool: block 0x[0-9a-f]+ was written after free: its free-list links "
                           "\\(next 0x1234, prev 0x0\\) are smashed");
}

// The block chosen is the second in its bin: the first one's link is followed to reach it.
TEST_F(PoolDeathTest, SmashedLinkOfABlockPassedOverPanics) {
  auto* a = static_cast<uint64_t*>(Alloc(120));
  Alloc(16);
  auto* b = static_cast<uint64_t*>(Alloc(100));
  Alloc(16);
  PoolFree(pool_, a);
  PoolFree(pool_, b);  // bin 7 holds b (144 bytes) then a (160)
  b[0] = 0x5678;
  EXPECT_DEATH(Alloc(120), "pool testpool: block 0x[0-9a-f]+ was written after free: its free-list links "
                           "\\(next 0x5678, prev 0x0\\) are smashed");
}

TEST_F(PoolDeathTest, SmashedFreeListLinkIsFoundByTheCheck) {
  auto* p = static_cast<uint64_t*>(Alloc(100));
  Alloc(100);
  PoolFree(pool_, p);
  p[0] = 0x1234;
  EXPECT_DEATH(PoolCheck(pool_), "pool testpool: block 0x[0-9a-f]+ was written after free: its free-list links "
                                 "\\(next 0x1234, prev 0x0\\) are smashed");
}

TEST_F(MainmemTest, SmallocWithoutAWayToWaitPanics) {
  Init(kQuantum, {});
  ASSERT_NE(Malloc(kQuantum - 200), nullptr);
  EXPECT_DEATH(Smalloc(1000), "smalloc: pool mainmem cannot serve 1000 bytes \\(pool at its limit\\) and has no way to wait");
}

TEST_F(MainmemTest, SmallocAboveTheLimitPanics) {
  Init(kQuantum, {});
  EXPECT_DEATH(Smalloc(kQuantum + 1), "smalloc: 65537 bytes exceed pool mainmem's limit of 65536 bytes");
}

}  // namespace
}  // namespace kmem::pool
