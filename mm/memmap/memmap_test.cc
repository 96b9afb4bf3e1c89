#include "mm/memmap/memmap.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "mm/base/lock.h"
#include "testing/console_capture.h"
#include "testing/e820_model.h"

namespace kmem {
namespace {

constexpr uint64_t kPage = kPageSize;

struct Span {
  uint64_t base, end;
  MemType type;
  MemUse use = MemUse::kFree;
  bool operator==(const Span&) const = default;
};

std::vector<Span> Entries(const Memmap& m) {
  std::vector<Span> v;
  for (size_t i = 0; i < m.count(); ++i) {
    const MemRange& r = m.entry(i);
    v.push_back(Span{r.base.value(), r.end().value(), r.type, r.use});
  }
  EXPECT_EQ(testing::MemmapCheckShape(m), "");
  return v;
}

void Add(Memmap* m, uint64_t base, uint64_t end, MemType t) {
  ASSERT_EQ(m->Add(PhysAddr(base), end - base, t), MemmapStatus::kOk);
}

// The same additions in every order give the same map: the result depends on the ranges, not the order.
struct Addition {
  uint64_t base, end;
  MemType type;
};
std::vector<Span> AddAllShuffled(const std::vector<Addition>& adds, std::vector<Span> want) {
  std::vector<Addition> order = adds;
  std::mt19937 rng(7);
  std::vector<Span> got;
  for (int round = 0; round < 20; ++round) {
    Memmap m{PhysAddr(testing::kPhysLimit)};
    for (const Addition& a : order) Add(&m, a.base, a.end, a.type);
    got = Entries(m);
    EXPECT_EQ(got, want) << "round " << round;
    std::shuffle(order.begin(), order.end(), rng);
  }
  return got;
}

//   RAM       |-----------|
//   Reserved          |--------|
//   result    |RAM----|Res-----|
TEST(Memmap, AddOverlapsTop) {
  AddAllShuffled({{0x1000, 0x9000, MemType::kRam}, {0x6000, 0xc000, MemType::kReserved}},
                 {{0x1000, 0x6000, MemType::kRam}, {0x6000, 0xc000, MemType::kReserved}});
}

//   RAM         |-----------------|
//   UMB    |--------|        |---------|
//   result |UMB|RAM-----------------|UMB|
TEST(Memmap, LessRestrictiveTypeFillsOnlyAround) {
  AddAllShuffled(
      {{0x4000, 0x10000, MemType::kRam}, {0x1000, 0x6000, MemType::kUmb}, {0xe000, 0x12000, MemType::kUmb}},
      {{0x1000, 0x4000, MemType::kUmb}, {0x4000, 0x10000, MemType::kRam}, {0x10000, 0x12000, MemType::kUmb}});
}

//   RAM    |-------------------------|
//   ACPI        |-------------|
//   Res.           |-----|
//   result |RAM|ACPI|Res.|ACPI|RAM---|
TEST(Memmap, AddNestedThreeDeep) {
  AddAllShuffled(
      {{0x0, 0x20000, MemType::kRam}, {0x4000, 0x10000, MemType::kAcpi}, {0x6000, 0x8000, MemType::kReserved}},
      {{0x0, 0x4000, MemType::kRam},
       {0x4000, 0x6000, MemType::kAcpi},
       {0x6000, 0x8000, MemType::kReserved},
       {0x8000, 0x10000, MemType::kAcpi},
       {0x10000, 0x20000, MemType::kRam}});
}

TEST(Memmap, AdjacentSameTypeMerge) {
  AddAllShuffled({{0x0, 0x3000, MemType::kRam}, {0x3000, 0x5000, MemType::kRam}, {0x5000, 0x6000, MemType::kRam}},
                 {{0x0, 0x6000, MemType::kRam}});
}

TEST(Memmap, RamTrimmedInwardToPages) {
  Memmap m{PhysAddr(testing::kPhysLimit)};
  Add(&m, 0x1018, 0x5ff0, MemType::kRam);
  EXPECT_EQ(Entries(m), (std::vector<Span>{{0x2000, 0x5000, MemType::kRam}}));
  // Less than a page: nothing to add, and not an error.
  Add(&m, 0x8001, 0x8fff, MemType::kRam);
  EXPECT_EQ(m.count(), 1u);
}

//   RAM       |------|------|
//   ACPI (unaligned)  |^^|           widened to the page boundaries around it
//   result    |RAM|ACPI--|RAM|
TEST(Memmap, ReservedWidenedOutwardToPages) {
  Memmap m{PhysAddr(testing::kPhysLimit)};
  Add(&m, 0x0, 0x10000, MemType::kRam);
  Add(&m, 0x5018, 0x6800, MemType::kAcpi);
  EXPECT_EQ(Entries(m),
            (std::vector<Span>{
                {0x0, 0x5000, MemType::kRam}, {0x5000, 0x7000, MemType::kAcpi}, {0x7000, 0x10000, MemType::kRam}}));
}

TEST(Memmap, AddRejectsEmptyWrappingAndBeyondLimit) {
  Memmap m{PhysAddr(testing::kPhysLimit)};
  EXPECT_EQ(m.Add(PhysAddr(0x1000), 0, MemType::kRam), MemmapStatus::kOutOfRange);
  EXPECT_EQ(m.Add(PhysAddr(testing::kPhysLimit - kPage), 2 * kPage, MemType::kRam), MemmapStatus::kOutOfRange);
  EXPECT_EQ(m.Add(PhysAddr(~uint64_t{0} - 10), 100, MemType::kReserved), MemmapStatus::kOutOfRange);
  EXPECT_EQ(m.Add(PhysAddr(testing::kPhysLimit - kPage), kPage, MemType::kRam), MemmapStatus::kOk);
  EXPECT_EQ(m.count(), 1u);
}

TEST(Memmap, AllocAnyTakesLowestFitAndNeverTwice) {
  Memmap m{PhysAddr(testing::kPhysLimit)};
  Add(&m, 0x1000, 0x3000, MemType::kRam);
  Add(&m, 0x10000, 0x20000, MemType::kRam);
  PhysAddr a, b, c;
  ASSERT_EQ(m.Alloc(Memmap::kAnyAddress, 0x2000, kPage, MemType::kRam, &a), MemmapStatus::kOk);
  EXPECT_EQ(a, PhysAddr(0x1000));
  // The first range is used up now.
  ASSERT_EQ(m.Alloc(Memmap::kAnyAddress, 0x1000, kPage, MemType::kRam, &b), MemmapStatus::kOk);
  EXPECT_EQ(b, PhysAddr(0x10000));
  ASSERT_EQ(m.Alloc(Memmap::kAnyAddress, 0x1000, kPage, MemType::kRam, &c), MemmapStatus::kOk);
  EXPECT_EQ(c, PhysAddr(0x11000));
  EXPECT_EQ(Entries(m), (std::vector<Span>{{0x1000, 0x3000, MemType::kRam, MemUse::kAllocated},
                                           {0x10000, 0x12000, MemType::kRam, MemUse::kAllocated},
                                           {0x12000, 0x20000, MemType::kRam}}));
  EXPECT_EQ(m.Size(MemType::kRam, MemUse::kFree), 0xe000u);
  EXPECT_EQ(m.Size(MemType::kRam, MemUse::kAllocated), 0x4000u);
}

TEST(Memmap, AllocAlignedSkipsUnalignedStart) {
  Memmap m{PhysAddr(testing::kPhysLimit)};
  Add(&m, 0x1000, 0x9000, MemType::kRam);
  Add(&m, 0x11000, 0x40000, MemType::kRam);
  PhysAddr a;
  // 0x1000-0x9000 holds no 0x8000-aligned 0x8000 bytes; 0x18000 is the first place that does.
  ASSERT_EQ(m.Alloc(Memmap::kAnyAddress, 0x8000, 0x8000, MemType::kRam, &a), MemmapStatus::kOk);
  EXPECT_EQ(a, PhysAddr(0x18000));
  EXPECT_EQ(m.Alloc(Memmap::kAnyAddress, 0x1000, 3, MemType::kRam, &a), MemmapStatus::kBadAlignment);
}

TEST(Memmap, AllocFixedInsideFreeRange) {
  Memmap m{PhysAddr(testing::kPhysLimit)};
  Add(&m, 0x0, 0x10000, MemType::kRam);
  PhysAddr a;
  ASSERT_EQ(m.Alloc(0x4000, 0x2000, kPage, MemType::kRam, &a), MemmapStatus::kOk);
  EXPECT_EQ(a, PhysAddr(0x4000));
  EXPECT_EQ(m.Alloc(0x5000, 0x1000, kPage, MemType::kRam, &a), MemmapStatus::kNoSpace) << "handed out twice";
  EXPECT_EQ(m.Alloc(0xf000, 0x2000, kPage, MemType::kRam, &a), MemmapStatus::kNoSpace) << "runs past RAM";
  EXPECT_EQ(m.Alloc(0x8000, 0x1000, kPage, MemType::kAcpi, &a), MemmapStatus::kNoSpace) << "wrong type";
  EXPECT_EQ(m.Alloc(0x8800, 0x1000, kPage, MemType::kRam, &a), MemmapStatus::kBadAlignment);
}

TEST(Memmap, FreeReturnsAndMergesBack) {
  Memmap m{PhysAddr(testing::kPhysLimit)};
  Add(&m, 0x0, 0x10000, MemType::kRam);
  PhysAddr a, b;
  ASSERT_EQ(m.Alloc(0x4000, 0x2000, kPage, MemType::kRam, &a), MemmapStatus::kOk);
  ASSERT_EQ(m.Alloc(0x6000, 0x2000, kPage, MemType::kRam, &b), MemmapStatus::kOk);
  EXPECT_EQ(m.count(), 3u) << "back-to-back allocations merge";
  EXPECT_EQ(m.Free(PhysAddr(0x2000), 0x3000, MemType::kRam), MemmapStatus::kNotAllocated);
  EXPECT_EQ(m.Free(PhysAddr(0x4000), 0x2000, MemType::kAcpi), MemmapStatus::kNotAllocated);
  ASSERT_EQ(m.Free(PhysAddr(0x4000), 0x2000, MemType::kRam), MemmapStatus::kOk);
  EXPECT_EQ(m.Free(PhysAddr(0x4000), 0x1000, MemType::kRam), MemmapStatus::kNotAllocated) << "double free";
  ASSERT_EQ(m.Free(PhysAddr(0x6000), 0x2000, MemType::kRam), MemmapStatus::kOk);
  EXPECT_EQ(Entries(m), (std::vector<Span>{{0x0, 0x10000, MemType::kRam}}));
}

TEST(Memmap, ReservedOverAllocatedRamWins) {
  Memmap m{PhysAddr(testing::kPhysLimit)};
  Add(&m, 0x0, 0x10000, MemType::kRam);
  PhysAddr a;
  ASSERT_EQ(m.Alloc(0x4000, 0x4000, kPage, MemType::kRam, &a), MemmapStatus::kOk);
  Add(&m, 0x0, 0x10000, MemType::kRam);  // adding RAM again frees nothing
  Add(&m, 0x6000, 0x7000, MemType::kReserved);
  EXPECT_EQ(Entries(m), (std::vector<Span>{{0x0, 0x4000, MemType::kRam},
                                           {0x4000, 0x6000, MemType::kRam, MemUse::kAllocated},
                                           {0x6000, 0x7000, MemType::kReserved},
                                           {0x7000, 0x8000, MemType::kRam, MemUse::kAllocated},
                                           {0x8000, 0x10000, MemType::kRam}}));
}

TEST(Memmap, NextAndRangesWalkFreeRangesOfOneType) {
  Memmap m{PhysAddr(testing::kPhysLimit)};
  Add(&m, 0x0, 0x4000, MemType::kRam);
  Add(&m, 0x4000, 0x5000, MemType::kAcpi);
  Add(&m, 0x5000, 0x9000, MemType::kRam);
  Add(&m, 0x100000, 0x200000, MemType::kRam);
  PhysAddr a;
  ASSERT_EQ(m.Alloc(0x5000, 0x4000, kPage, MemType::kRam, &a), MemmapStatus::kOk);
  std::vector<Span> walked;
  for (MemRange r : m.Ranges(MemType::kRam)) walked.push_back(Span{r.base.value(), r.end().value(), r.type, r.use});
  EXPECT_EQ(walked, (std::vector<Span>{{0x0, 0x4000, MemType::kRam}, {0x100000, 0x200000, MemType::kRam}}));
  MemRange r;
  ASSERT_TRUE(m.Next(PhysAddr(0x2000), MemType::kRam, &r));
  EXPECT_EQ(r.base, PhysAddr(0x0)) << "the range containing the address comes first";
  EXPECT_FALSE(m.Next(PhysAddr(0x200000), MemType::kRam, &r));
  EXPECT_FALSE(m.Next(PhysAddr(0), MemType::kUmb, &r));
}

// Alternating types need one entry each: the map takes exactly kCapacity of them, and a change needing one
// more fails with kFull and leaves the map as it was.
TEST(Memmap, RunningOutOfEntriesIsAnErrorThatChangesNothing) {
  Memmap m{PhysAddr(testing::kPhysLimit)};
  Add(&m, 0, 2 * kPage, MemType::kRam);
  for (size_t i = 1; i < Memmap::kCapacity; ++i) {
    Add(&m, (i + 1) * kPage, (i + 2) * kPage, i % 2 == 0 ? MemType::kRam : MemType::kAcpi);
  }
  ASSERT_EQ(m.count(), Memmap::kCapacity);
  std::vector<Span> before = Entries(m);
  EXPECT_EQ(m.Add(PhysAddr(0x10000000), kPage, MemType::kRam), MemmapStatus::kFull);
  PhysAddr a;
  EXPECT_EQ(m.Alloc(0, kPage, kPage, MemType::kRam, &a), MemmapStatus::kFull) << "the split needs an entry";
  EXPECT_EQ(Entries(m), before);
  // A change that needs no new entry still works in a full map.
  EXPECT_EQ(m.Alloc(0, 2 * kPage, kPage, MemType::kRam, &a), MemmapStatus::kOk);
}

TEST(Memmap, DumpPrintsTableAndUsableTotal) {
  Memmap m{PhysAddr(testing::kPhysLimit)};
  Add(&m, 0x0, 0x9f000, MemType::kRam);
  Add(&m, 0x100000, 0x200000, MemType::kRam);
  Add(&m, 0xf0000, 0x100000, MemType::kReserved);
  PhysAddr a;
  ASSERT_EQ(m.Alloc(0x100000, 0x1000, kPage, MemType::kRam, &a), MemmapStatus::kOk);
  testing::ConsoleCapture out;
  m.Dump();
  EXPECT_EQ(out.text(),
            "memmap: base               end (exclusive)    type                  size\n"
            "  0x0000000000000000 0x000000000009f000 RAM                  636 KiB\n"
            "  0x00000000000f0000 0x0000000000100000 Reserved              64 KiB\n"
            "  0x0000000000100000 0x0000000000101000 RAM      *             4 KiB\n"
            "  0x0000000000101000 0x0000000000200000 RAM                 1020 KiB\n"
            "memmap: usable RAM 1656 KiB (414 pages), allocated 4 KiB (marked *)\n");
}

}  // namespace
}  // namespace kmem

