// kernel/sched/arch.h's context switch: ArchSwitch(save_sp, load_sp) pushes the registers the SysV ABI
// makes the callee keep, stores the stack pointer at *save_sp, loads load_sp and pops the same six from
// there, returning to whoever saved it. A new thread's stack (ArchInitialStack in sched_arch.cc) holds six
// zeros but r12 (start's argument) and r13 (start), then sched_thread_entry as the return address.
  .text
  .globl ArchSwitch
  .type ArchSwitch, @function
ArchSwitch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size ArchSwitch, . - ArchSwitch

// A new thread's first instruction, with the stack 16-byte aligned: calls start(arg), which never returns.
  .globl sched_thread_entry
  .type sched_thread_entry, @function
sched_thread_entry:
  movq %r12, %rdi
  call *%r13
  ud2
  .size sched_thread_entry, . - sched_thread_entry
