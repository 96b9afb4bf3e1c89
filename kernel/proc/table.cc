// The process table: every live process (from Spawn until it is freed) on one list, for ps, vmas and kill.
// A caller pins a process under the table's lock and works on it after dropping the lock (its VMAs need the
// process's sleeping lock, which cannot be taken under a spinlock); a process is not freed while pinned.
#include "kernel/proc/process.h"
#include "kernel/proc/proc.h"
#include "kernel/sched/sched.h"
#include "mm/base/format.h"
#include "mm/base/lock.h"

namespace kmem::kernel {
namespace {

// Protects `live` and every live process's next_live, pins and ended. Global level: taken with no memory
// lock held, and nothing but the list is touched under it.
SpinLock table_lock{"processes", LockLevel::kGlobal};
Process* live = nullptr;  // newest first

// The live process `pid`, pinned, or nullptr.
Process* Pin(uint64_t pid) {
  LockGuard g(table_lock);
  for (Process* p = live; p != nullptr; p = p->next_live) {
    if (p->pid == pid) {
      ++p->pins;
      return p;
    }
  }
  return nullptr;
}

void Unpin(Process& p) {
  LockGuard g(table_lock);
  --p.pins;
}

}  // namespace

void PrintSink(void*, const char* text, size_t len) { Print("%.*s", static_cast<int>(len), text); }

void Register(Process& p) {
  LockGuard g(table_lock);
  p.next_live = live;
  live = &p;
}

void Started(Process& p, Thread* t) {
  LockGuard g(table_lock);
  p.thread = t;
}

void MarkEnded(Process& p) {
  {
    LockGuard g(table_lock);
    p.ended = true;
  }
  PwaitEnded(p);  // the OOM policy waits for a victim to end before it picks another
}

void Unregister(Process& p) {
  for (;;) {
    {
      LockGuard g(table_lock);
      if (p.pins == 0) {
        Process** at = &live;
        while (*at != &p) at = &(*at)->next_live;
        *at = p.next_live;
        return;
      }
    }
    Yield();  // a ps or kill holds it for a moment
  }
}

uint64_t ListProcesses(ProcInfo* out, uint64_t cap) {
  // Pins up to `cap` processes in one pass, then reads each under its own lock.
  constexpr uint64_t kMaxList = 128;
  Process* pinned[kMaxList];
  uint64_t n = 0, count = 0;
  {
    LockGuard g(table_lock);
    for (Process* p = live; p != nullptr; p = p->next_live, ++count) {
      if (n < cap && n < kMaxList) {
        ++p->pins;
        pinned[n++] = p;
      }
    }
  }
  for (uint64_t i = 0; i < n; ++i) {
    Process& p = *pinned[i];
    ProcInfo& info = out[i];
    info = ProcInfo{p.pid, {}, false, 0, __atomic_load_n(&p.live_threads, __ATOMIC_ACQUIRE), 0, 0};
    FormatTo(info.name, sizeof info.name, "%s", p.name);
    p.lock.Lock();
    info.vmas = p.vm.Stats(&info.resident_pages, nullptr, 0);
    p.lock.Unlock();
    {
      LockGuard g(table_lock);
      info.ended = p.ended;
      if (!p.ended && p.thread != nullptr) info.cpu = p.thread->cpu();
    }
    Unpin(p);
  }
  return count;
}

void ForEachLive(void (*fn)(void* ctx, Process& p), void* ctx) {
  constexpr unsigned kBatch = 128;
  Process* pinned[kBatch];
  uint64_t done = 0;  // how many of the list's not-ended processes earlier batches took
  for (;;) {
    unsigned n = 0;
    {
      LockGuard g(table_lock);
      uint64_t seen = 0;
      for (Process* p = live; p != nullptr && n < kBatch; p = p->next_live) {
        if (p->ended || seen++ < done) continue;
        ++p->pins;
        pinned[n++] = p;
      }
    }
    for (unsigned i = 0; i < n; ++i) {
      fn(ctx, *pinned[i]);
      Unpin(*pinned[i]);
    }
    if (n < kBatch) return;
    done += n;
  }
}

bool PrintVmas(uint64_t pid) {
  Process* p = Pin(pid);
  if (p == nullptr) return false;
  Print("pid %lu (%s):\n", p->pid, p->name);
  p->lock.Lock();
  p->vm.Dump(PrintSink, nullptr);
  p->lock.Unlock();
  Unpin(*p);
  return true;
}

bool Kill(uint64_t pid) {
  Process* p = Pin(pid);
  if (p == nullptr) return false;
  bool running;
  {
    LockGuard g(table_lock);
    running = !p->ended;
  }
  if (running) KillThreads(*p);  // pinned, so the process stays while its threads are told
  Unpin(*p);
  return running;
}

namespace {

// Under the table's lock: when every live process sleeps (each of its live threads on pwait, or in wait or
// join, which end only when what they wait for does), at least one of them on pwait, none on its way out
// and no page is free, nothing will free memory by running, so the largest resident set of those on pwait
// goes (a sleeper on pwait wakes to its kill and ends; one in wait would sleep on). Each of them sleeps
// with its VMAs unlocked and left alone (its threads alone change them, and all of them sleep), so reading
// them here is safe.
void ChooseOomVictim(bool free, OomChoice* victim) {
  Process* largest = nullptr;
  uint64_t most = 0, waiting = 0;
  for (Process* q = live; q != nullptr; q = q->next_live) {
    if (q->ended) continue;
    const uint32_t threads = __atomic_load_n(&q->live_threads, __ATOMIC_ACQUIRE);
    if (threads == 0) {
      if (q->blocked == 0) return;  // its last thread left user mode: it tears down its VMAs
      continue;                     // it reaps its children (ReapChildren), its memory given back
    }
    if (q->pwaiting + q->blocked < threads || __atomic_load_n(&q->kill, __ATOMIC_ACQUIRE)) return;
    if (q->pwaiting == 0) continue;
    uint64_t resident = 0;
    q->vm.Stats(&resident, nullptr, 0);
    ++waiting;
    if (largest == nullptr || resident > most) {
      largest = q;
      most = resident;
    }
  }
  if (largest == nullptr || free) return;  // free pages: the first in line will take them
  SetKillReason(*largest, KillReason::kOom);
  __atomic_store_n(&largest->kill, true, __ATOMIC_RELEASE);
  victim->pid = largest->pid;
  FormatTo(victim->name, sizeof victim->name, "%s", largest->name);
  victim->resident = most;
  victim->waiting = waiting;
}

}  // namespace

bool EnterPwait(Process& p, PwaitReady ready, OomChoice* victim) {
  LockGuard g(table_lock);
  const bool free = ready.fn != nullptr && ready.fn(ready.arg);
  if (free && ready.early) return false;
  ++p.pwaiting;
  ++p.pwaits;
  ChooseOomVictim(free, victim);
  return true;
}

void EnterBlocked(Process& p, PwaitReady ready, OomChoice* victim) {
  LockGuard g(table_lock);
  ++p.blocked;
  ChooseOomVictim(ready.fn != nullptr && ready.fn(ready.arg), victim);
}

void LeaveBlocked(Process& p) {
  LockGuard g(table_lock);
  --p.blocked;
}

uint64_t NextInLine() {
  LockGuard g(table_lock);
  uint64_t pid = 0, first = 0;
  for (Process* q = live; q != nullptr; q = q->next_live) {
    const uint64_t turn = __atomic_load_n(&q->turn, __ATOMIC_RELAXED);
    if (q->ended || turn == 0 || __atomic_load_n(&q->kill, __ATOMIC_ACQUIRE)) continue;
    if (pid == 0 || turn < first) {
      pid = q->pid;
      first = turn;
    }
  }
  return pid;
}

void LeavePwait(Process& p) {
  LockGuard g(table_lock);
  --p.pwaiting;
}

}  // namespace kmem::kernel
