#include "mm/xalloc/xalloc.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "mm/base/lock.h"
#include "testing/console_capture.h"
#include "testing/phys_arena.h"

namespace kmem {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kHeaderBytes = HoleAllocator::kHeaderBytes;

// 64 MiB of simulated RAM at physical 0; each test donates the part it wants.
class XallocTest : public ::testing::Test {
 protected:
  PhysAddr Pa(const void* p) const { return ram_.direct_map().Paddr(p); }
  void Donate(uint64_t base, uint64_t size) { ASSERT_EQ(heap_.Xhole(PhysAddr(base), size), XholeStatus::kOk); }
  void ExpectOneHole(uint64_t base, uint64_t size) {
    ASSERT_EQ(heap_.HoleCount(), 1u);
    EXPECT_EQ(heap_.Hole(0).base, PhysAddr(base));
    EXPECT_EQ(heap_.Hole(0).size, size);
    EXPECT_EQ(heap_.Stats().free, heap_.Stats().donated);
    EXPECT_EQ(heap_.Stats().blocks, 0u);
  }

  testing::PhysArena ram_{PhysAddr(0), 64 * kMiB};
  HoleAllocator heap_{ram_.direct_map()};
  std::mt19937_64 rng_{0x78616c6c6f63};
};

// Death tests read stderr; Xsummary prints on the console (stdout), so the statement sends stdout there
// to check that the summary comes before the panic.
#define EXPECT_XFREE_DEATH(heap, ptr, regex)         \
  EXPECT_DEATH(                                      \
      {                                              \
        std::fflush(stdout);                         \
        dup2(STDERR_FILENO, STDOUT_FILENO);          \
        std::setvbuf(stdout, nullptr, _IONBF, 0);    \
        (heap).Xfree(ptr);                           \
      },                                             \
      "xalloc: [0-9]+ holes.*xfree\\(0x[0-9a-f]+\\): " regex)

TEST_F(XallocTest, XallocIsZeroedAlignedAndInsideTheHole) {
  Donate(0x100000, kMiB);
  std::memset(ram_.direct_map().Kaddr(PhysAddr(0x100000)), 0xab, kMiB);
  for (uint64_t size : {1, 15, 16, 17, 100, 4096, 65536}) {
    auto* p = static_cast<uint8_t*>(heap_.Xalloc(size));
    ASSERT_NE(p, nullptr) << size;
    EXPECT_TRUE(Pa(p).IsAlignedTo(16)) << size;
    EXPECT_GE(Pa(p), PhysAddr(0x100000 + kHeaderBytes));
    EXPECT_LE(Pa(p) + size, PhysAddr(0x200000));
    EXPECT_TRUE(std::all_of(p, p + size, [](uint8_t b) { return b == 0; })) << size;
  }
  heap_.Validate();
}

TEST_F(XallocTest, ZeroSizeIsARealBlockWithThePointerInside) {
  Donate(0x100000, kMiB);
  void* z = heap_.Xalloc(0);
  ASSERT_NE(z, nullptr);
  XallocBlock b = heap_.Block(z);
  EXPECT_EQ(b.base, PhysAddr(0x100000));
  EXPECT_EQ(b.size, kHeaderBytes + 16);
  EXPECT_NE(heap_.Xalloc(0), z);
  void* s = heap_.Xspanalloc(0, 4096, 0);
  ASSERT_NE(s, nullptr);
  EXPECT_LT(Pa(s), heap_.Block(s).base + heap_.Block(s).size);
  heap_.Xfree(z);
  heap_.Xfree(s);
  heap_.Validate();
}

//   64 MiB - 0x50            64 MiB - 0x20     64 MiB: the end of the direct map
//   | block of 16 B (0x30)   | hole (0x20)     |
// A header-only block would put the pointer at 64 MiB, one past the map, which Xfree calls foreign.
TEST_F(XallocTest, ZeroSizeDoesNotFitAHoleOfOneHeaderAtTheEndOfTheMap) {
  Donate(64 * kMiB - 0x50, 0x50);
  ASSERT_NE(heap_.Xalloc(16), nullptr);
  ASSERT_EQ(heap_.Hole(0).end(), PhysAddr(64 * kMiB));
  EXPECT_EQ(heap_.Xalloc(0), nullptr);
  EXPECT_EQ(heap_.Xspanalloc(0, 16, 0), nullptr);
  heap_.Validate();
}

TEST_F(XallocTest, XalloczNoLeavesTheOldContents) {
  Donate(0x100000, kMiB);
  auto* p = static_cast<uint8_t*>(heap_.Xalloc(256));
  std::memset(p, 0x5a, 256);
  heap_.Xfree(p);
  auto* q = static_cast<uint8_t*>(heap_.Xallocz(256, Zero::kNo));
  ASSERT_EQ(q, p);  // first fit takes the same bottom of the same hole
  EXPECT_EQ(q[0], 0x5a);
  EXPECT_EQ(q[255], 0x5a);
  heap_.Xfree(q);
  auto* z = static_cast<uint8_t*>(heap_.Xallocz(256, Zero::kYes));
  EXPECT_TRUE(std::all_of(z, z + 256, [](uint8_t b) { return b == 0; }));
}

TEST_F(XallocTest, FirstFitTakesTheLowestHoleThatFits) {
  Donate(0x300000, kMiB);
  Donate(0x100000, 0x100);  // too small for what follows
  Donate(0x200000, kMiB);
  void* p = heap_.Xalloc(0x1000);
  EXPECT_EQ(Pa(p), PhysAddr(0x200000 + kHeaderBytes));
  void* q = heap_.Xalloc(0x10);
  EXPECT_EQ(Pa(q), PhysAddr(0x100000 + kHeaderBytes));
  heap_.Validate();
}

TEST_F(XallocTest, SpanallocAlignsEveryPowerOfTwo) {
  Donate(0x100010, 16 * kMiB);
  for (uint64_t align = 1; align <= kMiB; align <<= 1) {
    for (uint64_t size : {uint64_t{8}, uint64_t{4096}, align}) {
      void* p = heap_.Xspanalloc(size, align, 0);
      ASSERT_NE(p, nullptr) << align;
      EXPECT_TRUE(Pa(p).IsAlignedTo(std::max<uint64_t>(align, 16))) << "align " << align << " size " << size;
    }
  }
  heap_.Validate();
}

// A payload must not straddle a multiple of span: 0x300 bytes in a 0x1000 span cannot start at 0xe00.
//
//   span 0x1000:  |....0x1000....|....0x2000....|
//   bad:                     [0xe00 ... 0x1100)
//   good:                        [0x1000 ... 0x1300)
TEST_F(XallocTest, SpanallocNeverCrossesASpan) {
  Donate(0x100000, 8 * kMiB);
  for (int i = 0; i < 2000; ++i) {
    uint64_t span = uint64_t{1} << (8 + rng_() % 7);
    uint64_t size = 1 + rng_() % span;
    uint64_t align = uint64_t{1} << (rng_() % 8);
    void* p = heap_.Xspanalloc(size, align, span);
    ASSERT_NE(p, nullptr);
    uint64_t pa = Pa(p).value();
    EXPECT_EQ(AlignDown(pa, span), AlignDown(pa + size - 1, span)) << "pa " << pa << " size " << size;
    if (rng_() % 2 == 0) heap_.Xfree(p);
  }
  heap_.Validate();
}

TEST_F(XallocTest, SpanallocLargerThanTheSpanFails) {
  Donate(0x100000, kMiB);
  XallocStats before = heap_.Stats();
  EXPECT_EQ(heap_.Xspanalloc(0x2000, 16, 0x1000), nullptr);
  EXPECT_EQ(heap_.Stats().free, before.free);
}

TEST_F(XallocTest, SpanallocPadGoesBackWithTheBlock) {
  Donate(0x100000, kMiB);
  void* a = heap_.Xalloc(100);
  void* p = heap_.Xspanalloc(4096, 4096, 0);
  EXPECT_TRUE(Pa(p).IsAlignedTo(4096));
  // The pad between a's block and p's header belongs to p's block.
  EXPECT_EQ(heap_.Block(p).base, Pa(a) + 112);
  heap_.Xfree(p);
  heap_.Xfree(a);
  ExpectOneHole(0x100000, kMiB);
}

std::vector<void*> AllocateMany(HoleAllocator& heap, std::mt19937_64& rng, int n) {
  std::vector<void*> blocks;
  for (int i = 0; i < n; ++i) {
    void* p = rng() % 4 == 0 ? heap.Xspanalloc(1 + rng() % 5000, uint64_t{1} << (rng() % 13), 0)
                             : heap.Xalloc(1 + rng() % 3000);
    EXPECT_NE(p, nullptr);
    blocks.push_back(p);
  }
  return blocks;
}

// Whatever the order of the frees, the blocks coalesce back into the single hole that was donated.
//
//   before:  [a][b][c][d]...[z][ free ]
//   after:   [           free         ]
TEST_F(XallocTest, FreeInAddressOrderCoalescesToOneHole) {
  Donate(0x100000, 16 * kMiB);
  std::vector<void*> blocks = AllocateMany(heap_, rng_, 500);
  for (void* p : blocks) heap_.Xfree(p);  // allocation order is address order here
  heap_.Validate();
  ExpectOneHole(0x100000, 16 * kMiB);
}

TEST_F(XallocTest, FreeInReverseOrderCoalescesToOneHole) {
  Donate(0x100000, 16 * kMiB);
  std::vector<void*> blocks = AllocateMany(heap_, rng_, 500);
  std::reverse(blocks.begin(), blocks.end());
  for (void* p : blocks) heap_.Xfree(p);
  heap_.Validate();
  ExpectOneHole(0x100000, 16 * kMiB);
}

TEST_F(XallocTest, FreeInRandomOrderCoalescesToOneHole) {
  Donate(0x100000, 16 * kMiB);
  for (int round = 0; round < 5; ++round) {
    std::vector<void*> blocks = AllocateMany(heap_, rng_, 100);  // at most 100 holes plus the tail
    std::shuffle(blocks.begin(), blocks.end(), rng_);
    for (void* p : blocks) {
      heap_.Xfree(p);
      heap_.Validate();
    }
    ExpectOneHole(0x100000, 16 * kMiB);
  }
}

//   [a][b][c][rest]  free a, c:  (a)[b](c rest)  free b:  (a b c rest)
TEST_F(XallocTest, FreeBetweenTwoHolesMergesThree) {
  Donate(0x100000, kMiB);
  void* a = heap_.Xalloc(64);
  void* b = heap_.Xalloc(64);
  void* c = heap_.Xalloc(64);
  heap_.Xfree(a);
  heap_.Xfree(c);
  EXPECT_EQ(heap_.HoleCount(), 2u);
  heap_.Xfree(b);
  ExpectOneHole(0x100000, kMiB);
}

TEST_F(XallocTest, ExhaustionReturnsNullAndKeepsTheTable) {
  Donate(0x100000, 64 * 1024);
  std::vector<void*> blocks;
  while (void* p = heap_.Xalloc(1000)) blocks.push_back(p);
  EXPECT_EQ(blocks.size(), 64 * 1024 / (1008 + kHeaderBytes));
  XallocStats full = heap_.Stats();
  EXPECT_EQ(heap_.Xalloc(1000), nullptr);
  EXPECT_EQ(heap_.Xspanalloc(16, 4096, 0), nullptr);
  EXPECT_EQ(heap_.Xalloc(UINT64_MAX), nullptr);
  EXPECT_EQ(heap_.Xalloc(UINT64_MAX - 8), nullptr);
  EXPECT_EQ(heap_.Stats().free, full.free);
  EXPECT_EQ(heap_.Stats().blocks, full.blocks);
  heap_.Validate();
  for (void* p : blocks) heap_.Xfree(p);
  ExpectOneHole(0x100000, 64 * 1024);
}

TEST_F(XallocTest, RequestLargerThanAnyHoleFails) {
  Donate(0x100000, kMiB);
  Donate(0x300000, kMiB);
  EXPECT_EQ(heap_.Xalloc(kMiB), nullptr);  // the header does not fit
  EXPECT_NE(heap_.Xalloc(kMiB - kHeaderBytes), nullptr);
}

TEST_F(XallocTest, DonationAddsAHoleAndMergesWithNeighbours) {
  Donate(0x100000, kMiB);
  EXPECT_EQ(heap_.Xalloc(2 * kMiB), nullptr);
  Donate(0x200000, 2 * kMiB);  // touches the first: one hole of 3 MiB
  ExpectOneHole(0x100000, 3 * kMiB);
  EXPECT_NE(heap_.Xalloc(2 * kMiB), nullptr);
  heap_.Validate();
}

TEST_F(XallocTest, DonationTrimsToSixteenBytes) {
  Donate(0x100001, 0x1000);
  ASSERT_EQ(heap_.HoleCount(), 1u);
  EXPECT_EQ(heap_.Hole(0).base, PhysAddr(0x100010));
  EXPECT_EQ(heap_.Hole(0).end(), PhysAddr(0x101000));
}

TEST_F(XallocTest, DonationErrorsChangeNothing) {
  Donate(0x100000, kMiB);
  XallocStats before = heap_.Stats();
  EXPECT_EQ(heap_.Xhole(PhysAddr(0x180000), kMiB), XholeStatus::kOverlaps);
  EXPECT_EQ(heap_.Xhole(PhysAddr(0x0ff000), 0x2000), XholeStatus::kOverlaps);
  EXPECT_EQ(heap_.Xhole(PhysAddr(0x400000), 40), XholeStatus::kTooSmall);
  EXPECT_EQ(heap_.Xhole(PhysAddr(0x400008), 16), XholeStatus::kTooSmall);
  EXPECT_EQ(heap_.Xhole(PhysAddr(60 * kMiB), 8 * kMiB), XholeStatus::kOutsideDirectMap);
  EXPECT_EQ(heap_.Xhole(PhysAddr(UINT64_MAX - 0xfff), 0x2000), XholeStatus::kOutsideDirectMap);
  EXPECT_EQ(heap_.Stats().donated, before.donated);
  EXPECT_EQ(heap_.HoleCount(), 1u);
  EXPECT_STREQ(XholeStatusName(XholeStatus::kOverlaps), "overlaps memory already donated");
}

TEST_F(XallocTest, DonatedRangeTableHoldsSixtyFourDisjointRanges) {
  for (uint64_t i = 0; i < HoleAllocator::kMaxArenas; ++i) Donate(i * 0x10000, 0x1000);
  EXPECT_EQ(heap_.Xhole(PhysAddr(0x800000), 0x1000), XholeStatus::kArenaTableFull);
  Donate(0x1000, 0x1000);  // touches the first range: merges, needs no slot
  heap_.Validate();
}

// 129 blocks, free every other one: each free makes a new hole until the table is full; the next free
// leaks its block (counted, printed) and the table stays consistent.
TEST_F(XallocTest, FreeWithTheHoleTableFullLeaks) {
  Donate(0x100000, 16 * kMiB);
  std::vector<void*> blocks;
  for (size_t i = 0; i < 2 * HoleAllocator::kMaxHoles + 2; ++i) blocks.push_back(heap_.Xalloc(64));
  for (size_t i = 0; i + 1 < HoleAllocator::kMaxHoles; ++i) heap_.Xfree(blocks[2 * i]);
  EXPECT_EQ(heap_.HoleCount(), HoleAllocator::kMaxHoles);
  void* leaked = blocks[2 * (HoleAllocator::kMaxHoles - 1)];
  {
    testing::ConsoleCapture console;
    heap_.Xfree(leaked);
    EXPECT_NE(console.text().find("xfree: hole table full (128 holes), leaked 0x60 bytes"), std::string::npos)
        << console.text();
  }
  EXPECT_EQ(heap_.Stats().leaked, 0x60u);
  heap_.Validate();
  // A free next to a hole still merges with no slot needed.
  heap_.Xfree(blocks[1]);
  EXPECT_EQ(heap_.Stats().leaked, 0x60u);
  heap_.Validate();
  EXPECT_XFREE_DEATH(heap_, leaked, "double free: the block at pa 0x[0-9a-f]+ was freed \\(and leaked");
}

TEST_F(XallocTest, SummaryListsHolesAndTotals) {
  // The QEMU 32M map, with the kernel image [1 MiB, 2 MiB) already taken out by the caller.
  RamRange ram[] = {{PhysAddr(0), 0x9fc00}, {PhysAddr(0x200000), 0x1fe0000 - 0x200000}};
  ASSERT_EQ(heap_.Xinit(ram, 2), XholeStatus::kOk);
  heap_.Xalloc(0x2000 - kHeaderBytes);
  testing::ConsoleCapture console;
  heap_.Xsummary();
  EXPECT_EQ(console.text(),
            "xalloc: 2 holes (max 128), 31223 KiB free, 8 KiB in 1 blocks, 0 KiB leaked, 31231 KiB donated\n"
            "  hole 0x0000000000002000 0x000000000009fc00 631 KiB\n"
            "  hole 0x0000000000200000 0x0000000001fe0000 30592 KiB\n");
}

TEST_F(XallocTest, RampageUsesTheEarlySourceUntilXinit) {
  struct Source {
    std::vector<uint64_t> pages{0x3000000, 0x3001000};
  } source;
  heap_.SetEarlyPageSource(EarlyPageSource{
      [](void* ctx, PhysAddr* out) {
        auto* s = static_cast<Source*>(ctx);
        if (s->pages.empty()) return false;
        *out = PhysAddr(s->pages.back());
        s->pages.pop_back();
        return true;
      },
      &source});
  std::memset(ram_.direct_map().Kaddr(PhysAddr(0x3000000)), 0xcc, 0x2000);
  auto* a = static_cast<uint8_t*>(heap_.Rampage());
  auto* b = static_cast<uint8_t*>(heap_.Rampage());
  EXPECT_EQ(Pa(a), PhysAddr(0x3001000));
  EXPECT_EQ(Pa(b), PhysAddr(0x3000000));
  EXPECT_TRUE(std::all_of(a, a + kPageSize, [](uint8_t x) { return x == 0; }));
  EXPECT_EQ(heap_.Rampage(), nullptr);  // the early source is exhausted

  RamRange ram[] = {{PhysAddr(0x100000), kMiB}};
  ASSERT_EQ(heap_.Xinit(ram, 1), XholeStatus::kOk);
  std::memset(ram_.direct_map().Kaddr(PhysAddr(0x100000)), 0xcc, kMiB);
  auto* c = static_cast<uint8_t*>(heap_.Rampage());
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(Pa(c).IsAlignedTo(kPageSize));
  EXPECT_GE(Pa(c), PhysAddr(0x100000));
  EXPECT_LT(Pa(c), PhysAddr(0x200000));
  EXPECT_TRUE(std::all_of(c, c + kPageSize, [](uint8_t x) { return x == 0; }));
  EXPECT_EQ(heap_.Stats().blocks, 1u);
}

TEST_F(XallocTest, RampageWithNoSourceReturnsNull) { EXPECT_EQ(heap_.Rampage(), nullptr); }

// The kernel's page tables take their pages from Rampage while the address space's lock is held, and the
// pools grow from xalloc under their global-level locks: both are below-the-caller acquisitions.
TEST_F(XallocTest, CallableUnderGlobalAndAddressSpaceLocks) {
  Donate(0x100000, kMiB);
  ASSERT_EQ(heap_.Xinit(nullptr, 0), XholeStatus::kOk);
  SpinLock pool("mainmem", LockLevel::kGlobal), space("kernel space", LockLevel::kAddressSpace);
  pool.Lock();
  space.Lock();
  void* table = heap_.Rampage();
  void* block = heap_.Xalloc(100);
  EXPECT_NE(table, nullptr);
  EXPECT_NE(block, nullptr);
  heap_.Xfree(block);
  heap_.Xfree(table);
  space.Unlock();
  pool.Unlock();
}

// Before Xinit, Rampage's source is the memory map, whose lock is at xalloc's own level: Rampage must ask
// it with xalloc's lock dropped.
TEST_F(XallocTest, RampageAsksTheEarlySourceWithoutItsLock) {
  static SpinLock map_lock("memmap", LockLevel::kEarlyAlloc);
  heap_.SetEarlyPageSource(EarlyPageSource{[](void*, PhysAddr* out) {
                                             LockGuard g(map_lock);
                                             *out = PhysAddr(0x3000000);
                                             return true;
                                           },
                                           nullptr});
  EXPECT_NE(heap_.Rampage(), nullptr);
}

// Threads allocate blocks, fill them with their own tag and pass them through a shared list; each frees
// what it takes from the list, mostly blocks another thread allocated, after checking the tag: a block
// handed out twice, or a free that corrupted a neighbour, breaks a tag or the final Validate.
TEST_F(XallocTest, ThreadsAllocateAndFreeEachOthersBlocks) {
  Donate(0x100000, 16 * kMiB);
  constexpr int kThreads = 4, kRounds = 20000;
  struct Live {
    uint8_t* p;
    uint32_t size;
    uint8_t tag;
  };
  std::mutex list_lock;
  std::vector<Live> list;
  std::atomic<int> broken{0};
  auto check_and_free = [&](const Live& b) {
    if (!std::all_of(b.p, b.p + b.size, [&](uint8_t x) { return x == b.tag; })) broken.fetch_add(1);
    heap_.Xfree(b.p);
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < kRounds; ++i) {
        const uint32_t size = 1 + rng() % 512;
        auto* p = static_cast<uint8_t*>(heap_.Xalloc(size));
        if (p == nullptr) {
          broken.fetch_add(1);  // 16 MiB holds far more than the live blocks
          return;
        }
        const uint8_t tag = static_cast<uint8_t>(rng());
        std::memset(p, tag, size);
        Live other{};
        {
          std::lock_guard<std::mutex> g(list_lock);
          list.push_back(Live{p, size, tag});
          if (list.size() < 64) continue;
          std::swap(list[rng() % list.size()], list.back());
          other = list.back();
          list.pop_back();
        }
        check_and_free(other);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(broken.load(), 0);
  for (const Live& b : list) check_and_free(b);
  heap_.Validate();
  ExpectOneHole(0x100000, 16 * kMiB);
}

// Exactly kBlocks blocks fit; threads released together race for them until the space runs out, then
// free each other's blocks, a hundred times over. Every block is granted once: the successes add up to
// kBlocks, no pointer is handed out twice, and the table is consistent after each phase. 200 blocks keep
// the holes of any free order (at most one a freed block) under kMaxHoles, so no free leaks.
TEST_F(XallocTest, ExhaustionUnderContentionGrantsEveryBlockOnce) {
  constexpr uint64_t kPayload = 96, kBlocks = 200;  // 96 bytes + a 32-byte header: 128 bytes a block
  Donate(0x100000, kBlocks * (kPayload + kHeaderBytes));
  constexpr int kThreads = 4;
  std::vector<std::vector<void*>> got(kThreads);
  // Runs body(t) on kThreads threads that start at once.
  auto race = [&](auto body) {
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        ready.fetch_add(1);
        while (ready.load() != kThreads) CpuRelax();
        body(t);
      });
    }
    for (std::thread& t : threads) t.join();
  };
  for (int round = 0; round < 100; ++round) {
    race([&](int t) {
      while (void* p = heap_.Xalloc(kPayload)) got[t].push_back(p);
    });
    std::vector<void*> all;
    for (const auto& g : got) all.insert(all.end(), g.begin(), g.end());
    EXPECT_EQ(all.size(), kBlocks);
    std::sort(all.begin(), all.end());
    EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end());
    EXPECT_EQ(heap_.Stats().free, 0u);
    EXPECT_EQ(heap_.Stats().blocks, kBlocks);
    heap_.Validate();
    race([&](int t) {
      for (void* p : got[(t + 1) % kThreads]) heap_.Xfree(p);
    });
    for (auto& g : got) g.clear();
    heap_.Validate();
    ExpectOneHole(0x100000, kBlocks * (kPayload + kHeaderBytes));
  }
}

