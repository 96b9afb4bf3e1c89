// The scheduler behind sched.h. Each CPU's Cpu holds its run queue (FIFO), its sleepers (SleepMs) and
// which thread it runs, under its lock. A thread is on at most one list (Thread::next_). The rule that
// keeps a stack from running twice: a thread is `on_cpu_` from the moment its CPU picks it until the next
// thread on that CPU has left its stack (FinishSwitch); only its own CPU takes a thread that is still
// on_cpu_ (a thread woken while it switches away is queued where it last ran), a thief skips it, and Join
// frees a stack only once it is off.
#include "kernel/sched/sched.h"

#if __has_include(<new>)
#include <new>
#else
inline void* operator new(decltype(sizeof 0), void* at) noexcept { return at; }
#endif

#include "kernel/sched/arch.h"
#include "mm/base/format.h"
#include "mm/base/panic.h"
#include "mm/base/percpu.h"

namespace kmem::kernel {

// The one place that reaches into Thread and the CPUs' queues.
struct Sched {
  static constexpr unsigned kHz = 100;

  struct Cpu {
    SpinLock lock{"run queue", LockLevel::kSched};
    Thread* head = nullptr;  // runnable, FIFO
    Thread* tail = nullptr;
    unsigned queued = 0;
    Thread* sleepers = nullptr;  // SleepMs's, unordered: the tick looks at each
    Thread* current = nullptr;   // nullptr until the CPU runs the scheduler
    Thread* idle = nullptr;      // runs when the queue is empty; never queued
    Thread* prev = nullptr;      // the thread this CPU just switched away from, for FinishSwitch
    bool resched = false;        // the tick saw others waiting: PreemptIfAsked yields
  };

  // Threads whose context the scheduler did not create: the boot flow and the APs' idle loops.
  static Thread adopted[kMaxCpus + 1];
  static PerCpu<Cpu> cpus;
  static Vmalloc* stacks;
  static void (*switch_hook)(Thread*, Thread*);
  static SchedCounts counts;
  // Detached threads that exited, for Reap; under zombie_lock.
  static SpinLock zombie_lock;
  static Thread* zombies;

  static void Count(uint64_t SchedCounts::*field) { __atomic_fetch_add(&(counts.*field), 1, __ATOMIC_RELAXED); }

  static void Push(Cpu& c, Thread* t) {
    t->next_ = nullptr;
    if (c.tail == nullptr) {
      c.head = t;
    } else {
      c.tail->next_ = t;
    }
    c.tail = t;
    ++c.queued;
  }

  // Unlinks t, whose predecessor in c's queue is `before` (nullptr: t is the head).
  static void Unlink(Cpu& c, Thread* before, Thread* t) {
    (before == nullptr ? c.head : before->next_) = t->next_;
    if (c.tail == t) c.tail = before;
    t->next_ = nullptr;
    --c.queued;
  }

  static bool OnCpu(const Thread* t) { return __atomic_load_n(&t->on_cpu_, __ATOMIC_ACQUIRE); }

  // Makes a thread that is on no list runnable on its CPU, and wakes that CPU if it idles. Any context;
  // takes only the run queue's lock.
  static void Ready(Thread* t) {
    Cpu& c = cpus[t->cpu_];
    c.lock.Lock();
    t->state_ = Thread::State::kRunnable;
    Push(c, t);
    const bool idle = c.current == nullptr || c.current == c.idle;
    c.lock.Unlock();
    const IrqState irq = IrqSave();
    const bool remote = t->cpu_ != CpuId();
    IrqRestore(irq);
    if (remote && idle) ArchKick(t->cpu_);
  }

  // Runs on the thread that has just been switched to: its CPU has left prev's stack.
  static void FinishSwitch() {
    Cpu& c = cpus.Here();
    __atomic_store_n(&c.prev->on_cpu_, false, __ATOMIC_RELEASE);
    c.prev = nullptr;
  }

