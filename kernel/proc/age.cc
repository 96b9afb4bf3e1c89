// Page ageing, ready for reclaim (9front's refage and modref): a kernel thread that every kAgePeriodMs runs
// one UserVm::Age pass over every live process, under the process's lock, and keeps what each process's pass
// found (memstat's age fields) and the pass's totals (AgeTotalsNow, the monitor's age line). It starts with
// the first programs (AgeStart), not at boot, so a boot that runs none has no such thread; once started it
// runs until the machine stops. A pass allocates nothing and sleeps only for a process's lock: the shootdown
// of what each process's harvest cleared is a cross-call, which it makes with no spinlock held.
#include "kernel/proc/process.h"
#include "kernel/proc/proc.h"
#include "kernel/sched/sched.h"
#include "mm/base/format.h"
#include "mm/base/lock.h"

namespace kmem::kernel {
namespace {

// Ten passes a second: a page unused for a second is "8+" old; each pass shoots down, per process, what it
// cleared, which costs about what a switch to the process costs.
constexpr uint64_t kAgePeriodMs = 100;

// Protects `totals` (written once a pass, read by the monitor). Global level: nothing else is taken under it.
SpinLock totals_lock{"age totals", LockLevel::kGlobal};
AgeTotals totals;
uint32_t started = 0;  // atomic: 1 once AgeStart made the thread (or is making it)

void AgeProcess(void* ctx, Process& p) {
  AgeTotals& t = *static_cast<AgeTotals*>(ctx);
  p.lock.Lock();
  const AgeCounts c = p.vm.Age(t.pass);
  p.age_pass = t.pass;
  p.age = c;
  p.lock.Unlock();
  t.counts.Add(c);
  ++t.processes;
}

[[noreturn]] void AgeThread(void*) {
  for (uint64_t pass = 1;; ++pass) {
    SleepMs(kAgePeriodMs);
    AgeTotals t{pass, 0, {}};
    ForEachLive(AgeProcess, &t);
    LockGuard g(totals_lock);
    totals = t;
  }
}

}  // namespace

bool AgeStart() {
  uint32_t none = 0;
  if (!__atomic_compare_exchange_n(&started, &none, 1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) return true;
  if (Spawn("age", AgeThread, nullptr, kAnyCpu, nullptr) == SchedStatus::kOk) return true;
  __atomic_store_n(&started, 0, __ATOMIC_RELEASE);
  return false;
}

AgeTotals AgeTotalsNow() {
  LockGuard g(totals_lock);
  return totals;
}

void PrintAge() {
  const AgeTotals t = AgeTotalsNow();
  if (t.pass == 0) {
    Print("age: no pass yet (the ageing starts with the first programs)\n");
    return;
  }
  char line[160];
  FormatAge(t.counts, line, sizeof line);
  Print("age: pass %lu over %lu processes, %s\n", t.pass, t.processes, line);
}

}  // namespace kmem::kernel
