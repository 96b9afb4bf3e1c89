// archinit: what the machine's CPU lets the memory manager use, decided once from Mach 0's identification
// and handed to the steps that depend on it (mmuinit, pageinit).
#pragma once

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/mmu.h"
#include "arch/x86_64/mmu_init.h"
#include "arch/x86_64/user.h"

namespace kmem::boot {

struct ArchConfig {
  x86::Mmu::GiantPages giant = x86::Mmu::GiantPages::kNo;  // 1 GiB pages in the direct map
  x86::GlobalPages global = x86::GlobalPages::kNo;         // CR4.PGE for the kernel's entries
  x86::Mmu::Pcids pcids = x86::Mmu::Pcids::kNo;            // CR4.PCIDE: address spaces keep tagged entries
  unsigned colours = 1;                                     // page colours for the page allocator
  PhysAddr phys_limit = x86::Mmu::kArchPhysLimit;           // Pmap refuses physical addresses from here up
};

// Turns on SMEP when the CPU has it, and SMAP when it has it and `smap` is kOn (kOff: kmem.nosmap), loads the kernel's PAT (mtrr.h), and prints "archinit: " lines with
// the choices and the PAT. Panics on a CPU without the no-execute bit: the kernel's layout (W^X, a
// no-execute direct map) depends on it, and multiboot.S leaves EFER.NXE clear there rather than fault
// before the console exists; and on one without a PAT.
ArchConfig ArchInit(const x86::CpuInfo& cpu, x86::Smap smap);

}  // namespace kmem::boot
