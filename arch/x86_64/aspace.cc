#include "arch/x86_64/aspace.h"

#include "mm/base/panic.h"

namespace kmem::x86 {

VmStatus VmStatusOf(MmuStatus status) {
  switch (status) {
    case MmuStatus::kOk: return VmStatus::kOk;
    case MmuStatus::kMisaligned: return VmStatus::kMisaligned;
    case MmuStatus::kNonCanonical:
    case MmuStatus::kWrongHalf:
    case MmuStatus::kNoSpace:
    case MmuStatus::kBadPhysAddr: return VmStatus::kOutOfRange;
    case MmuStatus::kAlreadyMapped: return VmStatus::kAlreadyMapped;
    case MmuStatus::kNotMapped: return VmStatus::kNotMapped;
    case MmuStatus::kNoMemory: return VmStatus::kNoMemory;
    case MmuStatus::kIsRam:
    case MmuStatus::kMixedMemoryType:
    case MmuStatus::kMemoryTypeConflict: return VmStatus::kWrongMemoryType;
  }
  Panic("mmu status %d has no portable name", static_cast<int>(status));
}

VmStatus X86Aspace::User(Mmu& mmu, X86Aspace* out) {
  PhysAddr root;
  MmuStatus s = mmu.NewAddressSpace(&root);
  if (s == MmuStatus::kOk) *out = X86Aspace(mmu, root, AddressSpace::Kind::kUser, mmu.NewPcid());
  return VmStatusOf(s);
}

Attr X86Aspace::AttrsOf(Prot prot, CacheMode cache) const {
  Attr a = kind_ == AddressSpace::Kind::kUser ? Attr::kUser : Attr::kGlobal;
  if (Has(prot, Prot::kWrite)) a = a | Attr::kWrite;
  if (Has(prot, Prot::kExec)) a = a | Attr::kExec;
  if (cache == CacheMode::kUncached) a = a | Attr::kUncached;
  return a;
}

VmStatus X86Aspace::Map(VirtAddr va, PhysAddr pa, uint64_t size, Prot prot, CacheMode cache, TlbBatch& batch) {
  return VmStatusOf(mmu_->Pmap(root(), pa, va, size, AttrsOf(prot, cache), batch));
}

VmStatus X86Aspace::Unmap(VirtAddr va, uint64_t size, TlbBatch& batch) {
  return VmStatusOf(mmu_->Punmap(root(), va, size, batch));
}

// Protect keeps a mapping's cache mode: the Mmu rewrites every attribute bit, so it is read back first
// from the range's first page (a range of mixed cache modes is not something Protect is asked to keep).
VmStatus X86Aspace::Protect(VirtAddr va, uint64_t size, Prot prot, TlbBatch& batch) {
  const Translation t = mmu_->Translate(root(), va);
  const CacheMode cache = t.status == MmuStatus::kOk && Has(t.attrs, Attr::kUncached) ? CacheMode::kUncached
                                                                                        : CacheMode::kCached;
  return VmStatusOf(mmu_->Protect(root(), va, size, AttrsOf(prot, cache), batch));
}

VmStatus X86Aspace::Remap(VirtAddr va, PhysAddr pa, Prot prot, TlbBatch& batch) {
  return VmStatusOf(mmu_->Repoint(root(), va, pa, AttrsOf(prot, CacheMode::kCached), batch));
}

VmStatus X86Aspace::Query(VirtAddr va, VmMapping* out) {
  const Translation t = mmu_->Translate(root(), va);
  if (t.status != MmuStatus::kOk) return VmStatusOf(t.status);
  Prot prot = Prot::kRead;
  if (Has(t.attrs, Attr::kWrite)) prot = prot | Prot::kWrite;
  if (Has(t.attrs, Attr::kExec)) prot = prot | Prot::kExec;
  *out = VmMapping{t.pa, Bytes(t.size), prot, Has(t.attrs, Attr::kUncached) ? CacheMode::kUncached : CacheMode::kCached};
  return VmStatus::kOk;
}

VmStatus X86Aspace::Harvest(VirtAddr va, uint64_t size, HarvestFn visit, void* ctx, TlbBatch& batch) {
  struct Portable {
    HarvestFn visit;
    void* ctx;
  } portable{visit, ctx};
  const HarvestVisitor leaf = [](void* c, VirtAddr at, uint64_t e) {
    const Portable& p = *static_cast<Portable*>(c);
    AccessBits found = AccessBits::kNone;
    if ((e & pte::kAccessed) != 0) found = found | AccessBits::kAccessed;
    if ((e & pte::kDirty) != 0) found = found | AccessBits::kDirty;
    p.visit(p.ctx, at, PhysAddr(e & pte::kAddrMask), found);
  };
  return VmStatusOf(mmu_->Harvest(root(), va, size, leaf, &portable, batch));
}

void X86Aspace::Release() {
  KASSERT(kind_ == AddressSpace::Kind::kUser, "releasing the kernel's tables 0x%lx", root_.value());
  mmu_->MmuRelease(root_);
  mmu_->FreePcid(pcid_);
}

}  // namespace kmem::x86
