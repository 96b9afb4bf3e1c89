// The page-frame allocator workloads of the literature (LLFree, USENIX ATC 2023; the Linux allocator
// benchmarks) over one bank of `frames` frames (2^20 = 4 GiB by default), for either backend. repeat0h,
// repeat9h, mixed and remote run on a given number of threads, each pinned to its own CPU and each a CPU
// of the allocator (testing/host_env.cc), released together; the others run on one. Each returns its
// figures; bench/palloc_main.cc prints them as kmem-BACKEND<TAB>WORKLOAD<TAB>N threads<TAB>WHAT<TAB>N.N UNIT
// and bench/palloc_bench.cc reports them to Google Benchmark.
#pragma once

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "mm/palloc/palloc.h"
#include "testing/palloc_host.h"

namespace kmem::bench {

struct Figure {
  std::string what;
  double value;
  const char* unit;
};

struct Sizes {
  uint64_t frames = uint64_t{1} << 20;
  uint64_t repeat0_pairs = 10'000'000;
  uint64_t repeat9_pairs = 2'500'000;
  uint64_t mixed_steps = 10'000'000;
  uint64_t warmup_pairs = 10'000;
  uint64_t remote_pairs = 10'000'000;
};

// The colour count the benchmarks use: what x86::CpuInfo::colours gives on the project machine, its 32 MiB,
// 16-way L3 over 4 KiB pages.
inline constexpr unsigned kBenchColours = 512;

// xorshift64*: cheap enough to sit inside the timed loops.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed | 1) {}
  uint64_t Next() {
    s_ ^= s_ >> 12;
    s_ ^= s_ << 25;
    s_ ^= s_ >> 27;
    return s_ * 0x2545f4914f6cdd1dull;
  }

 private:
  uint64_t s_;
};

class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double Ns() const {
    return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

template <typename Backend>
using Host = testing::HostPalloc<Backend>;

template <typename Backend>
std::unique_ptr<Host<Backend>> Fresh(const Sizes& z) {
  return std::make_unique<Host<Backend>>(std::vector<testing::BankRange>{{PhysAddr(0), z.frames}}, kBenchColours);
}

// Inlined, as the kernel's own callers inline TryAllocContig: an out-of-line wrapper would time its own call,
// frame and register saves along with the allocator.
template <typename Backend>
[[gnu::always_inline]] inline Page* MustAlloc(Palloc<Backend>& p, unsigned order) {
  PageResult r = p.TryAllocContig(order);
  if (r.status != PallocStatus::kOk) std::abort();
  return r.page;
}

// The calling thread's CPU time: on a shared machine, what another process's time slices do not inflate.
inline double ThreadCpuNs() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return 1e9 * double(t.tv_sec) + double(t.tv_nsec);
}

// Runs setup(i) and then, all threads released at once, body(i) on threads i = 0..n-1, thread i pinned to
// CPU i (mod the CPUs there are); returns each body's CPU time in ns.
template <typename Setup, typename Body>
std::vector<double> OnThreads(unsigned n, Setup&& setup, Body&& body) {
  std::vector<double> ns(n);
  std::atomic<unsigned> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(i % cpus, &set);
      pthread_setaffinity_np(pthread_self(), sizeof set, &set);
      setup(i);
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) {
      }
      double start = ThreadCpuNs();
      body(i);
      ns[i] = ThreadCpuNs() - start;
    });
  }
  while (ready.load() != n) std::this_thread::yield();
  go.store(true, std::memory_order_release);
  for (std::thread& t : threads) t.join();
  return ns;
}

// The figures of a threaded workload: CPU ns per operation on each thread, and the operations of all
// threads per CPU second of the slowest.
inline std::vector<Figure> PerThread(const char* what, const std::vector<double>& ns, uint64_t ops) {
  std::vector<Figure> f;
  double slowest = 0;
  for (size_t i = 0; i < ns.size(); ++i) {
    f.push_back({std::string(what) + "-thread" + std::to_string(i), ns[i] / ops, "ns"});
    slowest = std::max(slowest, ns[i]);
  }
  f.push_back({"throughput", 1e3 * ops * ns.size() / slowest, "Mops/s"});
  return f;
}

