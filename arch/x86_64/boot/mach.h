// mach0init: the boot CPU's Mach (9front's per-CPU structure) — its number, its boot stack, and what CPUID
// says it is. Everything after reads the CPU through it rather than executing CPUID again.
#pragma once

#include "arch/x86_64/cpu.h"
#include "boot/arch.h"
#include "mm/base/addr.h"

namespace kmem::boot {

struct Mach {
  unsigned machno = 0;
  VirtAddr stack_base;  // lowest address of the boot stack; the page below it is the guard
  VirtAddr stack_top;
  x86::CpuInfo cpu;
};

// Fills in Mach 0 and prints "mach0init: " with its stack, then the CPU's "cpu0: " lines (cpu.h).
Mach& Mach0Init(CpuidDump dump);

}  // namespace kmem::boot
