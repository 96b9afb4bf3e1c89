// The kernel's pageinit sequence over simulated RAM: confinit splits the banks, preallocpages puts the page
// allocator's arrays at the top of a user bank, and pageinit hands the page allocator the rest, for each
// backend.
#include "mm/palloc/pageinit.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "mm/palloc/buddy.h"
#include "mm/palloc/colour.h"
#include "testing/console_capture.h"
#include "testing/palloc_backends.h"
#include "testing/phys_arena.h"

namespace kmem {
namespace {

constexpr uint64_t kMiB = 1 << 20;

template <typename Backend>
class PageInitTest : public ::testing::Test {};
using Backends = testing::PallocBackends;
using BackendNames = testing::PallocBackendNames;
TYPED_TEST_SUITE(PageInitTest, Backends, BackendNames);

// 64 MiB of simulated RAM at 0 with the image [1 MiB, 3 MiB) taken out and a hole at [40 MiB, 41 MiB):
//
//   0      640K   3M                     40M  41M                64M
//   |low RAM|      |kernel | user bank 1 |hole| user bank 2, arrays at its top ▓|
//
// The arrays come off the top of the highest user bank, every other user page goes to the page allocator.
// Allocating every page once and writing each shows that none overlaps the arrays or the kernel share.
TYPED_TEST(PageInitTest, EveryUserPageOnceOutsideTheArrays) {
  testing::PhysArena ram(PhysAddr(0), 64 * kMiB);
  const RamRange map[] = {{PhysAddr(41 * kMiB), 23 * kMiB}, {PhysAddr(0), 0x9fc00},
                          {PhysAddr(3 * kMiB), 37 * kMiB}};
  testing::ConsoleCapture console;
  Conf conf;
  ASSERT_EQ(Confinit(map, 3, ConfParams{ram.direct_map(), 2 * kMiB, PhysAddr(kMiB)}, &conf), ConfStatus::kOk);
  ASSERT_GT(conf.upages, 0u);

  PreallocPlan plan;
  Palloc<TypeParam> palloc;
  PageInitStatus s = PageInit(conf, ram.direct_map(), 4, &plan, &palloc);
  ASSERT_TRUE(s.ok()) << PreallocStatusName(s.prealloc);
  EXPECT_EQ(s.user_banks, 2u);
  EXPECT_EQ(plan.base + plan.bytes, PhysAddr(64 * kMiB)) << "the arrays are not at the top of high memory";
  EXPECT_NE(console.text().find("preallocpages: "), std::string::npos);

  std::vector<PhysAddr> pages;
  for (PageResult r = palloc.TryAllocContig(0); r.status == PallocStatus::kOk; r = palloc.TryAllocContig(0)) {
    PhysAddr pa = palloc.Pa(r.page);
    EXPECT_TRUE(pa + kPageSize <= plan.base || plan.base + plan.bytes <= pa) << "page in the arrays";
    std::memset(ram.direct_map().Kaddr<char>(pa), 0xa5, kPageSize);
    pages.push_back(pa);
  }
  palloc.Validate();  // the arrays survived every page being written
  EXPECT_EQ(conf.npage, conf.kpages + plan.bytes / kPageSize + pages.size());
  for (PhysAddr pa : pages) palloc.FreeContig(pa, 0);
  palloc.Validate();
  EXPECT_EQ(palloc.FreeCount(), pages.size());
}

// The arrays of a bank the direct map does not reach cannot be written: pageinit refuses rather than
// placing them there.
TYPED_TEST(PageInitTest, ArraysOutOfReachAreRefused) {
  testing::PhysArena ram(PhysAddr(0), 8 * kMiB);
  const RamRange map[] = {{PhysAddr(3 * kMiB), 5 * kMiB}};
  testing::ConsoleCapture console;
  Conf conf;
  ASSERT_EQ(Confinit(map, 1, ConfParams{ram.direct_map(), 2 * kMiB, PhysAddr(kMiB)}, &conf), ConfStatus::kOk);
  PreallocPlan plan;
  Palloc<TypeParam> palloc;
  const DirectMap low(PhysAddr(0), 4 * kMiB, reinterpret_cast<uintptr_t>(ram.direct_map().Kaddr(PhysAddr(0))));
  PageInitStatus s = PageInit(conf, low, 1, &plan, &palloc);
  EXPECT_EQ(s.prealloc, PreallocStatus::kNoRoom);
  EXPECT_EQ(palloc.FreeCount(), 0u);
}

TEST(PageInitArrayNeeds, CoverEveryBankSize) {
  ConfNeeds needs;
  PageInitArrayNeeds(&Palloc<BuddyBackend>::BankBytes, &needs);
  for (uint64_t pages : {uint64_t{1}, uint64_t{7}, uint64_t{4096}, uint64_t{1} << 18}) {
    EXPECT_LE(Palloc<BuddyBackend>::BankBytes(PhysAddr(0), pages), needs.arrays_per_page * pages + needs.arrays_fixed)
        << pages << " pages";
  }
}

}  // namespace
}  // namespace kmem
