// Spinlocks: every lock has a name for the messages that mention it and a level in the hierarchy (the
// memory-module seed's, lowest first: memory zones, address spaces, global memory structures). A CPU that
// holds a lock may take only locks of a lower level; the SMP work adds the checker of that rule. What is
// checked now, in every build: taking a lock this CPU already holds, and releasing a lock this CPU does not
// hold, panic with the lock's name and the CPU.
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

// A test-and-test-and-set lock: an uncontended Lock is one atomic exchange. Constant-initialisable, so a
// lock can be a member of a constinit global. Not copyable: its address is its identity.
class SpinLock {
 public:
  constexpr SpinLock(const char* name, LockLevel level) : name_(name), level_(level) {}
  SpinLock(const SpinLock&) = delete;
  SpinLock& operator=(const SpinLock&) = delete;

  // Turns interrupts off and spins until the lock is free. Panics if this CPU holds it already.
  void Lock();
  // Releases the lock and restores interrupts as Lock found them. Panics unless this CPU holds it.
  void Unlock();
  // Whether the calling CPU holds the lock (for KASSERTs of a function's locking contract).
  bool HeldHere() const;

  const char* name() const { return name_; }
  LockLevel level() const { return level_; }

 private:
  static constexpr uint32_t kNoOwner = ~uint32_t{0};

  const char* name_;
  LockLevel level_;
  IrqState saved_ = IrqState::kWereOff;  // written only by the holder
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
