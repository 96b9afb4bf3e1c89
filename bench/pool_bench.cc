// Cost of an allocation and its free, as ns per pair, for sizes 16 B to 4 KiB: mainmem's Malloc/Free
// (Malloc zeroes the block, as 9front's does), Kmalloc/Kfree, a slab cache of exactly that size, and glibc's malloc/free measured in the same run as the
// reference. Every kmem pair includes its guards (poison fill on free, poison check on allocation, canary
// and header checks). Target: Kmalloc and slab pairs no slower than glibc at every size.
#include <benchmark/benchmark.h>

#include <cstdlib>

#include "mm/pool/pool.h"
#include "mm/pool/slab.h"
#include "testing/pool_host.h"

namespace {

using namespace kmem::pool;

void InitOnce() {
  static bool done = [] {
    static kmem::testing::HeapSource heap;
    PoolInit(mainmem, {"mainmem", 256 << 20, 1 << 20, FreeFill::kPoison, heap.source(), {}});
    KmemInit(heap.source());
    return true;
  }();
  (void)done;
}

void BM_GlibcMallocFree(benchmark::State& state) {
  size_t n = state.range(0);
  for (auto _ : state) {
    void* p = std::malloc(n);
    benchmark::DoNotOptimize(p);
    std::free(p);
  }
}
BENCHMARK(BM_GlibcMallocFree)->RangeMultiplier(2)->Range(16, 4096);

void BM_PoolMallocFree(benchmark::State& state) {
  InitOnce();
  size_t n = state.range(0);
  for (auto _ : state) {
    void* p = Malloc(n);
    benchmark::DoNotOptimize(p);
    Free(p);
  }
}
BENCHMARK(BM_PoolMallocFree)->RangeMultiplier(2)->Range(16, 4096);

void BM_KmallocKfree(benchmark::State& state) {
  InitOnce();
  size_t n = state.range(0);
  for (auto _ : state) {
    void* p = Kmalloc(n);
    benchmark::DoNotOptimize(p);
    Kfree(p);
  }
}
BENCHMARK(BM_KmallocKfree)->RangeMultiplier(2)->Range(16, 4096);

void BM_SlabAllocFree(benchmark::State& state) {
  InitOnce();
  KmemCache* cache = KmemCacheCreate("bench", state.range(0), 16);
  for (auto _ : state) {
    void* p = KmemCacheAlloc(cache);
    benchmark::DoNotOptimize(p);
    KmemCacheFree(cache, p);
  }
  KmemCacheDestroy(cache);
}
BENCHMARK(BM_SlabAllocFree)->RangeMultiplier(2)->Range(16, 4096);

}  // namespace

BENCHMARK_MAIN();
