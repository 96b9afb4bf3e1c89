#include "mm/conf/conf.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "testing/console_capture.h"

namespace kmem {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr uint64_t kKzero = 0xffffffff80000000;

// The kernel's KZERO window: physical [0, 2 GiB). Confinit only computes addresses in it, never
// dereferences them, so the host can use the kernel's own values.
// A PC's: KZERO's 2 GiB window, nothing to run on in the first MiB.
ConfParams KernelParams(uint64_t image = 0) {
  return ConfParams{DirectMap(PhysAddr(0), 2 * kGiB, kKzero), image, PhysAddr(kMiB)};
}

struct Map {
  const char* name;
  std::vector<RamRange> ram;
};

RamRange R(uint64_t base, uint64_t end) { return RamRange{PhysAddr(base), end - base}; }

std::vector<Map> Maps() {
  std::vector<Map> maps = {
      {"16M", {R(0, 0x9fc00), R(0x100000, 0x1000000)}},
      {"qemu32M", {R(0, 0x9fc00), R(0x100000, 0x1fe0000)}},
      {"64M_holes", {R(0, 0x9fc00), R(0x100000, 0x2000000), R(0x2100000, 0x3000000), R(0x3000000, 0x4000000)}},
      {"qemu1G", {R(0, 0x9fc00), R(0x100000, 0x3ffe0000)}},
      {"4G_pci_hole", {R(0, 0x9fc00), R(0x100000, 0xc0000000), R(0x100000000, 0x140000000)}},
      {"qemu6G", {R(0, 0x9fc00), R(0x100000, 0xbffe0000), R(0x100000000, 0x1c0000000)}},
      {"64G", {R(0, 0x9fc00), R(0x100000, 0x80000000), R(0x100000000, 0x1080000000)}},
      {"1T_holes",
       {R(0, 0x9fc00), R(0x100000, 0x7ff00000), R(0x100000000, 0x8000000000), R(0x8000200000, 0x10080000000)}},
      {"unaligned", {R(0x1234, 0x9fc00), R(0x100800, 0x3ffff01)}},
  };
  Map many{"60_banks", {}};
  for (uint64_t i = 0; i < 60; ++i) many.ram.push_back(R((2 + 2 * i) * kMiB, (3 + 2 * i) * kMiB - 0x800));
  maps.push_back(many);
  return maps;
}

// Pages in the ranges after trimming each inward to pages, counted independently of Confinit.
uint64_t PagesIn(const std::vector<RamRange>& ram) {
  uint64_t pages = 0;
  for (const RamRange& r : ram) {
    uint64_t lo = (r.base.value() + kPageSize - 1) / kPageSize, hi = r.end().value() / kPageSize;
    if (hi > lo) pages += hi - lo;
  }
  return pages;
}

struct Line {
  unsigned long n, a, b, c;
};

Line ParseLine(const std::string& text) {
  Line l{};
  char tail = 0;
  EXPECT_EQ(std::sscanf(text.c_str(), "%luM memory: %luM kernel data, %luM user, %luM swap map, no swap device%c",
                        &l.n, &l.a, &l.b, &l.c, &tail),
            5)
      << text;
  EXPECT_EQ(tail, '\n');
  return l;
}

class ConfMaps : public ::testing::TestWithParam<Map> {};

TEST_P(ConfMaps, SplitKeepsItsInvariants) {
  std::vector<RamRange> ram = GetParam().ram;
  std::shuffle(ram.begin(), ram.end(), std::mt19937_64(std::hash<std::string>()(GetParam().name)));
  Conf conf;
  testing::ConsoleCapture console;
  ASSERT_EQ(Confinit(ram.data(), ram.size(), KernelParams(), &conf), ConfStatus::kOk);

  EXPECT_EQ(conf.npage, PagesIn(ram));
  EXPECT_EQ(conf.kpages + conf.upages, conf.npage);
  uint64_t sum = 0, kernel = 0, in_window = 0;
  for (size_t i = 0; i < conf.nmem; ++i) {
    const Confmem& m = conf.mem[i];
    ASSERT_TRUE(m.base.IsAlignedTo(kPageSize));
    ASSERT_GT(m.npage, 0u);
    if (i > 0) {
      EXPECT_LT(conf.mem[i - 1].base + conf.mem[i - 1].npage * kPageSize, m.base) << "banks touch or overlap";
    }
    sum += m.npage;
    kernel += m.kpages();
    EXPECT_LE(m.kpages(), m.npage);
    if (m.kpages() > 0) {
      EXPECT_EQ(m.kbase, VirtAddr(kKzero + m.base.value()));
      EXPECT_LE(m.base.value() + m.kpages() * kPageSize, 2 * kGiB) << "kernel pages outside the window";
    }
    if (m.base.value() < 2 * kGiB) in_window += std::min(m.npage, (2 * kGiB - m.base.value()) / kPageSize);
  }
  EXPECT_EQ(sum, conf.npage);
  EXPECT_EQ(kernel, conf.kpages);
  // The rule: a quarter, at least half of RAM up to 32 MiB, capped by the window.
  uint64_t want = std::max(conf.npage / 4, std::min(conf.npage / 2, 32 * kMiB / kPageSize));
  EXPECT_EQ(conf.kpages, std::min(want, in_window));
  EXPECT_GE(conf.nproc, 32u);
  EXPECT_LE(conf.nproc, 2000u);
  EXPECT_GE(conf.nimage, 64u);
  EXPECT_EQ(conf.nswap, conf.nproc * 64);
  // Pool ceilings fit in the kernel share and keep their order.
  EXPECT_GT(conf.mainmem_limit, 0u);
  EXPECT_LE(conf.mainmem_limit, conf.kpages * kPageSize);
  EXPECT_LT(conf.imagmem_limit, conf.mainmem_limit);
  EXPECT_LT(conf.secrmem_limit, conf.imagmem_limit);

  Line l = ParseLine(console.text());
  EXPECT_EQ(l.a + l.b, l.n);
  double total_mib = double(conf.npage) * kPageSize / kMiB;
  EXPECT_LE(std::abs(double(l.n) - total_mib), 0.5);
  EXPECT_LE(std::abs(double(l.b) - double(conf.upages) * kPageSize / kMiB), 0.5);

  // The kernel's ranges and the user's tile the banks exactly.
  RamRange k[Conf::kMaxBanks], u[Conf::kMaxBanks];
  size_t nk = conf.KernelRanges(k, Conf::kMaxBanks), nu = conf.UserRanges(u, Conf::kMaxBanks);
  uint64_t kbytes = 0, ubytes = 0;
  for (size_t i = 0; i < nk; ++i) kbytes += k[i].size;
  for (size_t i = 0; i < nu; ++i) ubytes += u[i].size;
  EXPECT_EQ(kbytes, conf.kpages * kPageSize);
  EXPECT_EQ(ubytes, conf.upages * kPageSize);
}

INSTANTIATE_TEST_SUITE_P(Maps, ConfMaps, ::testing::ValuesIn(Maps()),
                         [](const ::testing::TestParamInfo<Map>& info) { return std::string(info.param.name); });

std::string LineFor(std::vector<RamRange> ram, uint64_t image = 0) {
  Conf conf;
  testing::ConsoleCapture console;
  EXPECT_EQ(Confinit(ram.data(), ram.size(), KernelParams(image), &conf), ConfStatus::kOk);
  return console.text();
}

// The lines the QEMU boot logs show, worked out by hand from the rules in conf.cc:
//   32M: 8063 pages (31.5 MiB); kernel max(2015, min(4031, 8192)) = 4031 pages; user 4032 = 15.75 MiB;
//        nproc max(32, 4031/128) = 32, swap 32 * 64 pages = 8 MiB.
//   1G:  262015 pages (1023.5 MiB); kernel 262015/4 = 65503; user 196512 = 767.6 MiB;
//        nproc 65503/128 = 511, swap 511 * 64 pages = 127.75 MiB.
//   6G:  1572735 pages (6143.5 MiB); kernel 393183, all below 2 GiB; user 1179552 = 4607.6 MiB;
//        nproc min(2000, 3071), swap 2000 * 64 pages = 500 MiB.
TEST(Confinit, QemuMapsPrintTheirLines) {
  EXPECT_EQ(LineFor({R(0, 0x9fc00), R(0x100000, 0x1fe0000)}),
            "31M memory: 15M kernel data, 16M user, 8M swap map, no swap device\n");
  EXPECT_EQ(LineFor({R(0, 0x9fc00), R(0x100000, 0x3ffe0000)}),
            "1023M memory: 255M kernel data, 768M user, 127M swap map, no swap device\n");
  EXPECT_EQ(LineFor({R(0, 0x9fc00), R(0x100000, 0xbffe0000), R(0x100000000, 0x1c0000000)}),
            "6143M memory: 1535M kernel data, 4608M user, 500M swap map, no swap device\n");
}

TEST(Confinit, KernelImageCountsAsKernelData) {
  // The 1G map with the kernel image [1 MiB, 3 MiB) taken out by the caller: the total stays, the image
  // is kernel data, and the banks (261503 pages) give the kernel 65375 pages and the user 766.1 MiB.
  EXPECT_EQ(LineFor({R(0, 0x9fc00), R(0x300000, 0x3ffe0000)}, 2 * kMiB),
            "1023M memory: 257M kernel data, 766M user, 127M swap map, no swap device\n");
}

TEST(Confinit, NoRamAbove1MiBIsAnError) {
  Conf conf;
  testing::ConsoleCapture console;
  std::vector<RamRange> low = {R(0, 0x9fc00), R(0xe0000, 0x100000)};
  EXPECT_EQ(Confinit(low.data(), low.size(), KernelParams(), &conf), ConfStatus::kNoRamAboveLowMemory);
  EXPECT_EQ(Confinit(nullptr, 0, KernelParams(), &conf), ConfStatus::kNoRamAboveLowMemory);
  std::vector<RamRange> crumbs = {R(0x100000, 0x100fff)};  // less than a page above 1 MiB
  EXPECT_EQ(Confinit(crumbs.data(), crumbs.size(), KernelParams(), &conf), ConfStatus::kNoRamAboveLowMemory);
  EXPECT_EQ(console.text(), "");
  EXPECT_STREQ(ConfStatusName(ConfStatus::kNoRamAboveLowMemory), "no usable RAM above low memory");
}

TEST(Confinit, SixtyFiveDisjointRangesAreTooMany) {
  std::vector<RamRange> ram;
  for (uint64_t i = 0; i < 65; ++i) ram.push_back(R((2 + 2 * i) * kMiB, (3 + 2 * i) * kMiB));
  std::shuffle(ram.begin(), ram.end(), std::mt19937_64(65));
  Conf conf;
  testing::ConsoleCapture console;
  EXPECT_EQ(Confinit(ram.data(), ram.size(), KernelParams(), &conf), ConfStatus::kTooManyBanks);
  ram.pop_back();
  EXPECT_EQ(Confinit(ram.data(), ram.size(), KernelParams(), &conf), ConfStatus::kOk);
  EXPECT_EQ(conf.nmem, 64u);
}

//   ranges:  [1M   2M) [2M   3M)  ... [100M 101M)     touching, shuffled
//   banks:   [1M                           101M)
TEST(Confinit, TouchingAndOverlappingRangesMergeIntoOneBank) {
  std::vector<RamRange> ram;
  for (uint64_t i = 1; i <= 100; ++i) ram.push_back(R(i * kMiB, (i + 1) * kMiB));
  ram.push_back(R(50 * kMiB + 0x800, 70 * kMiB));  // inside the others
  std::shuffle(ram.begin(), ram.end(), std::mt19937_64(100));
  Conf conf;
  testing::ConsoleCapture console;
  ASSERT_EQ(Confinit(ram.data(), ram.size(), KernelParams(), &conf), ConfStatus::kOk);
  ASSERT_EQ(conf.nmem, 1u);
  EXPECT_EQ(conf.mem[0].base, PhysAddr(kMiB));
  EXPECT_EQ(conf.mem[0].npage, 100 * kMiB / kPageSize);
}

TEST(Confinit, RangesAreTrimmedInwardToPages) {
  std::vector<RamRange> ram = {R(0x100800, 0x2000400)};
  Conf conf;
  testing::ConsoleCapture console;
  ASSERT_EQ(Confinit(ram.data(), ram.size(), KernelParams(), &conf), ConfStatus::kOk);
  ASSERT_EQ(conf.nmem, 1u);
  EXPECT_EQ(conf.mem[0].base, PhysAddr(0x101000));
  EXPECT_EQ(conf.mem[0].npage, (0x2000000 - 0x101000) / kPageSize);
}

// 1 TiB with a 2 GiB window: a quarter would be 256 GiB, but only pages below 2 GiB can be kernel pages.
//
//   RAM:     [0 .. 2G)[2G ............................ 1T)
//   kernel:  [0 .. 2G)        (capped by the window)
TEST(Confinit, KernelShareIsCappedByTheWindow) {
  std::vector<RamRange> ram = {R(0, 1024 * kGiB)};
  Conf conf;
  testing::ConsoleCapture console;
  ASSERT_EQ(Confinit(ram.data(), ram.size(), KernelParams(), &conf), ConfStatus::kOk);
  EXPECT_EQ(conf.kpages, 2 * kGiB / kPageSize);
  EXPECT_EQ(conf.mem[0].klimit, VirtAddr(kKzero + 2 * kGiB));
  EXPECT_EQ(conf.nproc, 2000u);
  EXPECT_EQ(console.text(), "1048576M memory: 2048M kernel data, 1046528M user, 500M swap map, no swap device\n");
}

TEST(Confinit, BanksAboveTheWindowGiveNoKernelPages) {
  std::vector<RamRange> ram = {R(0x100000, 0x200000), R(0x100000000, 0x200000000)};
  Conf conf;
  testing::ConsoleCapture console;
  ASSERT_EQ(Confinit(ram.data(), ram.size(), KernelParams(), &conf), ConfStatus::kOk);
  EXPECT_EQ(conf.kpages, 256u);  // all of the first bank, which is all the window holds
  EXPECT_EQ(conf.mem[1].kpages(), 0u);
  EXPECT_EQ(conf.mem[1].kbase, VirtAddr(0));
}

// The minimum is the least memory whose split gives every share its need: one page fewer fails one of them.
void ExpectMinimal(const ConfNeeds& needs) {
  uint64_t min = ConfMinPages(needs);
  for (uint64_t npage : {min - 1, min}) {
    std::vector<RamRange> ram = {R(kMiB, kMiB + npage * kPageSize)};
    Conf conf;
    testing::ConsoleCapture console;
    ASSERT_EQ(Confinit(ram.data(), ram.size(), KernelParams(), &conf), ConfStatus::kOk);
    bool meets = conf.kpages * kPageSize >= needs.kernel_bytes &&
                 conf.upages * (kPageSize - needs.arrays_per_page) >= needs.user_bytes + needs.arrays_fixed &&
                 conf.mainmem_limit >= needs.mainmem_bytes && conf.secrmem_limit >= needs.secrmem_bytes;
    EXPECT_EQ(meets, npage == min) << npage << " pages";
  }
}

TEST(ConfMinPages, EachNeedCanDecide) {
  ExpectMinimal({.kernel_bytes = 4 * kMiB});
  ExpectMinimal({.user_bytes = 3 * kMiB, .arrays_per_page = 33, .arrays_fixed = kPageSize});
  ExpectMinimal({.mainmem_bytes = kMiB});
  ExpectMinimal({.secrmem_bytes = 64 << 10});
  ExpectMinimal({.kernel_bytes = 6 * kPageSize,
                 .user_bytes = 1280 << 10,
                 .arrays_per_page = 33,
                 .arrays_fixed = kPageSize,
                 .mainmem_bytes = kMiB,
                 .secrmem_bytes = 64 << 10});
}

TEST(ConfMinPagesDeathTest, ArraysOfAWholePageEachLeaveNoPage) {
  EXPECT_DEATH(ConfMinPages({.arrays_per_page = kPageSize}),
               "page arrays of 4096 bytes a page leave no page");
}

// Half of a small machine, rounded down, is the kernel's: users get 3 MiB of 6 MiB less a page.
TEST(ConfMinPages, SmallMachinesSplitInHalves) {
  EXPECT_EQ(ConfMinPages({.user_bytes = 3 * kMiB}), 2 * 3 * kMiB / kPageSize - 1);
  EXPECT_EQ(ConfMinPages({}), 1u);
}

}  // namespace
}  // namespace kmem
