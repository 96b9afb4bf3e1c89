#include "mm/base/addr.h"

#include <gtest/gtest.h>

#include <type_traits>

#include "mm/base/panic.h"

namespace kmem {
namespace {

static_assert(!std::is_convertible_v<PhysAddr, VirtAddr>, "address spaces must not mix");
static_assert(!std::is_convertible_v<uint64_t, PhysAddr>, "a raw integer is not an address");
static_assert(!std::is_convertible_v<Pfn, PhysAddr>, "a frame number is not a byte address");

TEST(Align, PowerOfTwo) {
  EXPECT_FALSE(IsPowerOfTwo(0));
  EXPECT_TRUE(IsPowerOfTwo(1));
  EXPECT_TRUE(IsPowerOfTwo(uint64_t{1} << 63));
  EXPECT_FALSE(IsPowerOfTwo(6));
  EXPECT_FALSE(IsPowerOfTwo(UINT64_MAX));
}

TEST(Align, DownAndAligned) {
  EXPECT_EQ(AlignDown(0x1fff, kPageSize), 0x1000u);
  EXPECT_EQ(AlignDown(0x2000, kPageSize), 0x2000u);
  EXPECT_TRUE(IsAligned(0x200000, 0x200000));
  EXPECT_FALSE(IsAligned(0x201000, 0x200000));
}

TEST(Align, UpRoundsAndReportsOverflow) {
  uint64_t out = 7;
  ASSERT_TRUE(AlignUp(0x1001, kPageSize, &out));
  EXPECT_EQ(out, 0x2000u);
  ASSERT_TRUE(AlignUp(0x2000, kPageSize, &out));
  EXPECT_EQ(out, 0x2000u);
  ASSERT_TRUE(AlignUp(UINT64_MAX - kPageSize + 1, kPageSize, &out));
  EXPECT_EQ(out, UINT64_MAX - kPageSize + 1);
  out = 7;
  EXPECT_FALSE(AlignUp(UINT64_MAX - 5, kPageSize, &out));
  EXPECT_EQ(out, 7u) << "a failed AlignUp must not write a wrapped value";
}

TEST(Address, ArithmeticStaysInItsSpace) {
  PhysAddr a(0x1000);
  PhysAddr b = a + 0x234;
  EXPECT_EQ(b.value(), 0x1234u);
  EXPECT_EQ(b - a, 0x234u);
  EXPECT_EQ(b.AlignedDown(kPageSize), a);
  EXPECT_TRUE(a < b);
  EXPECT_TRUE(a.IsAlignedTo(kPageSize));
  EXPECT_FALSE(b.IsAlignedTo(kPageSize));
}

TEST(Pfn, RoundTripsThroughAddresses) {
  EXPECT_EQ(Pfn::Containing(PhysAddr(0x12345678)).number(), 0x12345u);
  EXPECT_EQ(Pfn(0x12345).addr().value(), 0x12345000u);
  EXPECT_EQ(Pfn(10) - Pfn(4), 6u);
  EXPECT_EQ((Pfn(4) + 6).number(), 10u);
}

TEST(KassertDeathTest, PanicsWithValues) {
  int pages = 3;
  EXPECT_DEATH(KASSERT(pages == 4, "pages=%d", pages), "assertion 'pages == 4' failed: pages=3");
}

}  // namespace
}  // namespace kmem
