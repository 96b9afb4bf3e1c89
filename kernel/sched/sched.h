// Kernel threads and a per-CPU scheduler (kernel-only, portable: the architecture comes in through
// kernel/sched/arch.h). Each CPU has a run queue under its own lock, round robin; an idle CPU halts with
// interrupts on and, on its timer tick or a wake-up IPI, takes work from the busiest CPU (steal); Spawn
// with kAnyCpu places a thread on the least loaded CPU. Sleeping is 9front's: Rendez, whose condition is
// checked under the Rendez's lock so no wake-up is lost, SleepMs with a deadline the tick checks, and a
// sleeping mutex (QLock).
//
// Preemption: kernel code is not preemptible. A thread leaves its CPU only at Yield, SleepMs, Rendez::Sleep,
// QLock::Lock, ExitThread and PreemptIfAsked (which the return to ring 3 calls; the timer tick only asks),
// and an idle CPU switches from its idle loop. So CpuId() and PerCpu data stay the calling CPU's between
// two of those calls even with interrupts on, as mm/ assumes; a thread may come back on another CPU after
// one of them (kAnyCpu threads migrate, threads spawned on a named CPU stay there).
//
// Locks: run queues, Rendez and QLock words are LockLevel::kSched, below every memory lock, and none of
// them is held while another is taken, so a thread may wake another (Rendez::Wakeup, QLock::Unlock)
// holding any memory lock. A thread must not block (Yield, sleep, QLock::Lock, Join) holding a spinlock.
#pragma once

#include <stdint.h>

#include "mm/vm/aspace.h"
#include "mm/vm/vmalloc.h"

namespace kmem::kernel {

class Thread;

// 9front's Rendez: one thread at a time sleeps on it until a condition holds. Sleep returns once
// cond(arg) is true; cond is evaluated under the Rendez's lock (so it must not block or take a kSched
// lock), and a Wakeup after the condition became true always finds the sleeper. Two sleepers at once
// panic.
class Rendez {
 public:
  void Sleep(bool (*cond)(void*), void* arg);
  // Makes the sleeper, if any, runnable; it re-evaluates its condition.
  void Wakeup();

 private:
  SpinLock lock_{"rendez", LockLevel::kSched};
  Thread* sleeper_ = nullptr;
};

// Many threads sleep on it, each until its own condition holds (9front's palloc.pwait, which Rendez's one
// sleeper cannot serve): Sleep returns once cond(arg) is true, evaluated under the queue's lock as Rendez
// does (so it must not block or take a lock: read words only), and WakeAll makes every sleeper runnable, in
// the order they went to sleep, to re-evaluate its condition. A WakeAll after a condition became true always
// finds its sleeper.
class WaitQueue {
 public:
  void Sleep(bool (*cond)(void*), void* arg);
  void WakeAll();

 private:
  SpinLock lock_{"wait queue", LockLevel::kSched};
  Thread* head_ = nullptr;  // sleepers, FIFO through Thread::next_
  Thread* tail_ = nullptr;
};

// A sleeping mutex (9front's qlock): waiters sleep in FIFO order and Unlock hands the lock to the first.
// Held across blocking calls (TLB shootdowns, other sleeps), unlike a SpinLock. Unlock by another thread
// than the holder panics.
class QLock {
 public:
  void Lock();
  void Unlock();
  bool HeldByMe() const;

 private:
  SpinLock lock_{"qlock", LockLevel::kSched};
  Thread* holder_ = nullptr;
  Thread* head_ = nullptr;  // waiters, through Thread::next_
  Thread* tail_ = nullptr;
};

enum class SchedStatus : uint8_t {
  kOk,
  kNoMemory,  // no stack (vmalloc failed)
  kBadCpu,    // the CPU named is not online
};
const char* SchedStatusName(SchedStatus status);

inline constexpr int kAnyCpu = -1;

// Each thread's stack, the Thread at its top included, as an AP's boot stack; the guard page below it
// takes address space only.
inline constexpr uint64_t kThreadStackBytes = 16384;

// One kernel thread: its stack (vmalloc'ed, a guard page below it, this object at its top), where it runs
// and in which address space. The public fields are its owner's to set (before it first runs, or from the
// thread itself); the private ones are the scheduler's.
class Thread {
 public:
  enum class State : uint8_t { kRunnable, kRunning, kSleeping, kDead };

