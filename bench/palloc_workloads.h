// The page-frame allocator workloads of the literature (LLFree, USENIX ATC 2023; the Linux allocator
// benchmarks), single-threaded over one bank of `frames` frames (2^20 = 4 GiB by default), for either
// backend. Each returns its figures; bench/palloc_main.cc prints them as
// kmem-BACKEND<TAB>WORKLOAD<TAB>WHAT<TAB>N.N ns and bench/palloc_bench.cc reports them to Google Benchmark.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
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

template <typename Backend>
Page* MustAlloc(Palloc<Backend>& p, unsigned order) {
  PageResult r = p.TryAllocContig(order);
  if (r.status != PallocStatus::kOk) std::abort();
  return r.page;
}

// repeat0h / repeat9h: half of memory held as blocks of `order`, then alloc+free pairs.
template <typename Backend>
std::vector<Figure> Repeat(const Sizes& z, unsigned order, uint64_t pairs) {
  auto h = Fresh<Backend>(z);
  auto& p = **h;
  std::vector<Page*> held;
  for (uint64_t i = 0; i < (z.frames / 2) >> order; ++i) held.push_back(MustAlloc(p, order));
  for (uint64_t i = 0; i < z.warmup_pairs; ++i) p.FreeContig(MustAlloc(p, order), order);
  Stopwatch t;
  for (uint64_t i = 0; i < pairs; ++i) p.FreeContig(MustAlloc(p, order), order);
  return {{"pair", t.Ns() / pairs, "ns"}};
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

// mixed: S = N/16 slots; a step frees the block in a random slot or, if empty, allocates an order drawn
// 75% 0, 20% 1-3, 5% 4-9 (a failed allocation leaves the slot empty).
template <typename Backend>
std::vector<Figure> Mixed(const Sizes& z) {
  auto h = Fresh<Backend>(z);
  auto& p = **h;
  uint64_t slots = z.frames / 16;
  std::vector<Page*> slot(slots, nullptr);
  std::vector<uint8_t> order(slots, 0);
  Rng rng(7);
  auto step = [&] {
    uint64_t r = rng.Next();
    uint64_t s = static_cast<uint64_t>((static_cast<unsigned __int128>(r >> 8) * slots) >> 56);  // no divide
    if (slot[s] != nullptr) {
      p.FreeContig(slot[s], order[s]);
      slot[s] = nullptr;
      return;
    }
    unsigned pick = r & 0xff;  // 0..255: 192 (75%) order 0, 51 (20%) orders 1-3, 13 (5%) orders 4-9
    unsigned k = pick < 192 ? 0 : pick < 243 ? 1 + (r >> 40) % 3 : 4 + (r >> 40) % 6;
    PageResult a = p.TryAllocContig(k);
    if (a.status == PallocStatus::kOk) {
      slot[s] = a.page;
      order[s] = static_cast<uint8_t>(k);
    }
  };
  for (uint64_t i = 0; i < 4 * slots; ++i) step();
  Stopwatch t;
  for (uint64_t i = 0; i < z.mixed_steps; ++i) step();
  double ns = t.Ns() / z.mixed_steps;
  uint64_t live = 0;
  for (Page* s : slot) live += s != nullptr;
  PallocStats st;
  p.Stats(&st);
  unsigned largest = 0;
  for (unsigned k = 0; k < kOrders; ++k) {
    if (st.free_blocks[k] != 0) largest = k;
  }
  return {{"op", ns, "ns"}, {"live-blocks", double(live), "blocks"}, {"largest-free-order", double(largest), "order"}};
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

inline const char* const kWorkloads[] = {"repeat0h", "repeat9h", "bulk0", "bulk9",
                                         "mixed",    "newpage",  "pageinit", "metadata"};

// Runs one named workload; empty when the name is unknown.
template <typename Backend>
std::vector<Figure> Run(const std::string& workload, const Sizes& z) {
  if (workload == "repeat0h") return Repeat<Backend>(z, 0, z.repeat0_pairs);
  if (workload == "repeat9h") return Repeat<Backend>(z, 9, z.repeat9_pairs);
  if (workload == "bulk0") return Bulk<Backend>(z, 0);
  if (workload == "bulk9") return Bulk<Backend>(z, 9);
  if (workload == "mixed") return Mixed<Backend>(z);
  if (workload == "newpage") return NewPage<Backend>(z);
  if (workload == "pageinit") return PageInit<Backend>(z);
  if (workload == "metadata") return Metadata<Backend>(z);
  return {};
}

}  // namespace kmem::bench
