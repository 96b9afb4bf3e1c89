// The kernel's pool set-up over simulated RAM, in the boot's order: confinit, xinit, the pools over xalloc,
// pageinit, the pools and the slab caches over the page allocator. The limits are confinit's throughout,
// and each phase grows from the source it names.
#include "mm/pool/poolinit.h"

#include <gtest/gtest.h>

#include "mm/conf/meminit.h"
#include "mm/memmap/memmap.h"
#include "mm/palloc/buddy.h"
#include "mm/palloc/pageinit.h"
#include "mm/pool/selftest.h"
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
  PoolsLate(conf, spans.source(), {});
  ExpectConfLimits(conf);
  const auto held = [&] {
    uint64_t n = 0;
    for (unsigned z = 0; z < kZones; ++z) n += spans.Held(static_cast<PallocZone>(z));
    return n;
  };
  const uint64_t pfree = palloc.FreeCount(), held_before = held();
  void* late = Malloc(2 * kPoolQuantum);  // more than any arena mainmem holds: it must grow
  ASSERT_NE(late, nullptr);
  EXPECT_LT(palloc.FreeCount(), pfree) << "mainmem did not grow from the page allocator";
  EXPECT_EQ(held() - held_before, pfree - palloc.FreeCount()) << "the spans' count misses pages they hand out";
  void* small = Kmalloc(64);
  ASSERT_NE(small, nullptr);
  Kfree(small);
  Free(late);
  Free(early);
  PoolCheck(mainmem);
  palloc.Validate();
}

// The boot's needs on the host: no MMU self-test takes from the kernel share.
ConfNeeds HostBootNeeds() {
  ConfNeeds needs;
  needs.user_bytes = kSelfTestSourceBytes;
  PageInitArrayNeeds(&Palloc<BuddyBackend>::BankBytes, &needs);
  needs.mainmem_bytes = kSelfTestMainmemBytes;
  needs.secrmem_bytes = kSelfTestSecrmemBytes;
  return needs;
}

// The whole sequence from the memory map on a machine of exactly the minimum memory, RAM [1 MiB, end) with
// the image [1 MiB, 3 MiB) reserved: the minimum check passes, and so does the pools' boot self-test over
// what confinit, xinit and pageinit made of it.
TEST(PoolInit, BootSequenceAtTheMinimumPassesThePoolSelfTest) {
  const ConfNeeds needs = HostBootNeeds();
  const RamRange big_installed[] = {{PhysAddr(kMiB), 1023 * kMiB}};
  const RamRange big_usable[] = {{PhysAddr(3 * kMiB), 1021 * kMiB}};
  const uint64_t end = kMiB + (ConfCheckMinimum(big_installed, 1, big_usable, 1, needs).need_kib << 10);

  testing::PhysArena ram(PhysAddr(0), end);
  Memmap map(PhysAddr(uint64_t{1} << 52));
  ASSERT_EQ(map.Add(PhysAddr(kMiB), end - kMiB, MemType::kRam), MemmapStatus::kOk);
  ASSERT_EQ(map.Add(PhysAddr(kMiB), 2 * kMiB, MemType::kReserved), MemmapStatus::kOk);
  RamRange usable[kMaxRamBanks];
  size_t n = 0;
  ASSERT_EQ(ConfRamRanges(map, usable, &n), ConfStatus::kOk);
  const RamRange installed[] = {{PhysAddr(kMiB), end - kMiB}};
  const ConfMinimum minimum = ConfCheckMinimum(installed, 1, usable, n, needs);
  ASSERT_TRUE(minimum.Met()) << minimum.has_kib << " KiB, needs " << minimum.need_kib;
  EXPECT_EQ(minimum.has_kib, minimum.need_kib);

  testing::ConsoleCapture console;
  Conf conf;
  ASSERT_EQ(Confinit(usable, n, ConfParams{ram.direct_map(), 2 * kMiB, PhysAddr(kMiB)}, &conf), ConfStatus::kOk);
  RamRange kernel[kMaxRamBanks];
  HoleAllocator xalloc(ram.direct_map());
  ASSERT_EQ(xalloc.Xinit(kernel, conf.KernelRanges(kernel, kMaxRamBanks)), XholeStatus::kOk);
  PoolsEarly(conf, xalloc);
  PreallocPlan plan;
  Palloc<BuddyBackend> palloc;
  ASSERT_TRUE(PageInit(conf, ram.direct_map(), 1, &plan, &palloc).ok());
  PageSpans<Palloc<BuddyBackend>> spans(palloc, ram.direct_map());
  PoolsLate(conf, spans.source(), {});
  ExpectConfLimits(conf);
  EXPECT_EQ(PoolSelfTest(), SelfTestStatus::kPassed) << console.text();
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
