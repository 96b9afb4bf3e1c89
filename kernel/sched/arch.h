// What the scheduler (kernel/sched/sched.cc) needs of an architecture, implemented by arch/<cpu>/boot
// (x86_64: sched_arch.cc and switch.S). Every call is on the CPU it concerns, with interrupts off unless it
// says otherwise.
#pragma once

#include <stdint.h>

#include "mm/vm/aspace.h"
#include "mm/vm/kva.h"

namespace kmem::kernel {

// The kernel's address space, which kernel threads run in, and the arena their stacks come from.
AddressSpace& ArchKernelSpace();
KvaArena& ArchStackArena();

// Saves the callee-saved registers on the current stack, stores its stack pointer at *save_sp, switches
// to the stack at load_sp and returns on it to whoever saved it (or to a new thread's entry).
extern "C" void ArchSwitch(uint64_t* save_sp, uint64_t load_sp);
// Lays out a new thread's first switch on the stack ending at `top` (aligned for a call): ArchSwitch to the
// returned stack pointer enters start(arg) with interrupts off, on that stack. start never returns.
uint64_t ArchInitialStack(VirtAddr top, void (*start)(void* arg), void* arg);

// The scheduler's hooks, installed once by ArchSchedInit: `tick` runs in the timer interrupt of every CPU
// whose timer ArchTimerStartHere started; `idle_step` runs in every CPU's idle loop with interrupts off
// before it halts, and returns whether it ran something (then the loop looks again before halting).
// Prints the timer's calibration.
void ArchSchedInit(unsigned hz, void (*tick)(), bool (*idle_step)());
void ArchTimerStartHere();
// Wakes `cpu` from its idle halt (an IPI that does nothing else).
void ArchKick(unsigned cpu);
// The idle loop of a CPU whose idle thread the scheduler made (the boot CPU's): halts with interrupts on,
// runs the work ArchRunOnCpus hands the CPU and calls idle_step. Entered with interrupts on.
[[noreturn]] void ArchIdleLoop();

// A monotonic clock in nanoseconds, the same on every CPU. Any context.
uint64_t ArchNowNs();

}  // namespace kmem::kernel
