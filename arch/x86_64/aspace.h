// The x86_64 side of mm/vm/aspace.h: one address space's 4-level tables, kept by the Mmu (mmu.h). A user
// space has its own top-level table whose kernel half is shared; the kernel's space is the Mmu's kernel
// table, whose mappings are global. The kind sets the User and Global bits; callers speak in Prot and
// CacheMode only.
#pragma once

#include "arch/x86_64/mmu.h"
#include "mm/vm/aspace.h"

namespace kmem::x86 {

class X86Aspace final : public ArchAspace {
 public:
  // The kernel's space: the Mmu's kernel table, looked up at each use, so the object can be constant-
  // initialised before Mmu::Init.
  static constexpr X86Aspace Kernel(Mmu& mmu) { return X86Aspace(mmu, PhysAddr(), AddressSpace::Kind::kKernel); }
  // A new user space; kNoMemory when no table page is left.
  static VmStatus User(Mmu& mmu, X86Aspace* out);

  VmStatus Map(VirtAddr va, PhysAddr pa, uint64_t size, Prot prot, CacheMode cache) override;
  VmStatus Unmap(VirtAddr va, uint64_t size) override;
  VmStatus Protect(VirtAddr va, uint64_t size, Prot prot) override;
  VmStatus Query(VirtAddr va, VmMapping* out) override;
  void Activate() override;
  void Release() override;

  PhysAddr root() const { return kind_ == AddressSpace::Kind::kKernel ? mmu_->kernel_table() : root_; }

 private:
  constexpr X86Aspace(Mmu& mmu, PhysAddr root, AddressSpace::Kind kind) : mmu_(&mmu), root_(root), kind_(kind) {}
  Attr AttrsOf(Prot prot, CacheMode cache) const;

  Mmu* mmu_;
  PhysAddr root_;
  AddressSpace::Kind kind_;
};

// The portable status of an MMU status.
VmStatus VmStatusOf(MmuStatus status);

}  // namespace kmem::x86
