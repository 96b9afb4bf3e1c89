#include "mm/base/lock.h"

#include "mm/base/panic.h"

namespace kmem {
namespace {

// The locks one CPU holds, oldest first, each with the interrupt state its section is to restore. Touched
// only by its CPU with interrupts off (they are off while any lock is held), so it needs no lock itself.
struct HeldLocks {
  struct Entry {
    const SpinLock* lock;
    IrqState irq;
  };
  Entry entry[kMaxHeldLocks];
  unsigned n = 0;
};
PerCpu<HeldLocks> held;

}  // namespace

const char* LockLevelName(LockLevel level) {
  switch (level) {
    case LockLevel::kConsole: return "console";
    case LockLevel::kSched: return "scheduler";
    case LockLevel::kZone: return "zone";
    case LockLevel::kEarlyAlloc: return "early allocator";
    case LockLevel::kPageTables: return "page tables";
    case LockLevel::kAddressSpace: return "address space";
    case LockLevel::kGlobal: return "global";
  }
  return "?";
}

void SpinLock::CheckNotHeld(const char* verb, unsigned cpu) const {
  if (__atomic_load_n(&owner_, __ATOMIC_RELAXED) == cpu) {
    Panic("spinlock '%s' (%s level) %s twice by cpu %u", name_, LockLevelName(level_), verb, cpu);
  }
}

void SpinLock::Acquired(unsigned cpu, IrqState irq) {
  __atomic_store_n(&owner_, cpu, __ATOMIC_RELAXED);
  HeldLocks& h = held[cpu];
  if (h.n == kMaxHeldLocks) {
    Panic("spinlock '%s' (%s level) taken by cpu %u, which holds %u locks already (the most a cpu may)", name_,
          LockLevelName(level_), cpu, h.n);
  }
  h.entry[h.n++] = HeldLocks::Entry{this, irq};
}

void SpinLock::Lock() {
  const auto [me, irq] = IrqSaveCpu();
  CheckNotHeld("taken", me);
  // The order rule: the new lock must be below every lock held. The lowest held one is named, as it is the
  // one whose holders the new lock's holders could be waiting for.
  const HeldLocks& h = held[me];
  const SpinLock* lowest = nullptr;
  for (unsigned i = 0; i < h.n; ++i) {
    if (lowest == nullptr || h.entry[i].lock->level_ < lowest->level_) lowest = h.entry[i].lock;
  }
  if (lowest != nullptr && level_ >= lowest->level_) {
    Panic("lock order: cpu %u takes spinlock '%s' (%s level) while holding '%s' (%s level)", me, name_,
          LockLevelName(level_), lowest->name_, LockLevelName(lowest->level_));
  }
  // Spin on a plain load, so that waiting CPUs share the line instead of bouncing it with writes.
  while (__atomic_exchange_n(&locked_, 1, __ATOMIC_ACQUIRE) != 0) {
    while (__atomic_load_n(&locked_, __ATOMIC_RELAXED) != 0) CpuRelax();
  }
  Acquired(me, irq);
}

bool SpinLock::TryLock() {
  const auto [me, irq] = IrqSaveCpu();
  CheckNotHeld("taken", me);
  if (__atomic_load_n(&locked_, __ATOMIC_RELAXED) != 0 || __atomic_exchange_n(&locked_, 1, __ATOMIC_ACQUIRE) != 0) {
    IrqRestore(irq);
    return false;
  }
  Acquired(me, irq);
  return true;
}

void SpinLock::Unlock() {
  const unsigned me = CpuId();
  const uint32_t owner = __atomic_load_n(&owner_, __ATOMIC_RELAXED);
  if (owner != me) {
    if (owner == kNoOwner) {
      Panic("spinlock '%s' (%s level) released by cpu %u, but nobody holds it", name_, LockLevelName(level_), me);
    }
    Panic("spinlock '%s' (%s level) released by cpu %u, but cpu %u holds it", name_, LockLevelName(level_), me,
          owner);
  }
  HeldLocks& h = held[me];
  unsigned i = h.n;
  while (i > 0 && h.entry[i - 1].lock != this) --i;
  KASSERT(i > 0, "spinlock '%s' owned by cpu %u but not in its held stack", name_, me);
  IrqState irq = h.entry[i - 1].irq;
  // Released out of order: the next lock taken inherits the state to restore, and interrupts stay off.
  if (i < h.n) {
    h.entry[i].irq = irq;
    irq = IrqState::kWereOff;
  }
  for (; i < h.n; ++i) h.entry[i - 1] = h.entry[i];
  --h.n;
  __atomic_store_n(&owner_, kNoOwner, __ATOMIC_RELAXED);
  __atomic_store_n(&locked_, 0, __ATOMIC_RELEASE);
  IrqRestore(irq);
}

bool SpinLock::HeldHere() const { return __atomic_load_n(&owner_, __ATOMIC_RELAXED) == CpuId(); }

}  // namespace kmem
