// Traps: each CPU's GDT with its TSS, the IDT every CPU shares, the entry stubs of the 32 exception vectors
// and of the interrupt vectors above them (trap_entry.S). An exception in the kernel is fatal, so that a
// fault panics saying what happened instead of triple-faulting, but a page fault in ProbeRead, which the
// handler recovers from as Linux's exception table lets a marked load fail, and one in a checked copy of
// user memory (user.h). An exception from ring 3 is user.h's: it kills the process or, for a page fault the
// fault hook resolves, returns to it. A double fault, which is what a kernel stack overflow into its guard
// page becomes (the CPU cannot push the page fault's frame), runs on a stack of its own (IST 1). Interrupts
// go to the handler installed for their vector and return to what they interrupted.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/base/addr.h"

namespace kmem::x86 {

// What trap_entry.S saves, lowest address first: the general registers, the vector and error code (0
// where the CPU pushes none), then the CPU's own frame.
struct TrapFrame {
  uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
  uint64_t vector, error;
  uint64_t rip, cs, rflags, rsp, ss;
};
static_assert(sizeof(TrapFrame) == 22 * 8, "trap_entry.S pushes 17 words, the CPU 5");

// Says in words what the kernel knows of a faulting address (what its tables map there, whether it is a
// guard page). Boot installs one once the kernel's own tables are live.
using FaultExplainer = void (*)(uint64_t address, char* buf, size_t cap);

// trapinit0 on the boot CPU: builds the shared IDT, then loads the boot CPU's GDT and TSS (double faults
// on a static stack) and the IDT; prints one "trapinit:" line. Call once, early: until then a fault resets
// the machine.
void TrapInit();

// The same for the application processor `cpu` (in [1, kMaxCpus)), once it runs C++: its own GDT and TSS,
// double faults on the stack ending at `double_fault_stack_top`, and the shared IDT. Prints nothing.
void TrapInitCpu(unsigned cpu, VirtAddr double_fault_stack_top);

void SetFaultExplainer(FaultExplainer explain);

// Reads the word at `address` into *value and returns true, or returns false where the read page-faults
// (nothing mapped, or a translation the tables no longer have): the kernel's fault-recovering read, for
// tests that must see a fault happen (the TLB shootdown self-test) rather than panic on it.
extern "C" bool ProbeRead(const volatile uint64_t* address, uint64_t* value);

// The interrupt vectors, [kFirstInterrupt, 256): an interrupt with no handler panics naming its vector.
inline constexpr unsigned kFirstInterrupt = 32;
inline constexpr unsigned kVectors = 256;
// Runs with interrupts off on the interrupted CPU's stack; sends the EOI itself where its source needs one.
using InterruptHandler = void (*)();
// Installs `handler` for `vector` (in [kFirstInterrupt, kVectors)) on every CPU. Before interrupts are on.
void SetInterruptHandler(unsigned vector, InterruptHandler handler);

}  // namespace kmem::x86
