#include "arch/x86_64/boot/mach.h"

#include <stdint.h>

#include "arch/x86_64/kernel_cpu.h"
#include "arch/x86_64/kernel_image.h"
#include "mm/base/format.h"
#include "mm/base/panic.h"

namespace kmem::boot {
namespace {

constinit Mach machs[kMaxCpus];

}  // namespace

Mach& Mach0Init(CpuidDump dump) {
  Mach& mach0 = machs[0];
  mach0.machno = 0;
  mach0.stack_base = VirtAddr(reinterpret_cast<uintptr_t>(boot_stack_bottom));
  mach0.stack_top = VirtAddr(reinterpret_cast<uintptr_t>(boot_stack_top));
  x86::KernelCpuid cpuid;
  mach0.cpu = x86::CpuIdentify(cpuid);
  Print("mach0init: cpu%u, boot stack [0x%lx, 0x%lx) above a guard page\n", mach0.machno,
        mach0.stack_base.value(), mach0.stack_top.value());
  x86::CpuPrint(mach0.cpu, mach0.machno);
  if (dump == CpuidDump::kYes) x86::CpuidDump(cpuid);
  return mach0;
}

Mach& MachOf(unsigned cpu) {
  KASSERT(cpu < kMaxCpus, "Mach of cpu %u; there are at most %u", cpu, kMaxCpus);
  return machs[cpu];
}

}  // namespace kmem::boot
