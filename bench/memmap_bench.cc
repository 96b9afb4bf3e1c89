// Cost of memory discovery: sanitising firmware maps of growing size (O(n^2) by design, bounded by the
// 256-entry table), building the typed map from QEMU's 6G map, and early page allocation from the map.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <random>

#include "arch/x86_64/layout.h"
#include "arch/x86_64/pc/legacy.h"
#include "mm/memmap/e820.h"
#include "mm/memmap/memmap.h"

namespace {

kmem::E820Map raw, sanitised;
kmem::Memmap typed(kmem::x86::kArchPhysLimit);

// n overlapping entries of random types over 64 GiB, unaligned, like a firmware map gone wrong.
void RandomMap(size_t n) {
  std::mt19937_64 rng(n);
  raw.count = 0;
  for (size_t i = 0; i < n; ++i) {
    uint64_t base = rng() % (uint64_t{64} << 30), len = rng() % (uint64_t{1} << 30);
    kmem::E820Append(&raw, base, kmem::PhysEnd{base} + len, 1 + rng() % 5);
  }
}

void BM_E820Sanitise(benchmark::State& state) {
  RandomMap(static_cast<size_t>(state.range(0)));
  kmem::E820Report report;
  for (auto _ : state) benchmark::DoNotOptimize(kmem::E820Sanitise(raw, &sanitised, &report));
  state.SetComplexityN(state.range(0));
}
BENCHMARK(BM_E820Sanitise)->Arg(8)->Arg(32)->Arg(128)->Complexity();

void QemuMap() {
  raw.count = 0;
  const struct {
    uint64_t base, end;
    uint32_t type;
  } qemu6g[] = {{0x0, 0x9fc00, 1},
                {0x9fc00, 0xa0000, 2},
                {0xf0000, 0x100000, 2},
                {0x100000, 0xbffe0000, 1},
                {0xbffe0000, 0xc0000000, 2},
                {0xfffc0000, 0x100000000, 2},
                {0x100000000, 0x1c0000000, 1},
                {0xfd00000000, 0x10000000000, 2}};
  for (const auto& e : qemu6g) kmem::E820Append(&raw, e.base, e.end, e.type);
}

void FreshTypedMap() {
  kmem::E820Report report;
  kmem::E820Sanitise(raw, &sanitised, &report);
  // A fresh map in place: a Memmap is not copyable (its lock).
  std::destroy_at(&typed);
  std::construct_at(&typed, kmem::x86::kArchPhysLimit);
  kmem::x86::PcAddE820(sanitised, &typed);
}

void BM_MemmapFromQemu6G(benchmark::State& state) {
  QemuMap();
  for (auto _ : state) {
    FreshTypedMap();
    benchmark::DoNotOptimize(typed.count());
  }
}
BENCHMARK(BM_MemmapFromQemu6G);

// Early page allocation (rampage before xalloc): one page at a time out of the typed map, which starts
// again from a fresh map when its 6 GiB are used up.
void BM_MemmapAllocPage(benchmark::State& state) {
  QemuMap();
  FreshTypedMap();
  kmem::PhysAddr pa;
  for (auto _ : state) {
    while (typed.Alloc(kmem::Memmap::kAnyAddress, kmem::kPageSize, kmem::kPageSize, kmem::MemType::kRam, &pa) !=
           kmem::MemmapStatus::kOk) {
      state.PauseTiming();
      FreshTypedMap();
      state.ResumeTiming();
    }
    benchmark::DoNotOptimize(pa);
  }
}
BENCHMARK(BM_MemmapAllocPage);

}  // namespace

BENCHMARK_MAIN();