// repeat0h / repeat9h: half of memory held as blocks of `order` (each thread its share), then alloc+free
// pairs on every thread. The order is a constant at the calls, as at the kernel's (page tables, NewPage).
template <typename Backend, unsigned order>
std::vector<Figure> Repeat(const Sizes& z, uint64_t pairs, unsigned threads) {
  auto h = Fresh<Backend>(z);
  auto& p = **h;
  std::vector<std::vector<Page*>> held(threads);
  auto ns = OnThreads(
      threads,
      [&](unsigned i) {
        for (uint64_t k = 0; k < ((z.frames / 2) >> order) / threads; ++k) held[i].push_back(MustAlloc(p, order));
        for (uint64_t k = 0; k < z.warmup_pairs; ++k) p.FreeContig(MustAlloc(p, order), order);
      },
      [&](unsigned) {
        for (uint64_t k = 0; k < pairs; ++k) p.FreeContig(MustAlloc(p, order), order);
      });
  return PerThread("pair", ns, pairs);
}

// A single-producer single-consumer ring of pages from one thread to the next. Each side publishes its
// position once per kBatch pages, and whenever it has to wait (Publish), so the ring's own cache lines
// cross between the CPUs about once a batch instead of once a page: what remote measures is the
// allocator's cross-CPU traffic. (kSize > 2 kBatch: the sides' unpublished pages cannot fill it.)
class Ring {
 public:
  bool Push(Page* page) {
    if (head_ - tail_seen_ == kSize) {
      tail_seen_ = tail_out_.load(std::memory_order_acquire);
      if (head_ - tail_seen_ == kSize) return false;
    }
    slot_[head_ % kSize] = page;
    if (++head_ % kBatch == 0) head_out_.store(head_, std::memory_order_release);
    return true;
  }
  Page* Pop() {
    if (tail_ == head_seen_) {
      head_seen_ = head_out_.load(std::memory_order_acquire);
      if (tail_ == head_seen_) return nullptr;
    }
    Page* page = slot_[tail_ % kSize];
    if (++tail_ % kBatch == 0) tail_out_.store(tail_, std::memory_order_release);
    return page;
  }
  void PublishHead() { head_out_.store(head_, std::memory_order_release); }
  void PublishTail() { tail_out_.store(tail_, std::memory_order_release); }

 private:
  static constexpr uint64_t kSize = 1024;
  static constexpr uint64_t kBatch = 32;
  alignas(64) uint64_t head_ = 0;  // the producer's line: its position and its last look at the consumer's
  uint64_t tail_seen_ = 0;
  alignas(64) std::atomic<uint64_t> head_out_{0};
  alignas(64) uint64_t tail_ = 0;  // the consumer's line
  uint64_t head_seen_ = 0;
  alignas(64) std::atomic<uint64_t> tail_out_{0};
  alignas(64) Page* slot_[kSize] = {};
};

// remote: every thread allocates order-0 pages into the ring to the next thread and frees the pages that
// come out of the ring from the previous one (on one thread, its own ring): each pair's free runs on
// another CPU than its allocation.
template <typename Backend>
std::vector<Figure> Remote(const Sizes& z, unsigned threads) {
  auto h = Fresh<Backend>(z);
  auto& p = **h;
  std::vector<Ring> rings(threads);
  auto ns = OnThreads(
      threads, [](unsigned) {},
      [&](unsigned i) {
        Ring& out = rings[i];
        Ring& in = rings[(i + threads - 1) % threads];
        uint64_t allocated = 0, freed = 0;
        Page* next = MustAlloc(p, 0);
        while (freed < z.remote_pairs || allocated < z.remote_pairs) {
          bool moved = false;
          if (allocated < z.remote_pairs && out.Push(next)) {
            if (++allocated < z.remote_pairs) next = MustAlloc(p, 0);
            moved = true;
          }
          if (Page* page = in.Pop()) {
            p.FreeContig(page, 0);
            ++freed;
            moved = true;
          }
          if (!moved) {
            out.PublishHead();
            in.PublishTail();
            std::this_thread::yield();  // the neighbour is behind: on a loaded machine, not running
          }
        }
      });
  return PerThread("pair", ns, z.remote_pairs);
}

