// The kernel's early memory sequence on the QEMU 1G map over simulated RAM: confinit splits the banks,
// xinit takes the kernel's share, and from then on xalloc and rampage only hand out kernel pages.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "mm/conf/conf.h"
#include "mm/xalloc/xalloc.h"
#include "testing/console_capture.h"
#include "testing/phys_arena.h"

namespace kmem {
namespace {

TEST(EarlyBoot, XallocGetsExactlyTheKernelShare) {
  testing::PhysArena ram(PhysAddr(0), uint64_t{1} << 30);
  // The QEMU 1G map with the kernel image [1 MiB, 3 MiB) already taken out.
  RamRange map[] = {{PhysAddr(0x300000), 0x3ffe0000 - 0x300000}, {PhysAddr(0), 0x9fc00}};
  testing::ConsoleCapture console;
  Conf conf;
  ASSERT_EQ(Confinit(map, 2, ConfParams{ram.direct_map(), 2 << 20, PhysAddr(1 << 20)}, &conf), ConfStatus::kOk);
  RamRange kernel[Conf::kMaxBanks];
  size_t nk = conf.KernelRanges(kernel, Conf::kMaxBanks);
  ASSERT_EQ(nk, 2u);

  HoleAllocator xalloc(ram.direct_map());
  ASSERT_EQ(xalloc.Xinit(kernel, nk), XholeStatus::kOk);
  xalloc.Xsummary();
  EXPECT_EQ(xalloc.Stats().donated, conf.kpages * kPageSize);
  std::string expected = "1023M memory: 257M kernel data, 766M user, 127M swap map, no swap device\n";
  char line[200];
  std::snprintf(line, sizeof line, "xalloc: 2 holes (max 128), %lu KiB free", conf.kpages * 4);
  expected += line;
  EXPECT_EQ(console.text().substr(0, expected.size()), expected);

  RamRange user[Conf::kMaxBanks];
  size_t nu = conf.UserRanges(user, Conf::kMaxBanks);
  std::vector<void*> blocks;
  for (int i = 0; i < 64; ++i) blocks.push_back(i % 2 ? xalloc.Rampage() : xalloc.Xalloc(1 << 20));
  for (void* p : blocks) {
    ASSERT_NE(p, nullptr);
    XallocBlock b = xalloc.Block(p);
    for (size_t u = 0; u < nu; ++u) {
      EXPECT_TRUE(b.base + b.size <= user[u].base || user[u].end() <= b.base) << "block in user memory";
    }
  }
  xalloc.Validate();
}

}  // namespace
}  // namespace kmem