using XallocDeathTest = XallocTest;

TEST_F(XallocDeathTest, CallingItUnderAZoneLockPanics) {
  Donate(0x100000, kMiB);
  SpinLock zone("palloc zone normal", LockLevel::kZone);
  EXPECT_DEATH(
      {
        zone.Lock();
        heap_.Xalloc(16);
      },
      "lock order: cpu [0-9]+ takes spinlock 'xalloc' \\(early allocator level\\) while holding 'palloc zone "
      "normal' \\(zone level\\)");
}

TEST_F(XallocDeathTest, WrongMagicPanicsWithTheAddress) {
  Donate(0x100000, kMiB);
  heap_.Xalloc(10);
  auto* p = static_cast<uint8_t*>(heap_.Xalloc(10));
  p[-int(kHeaderBytes)] ^= 1;  // the low byte of the magic
  EXPECT_XFREE_DEATH(heap_, p, "wrong magic 0x[0-9a-f]+ in its header at pa 0x100030 \\(expected 0x[0-9a-f]+\\)");
}

TEST_F(XallocDeathTest, OverwrittenSizePanics) {
  Donate(0x100000, kMiB);
  auto* p = static_cast<uint64_t*>(heap_.Xalloc(10));
  p[-3] = 0x1000;  // the size field: the check word no longer matches
  EXPECT_XFREE_DEATH(heap_, p, "corrupt size 0x1000 or lead 0x0 in its header at pa 0x100000");
}

