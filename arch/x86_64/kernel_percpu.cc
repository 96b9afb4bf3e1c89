// The kernel's side of mm/base/percpu.h on x86_64: CpuId through GS and the cross-call over IPIs (the
// interrupt hooks are inline, arch/x86_64/irqflags.h). A cross-call's caller publishes one record
// (function, argument, count of CPUs still to run it), sets its own bit in each target's pending mask and
// sends the target an IPI; the target's handler takes its whole mask at once, runs each caller's record and
// counts itself done. A CPU has at most one call of its own in flight (it waits for it with interrupts on,
// and fn runs with them off, so fn cannot call again), so one record per caller is enough and a second call
// needs no lock.
#include "arch/x86_64/kernel_percpu.h"

#include <stdint.h>

#include "arch/x86_64/apic.h"
#include "mm/base/panic.h"
#include "mm/base/percpu.h"

namespace kmem {
namespace {

constexpr uint32_t kGsBaseMsr = 0xc0000101;

// Pauses a waiter spins through before it sleeps: on hardware a few microseconds, about a cross-call's
// round trip.
constexpr unsigned kSpinsBeforeSleep = 100;

struct alignas(64) Call {
  CrossCallFn fn = nullptr;
  void* arg = nullptr;
  x86::Countdown targets;  // those that have not finished fn
};

constinit uint32_t online = 1;  // CpuSet bits; the boot CPU's from the start
constinit bool interrupts_live = false;  // from the boot CPU's CpuOnline: interrupts are on when not held off
constinit uint32_t apic_ids[kMaxCpus] = {};
constinit Call calls[kMaxCpus];  // by caller
struct alignas(64) Pending {
  uint32_t callers = 0;  // CpuSet bits of the callers whose record this CPU has yet to run
};
constinit Pending pending[kMaxCpus];  // by target

}  // namespace

unsigned CpuId() {
  unsigned id;
  asm volatile("movl %%gs:%c1, %0" : "=r"(id) : "i"(x86::kGsCpuIdOffset));
  return id;
}

void CpuRelax() { asm volatile("pause"); }

CpuSet OnlineCpus() { return CpuSet(__atomic_load_n(&online, __ATOMIC_ACQUIRE)); }

void CrossCall(CpuSet cpus, CrossCallFn fn, void* arg) {
  const IrqState irq = IrqSave();
  const unsigned me = CpuId();
  const CpuSet remote = (cpus & OnlineCpus()).Without(me);
  // Before the SMP start-up turns interrupts on the boot CPU runs with them off, and alone: no one to wait for.
  if (irq == IrqState::kWereOff && __atomic_load_n(&interrupts_live, __ATOMIC_RELAXED)) {
    Panic("cross-call from cpu %u with interrupts off", me);
  }
  Call& call = calls[me];
  call.fn = fn;
  call.arg = arg;
  call.targets.Start(remote.Count());
  for (unsigned cpu = 0; cpu < kMaxCpus; ++cpu) {
    if (!remote.Has(cpu)) continue;
    __atomic_fetch_or(&pending[cpu].callers, uint32_t{1} << me, __ATOMIC_RELEASE);
    x86::LapicSendIpi(apic_ids[cpu], x86::kCrossCallVector);
  }
  if (cpus.Has(me)) fn(arg);
  IrqRestore(irq);
  // Interrupts on while waiting: a target may be waiting for a call of its own to this CPU.
  while (!call.targets.Finished()) call.targets.Sleep();
}

namespace x86 {

void SetGsBase(const void* mach) {
  const uint64_t v = reinterpret_cast<uint64_t>(mach);
  asm volatile("wrmsr" : : "c"(kGsBaseMsr), "a"(static_cast<uint32_t>(v)), "d"(static_cast<uint32_t>(v >> 32))
               : "memory");
}

void CpuOnline(unsigned cpu, uint32_t apic_id) {
  KASSERT(cpu < kMaxCpus && cpu == CpuId(), "cpu %u marked online from cpu %u", cpu, CpuId());
  apic_ids[cpu] = apic_id;
  __atomic_store_n(&interrupts_live, true, __ATOMIC_RELAXED);
  __atomic_fetch_or(&online, uint32_t{1} << cpu, __ATOMIC_RELEASE);
}

void CrossCallInterrupt() {
  uint32_t callers = __atomic_exchange_n(&pending[CpuId()].callers, 0, __ATOMIC_ACQUIRE);
  while (callers != 0) {
    Call& call = calls[__builtin_ctz(callers)];
    callers &= callers - 1;
    call.fn(call.arg);
    call.targets.Done();
  }
  LapicEoi();
}

void Countdown::Start(unsigned n) {
  waiter_ = CpuId();
  __atomic_store_n(&sleeping_, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&remaining_, n, __ATOMIC_RELEASE);
}

// Dekker's pair with Sleep: the last CPU's decrement, then its read of sleeping_; the waiter's write of
// sleeping_, then its read of the count. Sequentially consistent, so at least one sees the other: the
// waiter does not sleep, or it is woken.
void Countdown::Done() {
  const unsigned waiter = waiter_;
  if (__atomic_sub_fetch(&remaining_, 1, __ATOMIC_SEQ_CST) == 0 && __atomic_load_n(&sleeping_, __ATOMIC_SEQ_CST) != 0) {
    LapicSendIpi(apic_ids[waiter], kCrossCallVector);  // with no call pending for it, only a wake-up
  }
}

void Countdown::Sleep() {
  for (unsigned i = 0; i < kSpinsBeforeSleep; ++i) {
    if (Finished()) return;
    CpuRelax();
  }
  // cli before the check and sti;hlt after it (sti's shadow lasts until hlt): a wake-up IPI sent in between
  // waits for the hlt and ends it.
  asm volatile("cli" : : : "memory");
  __atomic_store_n(&sleeping_, 1, __ATOMIC_SEQ_CST);
  if (__atomic_load_n(&remaining_, __ATOMIC_SEQ_CST) == 0) {
    asm volatile("sti" : : : "memory");
    return;
  }
  asm volatile("sti; hlt" : : : "memory");
}

}  // namespace x86
}  // namespace kmem
