// SchedSelfTest (sched.h): a Yield benchmark, then 64 threads of four kinds at once.
//   ping-pong  pairs on two CPUs pass a turn through two Rendez (cross-CPU wake-ups, no lost one)
//   qlock      a read-yield-write increment of one counter under a QLock (no lost update)
//   sleeper    SleepMs of 1 to 3 ms, several times (the tick's deadlines)
//   yielder    kAnyCpu, Yield for 50 ms times the rank of the CPU it starts on: CPUs whose yielders finish
//              first go idle and steal the others' (with more than one CPU, they then sleep until one has)
#include "kernel/sched/arch.h"
#include "kernel/sched/sched.h"
#include "mm/base/format.h"
#include "mm/base/panic.h"

namespace kmem::kernel {
namespace {

constexpr unsigned kPairs = 8;
constexpr unsigned kPingPongRounds = 300;
constexpr unsigned kLockers = 16;
constexpr unsigned kLockRounds = 40;
constexpr unsigned kSleepers = 16;
constexpr unsigned kSleepRounds = 4;
constexpr unsigned kYielders = 16;
constexpr unsigned kThreads = 2 * kPairs + kLockers + kSleepers + kYielders;
static_assert(kThreads == kSelfTestThreads, "sched.h's count, for the boot's minimum memory");
constexpr uint64_t kYieldSliceNs = 50'000'000;
constexpr uint64_t kWatchdogMs = 120'000;
constexpr unsigned kBenchYields = 5000;

struct PingPong {
  Rendez turn_changed[2];
  unsigned turn = 0;
};

struct Side {
  PingPong* pair = nullptr;
  unsigned me = 0;
};

struct Test {
  PingPong pairs[kPairs];
  Side sides[2 * kPairs];
  QLock lock;
  unsigned counter = 0;
  uint64_t start_ns = 0;
  uint64_t migrations_before = 0;
  unsigned finished = 0;
  bool done[kThreads] = {};
  Thread* threads[kThreads] = {};
};
constinit Test test;

struct Arg {
  unsigned index = 0;  // in test.threads
  unsigned n = 0;      // the kind's own index
};
constinit Arg args[kThreads];

void Finish(unsigned index) {
  __atomic_store_n(&test.done[index], true, __ATOMIC_RELEASE);
  __atomic_fetch_add(&test.finished, 1, __ATOMIC_ACQ_REL);
}

bool IsTurn(void* arg) {
  const Side& s = *static_cast<const Side*>(arg);
  return __atomic_load_n(&s.pair->turn, __ATOMIC_ACQUIRE) == s.me;
}

void PingPongThread(void* arg) {
  const Arg& a = *static_cast<const Arg*>(arg);
  Side& s = test.sides[a.n];
  for (unsigned i = 0; i < kPingPongRounds; ++i) {
    s.pair->turn_changed[s.me].Sleep(IsTurn, &s);
    __atomic_store_n(&s.pair->turn, 1 - s.me, __ATOMIC_RELEASE);
    s.pair->turn_changed[1 - s.me].Wakeup();
  }
  Finish(a.index);
}

void LockThread(void* arg) {
  const Arg& a = *static_cast<const Arg*>(arg);
  for (unsigned i = 0; i < kLockRounds; ++i) {
    test.lock.Lock();
    const unsigned v = test.counter;
    Yield();  // another locker would run here, and lose this update, without the lock
    test.counter = v + 1;
    test.lock.Unlock();
  }
  Finish(a.index);
}

void SleepThread(void* arg) {
  const Arg& a = *static_cast<const Arg*>(arg);
  for (unsigned i = 0; i < kSleepRounds; ++i) {
    const uint64_t ms = 1 + (a.n + i) % 3;
    const uint64_t from = ArchNowNs();
    SleepMs(ms);
    const uint64_t slept = ArchNowNs() - from;
    if (slept < ms * 1'000'000) Panic("sched: SleepMs(%lu) returned after %lu ns", ms, slept);
  }
  Finish(a.index);
}

unsigned OnlineCount() { return OnlineCpus().Count(); }

// The rank of `cpu` among the online CPUs.
unsigned RankOf(unsigned cpu) { return CpuSet(OnlineCpus().bits() & ((uint32_t{1} << cpu) - 1)).Count(); }

bool Migrated() { return SchedCountsNow().migrations != test.migrations_before; }

void YieldThread(void* arg) {
  const Arg& a = *static_cast<const Arg*>(arg);
  const uint64_t until = test.start_ns + (1 + RankOf(CurrentThread()->cpu())) * kYieldSliceNs;
  while (ArchNowNs() < until) Yield();
  // Off the CPU, so that it idles and steals from the CPUs whose yielders still run.
  while (OnlineCount() > 1 && !Migrated()) SleepMs(1);
  Finish(a.index);
}

void Start(unsigned index, const char* kind, unsigned n, void (*fn)(void*), int cpu) {
  char name[24];
  FormatTo(name, sizeof name, "%s%u", kind, n);
  args[index] = Arg{index, n};
  if (const SchedStatus s = Spawn(name, fn, &args[index], cpu, &test.threads[index]); s != SchedStatus::kOk) {
    Panic("sched: self-test: spawning %s: %s", name, SchedStatusName(s));
  }
}

// The watchdog: every thread finishes within kWatchdogMs, or the test names one that did not.
void WaitForAll() {
  const uint64_t deadline = ArchNowNs() + kWatchdogMs * 1'000'000;
  while (__atomic_load_n(&test.finished, __ATOMIC_ACQUIRE) < kThreads) {
    if (ArchNowNs() > deadline) {
      unsigned stuck = 0;
      while (__atomic_load_n(&test.done[stuck], __ATOMIC_ACQUIRE)) ++stuck;
      Panic("sched: self-test watchdog: %u of %u threads still running after %lu ms, '%s' among them (a lost "
            "wake-up?)",
            kThreads - __atomic_load_n(&test.finished, __ATOMIC_ACQUIRE), kThreads, kWatchdogMs,
            test.threads[stuck]->name());
    }
    SleepMs(10);
  }
}

// The n-th online CPU, counting round.
int NthCpu(unsigned n) {
  const unsigned want = n % OnlineCount();
  unsigned seen = 0;
  for (unsigned cpu = 0; cpu < kMaxCpus; ++cpu) {
    if (OnlineCpus().Has(cpu) && seen++ == want) return static_cast<int>(cpu);
  }
  return 0;
}

struct Bench {
  uint64_t start = 0, end = 0;
};
constinit Bench bench;

void BenchThread(void*) {
  if (bench.start == 0) bench.start = ArchNowNs();
  for (unsigned i = 0; i < kBenchYields; ++i) Yield();
  bench.end = ArchNowNs();
}

// Two threads on the boot thread's CPU yielding to each other: ns a switch (a tick's interrupt included).
uint64_t YieldSwitchNsOnce() {
  bench = Bench{};
  const int cpu = static_cast<int>(CurrentThread()->cpu());
  Thread* t[2];
  const uint64_t before = SchedCountsNow().switches;
  for (Thread*& each : t) {
    if (Spawn("yieldbench", BenchThread, nullptr, cpu, &each) != SchedStatus::kOk) Panic("sched: no bench thread");
  }
  for (Thread* each : t) Join(each);
  const uint64_t switches = SchedCountsNow().switches - before;
  KASSERT(switches >= 2 * kBenchYields, "sched: %lu switches for %u yields of two threads", switches, 2 * kBenchYields);
  return (bench.end - bench.start) / (2 * kBenchYields);
}

// The best of a few runs: the host preempting a virtual CPU (under TCG, on a shared machine) only adds.
uint64_t YieldSwitchNs() {
  constexpr int kRuns = 3;
  uint64_t best = ~uint64_t{0};
  for (int i = 0; i < kRuns; ++i) {
    const uint64_t ns = YieldSwitchNsOnce();
    if (ns < best) best = ns;
  }
  return best;
}

}  // namespace

void SchedSelfTest() {
  // A second run (the monitor's selftest) starts from what the first left: the turns back at 0.
  test.counter = test.finished = 0;
  for (bool& d : test.done) d = false;
  // First, so that the boot CPU's idle thread, which the first Spawn makes, is not counted as a leak.
  const uint64_t ns = YieldSwitchNs();
  KvaArena& arena = ArchStackArena();
  const KvaStats before = arena.Stats();
  const SchedCounts from = SchedCountsNow();
  unsigned index = 0;
  for (unsigned p = 0; p < kPairs; ++p) {
    for (unsigned side = 0; side < 2; ++side) {
      test.sides[2 * p + side] = Side{&test.pairs[p], side};
      Start(index++, "pingpong", 2 * p + side, PingPongThread, NthCpu(p + side));
    }
  }
  for (unsigned n = 0; n < kLockers; ++n) Start(index++, "qlock", n, LockThread, kAnyCpu);
  for (unsigned n = 0; n < kSleepers; ++n) Start(index++, "sleeper", n, SleepThread, kAnyCpu);
  test.start_ns = ArchNowNs();
  test.migrations_before = from.migrations;
  for (unsigned n = 0; n < kYielders; ++n) Start(index++, "yielder", n, YieldThread, kAnyCpu);
  WaitForAll();
  for (Thread* t : test.threads) Join(t);
  if (test.counter != kLockers * kLockRounds) {
    Panic("sched: self-test: the QLock's counter is %u, not %u: an update was lost", test.counter,
          kLockers * kLockRounds);
  }
  const SchedCounts to = SchedCountsNow();
  const KvaStats after = arena.Stats();
  if (to.spawned - from.spawned != to.freed - from.freed || after.ranges != before.ranges ||
      after.usable_bytes != before.usable_bytes) {
    Panic("sched: self-test: %lu threads spawned, %lu stacks freed; the stack arena had %zu ranges (%lu bytes), "
          "now %zu (%lu)",
          to.spawned - from.spawned, to.freed - from.freed, before.ranges, before.usable_bytes, after.ranges,
          after.usable_bytes);
  }
  Print("sched: %u CPUs, %u threads, %lu switches, %lu sleeps, %lu migrations ok, every stack freed; yield "
        "between two threads on one CPU: %lu ns a switch\n",
        OnlineCount(), kThreads, to.switches - from.switches, to.sleeps - from.sleeps,
        to.migrations - from.migrations, ns);
}

}  // namespace kmem::kernel
