// The kernel's pool set-up over simulated RAM, in the boot's order: confinit, xinit, the pools over xalloc,
// pageinit, the pools and the slab caches over the page allocator. The limits are confinit's throughout,
// and each phase grows from the source it names.
#include "mm/pool/poolinit.h"

#include <gtest/gtest.h>

#include "mm/palloc/buddy.h"
#include "mm/palloc/pageinit.h"
#include "mm/pool/slab.h"
#include "testing/console_capture.h"
#include "testing/phys_arena.h"

namespace kmem::pool {
namespace {

constexpr uint64_t kMiB = 1 << 20;

void ExpectConfLimits(const Conf& conf) {
  EXPECT_EQ(PoolLimit(mainmem), conf.mainmem_limit);
  EXPECT_EQ(PoolLimit(imagmem), conf.imagmem_limit);
  EXPECT_EQ(PoolLimit(secrmem), conf.secrmem_limit);
}

TEST(PoolInit, ConfLimitsFromXallocThenFromPages) {
  testing::PhysArena ram(PhysAddr(0), 64 * kMiB);
  const RamRange map[] = {{PhysAddr(3 * kMiB), 61 * kMiB}, {PhysAddr(0), 0x9fc00}};
  testing::ConsoleCapture console;
  Conf conf;
  ASSERT_EQ(Confinit(map, 2, ConfParams{ram.direct_map(), 2 * kMiB, PhysAddr(kMiB)}, &conf), ConfStatus::kOk);
  RamRange kernel[kMaxRamBanks];
  HoleAllocator xalloc(ram.direct_map());
  ASSERT_EQ(xalloc.Xinit(kernel, conf.KernelRanges(kernel, kMaxRamBanks)), XholeStatus::kOk);

  PoolsEarly(conf, xalloc);
  ExpectConfLimits(conf);
  const uint64_t xfree = xalloc.Stats().free;
  void* early = Malloc(1000);
  ASSERT_NE(early, nullptr);
  EXPECT_LT(xalloc.Stats().free, xfree) << "mainmem did not grow from xalloc";

  PreallocPlan plan;
  Palloc<BuddyBackend> palloc;
  ASSERT_TRUE(PageInit(conf, ram.direct_map(), 1, &plan, &palloc).ok());
  PageSpans<Palloc<BuddyBackend>> spans(palloc, ram.direct_map());
  PoolsLate(conf, spans.source());
  ExpectConfLimits(conf);
  const uint64_t pfree = palloc.FreeCount();
  void* late = Malloc(2 * kPoolQuantum);  // more than any arena mainmem holds: it must grow
  ASSERT_NE(late, nullptr);
  EXPECT_LT(palloc.FreeCount(), pfree) << "mainmem did not grow from the page allocator";
  void* small = Kmalloc(64);
  ASSERT_NE(small, nullptr);
  Kfree(small);
  Free(late);
  Free(early);
  PoolCheck(mainmem);
  palloc.Validate();
}

TEST(SpanOrder, NaturalBlockOfSizeAndAlignment) {
  EXPECT_EQ(SpanOrder(kPageSize, kPageSize), 0u);
  EXPECT_EQ(SpanOrder(kPageSize + 1, kPageSize), 1u);
  EXPECT_EQ(SpanOrder(kPageSize, 4 * kPageSize), 2u);
  EXPECT_EQ(SpanOrder(64 << 10, 64 << 10), 4u);
}

}  // namespace
}  // namespace kmem::pool
