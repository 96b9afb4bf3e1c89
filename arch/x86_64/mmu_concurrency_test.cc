// The kernel's tables changed from several CPUs at once (threads as CPUs, testing/host_env.cc): 4 KiB pages
// of one 2 MiB region, whose page table every change creates or frees, mapped and unmapped by each CPU in
// turn. Without the kernel tables' lock two CPUs create the same table and one mapping is lost, or both
// free it.
#include <gtest/gtest.h>

#include <mutex>
#include <thread>
#include <vector>

#include "arch/x86_64/mmu.h"
#include "testing/fake_cpu.h"
#include "testing/phys_arena.h"
#include "testing/pt_pages.h"

namespace kmem::x86 {
namespace {

// The fake page-table allocator, serialised: the Mmu calls it from every CPU (refills under the kernel
// tables' lock, frees after a shootdown).
class LockedPtPages : public PtPageAllocator {
 public:
  explicit LockedPtPages(const testing::PhysArena& arena) : pages_(arena) {}
  bool Alloc(PhysAddr* page) override {
    std::lock_guard<std::mutex> g(mu_);
    return pages_.Alloc(page);
  }
  void Free(PhysAddr page) override {
    std::lock_guard<std::mutex> g(mu_);
    pages_.Free(page);
  }

 private:
  std::mutex mu_;
  testing::ArenaPtPages pages_;
};

TEST(MmuConcurrency, CpusMappingAndUnmappingInOneKernelTableLoseNothing) {
  testing::PhysArena arena(PhysAddr(0x40000000), 16 << 20);
  LockedPtPages pages(arena);
  testing::FakeCpu cpu;
  Mmu mmu(arena.direct_map(), pages, cpu);
  ASSERT_EQ(mmu.Init(Mmu::GiantPages::kYes), MmuStatus::kOk);
  const uint64_t tables_before = mmu.table_pages();
  const VirtAddr region(kVmap + k1G);  // one page table's 2 MiB, beyond anything Init mapped
  constexpr unsigned kCpus = 4, kRounds = 3000, kSlots = 8;

  std::vector<std::thread> cpus;
  std::atomic<unsigned> lost{0};
  for (unsigned t = 0; t < kCpus; ++t) {
    cpus.emplace_back([&, t] {
      for (unsigned i = 0; i < kRounds; ++i) {
        const VirtAddr va = region + ((i % kSlots) * kCpus + t) * kPageSize;
        const PhysAddr pa(0x100000000 + (uint64_t{t} << 20) + (i % kSlots) * kPageSize);
        if (mmu.Pmap(mmu.kernel_table(), pa, va, kPageSize, Attr::kWrite | Attr::kGlobal) != MmuStatus::kOk) {
          lost.fetch_add(1);
          continue;
        }
        const Translation tr = mmu.Translate(mmu.kernel_table(), va);
        if (tr.status != MmuStatus::kOk || tr.pa != pa) lost.fetch_add(1);
        if (mmu.Punmap(mmu.kernel_table(), va, kPageSize) != MmuStatus::kOk) lost.fetch_add(1);
      }
    });
  }
  for (std::thread& c : cpus) c.join();
  EXPECT_EQ(lost.load(), 0u);
  for (unsigned s = 0; s < kSlots * kCpus; ++s) {
    EXPECT_EQ(mmu.Translate(mmu.kernel_table(), region + s * kPageSize).status, MmuStatus::kNotMapped);
  }
  EXPECT_EQ(mmu.table_pages(), tables_before) << "the region's table neither leaked nor freed twice";
}

}  // namespace
}  // namespace kmem::x86
