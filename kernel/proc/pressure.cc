// Memory pressure: palloc's waiting allocations sleep on pwait (9front's palloc.pwait) and every free wakes
// them; when every live process sleeps there, the OOM policy (EnterPwait, table.cc) kills the largest. A
// waiter first takes back the pages the slab caches keep (KmemReap), in a sleeper's context: no spinlock
// held, interrupts on for the cross-call.
//
// A sleeper reads the wake-up count before it checks whether pages are free, then sleeps until the count
// moves: a free after that check bumps it (palloc calls wakeup while anyone waits), so none is lost, and
// palloc's check, which takes its zone locks, never runs under the queue's kSched lock.
//
// One process at a time goes first (9front lets one user process at a time wait in newpage): the first
// whose fault waits owns the pressure until it ends, and meanwhile the others' faults wait in line for their
// turn (PwaitTurn) rather than race it for each page a free gives back; as it ends it hands the pressure to
// the first in line. Without that, the pages of a process that exits are spread over every waiter, none
// gets all it needs, and soon all of them wait at once. The cost: faults under pressure are served one
// process at a time, and an owner that lives on without faulting (asleep, computing) keeps the others'
// faults in line until it ends or is killed; handing the pressure on sooner (at a system call, after a
// run of faults that found pages at once) would need to keep the spreading away.
#include "kernel/proc/process.h"
#include "kernel/proc/proc.h"
#include "kernel/sched/sched.h"
#include "mm/base/format.h"
#include "mm/pool/slab.h"

