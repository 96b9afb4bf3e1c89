// The steps around confinit the boot runs: the memory map's free RAM as confinit's ranges, and the check
// of the machine against the least memory the boot needs.
#include "mm/conf/meminit.h"

#include <gtest/gtest.h>

#include "testing/console_capture.h"

namespace kmem {
namespace {

constexpr uint64_t kMiB = 1 << 20;
constexpr uintptr_t kKzero = 0xffffffff80000000;

ConfParams Params() { return ConfParams{DirectMap(PhysAddr(0), 1024 * kMiB, kKzero), 2 * kMiB, PhysAddr(kMiB)}; }

//   0        0x9fc00  1M      3M                 64M
//   |RAM (trimmed)|    |image |  RAM, a page taken  |
TEST(ConfRamRanges, TheMapsFreeRamOnly) {
  Memmap map(PhysAddr(uint64_t{1} << 52));
  ASSERT_EQ(map.Add(PhysAddr(0x100000), 63 * kMiB, MemType::kRam), MemmapStatus::kOk);
  ASSERT_EQ(map.Add(PhysAddr(0), 0x9fc00, MemType::kRam), MemmapStatus::kOk);
  ASSERT_EQ(map.Add(PhysAddr(kMiB), 2 * kMiB, MemType::kReserved), MemmapStatus::kOk);
  PhysAddr page;
  ASSERT_EQ(map.Alloc(3 * kMiB, kPageSize, kPageSize, MemType::kRam, &page), MemmapStatus::kOk);
  RamRange ram[kMaxRamBanks];
  size_t n = 0;
  ASSERT_EQ(ConfRamRanges(map, ram, &n), ConfStatus::kOk);
  ASSERT_EQ(n, 2u);
  EXPECT_EQ(ram[0].base, PhysAddr(0));
  EXPECT_EQ(ram[0].size, 0x9f000u);
  EXPECT_EQ(ram[1].base, PhysAddr(3 * kMiB + kPageSize));
  EXPECT_EQ(ram[1].end(), PhysAddr(64 * kMiB));
}

TEST(ConfRamRanges, OneRangeMoreThanBanksIsRefused) {
  Memmap map(PhysAddr(uint64_t{1} << 52));
  for (uint64_t i = 0; i < kMaxRamBanks; ++i) {
    ASSERT_EQ(map.Add(PhysAddr(i * 2 * kPageSize), kPageSize, MemType::kRam), MemmapStatus::kOk);
  }
  RamRange ram[kMaxRamBanks];
  size_t n = 0;
  EXPECT_EQ(ConfRamRanges(map, ram, &n), ConfStatus::kOk);
  EXPECT_EQ(n, kMaxRamBanks);
  ASSERT_EQ(map.Add(PhysAddr(kMaxRamBanks * 2 * kPageSize), kPageSize, MemType::kRam), MemmapStatus::kOk);
  EXPECT_EQ(ConfRamRanges(map, ram, &n), ConfStatus::kTooManyBanks);
}

ConfNeeds SomeNeeds() {
  ConfNeeds needs;
  needs.kernel_bytes = 2 * kMiB;
  needs.user_bytes = kMiB;
  needs.arrays_per_page = 40;
  needs.arrays_fixed = 2 * kPageSize;
  needs.mainmem_bytes = 512 << 10;
  needs.secrmem_bytes = 64 << 10;
  return needs;
}

// A machine whose RAM is [1 MiB, end) with the image [1 MiB, 3 MiB) already gone when confinit runs.
ConfMinimum MachineOf(uint64_t end, const ConfNeeds& needs) {
  RamRange installed[] = {{PhysAddr(kMiB), end - kMiB}};
  RamRange usable[] = {{PhysAddr(3 * kMiB), end - 3 * kMiB}};
  return ConfCheckMinimum(installed, 1, usable, 1, needs);
}

// The minimum is exact: a machine of that size passes and its split meets every need; one page less fails.
TEST(ConfCheckMinimum, RefusesOnePageBelowAndAcceptsAt) {
  const ConfNeeds needs = SomeNeeds();
  const ConfMinimum big = MachineOf(1024 * kMiB, needs);
  ASSERT_TRUE(big.Met());
  const uint64_t end = kMiB + (big.need_kib << 10);

  const ConfMinimum at = MachineOf(end, needs);
  EXPECT_TRUE(at.Met()) << at.has_kib << " KiB, needs " << at.need_kib;
  EXPECT_EQ(at.has_kib, at.need_kib);
  const ConfMinimum below = MachineOf(end - kPageSize, needs);
  EXPECT_FALSE(below.Met()) << below.has_kib << " KiB, needs " << below.need_kib;
  EXPECT_EQ(below.need_kib, at.need_kib);

  testing::ConsoleCapture console;
  RamRange usable[] = {{PhysAddr(3 * kMiB), end - 3 * kMiB}};
  Conf conf;
  ASSERT_EQ(Confinit(usable, 1, Params(), &conf), ConfStatus::kOk);
  EXPECT_GE(conf.kpages * kPageSize, needs.kernel_bytes);
  EXPECT_GE(conf.upages * (kPageSize - needs.arrays_per_page), needs.user_bytes + needs.arrays_fixed);
  EXPECT_GE(conf.mainmem_limit, needs.mainmem_bytes);
  EXPECT_GE(conf.secrmem_limit, needs.secrmem_bytes);
}

}  // namespace
}  // namespace kmem