// bulk0 / bulk9: allocate half of memory, free in allocation order; allocate again, free shuffled.
template <typename Backend>
std::vector<Figure> Bulk(const Sizes& z, unsigned order) {
  auto h = Fresh<Backend>(z);
  auto& p = **h;
  uint64_t n = (z.frames / 2) >> order;
  std::vector<Page*> held(n);
  Stopwatch ta;
  for (uint64_t i = 0; i < n; ++i) held[i] = MustAlloc(p, order);
  double alloc = ta.Ns() / n;
  Stopwatch tf;
  for (uint64_t i = 0; i < n; ++i) p.FreeContig(held[i], order);
  double free_lifo = tf.Ns() / n;
  for (uint64_t i = 0; i < n; ++i) held[i] = MustAlloc(p, order);
  std::shuffle(held.begin(), held.end(), std::mt19937_64(42));
  Stopwatch tr;
  for (uint64_t i = 0; i < n; ++i) p.FreeContig(held[i], order);
  double free_random = tr.Ns() / n;
  return {{"alloc", alloc, "ns"}, {"free-lifo-order", free_lifo, "ns"}, {"free-random", free_random, "ns"}};
}

// mixed: S = N/16 slots (each thread its share); a step frees the block in a random slot or, if empty,
// allocates an order drawn 75% 0, 20% 1-3, 5% 4-9 (a failed allocation leaves the slot empty).
template <typename Backend>
std::vector<Figure> Mixed(const Sizes& z, unsigned threads) {
  auto h = Fresh<Backend>(z);
  auto& p = **h;
  uint64_t slots = z.frames / 16 / threads;
  std::vector<std::vector<Page*>> slot(threads, std::vector<Page*>(slots, nullptr));
  std::vector<std::vector<uint8_t>> order(threads, std::vector<uint8_t>(slots, 0));
  auto steps = [&](unsigned i, uint64_t n) {
    Rng rng(7 + i);
    std::vector<Page*>& sl = slot[i];
    std::vector<uint8_t>& ord = order[i];
    for (uint64_t k = 0; k < n; ++k) {
      uint64_t r = rng.Next();
      uint64_t s = static_cast<uint64_t>((static_cast<unsigned __int128>(r >> 8) * slots) >> 56);  // no divide
      if (sl[s] != nullptr) {
        p.FreeContig(sl[s], ord[s]);
        sl[s] = nullptr;
        continue;
      }
      unsigned pick = r & 0xff;  // 0..255: 192 (75%) order 0, 51 (20%) orders 1-3, 13 (5%) orders 4-9
      unsigned o = pick < 192 ? 0 : pick < 243 ? 1 + (r >> 40) % 3 : 4 + (r >> 40) % 6;
      PageResult a = p.TryAllocContig(o);
      if (a.status == PallocStatus::kOk) {
        sl[s] = a.page;
        ord[s] = static_cast<uint8_t>(o);
      }
    }
  };
  auto ns = OnThreads(threads, [&](unsigned i) { steps(i, 4 * slots); }, [&](unsigned i) { steps(i, z.mixed_steps); });
  std::vector<Figure> f = PerThread("op", ns, z.mixed_steps);
  uint64_t live = 0;
  for (const auto& sl : slot) {
    for (Page* s : sl) live += s != nullptr;
  }
  PallocStats st;
  p.Stats(&st);
  unsigned largest = 0;
  for (unsigned k = 0; k < kOrders; ++k) {
    if (st.free_blocks[k] != 0) largest = k;
  }
  f.push_back({"live-blocks", double(live), "blocks"});
  f.push_back({"largest-free-order", double(largest), "order"});
  return f;
}