TEST_F(XallocDeathTest, OverwrittenHeaderBelowIsNamed) {
  Donate(0x100000, kMiB);
  auto* a = static_cast<uint8_t*>(heap_.Xalloc(10));
  heap_.Xalloc(10);
  auto* c = static_cast<uint8_t*>(heap_.Xalloc(10));
  std::memset(a, 0xee, 48);  // runs over b's header
  EXPECT_XFREE_DEATH(heap_, c + 1, "wrong magic 0xeeeeeeeeeeeeeeee in the block header below it at pa 0x100030");
}

//   0x100000       0x100020   0x100030       0x100050
//   | a's header  | a (16 B)  | b's header   | b        a's overflow smashes b's magic
TEST_F(XallocDeathTest, OverflowIntoTheHeaderAbovePanicsOnFree) {
  Donate(0x100000, kMiB);
  auto* a = static_cast<uint8_t*>(heap_.Xalloc(16));
  heap_.Xalloc(16);
  std::memset(a, 0xee, 24);
  EXPECT_XFREE_DEATH(heap_, a,
                     "header at pa 0x100030 of the tile above smashed \\(magic 0xeeeeeeeeeeeeeeee\\): "
                     "the block overflowed");
}

TEST_F(XallocDeathTest, OverflowIntoAPadMarkerAbovePanicsOnFree) {
  Donate(0x100000, kMiB);
  auto* a = static_cast<uint8_t*>(heap_.Xalloc(16));
  ASSERT_NE(heap_.Xspanalloc(16, 4096, 0), nullptr);  // its pad marker sits right above a, at 0x100030
  a[16] ^= 1;
  EXPECT_XFREE_DEATH(heap_, a, "header at pa 0x100030 of the tile above smashed \\(magic 0x[0-9a-f]+\\)");
}

