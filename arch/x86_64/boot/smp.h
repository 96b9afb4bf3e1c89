// The SMP start-up (boot/arch.h's ArchSmpInit) and what runs on the CPUs it starts. The CPUs come from
// ACPI's MADT (arch/x86_64/pc/acpi.h); the boot CPU's local APIC comes on, the 8259 PICs are masked and
// interrupts go on; then each application processor in turn gets INIT-SIPI-SIPI at the trampoline page
// (trampoline.S) and, on a vmalloc'ed boot stack with a guard page below, its own Mach, GDT, TSS and
// double-fault stack, the shared IDT and the kernel's page tables. Each prints its "cpuN:" lines, goes
// online for cross-calls and idles in hlt with interrupts on.
#pragma once

#include "mm/base/percpu.h"
#include "mm/palloc/kernel_palloc.h"

namespace kmem::boot {

// What the boot tests make go wrong: kLastGetsNoStartup sends the last CPU INIT but no STARTUP, so that
// it never answers (kmem.nosipi).
enum class SmpFault : uint8_t { kNone, kLastGetsNoStartup };

// Starts every CPU the MADT lists (the boot CPU alone when ACPI cannot be read) and returns how many are
// online (nmach). Prints "smp: " lines: the APIC and PICs, the TSC's rate, each CPU that did not start
// ("cpuN (apic id X) did not start", left out), and "smp: N of M CPUs online". Each AP prints its own
// "cpuN: " lines while the boot CPU waits for it, so no two CPUs print at once. After pageinit.
unsigned SmpInit(KernelPalloc& palloc, SmpFault fault);

// Runs fn(arg) at once on every online CPU of `cpus` with interrupts on — an AP in its idle loop, the
// caller here — and returns when all are done. fn may cross-call and call RunOnCpus itself. A CPU runs one
// such job at a time: two callers handing jobs to one CPU at once panics.
void RunOnCpus(CpuSet cpus, CrossCallFn fn, void* arg);

// Where an AP goes once online: hlt with interrupts on, running each job RunOnCpus hands it and, once
// installed, the scheduler's idle step (kernel/sched/arch.h), which is called with interrupts off.
[[noreturn]] void IdleLoop();
void SetIdleStep(bool (*step)());

// The cross-call self-test: every CPU answers rounds of calls on its own stack, from the boot CPU and from
// an AP. Prints one "smp: self-test ok" line; a failure panics.
void SmpSelfTest();

// Each online CPU's "cpuN:" lines (the monitor's `cpus`).
void SmpDumpCpus();

}  // namespace kmem::boot
