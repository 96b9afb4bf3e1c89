#include "testing/phys_arena.h"

#include <gtest/gtest.h>

#include <cstring>

namespace kmem::testing {
namespace {

TEST(PhysArena, KaddrAndPaddrRoundTrip) {
  PhysArena ram(PhysAddr(0x100000), 16 << 20);
  const DirectMap& m = ram.direct_map();
  auto* p = m.Kaddr<uint8_t>(PhysAddr(0x123000));
  std::memset(p, 0xab, 4096);
  EXPECT_EQ(m.Paddr(p), PhysAddr(0x123000));
  EXPECT_EQ(m.Paddr(p + 7), PhysAddr(0x123007));
  EXPECT_TRUE(m.Covers(PhysAddr(0x100000), 16 << 20));
  EXPECT_FALSE(m.Covers(PhysAddr(0x100000), (16 << 20) + 1));
  EXPECT_FALSE(m.Covers(PhysAddr(0xff000), 1));
}

// As in the kernel's direct map, a naturally aligned physical block is aligned in virtual memory too, up to
// 1 GiB, whatever the arena's size (mmap alone aligns odd sizes to a page only).
TEST(PhysArena, KeepsPhysicalAlignment) {
  for (uint64_t size : {uint64_t{0x609000}, uint64_t{16} << 20}) {
    PhysArena ram(PhysAddr(0x300000), size);
    uintptr_t va = reinterpret_cast<uintptr_t>(ram.direct_map().Kaddr(PhysAddr(0x300000)));
    EXPECT_EQ(va % (uint64_t{1} << 30), 0x300000u) << "size 0x" << std::hex << size;
  }
}

TEST(PhysArenaDeathTest, KaddrOutsideTheWindowPanics) {
  PhysArena ram(PhysAddr(0x100000), 1 << 20);
  EXPECT_DEATH(ram.direct_map().Kaddr(PhysAddr(0x300000)), "pa 0x300000 outside the direct map");
}

TEST(PhysArenaDeathTest, RevokedMemoryFaults) {
  PhysArena ram(PhysAddr(0), 1 << 20);
  ram.Revoke(PhysAddr(0x10000), 0x1000);
  EXPECT_DEATH(*ram.direct_map().Kaddr<volatile uint8_t>(PhysAddr(0x10000)) = 1, "");
}

}  // namespace
}  // namespace kmem::testing
