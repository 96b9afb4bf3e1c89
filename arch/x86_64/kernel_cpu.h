// The MMU's CPU operations on real hardware: CR3 loads, invlpg, global flushes, and the CPU features the
// page tables depend on. Kernel-only.
#pragma once

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/mmu.h"
#include "arch/x86_64/mtrr.h"
#include "mm/base/percpu.h"

namespace kmem::x86 {

class KernelCpuOps final : public CpuOps {
 public:
  void LoadCr3(PhysAddr top, uint16_t pcid, TlbReuse reuse) override;
  void Invlpg(VirtAddr va) override;
  void FlushGlobal() override;
  unsigned CpuId() override { return kmem::CpuId(); }
};

// CPUID itself.
class KernelCpuid final : public CpuidSource {
 public:
  CpuidRegs Query(uint32_t leaf, uint32_t subleaf) override;
};

// RDMSR itself.
class KernelMsrs final : public MsrSource {
 public:
  uint64_t Read(uint32_t msr) override;
};

// Loads kKernelPat (mtrr.h) into this CPU's IA32_PAT, so that PWT alone selects write-combining. Every CPU
// calls it before it uses a mapping with PWT; on a CPU with CpuFeature::kPat only.
void LoadPat();
// Sets CR4.PGE so that Global entries survive CR3 loads. Only on a CPU with CpuFeature::kGlobalPages.
void EnableGlobalPages();
// Sets CR4.PCIDE, so that CR3 loads carry a PCID and may keep the TLB's entries (Mmu::SetPcids). Only on
// a CPU with CpuFeature::kPcid, with PCID 0 loaded (the architecture's condition for setting the bit).
void EnablePcids();
// Sets CR4.SMEP: the kernel faults instead of executing a user page. Only on a CPU with CpuFeature::kSmep.
void EnableSmep();

}  // namespace kmem::x86
