// The x86_64 side of mm/vm/aspace.h: one address space's 4-level tables, kept by the Mmu (mmu.h). A user
// space has its own top-level table whose kernel half is shared; the kernel's space is the Mmu's kernel
// table, whose mappings are global. The kind sets the User and Global bits; callers speak in Prot and
// CacheMode only. A user space has a PCID of its own when the CPU has them, so its entries stay in the TLB
// while other spaces run (mm/vm/aspace.h's tlb_cpus says when they may be kept); the kernel's uses PCID 0.
#pragma once

#include "arch/x86_64/mmu.h"
#include "mm/vm/aspace.h"

namespace kmem::x86 {

class X86Aspace final : public ArchAspace {
 public:
  // The kernel's space: the Mmu's kernel table, looked up at each use, so the object can be constant-
  // initialised before Mmu::Init.
  static constexpr X86Aspace Kernel(Mmu& mmu) { return X86Aspace(mmu, PhysAddr(), AddressSpace::Kind::kKernel, 0); }
  // A new user space; kNoMemory when no table page is left.
  static VmStatus User(Mmu& mmu, X86Aspace* out);

  VmStatus Map(VirtAddr va, PhysAddr pa, uint64_t size, Prot prot, CacheMode cache, TlbBatch& batch) override;
  VmStatus Unmap(VirtAddr va, uint64_t size, TlbBatch& batch) override;
  VmStatus Protect(VirtAddr va, uint64_t size, Prot prot, TlbBatch& batch) override;
  VmStatus Remap(VirtAddr va, PhysAddr pa, Prot prot, TlbBatch& batch) override;
  VmStatus Query(VirtAddr va, VmMapping* out) override;
  VmStatus Harvest(VirtAddr va, uint64_t size, HarvestFn visit, void* ctx, TlbBatch& batch) override;
  TlbDone FlushHere(const TlbBatch& batch) override { return mmu_->FlushHere(batch); }
  void Reclaim(TlbBatch& batch) override { mmu_->Reclaim(batch); }
  void Activate(TlbReuse reuse) override { mmu_->MmuSwitch(root(), pcid_, reuse); }
  bool Tagged() const override { return pcid_ != 0; }
  void Release() override;

  PhysAddr root() const { return kind_ == AddressSpace::Kind::kKernel ? mmu_->kernel_table() : root_; }
  uint16_t pcid() const { return pcid_; }

 private:
  constexpr X86Aspace(Mmu& mmu, PhysAddr root, AddressSpace::Kind kind, uint16_t pcid)
      : mmu_(&mmu), root_(root), kind_(kind), pcid_(pcid) {}
  Attr AttrsOf(Prot prot, CacheMode cache) const;

  Mmu* mmu_;
  PhysAddr root_;
  AddressSpace::Kind kind_;
  uint16_t pcid_;  // 0: none (the kernel's, or none was left)
};

// The portable status of an MMU status.
VmStatus VmStatusOf(MmuStatus status);

}  // namespace kmem::x86
