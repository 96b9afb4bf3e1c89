// Cost of allocations and frees on 1 and more CPUs: kmem's Kmalloc/Kfree, a slab cache of exactly the size,
// and mainmem's Malloc/Free (which zeroes, as 9front's does), against the C library's malloc/free, which is
// glibc's, tcmalloc's or mimalloc's as the binary was linked (//bench:pool_bench, _tcmalloc, _mimalloc:
// this one source, each allocator in its own process; bench/pool_compare.py runs them interleaved).
//
// Every kmem pair runs all its guards (poison fill on free, poison check on allocation, canary and header
// checks, per-CPU statistics). Each thread is pinned to its own CPU (thread t to CPU t modulo the CPUs the
// process may use) and is a kmem CPU of its own. Patterns, per thread:
//   pair   alloc+free of one object, repeated: ns per pair
//   batch  1000 objects allocated, then freed in a random order (fixed per thread), repeated: ns per
//          object allocated and freed
//
//     pool_bench [--alloc=kmem|system] [--patterns=pair,batch] [--threads=1,2] [--sizes=16,...] [--ms=N]
//                [--iters=N]
//
// --iters fixes the count of pairs (or batches) instead of timing about N ms (pair_instructions.py).
//
// prints one line per figure: ALLOCATOR<TAB>PATTERN<TAB>SIZE<TAB>THREADS<TAB>N.NN ns/thread<TAB>N.N Mops/s,
// the second the total throughput of all threads (operations over the slowest thread's time).
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "mm/palloc/kernel_palloc.h"
#include "mm/pool/pool.h"
#include "mm/pool/poolinit.h"
#include "mm/pool/slab.h"
#include "testing/palloc_host.h"
#include "testing/phys_arena.h"

#ifndef SYSTEM_MALLOC
#define SYSTEM_MALLOC "glibc"
#endif

namespace {

using namespace kmem::pool;
using Clock = std::chrono::steady_clock;

constexpr int kBatch = 1000;
// The simulated RAM the allocators grow from: the batch pattern's 1000 live 4 KiB objects on each of 2
// threads, and mainmem's arenas, with room to spare.
constexpr uint64_t kRamBytes = uint64_t{256} << 20;

// The allocators under test, called directly from the timed loops (pair_instructions.py counts what the
// loops' callees run: malloc and free, Kmalloc and Kfree, KmemCacheAlloc and KmemCacheFree).
struct SystemOps {
  static constexpr const char* kName = SYSTEM_MALLOC;
  void* Alloc(size_t n) { return std::malloc(n); }
  void Free(void* p) { std::free(p); }
};
struct KmallocOps {
  static constexpr const char* kName = "kmalloc";
  void* Alloc(size_t n) { return Kmalloc(n); }
  void Free(void* p) { Kfree(p); }
};
struct SlabOps {
  static constexpr const char* kName = "slab";
  KmemCache* cache;
  void* Alloc(size_t) { return KmemCacheAlloc(cache); }
  void Free(void* p) { KmemCacheFree(cache, p); }
};
struct MainmemOps {
  static constexpr const char* kName = "mainmem";
  void* Alloc(size_t n) { return Malloc(n); }
  void Free(void* p) { ::kmem::pool::Free(p); }
};

// The timed loops, one per pattern.
template <typename Ops>
[[gnu::noinline]] void PairLoop(Ops a, size_t size, uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) {
    void* p = a.Alloc(size);
    asm volatile("" : : "r"(p) : "memory");
    a.Free(p);
  }
}

template <typename Ops>
[[gnu::noinline]] void BatchLoop(Ops a, size_t size, uint64_t rounds, void** objs, const int* order) {
  for (uint64_t r = 0; r < rounds; ++r) {
    for (int i = 0; i < kBatch; ++i) objs[i] = a.Alloc(size);
    asm volatile("" : : "r"(objs) : "memory");
    for (int i = 0; i < kBatch; ++i) a.Free(objs[order[i]]);
  }
}

void Pin(int t) {
  cpu_set_t allowed;
  sched_getaffinity(0, sizeof allowed, &allowed);
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
  }
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpus[t % cpus.size()], &one);
  pthread_setaffinity_np(pthread_self(), sizeof one, &one);
}

