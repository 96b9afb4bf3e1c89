// Ring 3's ways in and out (user.h): the SYSCALL entry, RunUser's entry and EndUser's unwind, and the
// checked copies' user accesses, whose page faults trap.cc hands to user.cc (UserCopyFixup).

#include "arch/x86_64/entry.h"

  .text

// SYSCALL: rcx holds the user's rip, r11 its RFLAGS; IF, DF, TF, AC and NT are clear (FMASK); rsp is still
// the user's. On the thread's entry stack (the Mach's word, through the kernel's GS) the entry builds the
// TrapFrame an exception from ring 3 would have, so that SyscallDispatch reads the arguments from it and
// writes rax into it; it returns with interrupts off, and the registers come back from the frame, rcx and
// r11 with the rip and RFLAGS SYSRET takes. SyscallDispatch has checked that rip is a user address: SYSRET
// to a non-canonical one would fault in ring 0 on the user's stack.
  .globl user_syscall_entry
user_syscall_entry:
  swapgs
  movq %rsp, %gs:GS_USER_RSP
  movq %gs:GS_SYSCALL_STACK, %rsp
  pushq $USER_DATA_SELECTOR
  pushq %gs:GS_USER_RSP
  pushq %r11
  pushq $USER_CODE_SELECTOR
  pushq %rcx
  pushq $0                 // the error code
  pushq $SYSCALL_VECTOR
  PUSH_GENERAL
  movq %rsp, %rdi          // SyscallDispatch(TrapFrame*); 22 words below a 16-byte aligned stack
  sti
  call SyscallDispatch
  POP_GENERAL
  movq FRAME_RIP - FRAME_VECTOR(%rsp), %rcx
  movq FRAME_RFLAGS - FRAME_VECTOR(%rsp), %r11
  movq FRAME_RSP - FRAME_VECTOR(%rsp), %rsp
  swapgs
  sysretq

// void UserEnter(uint64_t entry, uint64_t rsp, uint64_t rdi, uint64_t rsi, UserExit* exit): RunUser's way
// into ring 3. Saves the callee-saved registers, RFLAGS and `exit` as the unwind frame, which UserEntering
// makes this CPU's unwind point and, 16-byte aligned, its entry stack; then iretq to ring 3 with every other
// register zero. Never returns itself: UserUnwind returns from it.
  .globl UserEnter
UserEnter:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  pushfq
  pushq %r8
  pushq $0                 // so that the frame's bottom is 16-byte aligned
  cli
  movq %rdi, %r12
  movq %rsi, %r13
  movq %rdx, %r14
  movq %rcx, %r15
  movq %rsp, %rdi
  call UserEntering
  pushq $USER_DATA_SELECTOR
  pushq %r13
  pushq $0x202             // IF
  pushq $USER_CODE_SELECTOR
  pushq %r12
  movq %r14, %rdi
  movq %r15, %rsi
  xorl %eax, %eax
  xorl %ebx, %ebx
  xorl %ecx, %ecx
  xorl %edx, %edx
  xorl %ebp, %ebp
  xorl %r8d, %r8d
  xorl %r9d, %r9d
  xorl %r10d, %r10d
  xorl %r11d, %r11d
  xorl %r12d, %r12d
  xorl %r13d, %r13d
  xorl %r14d, %r14d
  xorl %r15d, %r15d
  swapgs
  iretq

// void UserResume(const TrapFrame* frame, UserExit* exit): ResumeUser's way into ring 3, UserEnter's frame
// and unwind point, then every register from `frame` (a system call's, its rax already the result) by iretq.
  .globl UserResume
UserResume:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  pushfq
  pushq %rsi
  pushq $0
  cli
  movq %rdi, %r12
  movq %rsp, %rdi
  call UserEntering
  subq $FRAME_SIZE, %rsp
  movq %r12, %rsi
  movq %rsp, %rdi
  movl $(FRAME_SIZE / 8), %ecx
  rep movsq
  POP_GENERAL
  addq $16, %rsp           // the vector and the error code
  swapgs
  iretq

// [[noreturn]] void UserUnwind(uint64_t frame): back onto UserEnter's frame, and returns from UserEnter
// with the caller's registers and RFLAGS (its interrupt flag; AC and DF clear).
  .globl UserUnwind
UserUnwind:
  movq %rdi, %rsp
  addq $16, %rsp           // the padding and the UserExit pointer
  popfq
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret

// bool UserCopy(void* dst, const void* src, size_t n): true when all n bytes were copied, false when a
// page fault at user_copy_movs resumed at user_copy_fault (user.cc decides, with the fault hook).
  .globl UserCopy
  .globl user_copy_movs
  .globl user_copy_fault
UserCopy:
  SMAP_STAC
  movq %rdx, %rcx
user_copy_movs:
  rep movsb
  SMAP_CLAC
  movl $1, %eax
  ret
user_copy_fault:
  SMAP_CLAC
  xorl %eax, %eax
  ret

// int64_t UserCopyString(char* dst, const char* src, size_t max): copies bytes up to and including the
// first NUL, at most max of them; returns how many it copied, or -1 when a page fault at
// user_copy_string_load resumed at user_copy_string_fault.
  .globl UserCopyString
  .globl user_copy_string_load
  .globl user_copy_string_fault
UserCopyString:
  SMAP_STAC
  xorl %eax, %eax
1:
  cmpq %rdx, %rax
  je 2f
user_copy_string_load:
  movb (%rsi,%rax), %cl
  movb %cl, (%rdi,%rax)
  incq %rax
  testb %cl, %cl
  jnz 1b
2:
  SMAP_CLAC
  ret
user_copy_string_fault:
  SMAP_CLAC
  movq $-1, %rax
  ret
