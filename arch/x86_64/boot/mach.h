// mach0init: the boot CPU's Mach (9front's per-CPU structure) — its number, its boot stack, and what CPUID
// says it is; the SMP start-up (smp.h) gives each application processor one. Everything after reads the
// CPU through it rather than executing CPUID again; a CPU finds its own through GS (kernel_percpu.h).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/entry.h"
#include "arch/x86_64/kernel_percpu.h"
#include "boot/arch.h"
#include "mm/base/addr.h"
#include "mm/base/percpu.h"

namespace kmem::boot {

struct Mach {
  unsigned machno = 0;  // first: CpuId reads it through GS
  uint32_t apic_id = 0;
  uint64_t syscall_stack = 0;  // the SYSCALL entry's words (arch/x86_64/entry.h), through GS
  uint64_t syscall_user_rsp = 0;
  VirtAddr stack_base;  // lowest address of the boot stack; the page below it is the guard
  VirtAddr stack_top;
  VirtAddr double_fault_stack_top;  // the boot CPU's is trap.cc's static stack, not recorded
  x86::CpuInfo cpu;
};
static_assert(offsetof(Mach, machno) == x86::kGsCpuIdOffset, "CpuId reads the Mach's number through GS");
static_assert(offsetof(Mach, syscall_stack) == GS_SYSCALL_STACK && offsetof(Mach, syscall_user_rsp) == GS_USER_RSP,
              "the SYSCALL entry reaches these through GS");

// Fills in Mach 0 (kmain pointed the boot CPU's GS at it before the first Print) and prints "mach0init: "
// with its stack, then the CPU's "cpu0: " lines (cpu.h).
Mach& Mach0Init(CpuidDump dump);

// Mach `cpu`, in [0, kMaxCpus); an AP's is filled by the SMP start-up.
Mach& MachOf(unsigned cpu);

}  // namespace kmem::boot
