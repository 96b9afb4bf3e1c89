// Cost of the early allocator: one Xalloc and one Xfree of the same block (ns per pair), 16 B to 64 KiB,
// over simulated RAM. Xalloc zeroes its block, so large sizes are dominated by the memset; the Xallocz
// (Zero::kNo) rows show the allocator alone. The fragmented rows make first fit scan 120 holes too small
// for the request before it finds one, the worst case of its O(holes) search.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "mm/xalloc/xalloc.h"
#include "testing/phys_arena.h"

namespace {

using kmem::HoleAllocator;
using kmem::PhysAddr;

constexpr uint64_t kRam = uint64_t{64} << 20;

struct Heap {
  kmem::testing::PhysArena ram{PhysAddr(0x100000), kRam};
  HoleAllocator xalloc{ram.direct_map()};
  Heap() { xalloc.Xhole(PhysAddr(0x100000), kRam); }

  // Leaves 120 small holes below the big one: every other 16-byte block freed.
  void Fragment() {
    std::vector<void*> blocks;
    for (int i = 0; i < 241; ++i) blocks.push_back(xalloc.Xalloc(16));
    for (int i = 0; i < 240; i += 2) xalloc.Xfree(blocks[i]);
  }
};

void BM_XallocXfree(benchmark::State& state) {
  Heap heap;
  uint64_t size = state.range(0);
  for (auto _ : state) {
    void* p = heap.xalloc.Xalloc(size);
    benchmark::DoNotOptimize(p);
    heap.xalloc.Xfree(p);
  }
}
BENCHMARK(BM_XallocXfree)->RangeMultiplier(4)->Range(16, 64 << 10);

void BM_XalloczNoXfree(benchmark::State& state) {
  Heap heap;
  uint64_t size = state.range(0);
  for (auto _ : state) {
    void* p = heap.xalloc.Xallocz(size, kmem::Zero::kNo);
    benchmark::DoNotOptimize(p);
    heap.xalloc.Xfree(p);
  }
}
BENCHMARK(BM_XalloczNoXfree)->RangeMultiplier(4)->Range(16, 64 << 10);

void BM_XalloczNoXfreeFragmented(benchmark::State& state) {
  Heap heap;
  heap.Fragment();
  uint64_t size = state.range(0);
  for (auto _ : state) {
    void* p = heap.xalloc.Xallocz(size, kmem::Zero::kNo);
    benchmark::DoNotOptimize(p);
    heap.xalloc.Xfree(p);
  }
}
BENCHMARK(BM_XalloczNoXfreeFragmented)->RangeMultiplier(16)->Range(64, 64 << 10);

// What Rampage costs once xalloc is up: a page-aligned, zeroed 4 KiB block.
void BM_XspanallocPageXfree(benchmark::State& state) {
  Heap heap;
  for (auto _ : state) {
    void* p = heap.xalloc.Xspanalloc(kmem::kPageSize, kmem::kPageSize, 0);
    benchmark::DoNotOptimize(p);
    heap.xalloc.Xfree(p);
  }
}
BENCHMARK(BM_XspanallocPageXfree);

}  // namespace

BENCHMARK_MAIN();
