// Inside kernel/proc: the Process object the loader, the system calls and the fault hook share.
#pragma once

#include <stdint.h>

#include "kernel/proc/arch.h"
#include "kernel/proc/proc.h"
#include "kernel/sched/sched.h"
#include "mm/base/lock.h"
#include "mm/vm/aspace.h"
#include "mm/vm/user_vm.h"

namespace kmem::kernel {

class Process;

// A thread of a process besides its first (the one ProcMain runs, Process::thread): started by the thread
// system call on a kernel thread of its own, ended by thread_exit, exit or a kill, and freed by join or by
// its process's end. It runs in its process's space; the process's memory goes back only after every one
// of them has ended.
struct ProcThread {
  uint64_t tid;
  Process& process;
  uint64_t entry, sp, arg;  // where it starts in user mode
  Thread* thread = nullptr;  // joinable
  int64_t status = 0;        // thread_exit's, or -(vector) when it was killed
  bool ended = false;        // atomic: it has left user mode for good (status is set)
  ProcThread* next = nullptr;  // on the process's `threads`
};

// Who asked for a process's kill: a request (Kill: the monitor), the OOM policy (pressure.cc), or the kill
// of its parent, which takes with it the children nobody waited for (ReapChildren).
enum class KillReason : uint8_t { kRequest, kOom, kParent };
// "request", "the oom policy", "its parent's kill": what the kill message says after "killed by".
const char* KillReasonName(KillReason reason);

class Process {
 public:
  Process(uint64_t pid, const char* name, ArchAspace& tables, const UserVmLimits& limits);

  const uint64_t pid;
  char name[16] = {};
  ArchAspace& tables;
  AddressSpace space;
  // Its VMAs; every call under `lock`.
  UserVm vm;
  QLock lock;
  Thread* joinable = nullptr;  // its thread, for Wait (nullptr when detached)
  // Where the program starts, set by the loader.
  uint64_t entry = 0, sp = 0, argc = 0, argv = 0;
  ProcEnd end = {};
  // Nobody waits for it: it frees itself when it ends (the monitor's run).
  bool detached = false;
  // Set by Kill (atomic), by exit and by the fatal fault of any thread: every thread of the process ends at
  // its next return to user mode.
  bool kill = false;
  // Whether `end` is written (atomic): the first of exit, a fatal fault or a kill writes it (EndProcess).
  bool end_claimed = false;
  // Why a kill was asked for, for its message (atomic; stored before `kill`).
  KillReason kill_reason = KillReason::kRequest;
  // pressure.cc's: how many of its threads' faults sleep on pwait (under the table's lock; the process waits
  // when all its live threads do), and how many times they did.
  uint32_t pwaiting = 0;
  // pressure.cc's, under the table's lock: how many of its threads sleep in wait or join. Such a thread
  // frees nothing until what it waits for ends, so for the OOM policy it waits as one on pwait does.
  uint32_t blocked = 0;
  uint64_t pwaits = 0;
  uint64_t turn = 0;  // pressure.cc's (atomic): its place in the line for the pressure, 0: not in it
  // age.cc's, under `lock`: the latest ageing pass over the process (0: none yet) and what it found.
  uint64_t age_pass = 0;
  AgeCounts age = {};

  // The process table's (table.cc), under its lock: the next live process, how many callers hold this one
  // pinned (it is not freed while any does), and whether it has ended (its memory given back).
  Process* next_live = nullptr;
  uint32_t pins = 0;
  bool ended = false;
  Thread* thread = nullptr;  // set by the thread itself as it starts (Started)
  uint32_t live_threads = 1;  // atomic: threads that have not ended, the first included

  // Its other threads, newest first, under threads_lock with `children`: join takes one off the list, the
  // first thread's end takes the rest. Nothing else is done under the lock.
  SpinLock threads_lock{"process threads", LockLevel::kGlobal};
  ProcThread* threads = nullptr;
  WaitQueue thread_ends;  // join sleeps here until its thread ends or the process is killed

