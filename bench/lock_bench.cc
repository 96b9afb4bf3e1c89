// Lock algorithms for kmem's SpinLock, measured side by side: the test-and-test-and-set lock (kmem's
// today), a ticket lock and an MCS queue lock, bare (no interrupt hooks, no order checker), then kmem's
// SpinLock itself (algorithm plus checker plus the host's interrupt hooks). Each runs uncontended on one
// thread and contended on two threads pinned to CPUs 0 and 1, around a critical section of a shared
// counter increment (a few ns) or of about 100 ns of dependent arithmetic. Figures are ns per lock, Unlock
// pair per thread; items_per_second is the total throughput of all threads. `BM_Work` is the critical
// section alone, `BM_IrqSaveRestore` the host's interrupt hooks alone.
//     bazel run -c opt //bench:lock_bench -- --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <pthread.h>
#include <sched.h>

#include <cstdint>

#include "mm/base/lock.h"

namespace {

void CpuRelax() { __builtin_ia32_pause(); }

// kmem's algorithm: exchange to take, spin reading while it is held, a release store to give back.
class TtasLock {
 public:
  void Lock() {
    while (__atomic_exchange_n(&locked_, 1, __ATOMIC_ACQUIRE) != 0) {
      while (__atomic_load_n(&locked_, __ATOMIC_RELAXED) != 0) CpuRelax();
    }
  }
  void Unlock() { __atomic_store_n(&locked_, 0, __ATOMIC_RELEASE); }

 private:
  uint32_t locked_ = 0;
};

// Linux's pre-2008 ticket lock: take a number, wait until it is served; FIFO.
class TicketLock {
 public:
  void Lock() {
    const uint32_t me = __atomic_fetch_add(&next_, 1, __ATOMIC_RELAXED);
    while (__atomic_load_n(&serving_, __ATOMIC_ACQUIRE) != me) CpuRelax();
  }
  void Unlock() { __atomic_store_n(&serving_, serving_ + 1, __ATOMIC_RELEASE); }

 private:
  uint32_t next_ = 0;
  uint32_t serving_ = 0;
};

// Mellor-Crummey and Scott's queue lock: each waiter spins on its own node, the holder hands over to its
// successor. One node a thread suffices here (no nesting); the kernel would need one a nesting level.
class McsLock {
 public:
  struct alignas(64) Node {
    Node* next;
    uint32_t locked;
  };
  void Lock(Node* n) {
    n->next = nullptr;
    n->locked = 1;
    Node* prev = __atomic_exchange_n(&tail_, n, __ATOMIC_ACQ_REL);
    if (prev == nullptr) return;
    __atomic_store_n(&prev->next, n, __ATOMIC_RELEASE);
    while (__atomic_load_n(&n->locked, __ATOMIC_ACQUIRE) != 0) CpuRelax();
  }
  void Unlock(Node* n) {
    Node* next = __atomic_load_n(&n->next, __ATOMIC_ACQUIRE);
    if (next == nullptr) {
      Node* expected = n;
      if (__atomic_compare_exchange_n(&tail_, &expected, nullptr, false, __ATOMIC_RELEASE, __ATOMIC_RELAXED)) return;
      while ((next = __atomic_load_n(&n->next, __ATOMIC_ACQUIRE)) == nullptr) CpuRelax();
    }
    __atomic_store_n(&next->locked, 0, __ATOMIC_RELEASE);
  }

 private:
  Node* tail_ = nullptr;
};

// The critical section: the shared counter, then `rounds` dependent multiply-adds (about 1 ns each).
struct alignas(64) Shared {
  uint64_t counter = 0;
};
Shared shared;

inline void Work(int64_t rounds) {
  uint64_t x = shared.counter;
  for (int64_t i = 0; i < rounds; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    asm volatile("" : "+r"(x));
  }
  shared.counter = x + 1;
}

void Pin(const benchmark::State& state) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(state.thread_index() % 2, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

// Critical sections: a few ns (the counter alone) and about 100 ns.
constexpr int64_t kShort = 0;
constexpr int64_t kLong = 100;

void Finish(benchmark::State& state) { state.SetItemsProcessed(state.iterations()); }

void BM_Work(benchmark::State& state) {
  Pin(state);
  for (auto _ : state) Work(state.range(0));
  Finish(state);
}
BENCHMARK(BM_Work)->Arg(kShort)->Arg(kLong)->UseRealTime();

template <typename L>
void BM_Plain(benchmark::State& state) {
  static L lock;
  Pin(state);
  for (auto _ : state) {
    lock.Lock();
    Work(state.range(0));
    lock.Unlock();
  }
  Finish(state);
}

void BM_Mcs(benchmark::State& state) {
  static McsLock lock;
  McsLock::Node node;
  Pin(state);
  for (auto _ : state) {
    lock.Lock(&node);
    Work(state.range(0));
    lock.Unlock(&node);
  }
  Finish(state);
}

void BM_KmemSpinLock(benchmark::State& state) {
  static kmem::SpinLock lock("bench", kmem::LockLevel::kGlobal);
  Pin(state);
  for (auto _ : state) {
    kmem::LockGuard g(lock);
    Work(state.range(0));
  }
  Finish(state);
}

// What the host's interrupt hooks cost alone (a store, a load and thread-local reads), to split kmem's
// SpinLock figure into algorithm, hooks and checker.
void BM_IrqSaveRestore(benchmark::State& state) {
  for (auto _ : state) kmem::IrqRestore(kmem::IrqSave());
}
BENCHMARK(BM_IrqSaveRestore);

#define LOCK_BENCH(b) b->Arg(kShort)->Arg(kLong)->Threads(1)->Threads(2)->UseRealTime()
LOCK_BENCH(BENCHMARK_TEMPLATE(BM_Plain, TtasLock));
LOCK_BENCH(BENCHMARK_TEMPLATE(BM_Plain, TicketLock));
LOCK_BENCH(BENCHMARK(BM_Mcs));
LOCK_BENCH(BENCHMARK(BM_KmemSpinLock));

}  // namespace

BENCHMARK_MAIN();
