// kernel/sched/arch.h on x86_64: the local APIC timer at the scheduler's rate on every CPU, calibrated
// once against the TSC, a wake-up IPI, the TSC as the clock, a new thread's first stack frame for
// switch.S, and the idle loop (idle.cc's, with the scheduler's step).
#include "kernel/sched/arch.h"

#include "arch/x86_64/apic.h"
#include "arch/x86_64/boot/mach.h"
#include "arch/x86_64/boot/mmu_setup.h"
#include "arch/x86_64/boot/smp.h"
#include "arch/x86_64/delay.h"
#include "arch/x86_64/trap.h"
#include "mm/base/format.h"
#include "mm/base/panic.h"

extern "C" char sched_thread_entry[];

namespace kmem::kernel {
namespace {

// Below the cross-call's class (0xf0), so a tick never holds up a TLB shootdown.
constexpr unsigned kTimerVector = 0xe0;
constexpr unsigned kKickVector = 0xe1;

constinit uint32_t timer_count = 0;  // APIC timer counts a tick
constinit void (*tick_fn)() = nullptr;
// The TSC's rate as delay.h's deadlines give it, ticks a millisecond.
constinit uint64_t tsc_per_ms = 0;

uint64_t Rdtsc() {
  uint32_t lo, hi;
  asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return (uint64_t{hi} << 32) | lo;
}

void TimerInterrupt() {
  x86::LapicEoi();
  tick_fn();
}

void KickInterrupt() { x86::LapicEoi(); }

}  // namespace

AddressSpace& ArchKernelSpace() { return boot::KernelSpace(); }
KvaArena& ArchStackArena() { return boot::KernelMmu().vmap_arena(); }

uint64_t ArchInitialStack(VirtAddr top, void (*start)(void*), void* arg) {
  KASSERT(top.IsAlignedTo(16), "thread stack top 0x%lx not 16-byte aligned", top.value());
  // From the bottom up, as ArchSwitch pops them: r15, r14, r13 (start), r12 (arg), rbx, rbp, the return
  // address, then two zeros, which leave the entry a 16-byte aligned stack for its call.
  constexpr int kWords = 9;
  uint64_t* sp = reinterpret_cast<uint64_t*>(top.value()) - kWords;
  const uint64_t frame[kWords] = {0, 0, reinterpret_cast<uint64_t>(start), reinterpret_cast<uint64_t>(arg), 0, 0,
                                  reinterpret_cast<uint64_t>(sched_thread_entry), 0, 0};
  for (int i = 0; i < kWords; ++i) sp[i] = frame[i];
  return reinterpret_cast<uint64_t>(sp);
}

void ArchSchedInit(unsigned hz, void (*tick)(), bool (*idle_step)()) {
  // Two deadlines a second apart differ by the ticks in a second, give or take the few between the reads.
  const uint64_t t0 = x86::DeadlineUs(0);
  tsc_per_ms = (x86::DeadlineUs(1'000'000) - t0) / 1000;
  const uint32_t per_ms = x86::LapicTimerCalibrate();
  timer_count = static_cast<uint32_t>(per_ms * uint64_t{1000} / hz);
  tick_fn = tick;
  x86::SetInterruptHandler(kTimerVector, TimerInterrupt);
  x86::SetInterruptHandler(kKickVector, KickInterrupt);
  boot::SetIdleStep(idle_step);
  Print("sched: local APIC timer at %u counts a ms, %u Hz on every CPU\n", per_ms, hz);
}

void ArchTimerStartHere() { x86::LapicTimerPeriodic(kTimerVector, timer_count); }

void ArchKick(unsigned cpu) { x86::LapicSendIpi(boot::MachOf(cpu).apic_id, kKickVector); }

void ArchIdleLoop() { boot::IdleLoop(); }

uint64_t ArchNowNs() {
  // In two parts, as the kernel has no 128-bit division: the remainder times 10^6 fits 64 bits.
  const uint64_t t = Rdtsc();
  return t / tsc_per_ms * 1'000'000 + t % tsc_per_ms * 1'000'000 / tsc_per_ms;
}

}  // namespace kmem::kernel
