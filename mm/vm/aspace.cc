#include "mm/vm/aspace.h"

#include "mm/base/panic.h"

namespace kmem {
namespace {

// Each CPU's loaded space, written only by that CPU with interrupts off.
AddressSpace* current[kMaxCpus];

}  // namespace

const char* VmStatusName(VmStatus status) {
  switch (status) {
    case VmStatus::kOk: return "ok";
    case VmStatus::kMisaligned: return "misaligned";
    case VmStatus::kOutOfRange: return "out of range";
    case VmStatus::kAlreadyMapped: return "already mapped";
    case VmStatus::kNotMapped: return "not mapped";
    case VmStatus::kNoMemory: return "no memory for page tables";
    case VmStatus::kWrongMemoryType: return "wrong memory type";
  }
  return "?";
}

void AddressSpace::CheckAlive(const char* what) const {
  if (released_) Panic("address space '%s' (%p): %s after it was released", name_, this, what);
}

VmStatus AddressSpace::Map(VirtAddr va, PhysAddr pa, uint64_t size, Prot prot, CacheMode cache) {
  LockGuard g(lock_);
  CheckAlive("map");
  return arch_.Map(va, pa, size, prot, cache);
}

VmStatus AddressSpace::Unmap(VirtAddr va, uint64_t size) {
  LockGuard g(lock_);
  CheckAlive("unmap");
  return arch_.Unmap(va, size);
}

VmStatus AddressSpace::Protect(VirtAddr va, uint64_t size, Prot prot) {
  LockGuard g(lock_);
  CheckAlive("protect");
  return arch_.Protect(va, size, prot);
}

VmStatus AddressSpace::Query(VirtAddr va, VmMapping* out) {
  LockGuard g(lock_);
  CheckAlive("query");
  return arch_.Query(va, out);
}

AddressSpace* AddressSpace::Current() {
  const IrqState irq = IrqSave();
  AddressSpace* s = current[CpuId()];
  IrqRestore(irq);
  return s;
}

void AddressSpace::Activate() {
  const IrqState irq = IrqSave();
  const unsigned cpu = CpuId();
  AddressSpace* old = current[cpu];
  if (old != this) {
    {
      LockGuard g(lock_);
      CheckAlive("activate");
      __atomic_fetch_or(&cpus_, uint32_t{1} << cpu, __ATOMIC_ACQ_REL);
      arch_.Activate();
    }
    if (old != nullptr) __atomic_fetch_and(&old->cpus_, ~(uint32_t{1} << cpu), __ATOMIC_ACQ_REL);
    current[cpu] = this;
  }
  IrqRestore(irq);
}

void AddressSpace::Release(AddressSpace& fallback) {
  KASSERT(&fallback != this && fallback.kind_ == Kind::kKernel, "address space '%s' released onto '%s'", name_,
          fallback.name_);
  if (Current() == this) fallback.Activate();
  LockGuard g(lock_);
  CheckAlive("release");
  const uint32_t others = cpus();
  if (others != 0) Panic("address space '%s' released while cpus 0x%x have it loaded", name_, others);
  released_ = true;
  arch_.Release();
}

}  // namespace kmem