TEST_F(XallocDeathTest, DoubleFreePanics) {
  Donate(0x100000, kMiB);
  void* a = heap_.Xalloc(10);
  heap_.Xalloc(10);
  heap_.Xfree(a);
  EXPECT_XFREE_DEATH(heap_, a, "double free: pa 0x100020 is in the free hole \\[0x100000, 0x100030\\)");
}

TEST_F(XallocDeathTest, PointerIntoTheMiddlePanics) {
  Donate(0x100000, kMiB);
  auto* p = static_cast<uint8_t*>(heap_.Xalloc(256));
  EXPECT_XFREE_DEATH(heap_, p + 64, "pointer into the middle of the block at pa 0x100000 \\(0x120 bytes\\)");
  EXPECT_XFREE_DEATH(heap_, p + 3, "pointer into the middle of the block at pa 0x100000");
  void* q = heap_.Xspanalloc(100, 4096, 0);
  // Into q's pad: the pad belongs to q's block.
  EXPECT_XFREE_DEATH(heap_, p + 0x200, "pointer into the middle of the block at pa 0x100120");
  heap_.Xfree(q);
}

TEST_F(XallocDeathTest, ForeignPointerPanics) {
  Donate(0x100000, kMiB);
  int on_the_stack = 0;
  EXPECT_XFREE_DEATH(heap_, &on_the_stack, "foreign pointer: not in the direct map");
  // In the direct map, but never donated.
  EXPECT_XFREE_DEATH(heap_, ram_.direct_map().Kaddr(PhysAddr(0x300000)),
                     "foreign pointer: pa 0x300000 is not in memory given to xalloc");
  EXPECT_XFREE_DEATH(heap_, nullptr, "foreign pointer");
}

}  // namespace
}  // namespace kmem
