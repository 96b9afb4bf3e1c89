#include "mm/pool/selftest.h"

#include <stddef.h>
#include <stdint.h>

#include "mm/base/format.h"
#include "mm/base/percpu.h"
#include "mm/pool/guard.h"
#include "mm/pool/pool.h"
#include "mm/pool/slab.h"

namespace kmem::pool {
namespace {

enum class Kind : uint8_t { kEmpty, kMalloc, kKmalloc, kCache };

struct Slot {
  uint8_t* p = nullptr;
  uint32_t size = 0;
  Kind kind = Kind::kEmpty;
};

constexpr int kSlots = 256;
constexpr int kOps = 8192;
constexpr size_t kCacheObject = 200;

// Alone: the boot's self-test, the only user of kmem meanwhile, so global counts and walks must agree.
// Concurrent: one of several CPUs running the stress at once; only what this CPU owns is checked exactly.
enum class Mode : uint8_t { kAlone, kConcurrent };

uint64_t NextRandom(uint64_t& state) {  // xorshift64: deterministic, so a failure reproduces at every boot
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}

uint8_t PatternAt(int slot, uint32_t i) { return static_cast<uint8_t>(slot * 31 + i * 7 + 1); }

bool Same(const AllocStats& a, const AllocStats& b) {
  return a.live_blocks == b.live_blocks && a.live_bytes == b.live_bytes;
}

bool Report(const char* check, bool ok, const char* why) {
  if (ok) {
    Print("pool selftest: %s: ok\n", check);
  } else {
    Print("pool selftest: %s: FAILED, %s\n", check, why);
  }
  return ok;
}

// The concurrent form's one line per CPU, so that CPUs printing at once stay readable.
bool ReportCpu(unsigned cpu, bool ok, const char* why) {
  if (ok) {
    Print("pool selftest cpu%u: stress: ok\n", cpu);
  } else {
    Print("pool selftest cpu%u: stress: FAILED, %s\n", cpu, why);
  }
  return ok;
}

void Release(KmemCache* cache, Slot& s) {
  if (s.kind == Kind::kMalloc) Free(s.p);
  if (s.kind == Kind::kKmalloc) Kfree(s.p);
  if (s.kind == Kind::kCache) KmemCacheFree(cache, s.p);
  s.kind = Kind::kEmpty;
}

// Fills random slots with blocks of random kinds and sizes, each written with a pattern of its slot (after
// checking that a Malloc block came zeroed), and frees occupied ones after checking the pattern survived
// everything else the stream did. Each CPU has its own slots, cache and random stream (the boot CPU's, alone,
// is the boot's fixed one). Adds the allocations it made (each freed again) to *allocations.
bool Stress(Mode mode, uint64_t* allocations) {
  const unsigned cpu = CpuId();  // the self-test runs without preemption: it stays on this CPU
  AllocStats main_before = PoolStatsOf(mainmem);
  AllocStats kmalloc_before = KmallocStats();
  // The slots come from mainmem, so that no CPU's share of them sits in the kernel image.
  auto* slots = static_cast<Slot*>(Malloc(sizeof(Slot) * kSlots));
  for (int i = 0; slots != nullptr && i < kSlots; ++i) slots[i] = Slot{};
  KmemCache* cache = KmemCacheCreate("selftest-200", kCacheObject, 8);
  if (slots == nullptr || cache == nullptr) {
    Free(slots);
    if (cache != nullptr) KmemCacheDestroy(cache);
    const char* why = slots == nullptr ? "no memory for the slots" : "no memory for a slab cache";
    return mode == Mode::kAlone ? Report("stress", false, why) : ReportCpu(cpu, false, why);
  }
  uint64_t rng = 0x9e3779b97f4a7c15ULL;
  if (mode == Mode::kConcurrent) rng ^= (cpu + 1) * 0xbf58476d1ce4e5b9ULL;
  int failed_allocs = 0, corrupted = 0, unzeroed = 0;
  uint64_t peak = 0, live = 0;
  for (int op = 0; op < kOps; ++op) {
    int i = static_cast<int>(NextRandom(rng) % kSlots);
    Slot& s = slots[i];
    if (s.kind != Kind::kEmpty) {
      for (uint32_t b = 0; b < s.size; ++b) corrupted += s.p[b] != PatternAt(i, b);
      Release(cache, s);
      --live;
    } else {
      uint64_t r = NextRandom(rng);
      s.kind = static_cast<Kind>(1 + r % 3);
      s.size = s.kind == Kind::kCache ? kCacheObject : static_cast<uint32_t>(1 + (r >> 8) % 4096);
      if (s.kind == Kind::kMalloc && (r & 0x10000) != 0) s.size *= 8;  // some blocks beyond Kmalloc's range
      s.p = static_cast<uint8_t*>(s.kind == Kind::kMalloc    ? Malloc(s.size)
                                  : s.kind == Kind::kKmalloc ? Kmalloc(s.size)
                                                             : KmemCacheAlloc(cache));
      if (s.p == nullptr) {
        ++failed_allocs;
        s.kind = Kind::kEmpty;
        continue;
      }
      ++*allocations;
      if (s.kind == Kind::kMalloc) unzeroed += FindNot(s.p, s.size, 0) != s.size;  // Malloc zeroes
      for (uint32_t b = 0; b < s.size; ++b) s.p[b] = PatternAt(i, b);
      if (++live > peak) peak = live;
    }
    if (op % 1024 == 0) {
      PoolCheck(mainmem);  // under mainmem's lock: exact while other CPUs use it
      if (mode == Mode::kAlone) {
        KmemCheckAll();
      } else {
        KmemCacheCheck(cache);  // this CPU's own cache; the shared ones need quiet
      }
    }
  }
  for (int i = 0; i < kSlots; ++i) {
    if (slots[i].kind != Kind::kEmpty) Release(cache, slots[i]);
  }
  Free(slots);
  bool destroyed = KmemCacheDestroy(cache);
  char why[128];
  FormatTo(why, sizeof why,
           "%d allocations failed, %d bytes corrupted, %d Malloc blocks not zeroed, cache destroyed: %s",
           failed_allocs, corrupted, unzeroed, destroyed ? "yes" : "no");
  bool ok = failed_allocs == 0 && corrupted == 0 && unzeroed == 0 && destroyed;
  if (mode == Mode::kConcurrent) return ReportCpu(cpu, ok, why);
  Print("pool selftest: stress: %d operations, at most %lu blocks live at once\n", kOps, peak);
  if (!Report("stress", ok, why)) return false;
  return Report("stress leaves mainmem and kmalloc as found",
                Same(PoolStatsOf(mainmem), main_before) && Same(KmallocStats(), kmalloc_before),
                "live blocks or bytes differ from before the stress");
}

// Whether [p + from, p + n) reads zero.
bool Zeroed(const void* p, size_t from, size_t n) {
  return FindNot(static_cast<const uint8_t*>(p) + from, n - from, 0) == n - from;
}

bool SecretWipe() {
  if (PoolStatsOf(secrmem).live_blocks != 0) return Report("secrmem wipe", false, "secrmem has live blocks");
  // The first 16 bytes of a free block hold its free-list links (addresses, not secrets).
  constexpr size_t kLinks = 16;
  auto* freed = static_cast<uint8_t*>(PoolAlloc(secrmem, 256, Zero::kNo).p);
  auto* kept = static_cast<uint8_t*>(PoolAlloc(secrmem, 512, Zero::kNo).p);
  if (freed == nullptr || kept == nullptr) return Report("secrmem wipe", false, "secrmem has no memory");
  Fill(freed, 256, 0x5a);
  Fill(kept, 512, 0x5a);
  PoolFree(secrmem, freed);
  // Reading a freed block is the point of this check: nothing else can have reused it in between.
  bool free_wiped = Zeroed(freed, kLinks, 256);
  Poolreset(secrmem);
  bool reset_wiped = Zeroed(kept, kLinks, 512);
  PoolCheck(secrmem);
  return Report("secrmem wipe", free_wiped && reset_wiped && PoolStatsOf(secrmem).live_blocks == 0,
                free_wiped ? "Poolreset left secret bytes behind" : "Free left secret bytes behind");
}

bool StatsConsistent() {
  PoolCheck(mainmem);
  PoolCheck(imagmem);
  PoolCheck(secrmem);
  KmemCheckAll();  // each walk panics on a mismatch with the counters, so reaching here is the result
  return Report("statistics agree with full walks", true, "");
}

}  // namespace

SelfTestStatus PoolSelfTest() {
  uint64_t allocations = 0;
  bool ok = Stress(Mode::kAlone, &allocations);
  ok = SecretWipe() && ok;
  ok = StatsConsistent() && ok;
  Pool* pools[] = {&mainmem, &imagmem, &secrmem};
  PoolDump(pools, 3);
  KmemDump();
  Print("pool selftest: %s\n", ok ? "passed" : "FAILED");
  return ok ? SelfTestStatus::kPassed : SelfTestStatus::kFailed;
}

SelfTestStatus PoolSelfTestConcurrent(uint64_t* allocations) {
  *allocations = 0;
  return Stress(Mode::kConcurrent, allocations) ? SelfTestStatus::kPassed : SelfTestStatus::kFailed;
}

}  // namespace kmem::pool
