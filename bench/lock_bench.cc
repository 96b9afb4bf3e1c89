// Lock algorithms for kmem's SpinLock, measured side by side: the test-and-test-and-set lock (kmem's
// today), a ticket lock and an MCS queue lock, bare (no interrupt hooks, no order checker), then kmem's
// SpinLock itself (algorithm plus checker plus the host's interrupt hooks). Each runs uncontended on one
// thread and contended on two threads pinned to CPUs 0 and 1, around a critical section of a shared
// counter increment (a few ns) or of about 100 ns of dependent arithmetic (BM_Work/0 and /100 time the
// critical section alone, BM_IrqSaveRestore inside the host's interrupt hooks). Arguments: critical section,
// threads; the counters are ns per lock/unlock pair per thread and the total pairs per second.
//     bazel run -c opt //bench:lock_bench -- --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "mm/base/lock.h"

namespace {

void CpuRelax() { __builtin_ia32_pause(); }

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

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

void Pin(unsigned cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

// Critical sections: a few ns (the counter alone) and about 100 ns.
constexpr int64_t kShort = 0;
constexpr int64_t kLong = 100;

// One benchmark iteration: `threads` threads pinned to CPUs 0, 1, ... start together and each does
// `pairs` lock/unlock pairs; the time is from the start to the last thread's end, so a lock that lets one
// thread finish first and starves the other is charged for it (Google Benchmark's own threads average
// their times, which hides that). Reports ns per pair per thread and the total pairs per second.
template <typename PairFn>
void Contended(benchmark::State& state, PairFn pair) {
  const int threads = static_cast<int>(state.range(1));
  const int64_t rounds = state.range(0), pairs = rounds == kShort ? 500000 : 50000;
  double wall_ns = 0;
  for (auto _ : state) {
    std::atomic<int> ready{0};
    std::atomic<int64_t> start{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
      ts.emplace_back([&, t] {
        Pin(static_cast<unsigned>(t));
        typename PairFn::Node node{};
        ready.fetch_add(1);
        while (ready.load() != threads) CpuRelax();
        if (t == 0) start = Now();
        for (int64_t i = 0; i < pairs; ++i) pair(node, rounds);
      });
    }
    for (std::thread& t : ts) t.join();
    const double ns = static_cast<double>(Now() - start.load());
    state.SetIterationTime(ns * 1e-9);
    wall_ns += ns;
  }
  const double all_pairs = static_cast<double>(pairs) * static_cast<double>(state.iterations());
  state.counters["ns_per_pair_per_thread"] = wall_ns / all_pairs;
  state.counters["Mpairs_per_s_total"] = all_pairs * threads / wall_ns * 1e3;
}

template <typename L>
struct PlainPair {
  struct Node {};
  static L lock;
  void operator()(Node&, int64_t rounds) const {
    lock.Lock();
    Work(rounds);
    lock.Unlock();
  }
};
template <typename L>
L PlainPair<L>::lock;

struct McsPair {
  using Node = McsLock::Node;
  static McsLock lock;
  void operator()(Node& n, int64_t rounds) const {
    lock.Lock(&n);
    Work(rounds);
    lock.Unlock(&n);
  }
};
McsLock McsPair::lock;

struct KmemPair {
  struct Node {};
  static kmem::SpinLock lock;
  void operator()(Node&, int64_t rounds) const {
    kmem::LockGuard g(lock);
    Work(rounds);
  }
};
constinit kmem::SpinLock KmemPair::lock("bench", kmem::LockLevel::kGlobal);

// The critical section alone, and inside the host's interrupt hooks alone (a store, a load and
// thread-local reads), to split kmem's SpinLock figure into algorithm, hooks and checker.
struct NoLockPair {
  struct Node {};
  void operator()(Node&, int64_t rounds) const { Work(rounds); }
};
struct IrqPair {
  struct Node {};
  void operator()(Node&, int64_t rounds) const {
    const kmem::IrqState irq = kmem::IrqSave();
    Work(rounds);
    kmem::IrqRestore(irq);
  }
};

void BM_Work(benchmark::State& state) { Contended(state, NoLockPair{}); }
void BM_IrqSaveRestore(benchmark::State& state) { Contended(state, IrqPair{}); }
void BM_Ttas(benchmark::State& state) { Contended(state, PlainPair<TtasLock>{}); }
void BM_Ticket(benchmark::State& state) { Contended(state, PlainPair<TicketLock>{}); }
void BM_Mcs(benchmark::State& state) { Contended(state, McsPair{}); }
void BM_KmemSpinLock(benchmark::State& state) { Contended(state, KmemPair{}); }

// Arguments: critical-section rounds, threads.
#define LOCK_BENCH(b) \
  BENCHMARK(b)->ArgsProduct({{kShort, kLong}, {1, 2}})->UseManualTime()->Unit(benchmark::kMillisecond)
// One thread only: without a lock, two threads would race on the shared counter.
BENCHMARK(BM_Work)->ArgsProduct({{kShort, kLong}, {1}})->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_IrqSaveRestore)
    ->ArgsProduct({{kShort, kLong}, {1}})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
LOCK_BENCH(BM_Ttas);
LOCK_BENCH(BM_Ticket);
LOCK_BENCH(BM_Mcs);
LOCK_BENCH(BM_KmemSpinLock);

}  // namespace

BENCHMARK_MAIN();
