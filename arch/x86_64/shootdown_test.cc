// TLB shootdown over the x86 tables with threads as CPUs (testing/host_env.cc) and the fake CPU's TLB model
// (testing/fake_cpu.h): readers on other CPUs cache a translation, one CPU changes the space, and when the
// change returns no other CPU may still hold the entry; with the shootdown switched off they must.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "arch/x86_64/aspace.h"
#include "testing/fake_aspace.h"
#include "testing/fake_cpu.h"
#include "testing/phys_arena.h"
#include "testing/pt_pages.h"

namespace kmem::x86 {
namespace {

using testing::FakeCpu;

constexpr uint64_t kUserVa = 0x0000004000000000;  // a 1 GiB slot of its own: its tables go with its pages
constexpr VirtAddr kKernelVa(kVmap + k1G);
constexpr unsigned kReaders = 3;

// Where each CPU goes when a test ends, as a CPU goes idle: a space that outlives every test, so that no
// CPU's current space is one a finished test destroyed.
void Idle() {
  static testing::FakeArchAspace arch;
  static AddressSpace idle("idle", AddressSpace::Kind::kKernel, arch);
  idle.Activate();
}

enum class Kind { kUser, kKernel };
struct Config {
  Kind kind;
  Mmu::Pcids pcids;
};

class ShootdownTest : public ::testing::TestWithParam<Config> {
 protected:
  ShootdownTest()
      : arena_(PhysAddr(0x40000000), 16 << 20),
        pages_(arena_),
        mmu_(arena_.direct_map(), pages_, cpu_),
        karch_(X86Aspace::Kernel(mmu_)),
        uarch_(karch_),
        kernel_("kernel", AddressSpace::Kind::kKernel, karch_),
        proc_("proc", AddressSpace::Kind::kUser, uarch_) {
    EXPECT_EQ(mmu_.Init(Mmu::GiantPages::kYes), MmuStatus::kOk);
    mmu_.SetPcids(GetParam().pcids);
    EXPECT_EQ(X86Aspace::User(mmu_, &uarch_), VmStatus::kOk);
    TlbStatsReset();
  }
  ~ShootdownTest() override {
    SetShootdown(Shootdown::kOn);
    Idle();
  }

  bool user() const { return GetParam().kind == Kind::kUser; }
  AddressSpace& space() { return user() ? proc_ : kernel_; }
  VirtAddr va() const { return user() ? VirtAddr(kUserVa) : kKernelVa; }

  // A load through the calling CPU's TLB, walking the space's tables on a miss, with interrupts off as one
  // instruction is.
  bool Read(VirtAddr at) {
    const IrqState irq = IrqSave();
    PhysAddr pa;
    const bool ok = cpu_.Read(at, &pa, [this](VirtAddr v, Translation* t) {
      VmMapping m;
      if (space().Query(v, &m) != VmStatus::kOk) return false;
      *t = Translation{MmuStatus::kOk, m.pa, m.page_size == k1G ? PageSize::k1G : m.page_size == k2M ? PageSize::k2M : PageSize::k4K,
                       user() ? Attr::kUser : Attr::kGlobal};
      return true;
    });
    IrqRestore(irq);
    return ok;
  }

  // kReaders threads load the space and read `at` in a loop until Stop; Start returns once each has the
  // translation in its TLB. A read that still translates after `unmapped` was set is counted.
  void Start(VirtAddr at) {
    for (unsigned i = 0; i < kReaders; ++i) {
      readers_.emplace_back([this, at] {
        space().Activate();
        const unsigned me = CpuId();
        bool primed = false;
        while (!stop_.load()) {
          const bool after = unmapped_.load();
          const bool hit = Read(at);
          if (hit && after) ++late_reads_;
          if (hit && !primed) {
            primed = true;
            std::lock_guard<std::mutex> g(mu_);
            reader_cpus_ = reader_cpus_ | CpuSet::Of(me);
          }
        }
        Idle();
      });
    }
    for (;;) {
      {
        std::lock_guard<std::mutex> g(mu_);
        if (reader_cpus_.Count() == kReaders) break;
      }
      std::this_thread::yield();
    }
  }
  void Stop() {
    stop_ = true;
    for (std::thread& t : readers_) t.join();
  }
  // Runs fn as each reader CPU (a cross-call: between its reads) and returns the CPUs for which it said yes.
  CpuSet OnReaders(bool (*fn)(ShootdownTest*, VirtAddr), VirtAddr at) {
    struct Arg {
      ShootdownTest* t;
      bool (*fn)(ShootdownTest*, VirtAddr);
      VirtAddr at;
      std::atomic<uint32_t> yes{0};
    } arg{this, fn, at};
    CrossCall(
        reader_cpus_,
        [](void* p) {
          Arg& a = *static_cast<Arg*>(p);
          if (a.fn(a.t, a.at)) a.yes |= CpuSet::Of(CpuId()).bits();
        },
        &arg);
    return CpuSet(arg.yes.load());
  }
  static bool Holds(ShootdownTest* t, VirtAddr at) { return t->cpu_.Holds(at); }

