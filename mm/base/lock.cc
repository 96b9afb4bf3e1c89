#include "mm/base/lock.h"

#include "mm/base/panic.h"

namespace kmem {

const char* LockLevelName(LockLevel level) {
  switch (level) {
    case LockLevel::kZone: return "zone";
    case LockLevel::kAddressSpace: return "address space";
    case LockLevel::kGlobal: return "global";
  }
  return "?";
}

void SpinLock::Lock() {
  const IrqState irq = IrqSave();
  const uint32_t me = CpuId();
  if (__atomic_load_n(&owner_, __ATOMIC_RELAXED) == me) {
    Panic("spinlock '%s' (%s level) taken twice by cpu %u", name_, LockLevelName(level_), me);
  }
  // Spin on a plain load, so that waiting CPUs share the line instead of bouncing it with writes.
  while (__atomic_exchange_n(&locked_, 1, __ATOMIC_ACQUIRE) != 0) {
    while (__atomic_load_n(&locked_, __ATOMIC_RELAXED) != 0) CpuRelax();
  }
  __atomic_store_n(&owner_, me, __ATOMIC_RELAXED);
  saved_ = irq;
}

void SpinLock::Unlock() {
  const uint32_t me = CpuId();
  const uint32_t owner = __atomic_load_n(&owner_, __ATOMIC_RELAXED);
  if (owner != me) {
    if (owner == kNoOwner) {
      Panic("spinlock '%s' (%s level) released by cpu %u, but nobody holds it", name_, LockLevelName(level_), me);
    }
    Panic("spinlock '%s' (%s level) released by cpu %u, but cpu %u holds it", name_, LockLevelName(level_), me,
          owner);
  }
  const IrqState irq = saved_;
  __atomic_store_n(&owner_, kNoOwner, __ATOMIC_RELAXED);
  __atomic_store_n(&locked_, 0, __ATOMIC_RELEASE);
  IrqRestore(irq);
}

bool SpinLock::HeldHere() const { return __atomic_load_n(&owner_, __ATOMIC_RELAXED) == CpuId(); }

}  // namespace kmem