  // fork: a child starts from its parent's system call (forked) instead of the ELF's entry. Its parent
  // links it into `children` (through `sibling`, under threads_lock) until wait or the parent's end reaps it.
  bool forked = false;
  UserContext context = {};
  Process* children = nullptr;
  Process* sibling = nullptr;
};

// The process table (table.cc): a process is in it from its start until it is freed.
void Register(Process& p);
// The process's thread has started: ps may look at it.
void Started(Process& p, Thread* t);
// Marks `p` as ended (its thread does not touch its memory any more).
void MarkEnded(Process& p);
// Takes `p` out of the table once nobody holds it pinned; then it may be freed.
void Unregister(Process& p);
// Calls fn(ctx, p) for each live process that has not ended, pinned, with the table's lock dropped so that
// fn may take the process's lock. It pins 128 at a time: processes that start or end meanwhile shift the
// later batches, so one may be visited twice or missed.
void ForEachLive(void (*fn)(void* ctx, Process& p), void* ctx);

// threads (process.cc): a new thread of `p` at entry with rdi = arg, rsp = sp, its tid or a negated abi::Err;
// waiting for thread `tid` of `p` to end and freeing it: its tid with *status its status, or Err::kInval.
int64_t StartThread(Process& p, uint64_t entry, uint64_t sp, uint64_t arg);
int64_t JoinThread(Process& p, uint64_t tid, int64_t* status);
// `exit` (exit's status, or the kill and why) ends the whole process unless its end is written already:
// the first call writes p.end and every thread of `p` ends at its next return to user mode.
void EndProcess(Process& p, const UserExit& exit);
// Tells every thread of `p` to end at its next return to user mode (and wakes those asleep in join or on
// pwait to see it): Kill's, the OOM policy's, EndProcess's.
void KillThreads(Process& p);
// Process::kill_reason (atomic): set before KillThreads, read once `kill` is seen.
inline void SetKillReason(Process& p, KillReason r) { __atomic_store(&p.kill_reason, &r, __ATOMIC_RELAXED); }
inline KillReason KillReasonOf(const Process& p) {
  KillReason r;
  __atomic_load(&p.kill_reason, &r, __ATOMIC_RELAXED);
  return r;
}

// fork and wait (process.cc): the calling process's copy, which returns 0 from the system call, as a child;
// its pid, or a negated abi::Err.
int64_t ForkCurrent(Process& parent);
// Waits for the child `pid` of `parent` to end and frees it: its pid, with *status exit's status or the
// negated vector (or kill status) that killed it; Err::kInval when no child has that pid.
int64_t WaitChild(Process& parent, uint64_t pid, int64_t* status);
// Memory pressure (table.cc, for pressure.cc). Under the table's lock: unless pages are free after all
// and `ready.early` (false), marks `p` as asleep on pwait; then, if every live process is (or in wait or
// join: EnterBlocked), none is being killed and no page is free, the OOM policy kills the one on pwait with
// the largest resident set (which may be `p`): *victim says who.
struct PwaitReady {
  bool (*fn)(void*);  // palloc's: whether pages are free (nullptr: not known)
  void* arg;
  bool early;  // pages being free ends the wait (a fault that found none; not one waiting for its turn)
};
struct OomChoice {
  uint64_t pid = 0;  // 0: nobody
  char name[16] = {};
  uint64_t resident = 0, waiting = 0;
};
bool EnterPwait(Process& p, PwaitReady ready, OomChoice* victim);
void LeavePwait(Process& p);
// A thread of `p` goes to sleep in wait or join (under the table's lock): the same OOM check as EnterPwait's,
// since its process may have been the last one running.
void EnterBlocked(Process& p, PwaitReady ready, OomChoice* victim);
void LeaveBlocked(Process& p);
// Around a sleep in wait or join (pressure.cc): EnterBlocked with palloc's check, and the OOM kill it asks.
void BlockedSleep(Process& p);
void BlockedWake(Process& p);
// The pid of the live process first in the line for the pressure (the smallest `turn`), 0: none.
uint64_t NextInLine();
// Before a process's fault (pressure.cc): while another process owns the pressure (its fault waited
// first), sleeps on pwait until that one ends; false when `p` is being killed and must give up.
bool PwaitTurn(Process& p);
// Wakes every sleeper on pwait to look at its condition again (a kill).
void PwaitKick();
// `p` has ended: if it owned the pressure nobody does now, and the sleepers look again.
void PwaitEnded(const Process& p);

// The process of the calling thread; panics on a thread that runs none.
Process& CurrentProcess();

// The system-call hook (syscalls.cc).
int64_t Syscall(SyscallArgs& a);

// A FormatSink onto the console, for UserVm::Dump.
void PrintSink(void* ctx, const char* text, size_t len);

}  // namespace kmem::kernel
