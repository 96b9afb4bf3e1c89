// The kernel's interrupt hooks of mm/base/percpu.h on x86_64, inline, included by percpu.h only (as
// asm/irqflags.h): a
// section's start is pushf, pop, cli (and one GS-relative load for the CPU), its end sti, in the caller, so
// the allocators' per-CPU fast paths make no call for them. CpuId and the cross-call are
// arch/x86_64/kernel_percpu.cc's.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace kmem {

namespace x86 {
// Where a Mach (arch/x86_64/boot/mach.h) keeps its CPU's number: CpuId is one load at this offset from GS.
inline constexpr size_t kGsCpuIdOffset = 0;
}  // namespace x86

inline IrqState IrqSave() {
  constexpr uint64_t kRflagsIf = uint64_t{1} << 9;
  uint64_t rflags;
  asm volatile("pushfq; popq %0; cli" : "=r"(rflags) : : "memory");
  return (rflags & kRflagsIf) != 0 ? IrqState::kWereOn : IrqState::kWereOff;
}

inline CpuIrq IrqSaveCpu() {
  const IrqState irq = IrqSave();
  unsigned cpu;
  asm volatile("movl %%gs:%c1, %0" : "=r"(cpu) : "i"(x86::kGsCpuIdOffset));
  return CpuIrq{.cpu = cpu, .irq = irq};
}

inline bool TryIrqSaveCpu(CpuIrq& here) {
  here = IrqSaveCpu();
  return true;
}

inline void IrqRestore(IrqState state) {
  if (state == IrqState::kWereOn) asm volatile("sti" : : : "memory");
}

}  // namespace kmem
