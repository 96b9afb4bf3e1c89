// The palloc workloads (palloc_workloads.h) as Google Benchmark targets, both backends in one run. One
// iteration runs a whole workload; its figures are reported as counters (ns per pair, alloc, free, op)
// and the iteration time is the workload's. `--small` shrinks every workload for the smoke test.
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>

#include "bench/palloc_workloads.h"
#include "mm/palloc/buddy.h"
#include "mm/palloc/colour.h"

namespace {

using kmem::bench::Sizes;

Sizes sizes;

template <typename Backend>
void BM_Palloc(benchmark::State& state, const char* workload) {
  for (auto _ : state) {
    kmem::bench::Stopwatch t;
    auto figures = kmem::bench::Run<Backend>(workload, sizes);
    state.SetIterationTime(t.Ns() / 1e9);
    for (const auto& f : figures) state.counters[f.what + "_" + f.unit] = f.value;
  }
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--small") == 0) {
      sizes = Sizes{uint64_t{1} << 14, 20'000, 5'000, 20'000, 1'000, 20'000};
      argv[i] = argv[--argc];
    }
  }
  for (const char* w : kmem::bench::kWorkloads) {
    benchmark::RegisterBenchmark((std::string("BM_Palloc/buddy/") + w).c_str(), BM_Palloc<kmem::BuddyBackend>, w)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((std::string("BM_Palloc/colour/") + w).c_str(), BM_Palloc<kmem::ColourBackend>, w)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
