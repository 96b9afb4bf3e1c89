#include "arch/x86_64/boot/archinit.h"

#include "arch/x86_64/kernel_cpu.h"
#include "mm/base/format.h"
#include "mm/base/panic.h"

namespace kmem::boot {

ArchConfig ArchInit(const x86::CpuInfo& cpu, x86::Smap smap) {
  if (!cpu.Has(x86::CpuFeature::kNx)) {
    Panic("archinit: the CPU has no no-execute page bit (CPUID 0x80000001 EDX bit 20); the kernel keeps its "
          "data and the direct map no-execute and cannot run without it");
  }
  // Every x86_64 CPU has it; a hypervisor that hides it leaves vmap no write-combining and no way to tell.
  if (!cpu.Has(x86::CpuFeature::kPat)) {
    Panic("archinit: the CPU has no page attribute table (CPUID 1 EDX bit 16); vmap picks memory types with it");
  }
  x86::LoadPat();
  ArchConfig a;
  a.giant = cpu.Has(x86::CpuFeature::kGiantPages) ? x86::Mmu::GiantPages::kYes : x86::Mmu::GiantPages::kNo;
  a.global = cpu.Has(x86::CpuFeature::kGlobalPages) ? x86::GlobalPages::kYes : x86::GlobalPages::kNo;
  // PCIDs only with global pages: kernel entries must survive the flushes a PCID load does not do for them,
  // and FlushGlobal's CR4.PGE toggle is what drops every PCID's entries at once.
  a.pcids = cpu.Has(x86::CpuFeature::kPcid) && a.global == x86::GlobalPages::kYes ? x86::Mmu::Pcids::kYes
                                                                                  : x86::Mmu::Pcids::kNo;
  a.colours = cpu.colours;
  a.phys_limit = cpu.PhysLimit();
  // The kernel never runs code from a user page; with SMEP, a jump there faults instead of running it.
  const bool smep = cpu.Has(x86::CpuFeature::kSmep);
  if (smep) x86::EnableSmep();
  // Nor reads or writes user memory but through the checked copies (user.h); with SMAP, any other access faults.
  const char* const kOff = "off (not offered)";
  const char* smap_state = kOff;
  if (cpu.Has(x86::CpuFeature::kSmap)) smap_state = smap == x86::Smap::kOn ? "on" : "off (kmem.nosmap)";
  x86::SetUserSmap(cpu.Has(x86::CpuFeature::kSmap) ? smap : x86::Smap::kOff);
  Print("archinit: no-execute on, smep %s, smap %s, 1G pages %s, global pages %s, pcids %s, %u page colour%s, "
        "physical addresses below 0x%lx\n",
        smep ? "on" : kOff, smap_state, a.giant == x86::Mmu::GiantPages::kYes ? "on" : kOff,
        a.global == x86::GlobalPages::kYes ? "on" : kOff, a.pcids == x86::Mmu::Pcids::kYes ? "on" : kOff, a.colours,
        a.colours == 1 ? "" : "s", cpu.PhysLimit().value());
  Print("archinit: PAT 0x%016lx: PCD and PWT select WB, WC (PWT), UC- (PCD), UC (both)\n", x86::kKernelPat);
  return a;
}

}  // namespace kmem::boot