// Runs `pattern` on `threads` pinned threads for about `ms` milliseconds each (the count of operations is
// calibrated on one thread first) and prints the line.
template <typename Ops>
void Run(Ops a, const char* pattern, size_t size, int threads, int ms, uint64_t iters) {
  const bool batch = std::strcmp(pattern, "batch") == 0;
  auto run_one = [&](uint64_t n, void** objs, const int* order) {
    if (batch) {
      BatchLoop(a, size, n, objs, order);
    } else {
      PairLoop(a, size, n);
    }
  };
  // Calibrate: operations (pairs, or batches of kBatch pairs) that take about `ms`.
  std::vector<void*> objs(kBatch);
  std::vector<int> order(kBatch);
  for (int i = 0; i < kBatch; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937(1));
  uint64_t n = iters != 0 ? iters : 1;
  while (iters == 0) {
    auto t0 = Clock::now();
    run_one(n, objs.data(), order.data());
    double took = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (took > ms / 8.0 || n > (uint64_t{1} << 40)) {
      n = static_cast<uint64_t>(n * ms / std::max(took, 0.001)) + 1;
      break;
    }
    n *= 4;
  }
  std::vector<double> seconds(threads);
  std::barrier start(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      Pin(t);
      std::vector<void*> my_objs(kBatch);
      std::vector<int> my_order(kBatch);
      for (int i = 0; i < kBatch; ++i) my_order[i] = i;
      std::shuffle(my_order.begin(), my_order.end(), std::mt19937(t + 1));
      run_one(n / 16 + 1, my_objs.data(), my_order.data());  // warm: slabs, magazines, caches
      start.arrive_and_wait();
      auto t0 = Clock::now();
      run_one(n, my_objs.data(), my_order.data());
      seconds[t] = std::chrono::duration<double>(Clock::now() - t0).count();
    });
  }
  for (std::thread& th : pool) th.join();
  const double ops = static_cast<double>(n) * (batch ? kBatch : 1);
  double sum = 0, slowest = 0;
  for (double s : seconds) {
    sum += s;
    slowest = std::max(slowest, s);
  }
  std::printf("%s\t%s\t%zu\t%d\t%.2f ns/thread\t%.1f Mops/s\n", Ops::kName, pattern, size, threads,
              sum / threads / ops * 1e9, ops * threads / slowest / 1e6);
  std::fflush(stdout);
}

std::vector<long> List(const char* s) {
  std::vector<long> v;
  for (char* end; *s != '\0'; s = *end == ',' ? end + 1 : end) {
    v.push_back(std::strtol(s, &end, 10));
    if (end == s) {
      std::fprintf(stderr, "pool_bench: not a number list: %s\n", s);
      std::exit(2);
    }
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  std::string which = "all";
  std::vector<long> threads = {1, 2}, sizes = {16, 32, 64, 128, 256, 512, 1024, 2048, 4096};
  long ms = 20, iters = 0;
  std::vector<std::string> patterns = {"pair", "batch"};
  for (int i = 1; i < argc; ++i) {
    const char* arg = argv[i];
    if (std::strncmp(arg, "--alloc=", 8) == 0) {
      which = arg + 8;
    } else if (std::strncmp(arg, "--threads=", 10) == 0) {
      threads = List(arg + 10);
    } else if (std::strncmp(arg, "--sizes=", 8) == 0) {
      sizes = List(arg + 8);
    } else if (std::strncmp(arg, "--ms=", 5) == 0) {
      ms = List(arg + 5).at(0);
    } else if (std::strncmp(arg, "--iters=", 8) == 0) {
      iters = List(arg + 8).at(0);
    } else if (std::strcmp(arg, "--patterns=pair") == 0 || std::strcmp(arg, "--patterns=batch") == 0) {
      patterns = {arg + 11};
    } else {
      std::fprintf(stderr, "usage: pool_bench [--alloc=kmem|system|all] [--patterns=pair|batch] [--threads=1,2] "
                   "[--sizes=16,...] [--ms=N] [--iters=N]\n");
      return 2;
    }
  }
  // The slab caches, Kmalloc and mainmem grow from page blocks of a page allocator over simulated RAM, as
  // in the kernel (poolinit.h's PageSpans after pageinit; the backend --//mm/palloc:backend names), on 2 MiB
  // host pages as the kernel's large-page direct map: a slab given back and taken again is pages touched
  // before, not a fresh host allocation whose pages fault in again (which made a batch of 4 KiB objects
  // cost 1.6 us an object).
  static kmem::testing::PhysArena ram(kmem::PhysAddr(0), kRamBytes);
  void* const ram_bytes = ram.direct_map().Kaddr(ram.base());
  madvise(ram_bytes, kRamBytes, MADV_HUGEPAGE);
  std::memset(ram_bytes, 0, kRamBytes);  // touched once up front, as RAM is there from boot: a first touch
                                         // in a timed loop would time the host's page fault
  static kmem::testing::HostPalloc<kmem::KernelPalloc::Backend> palloc({{ram.base(), kRamBytes >> kmem::kPageShift}},
                                                                      1);
  static kmem::pool::PageSpans<kmem::KernelPalloc> spans(*palloc, ram.direct_map());
  PoolInit(mainmem, {"mainmem", kRamBytes / 2, 1 << 20, FreeFill::kPoison, spans.source(), {}});
  KmemInit(spans.source());
  auto each = [&](auto ops, size_t n) {
    for (const std::string& pattern : patterns) {
      for (long t : threads) {
        Run(ops, pattern.c_str(), n, static_cast<int>(t), static_cast<int>(ms), static_cast<uint64_t>(iters));
      }
    }
  };
  for (long size : sizes) {
    const size_t n = static_cast<size_t>(size);
    if (which != "kmem") each(SystemOps{}, n);
    if (which != "system") {
      KmemCache* cache = KmemCacheCreate("bench", n, 16);
      each(KmallocOps{}, n);
      each(SlabOps{cache}, n);
      each(MainmemOps{}, n);
      KmemCacheDestroy(cache);
    }
  }
  return 0;
}