// newpage: half of memory held as user pages, then NewPage(va)+PutPage pairs over successive va, so each
// asks for the next colour; also the share of pages that came in va's colour.
template <typename Backend>
std::vector<Figure> NewPage(const Sizes& z) {
  auto h = Fresh<Backend>(z);
  auto& p = **h;
  for (uint64_t i = 0; i < z.frames / 2; ++i) p.NewPage(VirtAddr(i << kPageShift));
  uint64_t pairs = z.repeat0_pairs;
  uint64_t hits = 0;
  Stopwatch t;
  for (uint64_t i = 0; i < pairs; ++i) {
    Page* page = p.NewPage(VirtAddr(i << kPageShift));
    hits += page->colour == (i & (kBenchColours - 1));
    p.PutPage(page);
  }
  return {{"pair", t.Ns() / pairs, "ns"}, {"colour-hits", 100.0 * hits / pairs, "%"}};
}

// pageinit: PageInit over `frames` with its metadata already faulted in (as xalloc memory is in the
// kernel), scaled to one GiB.
template <typename Backend>
std::vector<Figure> PageInit(const Sizes& z) {
  using P = Palloc<Backend>;
  uint64_t bytes = P::BankBytes(PhysAddr(0), z.frames);
  auto meta = testing::AllocMeta(bytes);
  std::memset(meta.get(), 0xa5, bytes);
  auto p = std::make_unique<P>();
  PallocBank bank{PhysAddr(0), z.frames, meta.get()};
  Stopwatch t;
  p->PageInit(&bank, 1, kBenchColours);
  double gib = double(z.frames * kPageSize) / double(uint64_t{1} << 30);
  return {{"per-gib", t.Ns() / gib, "ns"}};
}

// Metadata per frame, separately: descriptors, palloc's allocated-block and user bitmaps, the backend's
// buddy bitmaps (fixed-size parts such as the colour list heads are not per frame and left out).
template <typename Backend>
std::vector<Figure> Metadata(const Sizes& z) {
  using P = Palloc<Backend>;
  auto per_frame = [&](uint64_t bytes) { return double(bytes) / double(z.frames); };
  return {{"descriptor-bytes-per-frame", per_frame(P::DescriptorBytes(z.frames)), "bytes"},
          {"palloc-bitmap-bytes-per-frame", per_frame(P::BitmapBytes(Pfn(0), z.frames)), "bytes"},
          {"backend-bytes-per-frame", per_frame(Backend::MetaBytes(Pfn(0), z.frames)), "bytes"}};
}

inline const char* const kWorkloads[] = {"repeat0h", "repeat9h", "bulk0",   "bulk9",   "mixed",
                                         "remote",   "newpage",  "pageinit", "metadata"};

// Whether a workload takes a thread count; the others run on one thread.
inline bool Threaded(const std::string& workload) {
  return workload == "repeat0h" || workload == "repeat9h" || workload == "mixed" || workload == "remote";
}

// Runs one named workload on `threads` threads (1 for the workloads that are not Threaded); empty when the
// name is unknown.
template <typename Backend>
std::vector<Figure> Run(const std::string& workload, const Sizes& z, unsigned threads = 1) {
  if (workload == "repeat0h") return Repeat<Backend, 0>(z, z.repeat0_pairs, threads);
  if (workload == "repeat9h") return Repeat<Backend, 9>(z, z.repeat9_pairs, threads);
  if (workload == "bulk0") return Bulk<Backend>(z, 0);
  if (workload == "bulk9") return Bulk<Backend>(z, 9);
  if (workload == "mixed") return Mixed<Backend>(z, threads);
  if (workload == "remote") return Remote<Backend>(z, threads);
  if (workload == "newpage") return NewPage<Backend>(z);
  if (workload == "pageinit") return PageInit<Backend>(z);
  if (workload == "metadata") return Metadata<Backend>(z);
  return {};
}

}  // namespace kmem::bench
