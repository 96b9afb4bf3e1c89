// Spinlocks with a lock-order checker that stays on in every build. Every lock has a name for the messages
// that mention it and a level in the hierarchy (the memory-module seed's, lowest first: memory zones,
// address spaces, global memory structures, with the boot-time allocators between zones and address
// spaces, below). A CPU that holds locks may take, with Lock, only a lock whose level is lower than every
// level it holds; so blocking acquisitions always descend the hierarchy, no cycle of CPUs each waiting for
// a lock another holds can form, and a CPU holds at most one Lock'ed lock a level. Each CPU keeps the
// locks it holds in a small per-CPU stack; taking a lock out of order, taking one twice, and releasing one
// the CPU does not hold panic with the locks' names and levels and the CPU.
//
// Who may call whom (ARCHITECTURE.md's lock table): code holding a lock calls only code whose locks are
// lower. Global structures (kernel-VA arenas, pools) are taken first and may call into address spaces,
// the early allocators and palloc; an address space's lock is held across its page-table changes, which
// take table pages from palloc (user spaces) or from xalloc's Rampage (the kernel's tables) and, before
// xinit, from the memory map through Rampage. That is why the memory map and xalloc have their own level
// below address spaces, not the global one: at the global level the kernel would panic the first time a
// kernel-space Map (Vmalloc) needs a new table page, and pools growing from xalloc under their own lock
// would too. Both are leaves: they call no other locked code while holding their lock (Rampage asks its
// early source, the memory map, after dropping xalloc's), and no zone lock may be held when calling them.
//
// Release order: any order is allowed, not only LIFO. The order rule is about the set of locks held when
// a CPU waits, not about the sequence of releases, so releasing an outer lock first ("lock the arena, lock
// the zone, drop the arena, finish in the zone") cannot close a cycle; later Locks are still checked
// against what remains held. Interrupts stay off until the CPU's last lock goes: the state saved by the
// first lock of a nest moves up to the next one held when that first lock is released early.
//
// The algorithm: a test-and-test-and-set lock, kept after measuring it against a ticket and an MCS lock
// (bench/lock_bench.cc; the tables are in bench/README.md). Uncontended on one thread it costs 4.7 ns a
// lock/unlock pair, as a ticket lock does (4.9: one atomic read-modify-write each), and half of MCS (9.8:
// its release adds a compare-and-swap). On 2 pinned threads of a busy 2-vCPU host the FIFO locks lose 25x
// (ticket) and 37x (MCS) to it around a ~1 ns critical section and 5-8x around ~95 ns: each release hands
// the lock to the other core and waits for it, and a descheduled waiter stalls everyone (lock-waiter
// preemption), while TTAS lets the releasing CPU retake the lock from its own cache. Their FIFO fairness
// pays with many CPUs queueing on one lock; kmem keeps hot paths on per-CPU data, so its locks are short
// and rarely contended. kmem's SpinLock adds the host's interrupt hooks (2.4 ns) and the checker (about
// 2.5 ns) to the bare algorithm. Constraints any replacement must keep: a constexpr constructor (locks live
// in constinit globals) and no copying; an MCS lock would also need a per-CPU queue node for each lock a
// CPU may hold at once (kMaxHeldLocks).
//
// Interrupts are off while a lock is held, so an interrupt handler on the same CPU can never spin on a lock
// its own CPU holds.
#pragma once

#include <stdint.h>

#include "mm/base/percpu.h"

namespace kmem {

enum class LockLevel : uint8_t {
  kConsole = 0,       // the console: a leaf below every other level, so that code holding any lock may print
  kSched = 1,         // run queues, Rendez and QLock words (kernel/sched): leaves, so that any holder may wake
  kZone = 2,          // page-frame allocator zones and banks
  kEarlyAlloc = 3,    // the boot-time allocators (the memory map, xalloc): leaves that page tables draw from
  kPageTables = 4,    // page tables several spaces share (the kernel half), changed outside any one space
  kAddressSpace = 5,  // one address space's page tables and mappings
  kGlobal = 6,        // memory-wide structures: the kernel-VA arenas, the pools
};
const char* LockLevelName(LockLevel level);

// The most locks one CPU holds at once: one a level through Lock, plus what TryLock took out of order.
inline constexpr unsigned kMaxHeldLocks = 8;

// Constant-initialisable, so a lock can be a member of a constinit global. Not copyable: its address is
// its identity.
class SpinLock {
 public:
  constexpr SpinLock(const char* name, LockLevel level) : name_(name), level_(level) {}
  SpinLock(const SpinLock&) = delete;
  SpinLock& operator=(const SpinLock&) = delete;

  // Turns interrupts off and spins until the lock is free. Panics if this CPU holds it already, or holds a
  // lock of the same or a lower level.
  void Lock();
  // Takes the lock if it is free, without waiting; interrupts are off if it returns true and as they were
  // if false. Exempt from the order rule, since a CPU that never waits cannot close a cycle (the way a
  // per-CPU drain takes a peer's lock at its own level); the lock then counts as held for later Locks.
  // Panics if this CPU holds it already.
  bool TryLock();
  // Releases the lock, and restores interrupts as the CPU's first lock found them when it was the last one
  // held. Panics unless this CPU holds it.
  void Unlock();
  // Whether the calling CPU holds the lock (for KASSERTs of a function's locking contract).
  bool HeldHere() const;

  const char* name() const { return name_; }
  LockLevel level() const { return level_; }

 private:
  static constexpr uint32_t kNoOwner = ~uint32_t{0};

  void CheckNotHeld(const char* verb, unsigned cpu) const;
  void Acquired(unsigned cpu, IrqState irq);

  const char* name_;
  LockLevel level_;
  uint32_t locked_ = 0;
  uint32_t owner_ = kNoOwner;  // the holder's CpuId, for the misuse checks and panic messages
};

// Holds a lock for a scope.
class LockGuard {
 public:
  explicit LockGuard(SpinLock& lock) : lock_(lock) { lock_.Lock(); }
  ~LockGuard() { lock_.Unlock(); }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

 private:
  SpinLock& lock_;
};

}  // namespace kmem