  testing::PhysArena arena_;
  testing::ArenaPtPages pages_;
  FakeCpu cpu_;
  Mmu mmu_;
  X86Aspace karch_, uarch_;
  AddressSpace kernel_, proc_;
  std::vector<std::thread> readers_;
  std::mutex mu_;
  CpuSet reader_cpus_;
  std::atomic<bool> stop_{false}, unmapped_{false};
  std::atomic<unsigned> late_reads_{0};
};

TEST_P(ShootdownTest, NoOtherCpuHoldsTheEntryOnceUnmapReturns) {
  ASSERT_EQ(space().Map(va(), PhysAddr(0x200000), kPageSize, Prot::kRead, CacheMode::kCached), VmStatus::kOk);
  space().Activate();
  Start(va());
  EXPECT_EQ(OnReaders(Holds, va()).Count(), kReaders);
  ASSERT_EQ(space().Unmap(va(), kPageSize), VmStatus::kOk);
  unmapped_ = true;
  EXPECT_EQ(OnReaders(Holds, va()), CpuSet());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the readers go on reading: every read faults
  Stop();
  EXPECT_EQ(late_reads_.load(), 0u);
  EXPECT_FALSE(Read(va()));
  const TlbStats s = TlbStatsTotal();
  EXPECT_EQ(s.shootdowns, 1u);
  EXPECT_EQ(s.remote_cpus, user() ? kReaders : kMaxCpus - 1);  // the kernel's space: every online CPU
  EXPECT_EQ(s.pages, user() ? kReaders + 1 : kMaxCpus);
}

// The same with the shootdown switched off: the readers keep their entries and read a page that is gone.
// This is what the test above would see if Unmap flushed only its own CPU.
TEST_P(ShootdownTest, SwitchedOffTheOtherCpusReadThroughStaleEntries) {
  ASSERT_EQ(space().Map(va(), PhysAddr(0x200000), kPageSize, Prot::kRead, CacheMode::kCached), VmStatus::kOk);
  space().Activate();
  Start(va());
  SetShootdown(Shootdown::kOff);
  ASSERT_EQ(space().Unmap(va(), kPageSize), VmStatus::kOk);
  unmapped_ = true;
  EXPECT_EQ(OnReaders(Holds, va()).Count(), kReaders);
  while (late_reads_.load() == 0) std::this_thread::yield();
  Stop();
  EXPECT_FALSE(Read(va()));  // this CPU flushed
}

// The unmap empties the page's page table, directory and directory pointer table: while any CPU flushes,
// all three are still the MMU's, and only after every CPU has are they back in the pool.
TEST_P(ShootdownTest, FreedTablesAreReusedOnlyAfterEveryCpuFlushed) {
  ASSERT_EQ(space().Map(va(), PhysAddr(0x200000), kPageSize, Prot::kRead, CacheMode::kCached), VmStatus::kOk);
  space().Activate();
  Start(va());
  const uint64_t tables = mmu_.table_pages();
  std::mutex mu;
  std::vector<uint64_t> seen;
  cpu_.on_flush = [&] {
    std::lock_guard<std::mutex> g(mu);
    seen.push_back(mmu_.table_pages());
  };
  ASSERT_EQ(space().Unmap(va(), kPageSize), VmStatus::kOk);
  cpu_.on_flush = nullptr;
  Stop();
  const uint64_t freed = user() ? 3 : 2;  // the kernel's third-level tables are shared and stay
  EXPECT_EQ(mmu_.table_pages(), tables - freed);
  EXPECT_EQ(seen.size(), user() ? kReaders + 1 : kMaxCpus);
  for (uint64_t n : seen) EXPECT_EQ(n, tables);
}

// 16 pages go one by one on every CPU; 17 are one full flush: a CR3 reload of the space (its PCID), or for
// the kernel's global entries a global flush.
TEST_P(ShootdownTest, PastTheThresholdEveryCpuFlushesItsWholeTlb) {
  const uint64_t n = TlbBatch::kMaxPages;
  ASSERT_EQ(space().Map(va(), PhysAddr(0x200000), (2 * n + 1) * kPageSize, Prot::kRead, CacheMode::kCached),
            VmStatus::kOk);
  space().Activate();
  Start(va());
  CrossCall(reader_cpus_, [](void* c) { static_cast<FakeCpu*>(c)->Take(); }, &cpu_);
  cpu_.Take();
  ASSERT_EQ(space().Unmap(va(), n * kPageSize), VmStatus::kOk);
  ASSERT_EQ(space().Unmap(va() + n * kPageSize, (n + 1) * kPageSize), VmStatus::kOk);
  Stop();
  std::vector<FakeCpu::Event> want;
  for (uint64_t i = 0; i < n; ++i) want.push_back(testing::Invlpg((va() + i * kPageSize).value()));
  const uint16_t pcid = uarch_.pcid();
  want.push_back(user() ? testing::LoadCr3(uarch_.root().value() | pcid) : testing::FlushGlobal());
  EXPECT_EQ(cpu_.Take(), want);
  struct Arg {
    FakeCpu* cpu;
    const std::vector<FakeCpu::Event>* want;
    std::atomic<unsigned> same{0};
  } arg{&cpu_, &want, {}};
  CrossCall(
      reader_cpus_,
      [](void* p) {
        Arg& a = *static_cast<Arg*>(p);
        if (a.cpu->Take() == *a.want) ++a.same;
      },
      &arg);
  EXPECT_EQ(arg.same.load(), kReaders);
  const TlbStats s = TlbStatsTotal();
  const uint64_t cpus = user() ? kReaders + 1 : kMaxCpus;
  EXPECT_EQ(s.shootdowns, 2u);
  EXPECT_EQ(s.remote_cpus, 2 * (cpus - 1));
  EXPECT_EQ(s.pages, n * cpus);
  EXPECT_EQ(s.full_flushes, cpus);
  EXPECT_EQ(s.deferred, 0u);
}

// With PCIDs a CPU that leaves a space keeps its entries, so it stays one the space's changes ask: back
// with nothing changed, it loads the space keeping them; after a change made while it was away (which it
// noted, deferred, instead of flushing another space's PCID), it loads the space flushed.
TEST_P(ShootdownTest, ACpuBackInATaggedSpaceFlushesItOnlyIfItChangedMeanwhile) {
  if (!user() || GetParam().pcids == Mmu::Pcids::kNo) GTEST_SKIP() << "PCIDs only";
  const VirtAddr other = va() + kPageSize;
  ASSERT_EQ(proc_.Map(va(), PhysAddr(0x200000), 2 * kPageSize, Prot::kRead, CacheMode::kCached), VmStatus::kOk);
  std::atomic<int> step{0};
  std::vector<FakeCpu::Event> back[2];
  bool held[2] = {};
  std::thread b([&] {
    for (int round = 0; round < 2; ++round) {
      proc_.Activate();
      EXPECT_TRUE(Read(va()));
      kernel_.Activate();
      cpu_.Take();
      step = 2 * round + 1;
      while (step != 2 * round + 2) std::this_thread::yield();
      proc_.Activate();
      back[round] = cpu_.Take();
      const IrqState irq = IrqSave();
      held[round] = cpu_.Holds(va());
      IrqRestore(irq);
    }
    Idle();
  });
  const uint64_t cr3 = uarch_.root().value() | uarch_.pcid();
  while (step != 1) std::this_thread::yield();
  step = 2;  // nothing changed
  while (step != 3) std::this_thread::yield();
  ASSERT_EQ(proc_.Unmap(other, kPageSize), VmStatus::kOk);
  EXPECT_EQ(TlbStatsTotal().deferred, 1u);
  step = 4;
  b.join();
  EXPECT_EQ(back[0], std::vector<FakeCpu::Event>{testing::LoadCr3(cr3 | FakeCpu::kNoFlush)});
  EXPECT_TRUE(held[0]);
  EXPECT_EQ(back[1], std::vector<FakeCpu::Event>{testing::LoadCr3(cr3)});
  EXPECT_FALSE(held[1]);
}

INSTANTIATE_TEST_SUITE_P(Spaces, ShootdownTest,
                         ::testing::Values(Config{Kind::kUser, Mmu::Pcids::kNo}, Config{Kind::kUser, Mmu::Pcids::kYes},
                                           Config{Kind::kKernel, Mmu::Pcids::kNo}),
                         [](const ::testing::TestParamInfo<Config>& info) {
                           return std::string(info.param.kind == Kind::kUser ? "User" : "Kernel") +
                                  (info.param.pcids == Mmu::Pcids::kYes ? "Pcids" : "");
                         });

}  // namespace
}  // namespace kmem::x86
