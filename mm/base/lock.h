// Spinlocks with a lock-order checker that stays on in every build. Every lock has a name for the messages
// that mention it and a level in the hierarchy (the memory-module seed's, lowest first: memory zones,
// address spaces, global memory structures). A CPU that holds locks may take, with Lock, only a lock whose
// level is lower than every level it holds; so blocking acquisitions always descend the hierarchy, no
// cycle of CPUs each waiting for a lock another holds can form, and a CPU holds at most one Lock'ed lock
// a level. Each CPU keeps the locks it holds in a small per-CPU stack; taking a lock out of order, taking
// one twice, and releasing one the CPU does not hold panic with the locks' names and levels and the CPU.
//
// Who may call whom (ARCHITECTURE.md's lock table): kernel-VA arenas, the memory map and xalloc are
// global; address spaces sit below them, palloc's zones at the bottom. A path that holds a lock calls
// only code whose locks are lower. In particular xalloc and the memory map are leaves: they call no other
// locked code while holding their own (Rampage asks its early page source, the memory map, after dropping
// xalloc's lock), but nothing holding an address-space or zone lock may call them.
//
// Release order: any order is allowed, not only LIFO. The order rule is about the set of locks held when
// a CPU waits, not about the sequence of releases, so releasing an outer lock first ("lock the arena, lock
// the zone, drop the arena, finish in the zone") cannot close a cycle; later Locks are still checked
// against what remains held. Interrupts stay off until the CPU's last lock goes: the state saved by the
// first lock of a nest moves up to the next one held when that first lock is released early.
//
// The algorithm (measured in bench/lock_bench.cc, figures in bench/README.md): a test-and-test-and-set
// lock. On our 2-core machines an uncontended Lock/Unlock pair of the bare algorithm costs about the same
// as a ticket lock's (one atomic read-modify-write each) and half of an MCS lock's (exchange plus a
// compare-and-swap on release); under 2-thread contention it passes the lock back and forth with the
// least traffic. Ticket and MCS locks buy FIFO fairness, which matters with many CPUs queueing on one lock;
// kmem's design keeps hot paths off shared locks (per-CPU caches), so the locks that remain are short and
// rarely contended, and the plain lock is the cheapest there. An MCS lock would also need a per-CPU queue
// node per nesting level (kMaxHeldLocks of them), which a plain lock does not.
//
// Interrupts are off while a lock is held, so an interrupt handler on the same CPU can never spin on a lock
// its own CPU holds.
#pragma once

#include <stdint.h>

#include "mm/base/percpu.h"

namespace kmem {

enum class LockLevel : uint8_t {
  kZone = 1,          // page-frame allocator zones and banks
  kAddressSpace = 2,  // one address space's page tables and mappings
  kGlobal = 3,        // memory-wide structures: the memory map, xalloc, the kernel-VA arenas, pools
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
