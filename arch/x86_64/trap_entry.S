// Entry stubs for the 32 exception vectors (arch/x86_64/trap.h): each makes the stack look the same (an
// error code, 0 where the CPU pushes none, then the vector) and joins trap_common, which saves the general
// registers as a TrapFrame and hands it to TrapDispatch. TrapDispatch panics on a kernel fault, except one it
// fixes up (trap.h's ProbeRead, user.h's checked copies); an exception from ring 3 it hands to user.cc, which
// kills the process or resolves the fault. When it returns, the saved registers, with what it changed, are
// restored by iretq. The interrupt vectors 32-255 each push their number and join interrupt_common, which
// saves the registers a C call may clobber, calls InterruptDispatch(vector) and returns to the interrupted
// code (the kernel is built without SSE and without a red zone, so the general registers are all an
// interrupt must keep); from ring 3, through user.cc's UserReturn, the scheduler's preemption point. Every
// entry from ring 3 swaps GS to the kernel's and every exit to it back (user.h), and every entry clears
// RFLAGS.AC, which the CPU keeps: a handler, or a thread it switches to, never runs in a checked copy's
// SMAP window.

#include "arch/x86_64/entry.h"

.macro TRAP_ENTRY vector, has_error
  .balign 16
trap_entry_\vector:
  .if \has_error == 0
  pushq $0
  .endif
  pushq $\vector
  jmp trap_common
.endm

  .text
TRAP_ENTRY 0, 0
TRAP_ENTRY 1, 0
TRAP_ENTRY 2, 0
TRAP_ENTRY 3, 0
TRAP_ENTRY 4, 0
TRAP_ENTRY 5, 0
TRAP_ENTRY 6, 0
TRAP_ENTRY 7, 0
TRAP_ENTRY 8, 1
TRAP_ENTRY 9, 0
TRAP_ENTRY 10, 1
TRAP_ENTRY 11, 1
TRAP_ENTRY 12, 1
TRAP_ENTRY 13, 1
TRAP_ENTRY 14, 1
TRAP_ENTRY 15, 0
TRAP_ENTRY 16, 0
TRAP_ENTRY 17, 1
TRAP_ENTRY 18, 0
TRAP_ENTRY 19, 0
TRAP_ENTRY 20, 0
TRAP_ENTRY 21, 1
TRAP_ENTRY 22, 0
TRAP_ENTRY 23, 0
TRAP_ENTRY 24, 0
TRAP_ENTRY 25, 0
TRAP_ENTRY 26, 0
TRAP_ENTRY 27, 0
TRAP_ENTRY 28, 0
TRAP_ENTRY 29, 1
TRAP_ENTRY 30, 1
TRAP_ENTRY 31, 0

trap_common:
  SWAPGS_IF_USER 24  // above the vector, the error code and rip
  SMAP_CLAC
  PUSH_GENERAL
  movq %rsp, %rdi   // TrapDispatch(TrapFrame*)
  movq %rsp, %rbx   // callee-saved: the frame again after the call
  cld
  andq $-16, %rsp   // the ABI's call alignment, whatever the interrupted code had
  call TrapDispatch
  movq %rbx, %rsp
  POP_GENERAL
  addq $16, %rsp    // the vector and the error code
  SWAPGS_IF_USER 8
  iretq

// bool ProbeRead(const volatile uint64_t* address, uint64_t* value): a load the trap handler recovers
// from. A page fault at probe_read_load resumes at probe_read_fault, which returns false.
  .globl ProbeRead
  .globl probe_read_load
  .globl probe_read_fault
ProbeRead:
probe_read_load:
  movq (%rdi), %rax
  movq %rax, (%rsi)
  movl $1, %eax
  ret
probe_read_fault:
  xorl %eax, %eax
  ret

  .balign 16
interrupt_entries_start:
  .set vector, 32
  .rept 256 - 32
  .balign 16
  pushq $vector
  jmp interrupt_common
  .set vector, vector + 1
  .endr

interrupt_common:
  SWAPGS_IF_USER 16  // above the vector and rip
  SMAP_CLAC
  pushq %rax
  pushq %rcx
  pushq %rdx
  pushq %rsi
  pushq %rdi
  pushq %r8
  pushq %r9
  pushq %r10
  pushq %r11
  pushq %rbp
  movq 80(%rsp), %rdi  // the vector, above the ten saved registers
  movq %rsp, %rbp
  andq $-16, %rsp      // the ABI's call alignment, whatever the interrupted code had
  cld
  call InterruptDispatch
  testb $3, 96(%rbp)   // the interrupted CS, above the registers, the vector and rip: from ring 3?
  jz 1f
  call UserReturn      // the callee-saved registers are the user's, kept by the C++ it calls
1:
  movq %rbp, %rsp
  popq %rbp
  popq %r11
  popq %r10
  popq %r9
  popq %r8
  popq %rdi
  popq %rsi
  popq %rdx
  popq %rcx
  popq %rax
  addq $8, %rsp        // the vector
  SWAPGS_IF_USER 8
  iretq

  .section .rodata
  .balign 8
  .globl interrupt_entries
interrupt_entries:
  .set vector, 32
  .rept 256 - 32
  .quad interrupt_entries_start + (vector - 32) * 16
  .set vector, vector + 1
  .endr

  .balign 8
  .globl trap_entries
trap_entries:
  .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
  .quad trap_entry_\v
  .endr
