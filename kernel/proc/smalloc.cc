// Smalloc's waiting in the kernel (pool.h): the pools' PoolSync over one WaitQueue, and its self-test.
//
// One queue serves every pool: each sleeper's condition names its own pool's release count, which the
// queue's lock re-reads, so a release in one pool wakes all the sleepers and those of other pools go back
// to sleep at once (Smalloc waits are rare; a queue per pool would buy nothing that shows). Smalloc calls
// sleep with no lock held, and a pool's free calls wakeup after its pool lock is released, so no spinlock
// is held across the sleep and a freer never blocks.
#include "kernel/proc/proc.h"
#include "kernel/sched/sched.h"
#include "mm/base/format.h"
#include "mm/base/panic.h"
#include "mm/pool/pool.h"

namespace kmem::kernel {
namespace {

WaitQueue smalloc_wait;
uint64_t smalloc_sleeps = 0;  // atomic

pool::PoolWait Sleep(void* ctx, bool (*ready)(void*), void* arg) {
  if (!SchedRunning()) return pool::PoolWait::kNoWay;
  if (ready(arg)) return pool::PoolWait::kRetry;
  __atomic_fetch_add(&smalloc_sleeps, 1, __ATOMIC_RELAXED);
  static_cast<WaitQueue*>(ctx)->Sleep(ready, arg);
  return pool::PoolWait::kRetry;
}

void Wakeup(void* ctx) { static_cast<WaitQueue*>(ctx)->WakeAll(); }

// The self-test's pool: one page of the kernel's image, so that it takes nothing from the page allocator
// and the boot's page counts hold. Three blocks of kBlock fill it.
constexpr size_t kBlock = 1000;
constexpr unsigned kWaiters = 4;
constexpr uint64_t kDeadlineNs = 10'000'000'000;
alignas(kPageSize) uint8_t arena[kPageSize];

struct Test {
  pool::Pool pool{"smalloctest"};
  bool taken = false;
  unsigned served = 0;  // atomic: waiters whose Smalloc returned a zeroed block
  Thread* threads[kWaiters] = {};
};
constinit Test test;

void* TakeArena(void* ctx, size_t bytes, size_t) {
  bool& taken = *static_cast<bool*>(ctx);
  if (taken || bytes > sizeof arena) return nullptr;
  taken = true;
  return arena;
}

void Waiter(void*) {
  auto* p = static_cast<uint8_t*>(pool::PoolSmalloc(test.pool, kBlock));
  for (size_t i = 0; i < kBlock; ++i) {
    if (p[i] != 0) Panic("smalloc: self-test: byte %zu of a Smalloc block is 0x%02x, not zero", i, p[i]);
  }
  __builtin_memset(p, 0x5a, kBlock);
  pool::PoolFree(test.pool, p);
  __atomic_fetch_add(&test.served, 1, __ATOMIC_RELEASE);
}

uint64_t SleepsNow() { return __atomic_load_n(&smalloc_sleeps, __ATOMIC_RELAXED); }

}  // namespace

pool::PoolSync SmallocSync() { return pool::PoolSync{Sleep, Wakeup, &smalloc_wait}; }

uint64_t SmallocSleeps() { return SleepsNow(); }

void SmallocSelfTest(const pool::PoolSync& sync) {
  test.taken = false;
  test.served = 0;
  pool::PoolInit(test.pool, {"smalloctest", kPageSize, kPageSize, pool::FreeFill::kPoison,
                             pool::MemSource{&test.taken, TakeArena, nullptr}, sync});
  void* held[kPageSize / kBlock] = {};
  unsigned nheld = 0;
  for (; nheld < sizeof held / sizeof held[0]; ++nheld) {
    held[nheld] = pool::PoolAlloc(test.pool, kBlock, Zero::kNo).p;
    if (held[nheld] == nullptr) break;
  }
  const uint64_t before = SleepsNow();
  for (unsigned i = 0; i < kWaiters; ++i) {
    if (const SchedStatus s = Spawn("smalloc waiter", Waiter, nullptr, kAnyCpu, &test.threads[i]);
        s != SchedStatus::kOk) {
      Panic("smalloc: self-test: cannot start waiter %u: %s", i, SchedStatusName(s));
    }
  }
  // Every waiter finds the pool full and sleeps before anything is freed (nothing else releases memory).
  const uint64_t deadline = NowNs() + kDeadlineNs;
  while (SleepsNow() - before < kWaiters) {
    if (NowNs() > deadline) {
      Panic("smalloc: self-test: %lu of %u Smallocs went to sleep on the full pool", SleepsNow() - before, kWaiters);
    }
    SleepMs(1);
  }
  for (unsigned i = 0; i < nheld; ++i) {
    pool::PoolFree(test.pool, held[i]);
    SleepMs(1);
  }
  for (Thread* t : test.threads) Join(t);
  const uint64_t waited = SleepsNow() - before;
  const pool::AllocStats s = pool::PoolStatsOf(test.pool);
  pool::PoolCheck(test.pool);
  if (__atomic_load_n(&test.served, __ATOMIC_ACQUIRE) != kWaiters || s.live_blocks != 0) {
    Panic("smalloc: self-test: %u of %u waiters served, %lu blocks left live", test.served, kWaiters, s.live_blocks);
  }
  Print("smalloc: self-test: %u threads' Smallocs on a full %lu-byte pool waited %lu times for another thread's "
        "%u frees, all served, the pool empty again\n",
        kWaiters, kPageSize, waited, nheld);
}

}  // namespace kmem::kernel