namespace kmem {
namespace {

// Before xinit the kernel's page-table pages come from the map while the kernel space's lock is held.
TEST(MemmapLocking, AllocIsCallableUnderAnAddressSpaceLock) {
  Memmap m(PhysAddr(uint64_t{1} << 40));
  ASSERT_EQ(m.Add(PhysAddr(0x100000), 0x100000, MemType::kRam), MemmapStatus::kOk);
  SpinLock space("kernel space", LockLevel::kAddressSpace);
  space.Lock();
  PhysAddr pa;
  EXPECT_EQ(m.Alloc(Memmap::kAnyAddress, kPageSize, kPageSize, MemType::kRam, &pa), MemmapStatus::kOk);
  space.Unlock();
}

TEST(MemmapLockingDeathTest, AllocUnderAZoneLockPanics) {
  Memmap m(PhysAddr(uint64_t{1} << 40));
  ASSERT_EQ(m.Add(PhysAddr(0x100000), 0x100000, MemType::kRam), MemmapStatus::kOk);
  SpinLock zone("palloc zone DMA", LockLevel::kZone);
  EXPECT_DEATH(
      {
        zone.Lock();
        PhysAddr pa;
        m.Alloc(Memmap::kAnyAddress, kPageSize, kPageSize, MemType::kRam, &pa);
      },
      "lock order: cpu [0-9]+ takes spinlock 'memmap' \\(early allocator level\\) while holding 'palloc zone "
      "DMA' \\(zone level\\)");
}

// Threads released together take pages out of 1 MiB of RAM until it runs out: each of the 256 pages goes
// to exactly one of them, round after round.
TEST(MemmapLocking, ConcurrentAllocsHandOutEveryPageOnce) {
  static Memmap m(PhysAddr(uint64_t{1} << 40));
  for (int round = 0; round < 100; ++round) {
    ASSERT_EQ(m.Add(PhysAddr(0x100000 + round * 0x100000), 0x100000, MemType::kRam), MemmapStatus::kOk);
    std::vector<std::vector<uint64_t>> got(4);
    std::vector<std::thread> threads;
    std::atomic<int> ready{0};
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        ready.fetch_add(1);
        while (ready.load() != 4) CpuRelax();
        PhysAddr pa;
        while (m.Alloc(Memmap::kAnyAddress, kPageSize, kPageSize, MemType::kRam, &pa) == MemmapStatus::kOk) {
          got[t].push_back(pa.value());
        }
      });
    }
    for (std::thread& t : threads) t.join();
    std::vector<uint64_t> all;
    for (const auto& g : got) all.insert(all.end(), g.begin(), g.end());
    std::sort(all.begin(), all.end());
    EXPECT_EQ(all.size(), 256u);
    EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end());
    EXPECT_EQ(m.Size(MemType::kRam, MemUse::kFree), 0u);
    EXPECT_EQ(m.Size(MemType::kRam, MemUse::kAllocated), (round + 1) * uint64_t{0x100000});
    EXPECT_EQ(testing::MemmapCheckShape(m), "");
  }
}

}  // namespace
}  // namespace kmem
