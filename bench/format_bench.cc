// Cost of the console formatter on the lines the kernel prints most: memory-map rows and counters.
#include <benchmark/benchmark.h>

#include <cstdint>

#include "mm/base/format.h"

namespace {

void BM_FormatMapRow(benchmark::State& state) {
  char line[80];
  uint64_t base = 0x100000;
  for (auto _ : state) {
    size_t n = kmem::FormatTo(line, sizeof line, "0x%016llx 0x%016llx %u", static_cast<unsigned long long>(base),
                              static_cast<unsigned long long>(base + 0x3fee0000), 1u);
    benchmark::DoNotOptimize(n);
    base += 0x1000;
  }
}
BENCHMARK(BM_FormatMapRow);

void BM_FormatDecimal(benchmark::State& state) {
  char line[32];
  unsigned long long v = 1;
  for (auto _ : state) {
    benchmark::DoNotOptimize(kmem::FormatTo(line, sizeof line, "%llu", v));
    v = v * 3 + 1;
  }
}
BENCHMARK(BM_FormatDecimal);

}  // namespace

BENCHMARK_MAIN();
