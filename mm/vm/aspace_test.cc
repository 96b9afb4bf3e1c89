#include "mm/vm/aspace.h"

#include <gtest/gtest.h>

#include <thread>

#include "testing/fake_aspace.h"

namespace kmem {
namespace {

using Calls = std::vector<std::string>;
using testing::FakeArchAspace;

TEST(AddressSpace, ForwardsToItsTablesAndPassesTheirStatusBack) {
  FakeArchAspace arch;
  AddressSpace s("proc", AddressSpace::Kind::kUser, arch);
  EXPECT_EQ(s.Map(VirtAddr(0x1000), PhysAddr(0x5000), 0x2000, Prot::kWrite, CacheMode::kCached), VmStatus::kOk);
  arch.answer = VmStatus::kNotMapped;
  VmMapping m;
  EXPECT_EQ(s.Query(VirtAddr(0x9000), &m), VmStatus::kNotMapped);
  EXPECT_EQ(s.Protect(VirtAddr(0x1000), 0x1000, Prot::kRead), VmStatus::kNotMapped);
  EXPECT_EQ(s.Unmap(VirtAddr(0x1000), 0x2000), VmStatus::kNotMapped);
  EXPECT_EQ(arch.calls, (Calls{"map 4096 8192", "query 36864 0", "protect 4096 4096", "unmap 4096 8192"}));
}

TEST(AddressSpace, TracksWhichCpusHaveItLoaded) {
  FakeArchAspace ka, pa, qa;
  AddressSpace kernel("kernel", AddressSpace::Kind::kKernel, ka), p("p", AddressSpace::Kind::kUser, pa),
      q("q", AddressSpace::Kind::kUser, qa);
  const unsigned me = CpuId();
  p.Activate();
  EXPECT_EQ(AddressSpace::Current(), &p);
  EXPECT_EQ(p.cpus(), 1u << me);
  unsigned other = me;
  std::thread([&] {
    other = CpuId();
    p.Activate();
    EXPECT_EQ(p.cpus(), (1u << me) | (1u << other));
    q.Activate();  // the other CPU leaves p for q
    kernel.Activate();
  }).join();
  EXPECT_EQ(p.cpus(), 1u << me);
  EXPECT_EQ(q.cpus(), 0u);
  p.Activate();  // already loaded here: the tables are not loaded again
  EXPECT_EQ(pa.calls, (Calls{"activate", "activate"}));
  p.Release(kernel);  // loaded here: the kernel's space goes in first
  EXPECT_EQ(AddressSpace::Current(), &kernel);
  EXPECT_EQ(p.cpus(), 0u);
  EXPECT_EQ(pa.calls.back(), "release");
  kernel.Activate();
  EXPECT_EQ(ka.calls, (Calls{"activate", "activate"}));  // the other CPU's and this one's
}

TEST(AddressSpaceDeathTest, UsingAReleasedSpacePanicsWithItsName) {
  FakeArchAspace ka, pa;
  AddressSpace kernel("kernel", AddressSpace::Kind::kKernel, ka), p("proc 7", AddressSpace::Kind::kUser, pa);
  p.Release(kernel);
  EXPECT_DEATH(p.Map(VirtAddr(0x1000), PhysAddr(0x1000), 0x1000, Prot::kRead, CacheMode::kCached),
               "address space 'proc 7' \\(0x[0-9a-f]+\\): map after it was released");
  EXPECT_DEATH(p.Unmap(VirtAddr(0x1000), 0x1000), "'proc 7' .*: unmap after it was released");
  EXPECT_DEATH(p.Activate(), "'proc 7' .*: activate after it was released");
  EXPECT_DEATH(p.Release(kernel), "'proc 7' .*: release after it was released");
  EXPECT_EQ(pa.calls, (Calls{"release"}));  // the tables were freed once
}

TEST(AddressSpaceDeathTest, ReleasingASpaceAnotherCpuHasLoadedPanics) {
  FakeArchAspace ka, pa;
  AddressSpace kernel("kernel", AddressSpace::Kind::kKernel, ka), p("shared", AddressSpace::Kind::kUser, pa);
  EXPECT_DEATH(
      {
        const unsigned me = CpuId();  // keep this thread's id
        std::thread([&] { p.Activate(); }).join();
        if (CpuId() == me) p.Release(kernel);
      },
      "address space 'shared' released while cpus 0x[0-9a-f]+ have it loaded");
}

}  // namespace
}  // namespace kmem
