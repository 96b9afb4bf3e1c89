// UserVm against its reference model (user_vm_model.h): random streams of mmap, munmap, mprotect, brk,
// faults and kernel writes after a loader's segments, over the fake architecture's tables and over the real
// x86 tables (arch/x86_64's X86Aspace on a host Mmu), fork trees of such runs (forks, steps and exits in
// random order, copy-on-write against the model's frames), and the death tests that show each of the run's
// checks catches what it is there for.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "arch/x86_64/aspace.h"
#include "testing/fake_aspace.h"
#include "testing/fake_cpu.h"
#include "testing/phys_arena.h"
#include "testing/pt_pages.h"
#include "testing/user_vm_model.h"

namespace kmem::testing {
namespace {

class Rng {
 public:
  explicit Rng(uint64_t seed) : rng_(seed) {}
  uint64_t Pick(uint64_t n) { return rng_() % n; }
  bool More() const { return true; }

 private:
  std::mt19937_64 rng_;
};

constexpr uint64_t kFakeLo = 0x400000;
constexpr uint64_t kX86Lo = 0x0000001000000000;

// The 4-level tables a process gets in the kernel: one host Mmu over an arena of its own, and the kernel's
// space the user spaces are made beside and released to. Its Mmu is Init'ed by the test (an ASSERT).
struct X86Tables {
  PhysArena arena{PhysAddr(0x80000000), 8 << 20};
  ArenaPtPages pt{arena};
  FakeCpu cpu;
  x86::Mmu mmu{arena.direct_map(), pt, cpu};
  x86::X86Aspace karch = x86::X86Aspace::Kernel(mmu);
  AddressSpace kernel{"kernel", AddressSpace::Kind::kKernel, karch};
};

class UserVmPropertyTest : public ::testing::Test {
 protected:
  UserVmPropertyTest() : arena_(PhysAddr(0x40000000), 16 << 20), pages_(arena_) {}

  PhysArena arena_;
  HostUserPages pages_;
};

TEST_F(UserVmPropertyTest, RandomStreamsMatchTheModelOverTheFakeTables) {
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    SCOPED_TRACE(seed);
    Rng rng(seed);
    FakeArchAspace arch;
    AddressSpace space("proc", AddressSpace::Kind::kUser, arch);
    UserVmRun<Rng> run(rng, space, pages_, arena_.direct_map(), kFakeLo);
    run.Load();
    for (int step = 0; step < 300; ++step) {
      run.Step();
      arch.calls.clear();  // the fake's call log, which nothing here reads
    }
    run.Finish();
    EXPECT_TRUE(arch.pages.empty());
  }
}

// The same streams through the 4-level tables a process gets in the kernel; after the teardown and the
// space's release every page-table page is back.
TEST_F(UserVmPropertyTest, RandomStreamsMatchTheModelOverTheX86Tables) {
  X86Tables x;
  ASSERT_EQ(x.mmu.Init(x86::Mmu::GiantPages::kYes), x86::MmuStatus::kOk);
  const size_t tables_before = x.pt.outstanding();
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    SCOPED_TRACE(seed);
    Rng rng(seed);
    x86::X86Aspace uarch = x.karch;
    ASSERT_EQ(x86::X86Aspace::User(x.mmu, &uarch), VmStatus::kOk);
    AddressSpace space("proc", AddressSpace::Kind::kUser, uarch);
    {
      UserVmRun<Rng> run(rng, space, pages_, arena_.direct_map(), kX86Lo + seed * (uint64_t{1} << 30));
      run.Load();
      for (int step = 0; step < 300; ++step) run.Step();
      run.Finish();
    }
    space.Release(x.kernel);
    EXPECT_EQ(x.pt.outstanding() - x.mmu.pool_pages(), tables_before);
  }
}

TEST_F(UserVmPropertyTest, ForkTreesMatchTheModelOverTheFakeTables) {
  for (uint64_t seed = 1; seed <= 25; ++seed) {
    SCOPED_TRACE(seed);
    Rng rng(seed);
    RunForkTree(rng, [] { return std::make_unique<FakeSpace>(); }, pages_, arena_.direct_map(), kFakeLo);
  }
}