  // Switches to the next runnable thread of this CPU, or its idle thread; the caller has set its own state
  // (kRunning to stay runnable, kSleeping or kDead to leave) and put itself where a waker finds it.
  // Interrupts off, no spinlock held. Returns when the caller runs again, maybe on another CPU.
  static void Schedule() {
    Cpu& c = cpus.Here();
    Thread* prev = c.current;
    c.lock.Lock();
    if (prev->state_ == Thread::State::kRunning && prev != c.idle) {
      prev->state_ = Thread::State::kRunnable;
      Push(c, prev);
    }
    Thread* next = c.head;
    if (next != nullptr) {
      Unlink(c, nullptr, next);
    } else {
      next = c.idle;
      if (next == nullptr) Panic("sched: '%s' blocks on cpu %u, which has nothing else to run", prev->name_, CpuId());
    }
    c.resched = false;
    if (next == prev) {
      prev->state_ = Thread::State::kRunning;
      c.lock.Unlock();
      return;
    }
    if (prev == c.idle) prev->state_ = Thread::State::kRunnable;
    next->state_ = Thread::State::kRunning;
    next->cpu_ = CpuId();
    __atomic_store_n(&next->on_cpu_, true, __ATOMIC_RELAXED);
    c.current = next;
    c.prev = prev;
    c.lock.Unlock();
    AddressSpace& space = next->space != nullptr ? *next->space : ArchKernelSpace();
    if (AddressSpace::Current() != &space) space.Activate();
    if (switch_hook != nullptr) switch_hook(prev, next);
    Count(&SchedCounts::switches);
    ArchSwitch(&prev->sp_, next->sp_);
    FinishSwitch();
  }

  // Where a spawned thread's first switch lands, interrupts off.
  [[noreturn]] static void Start(void* arg) {
    FinishSwitch();
    Thread* t = static_cast<Thread*>(arg);
    IrqRestore(IrqState::kWereOn);
    t->fn_(t->arg_);
    ExitThread();
  }

  static Thread* Current() {
    const IrqState irq = IrqSave();
    Thread* t = cpus.Here().current;
    IrqRestore(irq);
    return t;
  }

  // Blocks the calling thread, which is not idle (its loop may not sleep), interrupts off.
  static Thread* Sleeper(const char* how) {
    Thread* me = cpus.Here().current;
    if (me == cpus.Here().idle) Panic("sched: cpu %u's idle thread may not %s", CpuId(), how);
    return me;
  }

  // The sleep of Rendez and WaitQueue: under `lock`, until cond(arg) holds, park(me) records the caller
  // where a waker finds it and the CPU switches away; a wake-up readies it and it looks again. The
  // condition is checked under the lock the waker takes, so no wake-up is lost.
  template <typename Park>
  static void SleepOn(SpinLock& lock, bool (*cond)(void*), void* arg, const char* how, Park park) {
    const IrqState irq = IrqSave();
    for (;;) {
      lock.Lock();
      if (cond(arg)) {
        lock.Unlock();
        break;
      }
      Thread* me = Sleeper(how);
      park(me);
      me->state_ = Thread::State::kSleeping;
      lock.Unlock();
      Schedule();
    }
    IrqRestore(irq);
  }

  // Threads queued on a CPU and the one it runs, idle aside (racy reads: a hint).
  static unsigned Load(unsigned cpu) {
    Cpu& c = cpus[cpu];
    const Thread* running = __atomic_load_n(&c.current, __ATOMIC_RELAXED);
    return __atomic_load_n(&c.queued, __ATOMIC_RELAXED) + (running != nullptr && running != c.idle ? 1 : 0);
  }

  // The online CPU with the least Load, the calling one among equals.
  static unsigned LeastLoaded() {
    const IrqState irq = IrqSave();
    unsigned best = CpuId();
    IrqRestore(irq);
    for (unsigned cpu = 0; cpu < kMaxCpus; ++cpu) {
      if (OnlineCpus().Has(cpu) && Load(cpu) < Load(best)) best = cpu;
    }
    return best;
  }

  // By an idle CPU, interrupts off: one runnable, unpinned, off-CPU thread from the CPU with the most
  // queued, moved to this CPU's queue. Holds one queue lock at a time.
  static void Steal(Cpu& mine) {
    const unsigned me = CpuId();
    unsigned victim = me;
    unsigned most = 0;
    for (unsigned cpu = 0; cpu < kMaxCpus; ++cpu) {
      const unsigned n = __atomic_load_n(&cpus[cpu].queued, __ATOMIC_RELAXED);
      if (cpu != me && OnlineCpus().Has(cpu) && n > most) {
        victim = cpu;
        most = n;
      }
    }
    if (victim == me) return;
    Cpu& v = cpus[victim];
    Thread* taken = nullptr;
    v.lock.Lock();
    for (Thread *before = nullptr, *t = v.head; t != nullptr; before = t, t = t->next_) {
      if (!t->pinned_ && !OnCpu(t)) {
        Unlink(v, before, t);
        taken = t;
        break;
      }
    }
    v.lock.Unlock();
    if (taken == nullptr) return;
    taken->cpu_ = me;
    mine.lock.Lock();
    Push(mine, taken);
    mine.lock.Unlock();
    Count(&SchedCounts::migrations);
  }

