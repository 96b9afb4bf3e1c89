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

// One change to the tables: made under the space's lock (which panics with `what` once the space is
// released), its batch then run on the CPUs that may cache the space, with the lock released.
template <typename Change>
VmStatus AddressSpace::Changed(const char* what, Change change) {
  TlbBatch batch(Scope());
  VmStatus s;
  {
    LockGuard g(lock_);
    CheckAlive(what);
    s = change(batch);
  }
  Shootdown(batch);
  return s;
}

VmStatus AddressSpace::Map(VirtAddr va, PhysAddr pa, uint64_t size, Prot prot, CacheMode cache) {
  return Changed("map", [&](TlbBatch& batch) { return arch_.Map(va, pa, size, prot, cache, batch); });
}

VmStatus AddressSpace::Unmap(VirtAddr va, uint64_t size) {
  return Changed("unmap", [&](TlbBatch& batch) { return arch_.Unmap(va, size, batch); });
}

VmStatus AddressSpace::Protect(VirtAddr va, uint64_t size, Prot prot) {
  return Changed("protect", [&](TlbBatch& batch) { return arch_.Protect(va, size, prot, batch); });
}

VmStatus AddressSpace::Remap(VirtAddr va, PhysAddr pa, Prot prot) {
  return Changed("remap", [&](TlbBatch& batch) { return arch_.Remap(va, pa, prot, batch); });
}

VmStatus AddressSpace::Harvest(VirtAddr va, uint64_t size, HarvestFn visit, void* ctx) {
  return Changed("harvest", [&](TlbBatch& batch) { return arch_.Harvest(va, size, visit, ctx, batch); });
}

// The targets are read after the change, under no lock: a CPU that loads the space later either finds it
// in tlb_cpus_ (and is asked here) or loads it with a flush, which sees the changed tables.
void AddressSpace::Shootdown(TlbBatch& batch) {
  const CpuSet cpus = kind_ == Kind::kKernel ? OnlineCpus() : CpuSet(tlb_cpus());
  TlbShootdown(cpus, batch, FlushHere, this);
  arch_.Reclaim(batch);
}

// On a CPU that has left a tagged space, nothing is flushed: it drops out of tlb_cpus_, so its next
// Activate flushes the space's entries before anything can use them.
TlbDone AddressSpace::FlushHere(void* space, const TlbBatch& batch) {
  AddressSpace& s = *static_cast<AddressSpace*>(space);
  const unsigned cpu = CpuId();
  if (s.kind_ == Kind::kKernel || current[cpu] == &s) return s.arch_.FlushHere(batch);
  __atomic_fetch_and(&s.tlb_cpus_, ~(uint32_t{1} << cpu), __ATOMIC_ACQ_REL);
  return TlbDone::kDeferred;
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

// tlb_cpus_ changes on this CPU's bit only here and in FlushHere, both on this CPU with interrupts off.
void AddressSpace::Activate() {
  const IrqState irq = IrqSave();
  const unsigned cpu = CpuId();
  const uint32_t bit = uint32_t{1} << cpu;
  AddressSpace* old = current[cpu];
  if (old != this) {
    {
      LockGuard g(lock_);
      CheckAlive("activate");
      const TlbReuse reuse = (tlb_cpus() & bit) != 0 && arch_.Tagged() ? TlbReuse::kKeep : TlbReuse::kFlush;
      __atomic_fetch_or(&cpus_, bit, __ATOMIC_ACQ_REL);
      __atomic_fetch_or(&tlb_cpus_, bit, __ATOMIC_ACQ_REL);
      arch_.Activate(reuse);
    }
    if (old != nullptr) {
      __atomic_fetch_and(&old->cpus_, ~bit, __ATOMIC_ACQ_REL);
      // Untagged entries do not outlive the switch.
      if (!old->arch_.Tagged()) __atomic_fetch_and(&old->tlb_cpus_, ~bit, __ATOMIC_ACQ_REL);
    }
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
  // CPUs that left a tagged space may still hold its entries, under a tag the architecture may hand to a
  // new space; that space's tlb_cpus_ starts empty, so each CPU flushes the tag when it first loads it.
  arch_.Release();
}

}  // namespace kmem