  const char* name() const { return name_; }
  State state() const { return state_; }
  unsigned cpu() const { return cpu_; }  // where it runs, or last ran, or is queued
  VirtAddr stack_base() const { return stack_base_; }
  VirtAddr stack_top() const { return stack_top_; }

  AddressSpace* space = nullptr;  // loaded before the thread runs; nullptr: the kernel's
  void* owner = nullptr;          // the process, for kernel/proc
  uint64_t arch_slot[2] = {};     // for the switch hook (SetSwitchHook)

 private:
  friend class Rendez;
  friend class QLock;
  friend class WaitQueue;
  friend struct Sched;

  char name_[24] = {};
  State state_ = State::kRunnable;
  bool pinned_ = false;    // spawned on a named CPU: never stolen
  bool detached_ = false;  // no Join: reaped after its exit
  bool exited_ = false;    // set by ExitThread, read by Join's condition
  bool on_cpu_ = false;    // running, or its CPU is still switching away from its stack
  unsigned cpu_ = 0;
  uint64_t sp_ = 0;              // the saved stack pointer while it is not running
  uint64_t wake_at_ = 0;         // SleepMs's deadline (arch.h's clock)
  Thread* next_ = nullptr;       // the one list it is on: a run queue, the sleepers, a QLock's waiters
  VirtAddr stack_base_, stack_top_;  // stack_base_ == 0: a stack the scheduler does not own
  void (*fn_)(void*) = nullptr;
  void* arg_ = nullptr;
  Rendez exit_;  // Join sleeps here
};

// Starts the scheduler on the boot CPU, after the SMP start-up: the calling context becomes the thread
// "boot0" on this CPU (its stack is not freed), every online CPU gets an idle thread (the boot CPU's with
// the first Spawn or SleepMs) and its timer, and thread stacks come from `pages`. Once, with interrupts on.
void SchedStart(PageSource pages);

// A thread running fn(arg) on `cpu` (pinned there) or, with kAnyCpu, on the least loaded CPU (free to
// migrate). With `out` the caller must Join it; with out == nullptr it is detached, and its stack is
// freed by a later Spawn or Join after it exits. Also frees detached threads that have exited.
SchedStatus Spawn(const char* name, void (*fn)(void*), void* arg, int cpu, Thread** out);

Thread* CurrentThread();
// Whether this CPU runs the scheduler (SchedStart has run on the boot CPU, or this AP has its idle
// thread): a thread may sleep. Any context.
bool SchedRunning();
// Lets the other runnable threads of this CPU run first (round robin).
void Yield();
// Sleeps for at least `ms` milliseconds (to the next tick after the deadline).
void SleepMs(uint64_t ms);
// Ends the calling thread; fn returning does the same.
[[noreturn]] void ExitThread();
// Waits until t has exited and its CPU has left its stack, then frees it (t is invalid after).
void Join(Thread* t);

// Called on the CPU with interrupts off when `prev` leaves it and just before `next` runs, after next's
// space is loaded: per-CPU state that follows threads (kernel/proc's user state) moves here.
void SetSwitchHook(void (*hook)(Thread* prev, Thread* next));

// The scheduler's clock: nanoseconds since an arbitrary start, the same on every CPU. Any context.
uint64_t NowNs();

// A safe point: if this CPU's timer tick asked for a reschedule (another thread is waiting), yields.
void PreemptIfAsked();

// What the scheduler has done since SchedStart: for the self-test's figures.
struct SchedCounts {
  uint64_t switches;    // context switches, every CPU
  uint64_t sleeps;      // SleepMs calls
  uint64_t migrations;  // threads an idle CPU took from another's queue
  uint64_t spawned;
  uint64_t freed;       // stacks given back
};
SchedCounts SchedCountsNow();

// The scheduler's self-test, on the boot thread: threads ping-pong through Rendez across CPUs, contend
// for a QLock, sleep, get stolen, exit and are joined; every stack goes back to vmalloc; and two threads
// yielding to each other on one CPU time the switch. Prints one "sched: " line; a failure panics (a
// watchdog too, naming the threads still running, when something never wakes).
void SchedSelfTest();
// The pages the self-test's threads hold at once (the two of the benchmark come after), for the boot's
// minimum memory.
inline constexpr unsigned kSelfTestThreads = 64;
inline constexpr uint64_t kSelfTestBytes = kSelfTestThreads * kThreadStackBytes;

}  // namespace kmem::kernel