  // The timer interrupt: sleepers whose deadline passed become runnable; a running thread with others
  // waiting is asked to yield at its next safe point.
  static void Tick() {
    Cpu& c = cpus.Here();
    if (c.current == nullptr) return;
    const uint64_t now = ArchNowNs();
    c.lock.Lock();
    for (Thread **link = &c.sleepers, *t; (t = *link) != nullptr;) {
      if (now < t->wake_at_) {
        link = &t->next_;
        continue;
      }
      *link = t->next_;
      t->state_ = Thread::State::kRunnable;
      Push(c, t);
    }
    if (c.head != nullptr && c.current != c.idle) c.resched = true;
    c.lock.Unlock();
  }

  // The idle loop's step, interrupts off. An AP's first step makes its loop the CPU's idle thread.
  static bool IdleStep() {
    Cpu& c = cpus.Here();
    if (c.current == nullptr) {
      Adopt(c, &adopted[CpuId()], "idle");
      c.idle = c.current;
      ArchTimerStartHere();
    }
    KASSERT(c.current == c.idle, "sched: cpu %u's idle loop runs on thread '%s'", CpuId(), c.current->name_);
    if (__atomic_load_n(&c.queued, __ATOMIC_RELAXED) == 0) Steal(c);
    if (__atomic_load_n(&c.queued, __ATOMIC_RELAXED) == 0) return false;
    Schedule();
    return true;
  }

  // The running context becomes thread `t` of this CPU, current there.
  static void Adopt(Cpu& c, Thread* t, const char* name) {
    FormatTo(t->name_, sizeof t->name_, "%s%u", name, CpuId());
    t->state_ = Thread::State::kRunning;
    t->cpu_ = CpuId();
    t->pinned_ = true;
    t->on_cpu_ = true;
    c.current = t;
  }

  // A thread with a new stack, not yet on any list; nullptr when vmalloc has no stack.
  static Thread* Make(const char* name, void (*fn)(void*), void* arg) {
    VirtAddr base;
    if (stacks->Alloc(kThreadStackBytes, Guard::kBelow, &base) != VmallocStatus::kOk) return nullptr;
    const VirtAddr top = base + kThreadStackBytes;
    const uint64_t slot = (sizeof(Thread) + 15) & ~uint64_t{15};
    Thread* t = new (reinterpret_cast<void*>((top - slot).value())) Thread;
    FormatTo(t->name_, sizeof t->name_, "%s", name);
    t->fn_ = fn;
    t->arg_ = arg;
    t->stack_base_ = base;
    t->stack_top_ = top - slot;
    t->sp_ = ArchInitialStack(t->stack_top_, Start, t);
    Count(&SchedCounts::spawned);
    return t;
  }

  static void Free(Thread* t) {
    const VirtAddr base = t->stack_base_;
    t->~Thread();
    if (const VmallocStatus s = stacks->Free(base); s != VmallocStatus::kOk) {
      Panic("sched: a thread stack at 0x%lx: vmalloc: %s", base.value(), VmallocStatusName(s));
    }
    Count(&SchedCounts::freed);
  }

  // Frees the detached threads whose CPUs have left their stacks. Interrupts on, no lock held (the free is
  // a TLB shootdown).
  static void Reap() {
    for (;;) {
      Thread* found = nullptr;
      zombie_lock.Lock();
      for (Thread **link = &zombies, *t; (t = *link) != nullptr; link = &t->next_) {
        if (!OnCpu(t)) {
          *link = t->next_;
          found = t;
          break;
        }
      }
      zombie_lock.Unlock();
      if (found == nullptr) return;
      Free(found);
    }
  }

  static void Sleep(uint64_t ms) {
    BootCpuIdle();
    Count(&SchedCounts::sleeps);
    const IrqState irq = IrqSave();
    Thread* me = Sleeper("sleep");
    Cpu& c = cpus.Here();
    me->wake_at_ = ArchNowNs() + ms * 1'000'000;
    c.lock.Lock();
    me->state_ = Thread::State::kSleeping;
    me->next_ = c.sleepers;
    c.sleepers = me;
    c.lock.Unlock();
    Schedule();
    IrqRestore(irq);
  }