namespace kmem::kernel {
namespace {

// [0]: kernel threads (the loader writing a new process, the kernel's own NewPage), [1]: processes'
// faults. A wakeup readies the kernel's first, as 9front serves kernel processes first.
WaitQueue pwait[2];
uint64_t wake_seq = 0;   // atomic: bumped by every wakeup
uint64_t owner = 0;      // atomic: the pid of the process whose faults go first, 0: none
uint64_t next_turn = 1;  // atomic: the tickets of the line
// Palloc's "pages are free", from its first sleep (atomic: one palloc, so set once in effect), for the
// OOM policy's check when a process waits for its turn.
bool (*palloc_ready)(void*) = nullptr;
void* palloc_arg = nullptr;
PwaitCounts counts;      // atomic fields

struct Sleeper {
  uint64_t seq;    // wake_seq before the sleeper looked for free pages
  Process* p;      // nullptr: a kernel thread
  uint64_t owner;  // a process's: the owner when it went to sleep
};

bool Killed(const Process& p) { return __atomic_load_n(&p.kill, __ATOMIC_ACQUIRE); }

bool Woken(void* arg) {
  const Sleeper& s = *static_cast<Sleeper*>(arg);
  return __atomic_load_n(&wake_seq, __ATOMIC_ACQUIRE) != s.seq || (s.p != nullptr && Killed(*s.p));
}

// A process that does not own the pressure: it wakes when the owner ends (or it is killed).
bool OwnerEnded(void* arg) {
  const Sleeper& s = *static_cast<Sleeper*>(arg);
  return __atomic_load_n(&owner, __ATOMIC_ACQUIRE) != s.owner || Killed(*s.p);
}

void Wakeup(void*) {
  __atomic_fetch_add(&wake_seq, 1, __ATOMIC_SEQ_CST);
  pwait[0].WakeAll();
  pwait[1].WakeAll();
}

// Gives back what the slab caches keep (every CPU's free objects, the empty slabs each cache keeps): pages
// palloc lent them, which may be all a waiter needs. Says whether any came back.
bool ReapSlabCaches() {
  const uint64_t bytes = pool::KmemReap();
  __atomic_fetch_add(&counts.reaped_bytes, bytes, __ATOMIC_RELAXED);
  return bytes != 0;
}

// Says who the OOM policy killed and wakes it (and everyone: the victim's pages will come back).
void Oom(const OomChoice& victim) {
  __atomic_fetch_add(&counts.oom_kills, 1, __ATOMIC_RELAXED);
  Print("oom: pid %lu (%s) killed: %lu resident pages, the largest of %lu processes waiting for memory\n",
        victim.pid, victim.name, victim.resident, victim.waiting);
  Wakeup(nullptr);
}

PallocWait Sleep(void*, bool (*ready)(void*), void* arg) {
  if (!SchedRunning()) return PallocWait::kNoWay;
  Process* p = static_cast<Process*>(CurrentThread()->owner);
  Sleeper s{__atomic_load_n(&wake_seq, __ATOMIC_SEQ_CST), p, 0};
  if (p == nullptr) {
    if (ready(arg) || (ReapSlabCaches() && ready(arg))) return PallocWait::kRetry;
    __atomic_fetch_add(&counts.kernel_sleeps, 1, __ATOMIC_RELAXED);
    pwait[0].Sleep(Woken, &s);
    return PallocWait::kRetry;
  }
  if (Killed(*p)) return PallocWait::kGiveUp;
  if (ReapSlabCaches() && ready(arg)) return PallocWait::kRetry;
  uint64_t none = 0;
  __atomic_compare_exchange_n(&owner, &none, p->pid, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
  s.owner = __atomic_load_n(&owner, __ATOMIC_ACQUIRE);
  const bool mine = s.owner == p->pid;
  __atomic_store_n(&palloc_arg, arg, __ATOMIC_RELAXED);
  __atomic_store_n(&palloc_ready, ready, __ATOMIC_RELEASE);
  OomChoice victim;
  if (!EnterPwait(*p, PwaitReady{ready, arg, mine}, &victim)) return PallocWait::kRetry;
  __atomic_fetch_add(&counts.sleeps, 1, __ATOMIC_RELAXED);
  if (victim.pid != 0) Oom(victim);
  pwait[1].Sleep(mine ? Woken : OwnerEnded, &s);
  LeavePwait(*p);
  return Killed(*p) ? PallocWait::kGiveUp : PallocWait::kRetry;
}

}  // namespace

bool PwaitTurn(Process& p) {
  const uint64_t first = __atomic_load_n(&owner, __ATOMIC_ACQUIRE);
  if (first == 0 || first == p.pid) {
    __atomic_store_n(&p.turn, 0, __ATOMIC_RELAXED);
    return true;
  }
  if (Killed(p)) return false;
  if (__atomic_load_n(&p.turn, __ATOMIC_RELAXED) == 0) {
    __atomic_store_n(&p.turn, __atomic_fetch_add(&next_turn, 1, __ATOMIC_RELAXED), __ATOMIC_RELAXED);
  }
  OomChoice victim;
  EnterPwait(p,
             PwaitReady{__atomic_load_n(&palloc_ready, __ATOMIC_ACQUIRE),
                        __atomic_load_n(&palloc_arg, __ATOMIC_RELAXED), false},
             &victim);
  __atomic_fetch_add(&counts.sleeps, 1, __ATOMIC_RELAXED);
  if (victim.pid != 0) Oom(victim);
  Sleeper s{0, &p, first};
  pwait[1].Sleep(OwnerEnded, &s);
  LeavePwait(p);
  return !Killed(p);
}

void BlockedSleep(Process& p) {
  OomChoice victim;
  EnterBlocked(p,
               PwaitReady{__atomic_load_n(&palloc_ready, __ATOMIC_ACQUIRE),
                          __atomic_load_n(&palloc_arg, __ATOMIC_RELAXED), false},
               &victim);
  if (victim.pid != 0) Oom(victim);
}

void BlockedWake(Process& p) { LeaveBlocked(p); }

PallocHooks PwaitHooks() { return PallocHooks{Sleep, Wakeup, nullptr}; }

void PwaitKick() { Wakeup(nullptr); }

void PwaitEnded(const Process& p) {
  uint64_t pid = p.pid;
  __atomic_compare_exchange_n(&owner, &pid, NextInLine(), false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
  Wakeup(nullptr);
}

PwaitCounts PwaitCountsNow() {
  return PwaitCounts{__atomic_load_n(&counts.sleeps, __ATOMIC_RELAXED),
                     __atomic_load_n(&counts.kernel_sleeps, __ATOMIC_RELAXED),
                     __atomic_load_n(&counts.oom_kills, __ATOMIC_RELAXED),
                     __atomic_load_n(&counts.reaped_bytes, __ATOMIC_RELAXED)};
}

}  // namespace kmem::kernel
