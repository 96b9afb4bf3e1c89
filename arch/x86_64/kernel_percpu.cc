// The kernel's side of mm/base/percpu.h on x86_64.
#include "mm/base/percpu.h"

#include <stdint.h>

namespace kmem {
namespace {

constexpr uint64_t kRflagsIf = uint64_t{1} << 9;

}  // namespace

// One CPU until the SMP start-up gives each CPU its Mach (then: read through GS).
unsigned CpuId() { return 0; }

IrqState IrqSave() {
  uint64_t rflags;
  asm volatile("pushfq; popq %0; cli" : "=r"(rflags) : : "memory");
  return (rflags & kRflagsIf) != 0 ? IrqState::kWereOn : IrqState::kWereOff;
}

void IrqRestore(IrqState state) {
  if (state == IrqState::kWereOn) asm volatile("sti" : : : "memory");
}

void CpuRelax() { asm volatile("pause"); }

// The boot CPU alone until the SMP start-up brings up the others and answers cross-calls with IPIs.
CpuSet OnlineCpus() { return CpuSet::Of(0); }

void CrossCall(CpuSet cpus, CrossCallFn fn, void* arg) {
  if (!cpus.Has(CpuId())) return;
  const IrqState irq = IrqSave();
  fn(arg);
  IrqRestore(irq);
}

}  // namespace kmem