  static void Join(Thread* t) {
    KASSERT(!t->detached_ && t != Current(), "sched: Join of thread '%s', which is %s", t->name_,
            t->detached_ ? "detached" : "the caller");
    t->exit_.Sleep([](void* a) { return __atomic_load_n(&static_cast<Thread*>(a)->exited_, __ATOMIC_ACQUIRE); }, t);
    // Its CPU leaves its stack within a few instructions of its last Schedule.
    while (OnCpu(t)) CpuRelax();
    Free(t);
    Reap();
  }

  static void Boot(PageSource pages) {
    alignas(Vmalloc) static constinit char storage[sizeof(Vmalloc)] = {};
    stacks = new (storage) Vmalloc(ArchStackArena(), ArchKernelSpace(), pages);
    ArchSchedInit(kHz, Tick, IdleStep);
    const IrqState irq = IrqSave();
    Adopt(cpus.Here(), &adopted[kMaxCpus], "boot");
    ArchTimerStartHere();
    IrqRestore(irq);
    // The APs run their idle loops' first step, which adopts them, on their next wake-up.
    for (unsigned cpu = 1; cpu < kMaxCpus; ++cpu) {
      if (OnlineCpus().Has(cpu)) ArchKick(cpu);
    }
  }

  // The boot CPU's idle thread, on a stack of its own, made by the first Spawn or SleepMs (until then the
  // boot thread is all the CPU runs and never waits), so that the page allocator's self-test, the boot's
  // first, still finds every page free. Before any other thread exists: no race.
  static void BootCpuIdle() {
    Cpu& c = cpus[0];
    if (__atomic_load_n(&c.idle, __ATOMIC_ACQUIRE) != nullptr) return;
    Thread* idle = Make("idle0", [](void*) { ArchIdleLoop(); }, nullptr);
    if (idle == nullptr) Panic("sched: no stack for cpu 0's idle thread");
    idle->pinned_ = true;
    idle->cpu_ = 0;
    c.lock.Lock();
    __atomic_store_n(&c.idle, idle, __ATOMIC_RELEASE);
    c.lock.Unlock();
  }

  static SchedStatus Spawn(const char* name, void (*fn)(void*), void* arg, int cpu, Thread** out) {
    BootCpuIdle();
    Reap();
    if (cpu != kAnyCpu && (cpu < 0 || cpu >= static_cast<int>(kMaxCpus) || !OnlineCpus().Has(static_cast<unsigned>(cpu)))) {
      return SchedStatus::kBadCpu;
    }
    Thread* t = Make(name, fn, arg);
    if (t == nullptr) return SchedStatus::kNoMemory;
    t->pinned_ = cpu != kAnyCpu;
    t->detached_ = out == nullptr;
    t->cpu_ = cpu == kAnyCpu ? LeastLoaded() : static_cast<unsigned>(cpu);
    if (out != nullptr) *out = t;
    Ready(t);
    return SchedStatus::kOk;
  }