// The same trees over x86 tables: each process's own top level over one host Mmu, every table page back
// after the last exit.
TEST_F(UserVmPropertyTest, ForkTreesMatchTheModelOverTheX86Tables) {
  X86Tables x;
  ASSERT_EQ(x.mmu.Init(x86::Mmu::GiantPages::kYes), x86::MmuStatus::kOk);
  struct X86Space final : UserVmSpace {
    X86Space(x86::Mmu& mmu, const x86::X86Aspace& karch, AddressSpace& kernel) : arch(karch), kernel(kernel) {
      KASSERT(x86::X86Aspace::User(mmu, &arch) == VmStatus::kOk, "no tables for a user space");
    }
    ~X86Space() override { as.Release(kernel); }
    AddressSpace& space() override { return as; }
    x86::X86Aspace arch;
    AddressSpace& kernel;
    AddressSpace as{"proc", AddressSpace::Kind::kUser, arch};
  };
  const size_t tables_before = x.pt.outstanding();
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    SCOPED_TRACE(seed);
    Rng rng(seed);
    RunForkTree(rng, [&] { return std::make_unique<X86Space>(x.mmu, x.karch, x.kernel); }, pages_, arena_.direct_map(),
                kX86Lo + seed * (uint64_t{1} << 30));
    EXPECT_EQ(x.pt.outstanding() - x.mmu.pool_pages(), tables_before);
  }
}

// Each check of the run fails when what it checks is broken.
class UserVmCheckTest : public UserVmPropertyTest {
 protected:
  UserVmCheckTest() : space_("proc", AddressSpace::Kind::kUser, arch_), rng_(7) {}

  // A run after the loader's steps and a few faults, so that pages are resident.
  UserVmRun<Rng>& Loaded() {
    run_ = std::make_unique<UserVmRun<Rng>>(rng_, space_, pages_, arena_.direct_map(), kFakeLo);
    run_->Load();
    for (uint64_t va = kFakeLo; va < kFakeLo + 3 * kPageSize; va += kPageSize) {
      EXPECT_EQ(run_->vm().Fault(VirtAddr(va), Access::kRead).status, FaultStatus::kResolved);
      run_->model().At(va).resident = true;
      run_->model().At(va).frame = run_->model().frames().New();
      std::memcpy(&run_->model().At(va).word, ByteAt(va), 8);
    }
    run_->Check("faults");
    return *run_;
  }
  uint8_t* ByteAt(uint64_t va) {
    VmMapping m;
    EXPECT_EQ(space_.Query(VirtAddr(va), &m), VmStatus::kOk);
    return arena_.direct_map().Kaddr<uint8_t>(m.pa);
  }

  FakeArchAspace arch_;
  AddressSpace space_;
  Rng rng_;
  std::unique_ptr<UserVmRun<Rng>> run_;
};

TEST_F(UserVmCheckTest, AVmaChangeTheModelDidNotMakeIsCaught) {
  UserVmRun<Rng>& run = Loaded();
  ASSERT_EQ(run.vm().Mprotect(VirtAddr(kFakeLo), kPageSize, Prot::kRead), UserVmStatus::kOk);
  EXPECT_DEATH(run.Check("a change behind the model's back"), "VMA 0 is 0x400000-0x401000 prot 0 kind 0");
  // The stack's top page made read-only: UserVm splits the stack, a model that only changes the page's
  // protection does not.
  const uint64_t top = run.model().top_;
  ASSERT_EQ(run.vm().Mprotect(VirtAddr(top - kPageSize), kPageSize, Prot::kRead), UserVmStatus::kOk);
  run.model().At(top - kPageSize).prot = Prot::kRead;
  EXPECT_DEATH(run.Check("a split the model missed"), "VMAs, the model has");
  run.Finish();
}

