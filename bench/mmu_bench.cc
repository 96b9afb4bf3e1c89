// Cost of the MMU's page-table operations over simulated physical memory: a 4 KiB map+unmap pair with its
// flush, a hot Translate, mapping 1 GiB with 4 KiB, 2 MiB or 1 GiB pages, and the page-table bytes each
// of those takes per GiB mapped (label pt_bytes_per_GiB).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "arch/x86_64/mmu.h"
#include "testing/phys_arena.h"
#include "testing/pt_pages.h"

namespace {

using kmem::PhysAddr;
using kmem::VirtAddr;
using kmem::x86::Attr;
using kmem::x86::Mmu;
using kmem::x86::MmuStatus;

// Counts the CPU operations instead of recording them, so a long run does not grow a log.
class CountingCpu : public kmem::x86::CpuOps {
 public:
  void LoadCr3(kmem::PhysAddr, uint16_t, kmem::TlbReuse) override { ++flushes; }
  void Invlpg(VirtAddr) override { ++flushes; }
  void FlushGlobal() override { ++flushes; }
  unsigned CpuId() override { return 0; }
  uint64_t flushes = 0;
};

struct Fixture {
  explicit Fixture(Mmu::GiantPages giant)
      : arena(PhysAddr(0x100000000), 64 << 20), pages(arena), mmu(arena.direct_map(), pages, cpu) {
    if (mmu.Init(giant) != MmuStatus::kOk) std::abort();
    // The MMU on one CPU: the host's other seven CPU ids would answer every kernel unmap's shootdown
    // (mm/vm/tlb.h), and the cross-calls' cost, not the MMU's, would be measured.
    kmem::SetShootdown(kmem::Shootdown::kOff);
  }
  kmem::testing::PhysArena arena;
  kmem::testing::ArenaPtPages pages;
  CountingCpu cpu;
  Mmu mmu;
};

constexpr uint64_t kBase = kmem::x86::kDirectMap;
constexpr Attr kRW = Attr::kWrite | Attr::kGlobal;

// Tables present (a neighbour keeps them alive), so this is the leaf write, the walk and one invlpg.
void BM_MapUnmap4K(benchmark::State& state) {
  Fixture f(Mmu::GiantPages::kYes);
  const PhysAddr table = f.mmu.kernel_table();
  if (f.mmu.Pmap(table, PhysAddr(0), VirtAddr(kBase), kmem::kPageSize, kRW) != MmuStatus::kOk) std::abort();
  const VirtAddr va(kBase + kmem::kPageSize);
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.mmu.Pmap(table, PhysAddr(0x5000), va, kmem::kPageSize, kRW));
    benchmark::DoNotOptimize(f.mmu.Punmap(table, va, kmem::kPageSize));
  }
  if (f.cpu.flushes != static_cast<uint64_t>(state.iterations())) state.SkipWithError("not one flush per unmap");
}
BENCHMARK(BM_MapUnmap4K);

// A hot Translate through all four levels to a 4 KiB page.
void BM_Translate4K(benchmark::State& state) {
  Fixture f(Mmu::GiantPages::kYes);
  const PhysAddr table = f.mmu.kernel_table();
  if (f.mmu.Pmap(table, PhysAddr(0x5000), VirtAddr(kBase), kmem::kPageSize, kRW) != MmuStatus::kOk) std::abort();
  uint64_t off = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.mmu.Translate(table, VirtAddr(kBase + off)));
    off = (off + 8) & 0xfff;
  }
}
BENCHMARK(BM_Translate4K);

// Maps 1 GiB of direct map with pages of state.range(0) bytes (the physical offset forces the size), then
// unmaps it outside the timed region.
void BM_Map1G(benchmark::State& state) {
  const uint64_t page = state.range(0);
  Fixture f(page == kmem::x86::k1G ? Mmu::GiantPages::kYes : Mmu::GiantPages::kNo);
  const PhysAddr table = f.mmu.kernel_table();
  const uint64_t before = f.mmu.table_pages();
  // 4 KiB pages: a physical address that is only page-aligned keeps larger pages out.
  const PhysAddr pa(page == kmem::kPageSize ? kmem::x86::k1G + kmem::kPageSize : kmem::x86::k1G);
  const VirtAddr va(kBase + kmem::x86::k1G);
  uint64_t table_bytes = 0;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    MmuStatus s = f.mmu.Pmap(table, pa, va, kmem::x86::k1G, kRW);
    auto t1 = std::chrono::steady_clock::now();
    if (s != MmuStatus::kOk) std::abort();
    table_bytes = (f.mmu.table_pages() - before) * kmem::kPageSize;
    f.mmu.Punmap(table, va, kmem::x86::k1G);
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
  }
  // A label rather than a counter: the CSV reporter wants the same counters on every benchmark.
  state.SetLabel("pt_bytes_per_GiB=" + std::to_string(table_bytes));
}
BENCHMARK(BM_Map1G)->Arg(4096)->Arg(2 << 20)->Arg(1 << 30)->UseManualTime();

}  // namespace

BENCHMARK_MAIN();