  [[noreturn]] static void Exit() {
    Thread* me = Current();
    if (me->stack_base_.value() == 0) Panic("sched: thread '%s' has a stack it cannot leave", me->name_);
    __atomic_store_n(&me->exited_, true, __ATOMIC_RELEASE);
    if (me->detached_) {
      zombie_lock.Lock();
      me->next_ = zombies;
      zombies = me;
      zombie_lock.Unlock();
    } else {
      me->exit_.Wakeup();
    }
    IrqSave();
    me->state_ = Thread::State::kDead;
    Schedule();
    Panic("sched: thread '%s' ran after its exit", me->name_);
  }
};

constinit Thread Sched::adopted[kMaxCpus + 1];
constinit PerCpu<Sched::Cpu> Sched::cpus;
constinit Vmalloc* Sched::stacks = nullptr;
constinit void (*Sched::switch_hook)(Thread*, Thread*) = nullptr;
constinit SchedCounts Sched::counts = {};
constinit SpinLock Sched::zombie_lock{"zombie threads", LockLevel::kSched};
constinit Thread* Sched::zombies = nullptr;

const char* SchedStatusName(SchedStatus status) {
  switch (status) {
    case SchedStatus::kOk: return "ok";
    case SchedStatus::kNoMemory: return "no memory for a stack";
    case SchedStatus::kBadCpu: return "no such CPU online";
  }
  return "?";
}

void SchedStart(PageSource pages) { Sched::Boot(pages); }

SchedStatus Spawn(const char* name, void (*fn)(void*), void* arg, int cpu, Thread** out) {
  return Sched::Spawn(name, fn, arg, cpu, out);
}

Thread* CurrentThread() { return Sched::Current(); }

bool SchedRunning() { return Sched::Current() != nullptr; }

void Yield() {
  const IrqState irq = IrqSave();
  Sched::Schedule();
  IrqRestore(irq);
}

void SleepMs(uint64_t ms) { Sched::Sleep(ms); }

void ExitThread() { Sched::Exit(); }

void Join(Thread* t) { Sched::Join(t); }

uint64_t NowNs() { return ArchNowNs(); }

void SetSwitchHook(void (*hook)(Thread* prev, Thread* next)) { Sched::switch_hook = hook; }

void PreemptIfAsked() {
  const IrqState irq = IrqSave();
  if (Sched::cpus.Here().resched) Sched::Schedule();
  IrqRestore(irq);
}

SchedCounts SchedCountsNow() {
  SchedCounts c;
  c.switches = __atomic_load_n(&Sched::counts.switches, __ATOMIC_RELAXED);
  c.sleeps = __atomic_load_n(&Sched::counts.sleeps, __ATOMIC_RELAXED);
  c.migrations = __atomic_load_n(&Sched::counts.migrations, __ATOMIC_RELAXED);
  c.spawned = __atomic_load_n(&Sched::counts.spawned, __ATOMIC_RELAXED);
  c.freed = __atomic_load_n(&Sched::counts.freed, __ATOMIC_RELAXED);
  return c;
}

void Rendez::Sleep(bool (*cond)(void*), void* arg) {
  Sched::SleepOn(lock_, cond, arg, "sleep on a Rendez", [this](Thread* me) {
    if (sleeper_ != nullptr && sleeper_ != me) {
      Panic("sched: '%s' sleeps on a Rendez '%s' sleeps on", me->name_, sleeper_->name_);
    }
    sleeper_ = me;
  });
}

void Rendez::Wakeup() {
  lock_.Lock();
  Thread* t = sleeper_;
  sleeper_ = nullptr;
  lock_.Unlock();
  if (t != nullptr) Sched::Ready(t);
}

void WaitQueue::Sleep(bool (*cond)(void*), void* arg) {
  Sched::SleepOn(lock_, cond, arg, "sleep on a WaitQueue", [this](Thread* me) {
    me->next_ = nullptr;
    (tail_ == nullptr ? head_ : tail_->next_) = me;
    tail_ = me;
  });
}

void WaitQueue::WakeAll() {
  lock_.Lock();
  Thread* t = head_;
  head_ = tail_ = nullptr;
  lock_.Unlock();
  while (t != nullptr) {
    Thread* next = t->next_;  // before Ready puts t on a run queue through next_
    t->next_ = nullptr;
    Sched::Ready(t);
    t = next;
  }
}

void QLock::Lock() {
  const IrqState irq = IrqSave();
  Thread* me = Sched::Sleeper("wait for a QLock");
  lock_.Lock();
  if (holder_ == nullptr) {
    holder_ = me;
    lock_.Unlock();
    IrqRestore(irq);
    return;
  }
  if (holder_ == me) Panic("sched: '%s' takes a QLock it holds", me->name_);
  me->next_ = nullptr;
  (tail_ == nullptr ? head_ : tail_->next_) = me;
  tail_ = me;
  me->state_ = Thread::State::kSleeping;
  lock_.Unlock();
  Sched::Schedule();  // Unlock hands the lock over before it wakes this thread
  KASSERT(holder_ == me, "sched: '%s' woke without the QLock", me->name_);
  IrqRestore(irq);
}

void QLock::Unlock() {
  Thread* me = CurrentThread();
  lock_.Lock();
  if (holder_ != me) {
    Panic("sched: '%s' unlocks a QLock held by '%s'", me->name_, holder_ == nullptr ? "nobody" : holder_->name_);
  }
  Thread* next = head_;
  if (next != nullptr) {
    head_ = next->next_;
    if (head_ == nullptr) tail_ = nullptr;
    next->next_ = nullptr;
  }
  holder_ = next;
  lock_.Unlock();
  if (next != nullptr) Sched::Ready(next);
}

bool QLock::HeldByMe() const { return __atomic_load_n(&holder_, __ATOMIC_RELAXED) == CurrentThread(); }

}  // namespace kmem::kernel