TEST_F(UserVmCheckTest, AMappingOutsideEveryVmaIsCaught) {
  UserVmRun<Rng>& run = Loaded();
  const uint64_t hole = kFakeLo + 100 * kPageSize;
  ASSERT_EQ(space_.Map(VirtAddr(hole), PhysAddr(0x40000000), kPageSize, Prot::kRead, CacheMode::kCached),
            VmStatus::kOk);
  EXPECT_DEATH(run.Check("a stray mapping"), "page 0x464000 is ok, the model says not resident");
  ASSERT_EQ(space_.Unmap(VirtAddr(hole), kPageSize), VmStatus::kOk);
  run.Finish();
}

TEST_F(UserVmCheckTest, ALostPageOrWrongBytesAreCaught) {
  UserVmRun<Rng>& run = Loaded();
  const uint64_t va = kFakeLo + 2 * kPageSize;
  ByteAt(va)[0] ^= 1;
  EXPECT_DEATH(run.Check("a corrupted page"), "page 0x402000 holds .*, the model");
  ByteAt(va)[0] ^= 1;
  VmMapping lost;
  ASSERT_EQ(space_.Query(VirtAddr(va), &lost), VmStatus::kOk);
  ASSERT_EQ(space_.Unmap(VirtAddr(va), kPageSize), VmStatus::kOk);
  EXPECT_DEATH(run.Check("a lost page"), "resident pages but .* are mapped");
  // Another page in its place: the lost one stays allocated, which palloc's count against the model's
  // frames sees, after every step and at the teardown.
  PhysAddr pa = pages_.palloc().Pa(pages_.palloc().TryNewPage(VirtAddr(va)).page);
  ASSERT_EQ(space_.Map(VirtAddr(va), pa, kPageSize, run.model().At(va).prot, CacheMode::kCached), VmStatus::kOk);
  std::memcpy(ByteAt(va), &run.model().At(va).word, 8);
  EXPECT_DEATH(run.Check("the page replaced"), "after the page replaced: palloc has .* free pages, the model's frames");
  EXPECT_DEATH(run.Finish(), "after teardown: palloc has .* free pages, the model's frames");
  pages_.palloc().PutPage(pages_.palloc().PageOf(lost.pa));
  run.Finish();
}

// A fork whose pages stayed writable (no copy-on-write): the parent's next write would reach the child.
// UserVm's own invariant sees the writable shared page, and the child's check sees the parent's write.
//   parent  data page --rw--> frame F <--r-- child     (should be r in both)
TEST_F(UserVmCheckTest, AForkWithoutCopyOnWriteIsCaught) {
  UserVmRun<Rng>& parent = Loaded();
  uint64_t va = kFakeLo;
  while (parent.model().At(va).kind != VmaKind::kData) va += kPageSize;
  ASSERT_EQ(parent.vm().Write(VirtAddr(va), "parent", 6), UserVmStatus::kOk);
  UserVmModel::PageState& page = parent.model().At(va);
  if (!page.resident) page.frame = parent.model().frames().New();
  page.resident = true;
  std::memcpy(&page.word, ByteAt(va), 8);
  parent.Check("the write");
  FakeArchAspace child_arch;
  AddressSpace child_space("child", AddressSpace::Kind::kUser, child_arch);
  UserVmRun<Rng> child(parent, child_space);
  ASSERT_TRUE(parent.Fork(child));
  ASSERT_EQ(space_.Protect(VirtAddr(va), kPageSize, Prot::kWrite), VmStatus::kOk);
  EXPECT_DEATH(parent.vm().Validate(), "page 0x[0-9a-f]+ is mapped writable but shared");
  // The parent writes through that translation, as its user code would, and the model says it did.
  ByteAt(va)[0] ^= 0xff;
  page.word ^= 0xff;
  EXPECT_DEATH(child.Check("the parent's write"), "after the parent's write: page 0x[0-9a-f]+ holds .*, the model");
  ByteAt(va)[0] ^= 0xff;
  page.word ^= 0xff;
  ASSERT_EQ(space_.Protect(VirtAddr(va), kPageSize, Prot::kRead), VmStatus::kOk);
  child.Finish();
  parent.Finish();
}

}  // namespace
}  // namespace kmem::testing
