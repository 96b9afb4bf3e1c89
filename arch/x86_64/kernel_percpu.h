// The kernel's per-CPU plumbing behind mm/base/percpu.h that the SMP start-up (arch/x86_64/boot/smp.cc)
// drives: each CPU reaches its Mach through GS, and joins the cross-calls, which reach it through an IPI.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/base/percpu.h"  // and with it kGsCpuIdOffset, from arch/x86_64/irqflags.h

namespace kmem::x86 {

// Points this CPU's IA32_GS_BASE at its Mach. First thing on each CPU: CpuId is valid from here on.
void SetGsBase(const void* mach);

// The cross-call IPI's vector: the highest priority class below the spurious vector (apic.h).
inline constexpr unsigned kCrossCallVector = 0xf0;

// Marks the calling CPU `cpu` online as the target of IPIs to local APIC `apic_id`: cross-calls reach it
// from here on. Call with its local APIC enabled and the cross-call handler installed; the boot CPU calls
// it just before it turns interrupts on, and from then on a cross-call with interrupts off panics.
void CpuOnline(unsigned cpu, uint32_t apic_id);

// The cross-call vector's handler: runs every call pending for this CPU, acknowledges each, then EOIs.
void CrossCallInterrupt();

// The CPUs still working for one waiter (a cross-call's caller, RunOnCpus's): the waiter spins a moment,
// then sleeps in hlt with interrupts on, so that a waiting CPU costs no cycles (which under TCG are other
// CPUs' too) and still answers calls; the last CPU to finish wakes it with an IPI if it sleeps.
class Countdown {
 public:
  // By the waiter: `n` CPUs to wait for.
  void Start(unsigned n);
  // By a CPU that has finished its part. The waiter may leave (and reuse the countdown) once the count is
  // zero: what is read after that only decides whether to send a wake-up that is then harmless.
  void Done();
  bool Finished() const { return __atomic_load_n(&remaining_, __ATOMIC_ACQUIRE) == 0; }
  // By the waiter, with interrupts on: returns once Finished, or after an interrupt woke this CPU (which
  // may have handed it work: the caller checks and calls again).
  void Sleep();

 private:
  uint32_t remaining_ = 0;
  uint32_t sleeping_ = 0;  // the waiter is about to hlt, or in it
  unsigned waiter_ = 0;    // its CpuId, fixed while the count is above zero
};

}  // namespace kmem::x86
