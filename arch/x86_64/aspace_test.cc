#include "arch/x86_64/aspace.h"

#include <gtest/gtest.h>

#include <vector>

#include "testing/fake_aspace.h"
#include "testing/fake_cpu.h"
#include "testing/phys_arena.h"
#include "testing/pt_pages.h"

namespace kmem::x86 {
namespace {

constexpr uint64_t kUserVa = 0x0000001000000000;

class X86AspaceTest : public ::testing::Test {
 protected:
  X86AspaceTest() : arena_(PhysAddr(0x40000000), 16 << 20), pages_(arena_), mmu_(arena_.direct_map(), pages_, cpu_) {
    EXPECT_EQ(mmu_.Init(Mmu::GiantPages::kYes), MmuStatus::kOk);
  }
  // A test's spaces die with it, but the CPU's loaded space (aspace.cc's `current`) outlives them: the next
  // test's Activate would write into the dead one. A test that activates a space ends by loading one that
  // lives as long as the program, while its own are still alive.
  static void LoadIdle() {
    static testing::FakeArchAspace idle_tables;
    static AddressSpace idle("idle", AddressSpace::Kind::kKernel, idle_tables);
    idle.Activate();
  }

  testing::PhysArena arena_;
  testing::ArenaPtPages pages_;
  testing::FakeCpu cpu_;
  Mmu mmu_;
};

TEST_F(X86AspaceTest, UserMappingsAreUserAndNotGlobal) {
  X86Aspace arch = X86Aspace::Kernel(mmu_);
  ASSERT_EQ(X86Aspace::User(mmu_, &arch), VmStatus::kOk);
  AddressSpace s("proc", AddressSpace::Kind::kUser, arch);
  ASSERT_EQ(s.Map(VirtAddr(kUserVa), PhysAddr(0x200000), 0x200000, Prot::kWrite, CacheMode::kCached), VmStatus::kOk);
  Translation t = mmu_.Translate(arch.root(), VirtAddr(kUserVa + 0x1234));
  ASSERT_EQ(t.status, MmuStatus::kOk);
  EXPECT_EQ(t.pa, PhysAddr(0x201234));
  EXPECT_EQ(t.attrs, Attr::kUser | Attr::kWrite);  // no exec: NX; not global
  VmMapping m;
  ASSERT_EQ(s.Query(VirtAddr(kUserVa + 0x1234), &m), VmStatus::kOk);
  EXPECT_EQ(m.pa, PhysAddr(0x201234));
  EXPECT_EQ(m.page_size, uint64_t{2} << 20);
  EXPECT_EQ(m.prot, Prot::kWrite);
  EXPECT_EQ(m.cache, CacheMode::kCached);
  // A kernel address through a user space is out of its range.
  EXPECT_EQ(s.Map(VirtAddr(kDirectMap), PhysAddr(0), 0x1000, Prot::kRead, CacheMode::kCached), VmStatus::kOutOfRange);
  EXPECT_EQ(s.Query(VirtAddr(kUserVa + 0x400000), &m), VmStatus::kNotMapped);
}

TEST_F(X86AspaceTest, KernelMappingsAreGlobalAndProtectKeepsTheCacheMode) {
  X86Aspace arch = X86Aspace::Kernel(mmu_);
  AddressSpace k("kernel", AddressSpace::Kind::kKernel, arch);
  const VirtAddr va(kVmap);
  ASSERT_EQ(k.Map(va, PhysAddr(0xfee00000), 0x1000, Prot::kWrite, CacheMode::kUncached), VmStatus::kOk);
  EXPECT_EQ(mmu_.Translate(mmu_.kernel_table(), va).attrs, Attr::kGlobal | Attr::kWrite | Attr::kUncached);
  ASSERT_EQ(k.Protect(va, 0x1000, Prot::kRead), VmStatus::kOk);
  VmMapping m;
  ASSERT_EQ(k.Query(va, &m), VmStatus::kOk);
  EXPECT_EQ(m.prot, Prot::kRead);
  EXPECT_EQ(m.cache, CacheMode::kUncached);
  EXPECT_EQ(k.Map(VirtAddr(kUserVa), PhysAddr(0), 0x1000, Prot::kRead, CacheMode::kCached), VmStatus::kOutOfRange);
  ASSERT_EQ(k.Unmap(va, 0x1000), VmStatus::kOk);
  EXPECT_EQ(k.Query(va, &m), VmStatus::kNotMapped);
}

TEST_F(X86AspaceTest, ActivateLoadsTheTablesAndReleaseGivesEveryTablePageBack) {
  const size_t before = pages_.outstanding();
  X86Aspace karch = X86Aspace::Kernel(mmu_), uarch = karch;
  ASSERT_EQ(X86Aspace::User(mmu_, &uarch), VmStatus::kOk);
  AddressSpace kernel("kernel", AddressSpace::Kind::kKernel, karch), proc("proc", AddressSpace::Kind::kUser, uarch);
  ASSERT_EQ(proc.Map(VirtAddr(kUserVa), PhysAddr(0x1000), 0x3000, Prot::kRead, CacheMode::kCached), VmStatus::kOk);
  cpu_.Take();
  proc.Activate();
  EXPECT_EQ(cpu_.Take(), (std::vector<testing::FakeCpu::Event>{testing::LoadCr3(uarch.root().value())}));
  proc.Release(kernel);
  EXPECT_EQ(mmu_.current(), mmu_.kernel_table());
  EXPECT_EQ(pages_.outstanding() - mmu_.pool_pages(), before);
  LoadIdle();
}

// The portable harvest through the x86 tables: the bits come back as AccessBits with the frame, and the
// page whose accessed bit was cleared is invalidated on the CPU that has the space loaded, so that its next
// use fills the TLB again and sets the bit.
TEST_F(X86AspaceTest, HarvestReportsTheBitsAndFlushesWhatItCleared) {
  X86Aspace karch = X86Aspace::Kernel(mmu_), uarch = karch;
  ASSERT_EQ(X86Aspace::User(mmu_, &uarch), VmStatus::kOk);
  AddressSpace kernel("kernel", AddressSpace::Kind::kKernel, karch), proc("proc", AddressSpace::Kind::kUser, uarch);
  ASSERT_EQ(proc.Map(VirtAddr(kUserVa), PhysAddr(0x1000), 0x2000, Prot::kWrite, CacheMode::kCached), VmStatus::kOk);
  proc.Activate();
  *mmu_.MmuWalk(uarch.root(), VirtAddr(kUserVa + 0x1000), 0, Create::kNo) |= pte::kAccessed | pte::kDirty;
  cpu_.Take();
  struct Seen {
    uint64_t va, pa;
    AccessBits found;
  };
  std::vector<Seen> seen;
  ASSERT_EQ(proc.Harvest(
                VirtAddr(kUserVa), 0x2000,
                [](void* ctx, VirtAddr va, PhysAddr pa, AccessBits found) {
                  static_cast<std::vector<Seen>*>(ctx)->push_back({va.value(), pa.value(), found});
                },
                &seen),
            VmStatus::kOk);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].pa, 0x1000u);
  EXPECT_EQ(seen[0].found, AccessBits::kNone);
  EXPECT_EQ(seen[1].va, kUserVa + 0x1000);
  EXPECT_EQ(seen[1].pa, 0x2000u);
  EXPECT_EQ(seen[1].found, AccessBits::kAccessed | AccessBits::kDirty);
  EXPECT_EQ(cpu_.Take(), (std::vector<testing::FakeCpu::Event>{testing::Invlpg(kUserVa + 0x1000)}));
  proc.Release(kernel);
  LoadIdle();
}

}  // namespace
}  // namespace kmem::x86
