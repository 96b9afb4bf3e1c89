#include "mm/palloc/prealloc.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "mm/palloc/buddy.h"
#include "mm/palloc/colour.h"
#include "mm/palloc/palloc.h"

#include "testing/palloc_backends.h"

namespace kmem {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr PhysAddr kReach(uint64_t{2} << 40);  // the kernel's direct map: 2 TiB

template <typename Backend>
class PreallocTest : public ::testing::Test {
 protected:
  static constexpr BankBytesFn kBankBytes = &Palloc<Backend>::BankBytes;

  // Plans `banks` shuffled and checks what every plan must satisfy: the donor gave the fewest whole pages
  // off its top that hold every bank's arrays, 64-byte aligned and not overlapping, and the banks plus
  // the taken pages are exactly the input.
  PreallocPlan Plan(std::vector<RamRange> banks, uint64_t seed) {
    std::shuffle(banks.begin(), banks.end(), std::mt19937_64(seed));
    PreallocPlan plan;
    EXPECT_EQ(PlanPrealloc(banks.data(), banks.size(), kReach, kBankBytes, &plan), PreallocStatus::kOk);
    EXPECT_EQ(plan.n, banks.size());
    const RamRange& donor = banks[plan.donor];
    EXPECT_EQ(plan.base + plan.bytes, donor.end());
    EXPECT_EQ(plan.bank[plan.donor].base, donor.base);
    EXPECT_EQ(plan.bank[plan.donor].end(), plan.base);
    EXPECT_GE(plan.bank[plan.donor].size, kPageSize);
    EXPECT_EQ(plan.bytes % kPageSize, 0u);
    uint64_t end = 0, shortened = 0;
    for (size_t i = 0; i < banks.size(); ++i) {
      if (i != plan.donor) EXPECT_EQ(plan.bank[i].base, banks[i].base);
      if (i != plan.donor) EXPECT_EQ(plan.bank[i].size, banks[i].size);
      EXPECT_EQ(plan.offset[i] % 64, 0u);
      EXPECT_GE(plan.offset[i], end) << "bank " << i << "'s arrays overlap the previous bank's";
      end = plan.offset[i] + kBankBytes(plan.bank[i].base, plan.bank[i].size / kPageSize);
      uint64_t npages = plan.bank[i].size / kPageSize + (i == plan.donor ? 1 : 0);
      shortened += kBankBytes(plan.bank[i].base, npages);
    }
    EXPECT_LE(end, plan.used);
    EXPECT_LE(plan.used, plan.bytes);
    // One page fewer would not hold the arrays, even of the donor one page longer.
    EXPECT_GT(shortened, plan.bytes - kPageSize);
    return plan;
  }
};

using Backends = testing::PallocBackends;
using BackendNames = testing::PallocBackendNames;
TYPED_TEST_SUITE(PreallocTest, Backends, BackendNames);

//   [1M ......................................... 65M)
//   [1M ............................ base)[arrays)
TYPED_TEST(PreallocTest, OneBankGivesItsTop) {
  PreallocPlan plan = this->Plan({{PhysAddr(kMiB), 64 * kMiB}}, 1);
  EXPECT_EQ(plan.donor, 0u);
  // 32-byte descriptors and a few bits a page: about 1/128 of the bank, never more than 1/100.
  EXPECT_GE(plan.bytes, 64 * kMiB / 128);
  EXPECT_LE(plan.bytes, 64 * kMiB / 100);
}

//   [4K ... 636K)   [1M ......... 2G)   [4G ... 6G)[arrays of all three)
TYPED_TEST(PreallocTest, HighestBankDonatesForAll) {
  for (uint64_t seed = 0; seed < 6; ++seed) {
    std::vector<RamRange> banks = {
        {PhysAddr(0x1000), 0x9e000}, {PhysAddr(kMiB), 2 * kGiB - kMiB}, {PhysAddr(4 * kGiB), 2 * kGiB}};
    PreallocPlan plan = this->Plan(banks, seed);
    EXPECT_EQ(plan.bank[plan.donor].base, PhysAddr(4 * kGiB));
    EXPECT_EQ(plan.base + plan.bytes, PhysAddr(6 * kGiB));
  }
}

//   [1M ............. 33M)[arrays)   [4G, 4G + 8K): too small for the arrays of both
TYPED_TEST(PreallocTest, TooSmallHighBankIsPassedOver) {
  PreallocPlan plan = this->Plan({{PhysAddr(kMiB), 32 * kMiB}, {PhysAddr(4 * kGiB), 2 * kPageSize}}, 2);
  EXPECT_EQ(plan.bank[plan.donor].base, PhysAddr(kMiB));
  EXPECT_EQ(plan.base + plan.bytes, PhysAddr(33 * kMiB));
}

//   [1M ...... 1G)[arrays)   [2T, 2T + 1G): beyond the direct map, so it cannot donate
TYPED_TEST(PreallocTest, BankBeyondReachIsPassedOver) {
  PreallocPlan plan = this->Plan({{PhysAddr(kMiB), kGiB - kMiB}, {kReach, kGiB}}, 4);
  EXPECT_EQ(plan.base + plan.bytes, PhysAddr(kGiB));
}

// Each bank keeps a page, so single pages cannot give anything.
TYPED_TEST(PreallocTest, SinglePagesHaveNoRoom) {
  std::vector<RamRange> banks = {{PhysAddr(0x1000), kPageSize}, {PhysAddr(0x3000), kPageSize}};
  PreallocPlan plan;
  EXPECT_EQ(PlanPrealloc(banks.data(), banks.size(), kReach, this->kBankBytes, &plan),
            PreallocStatus::kNoRoom);
  EXPECT_EQ(PlanPrealloc(banks.data(), 0, kReach, this->kBankBytes, &plan), PreallocStatus::kNoRoom);
}

TYPED_TEST(PreallocTest, TooManyBanks) {
  std::vector<RamRange> banks;
  for (uint64_t i = 0; i <= kMaxBanks; ++i) banks.push_back({PhysAddr((2 * i + 1) * kMiB), kMiB});
  PreallocPlan plan;
  EXPECT_EQ(PlanPrealloc(banks.data(), banks.size(), kReach, this->kBankBytes, &plan),
            PreallocStatus::kTooManyBanks);
}

// 256 GiB of user memory: the arrays take 2 GiB, more than the whole KZERO window that bounds xalloc's
// share; they come from the top of the bank above 4 GiB.
TYPED_TEST(PreallocTest, PlansA256GiBMachine) {
  PreallocPlan plan = this->Plan(
      {{PhysAddr(0x1000), 0x9e000}, {PhysAddr(3 * kGiB / 2), kGiB / 2}, {PhysAddr(4 * kGiB), 254 * kGiB}}, 3);
  EXPECT_EQ(plan.base + plan.bytes, PhysAddr(258 * kGiB));
  EXPECT_GT(plan.bytes, 2 * kGiB - 32 * kMiB);
  EXPECT_LT(plan.bytes, 2 * kGiB + 32 * kMiB);
}

}  // namespace
}  // namespace kmem
