// What the kernel's entry code (trap_entry.S, user_entry.S) and the C++ it mirrors share: the GDT's
// selectors, the Mach's words the SYSCALL entry reaches through GS, the TrapFrame's offsets. For assembly
// and C++; trap.cc and user.cc check the C++ side against these.
#pragma once

// trap.cc's per-CPU GDT. SYSRET takes SS from STAR's base + 8 and CS from base + 16, each with RPL 3.
#define KERNEL_CODE_SELECTOR 0x08
#define KERNEL_DATA_SELECTOR 0x10
#define SYSRET_BASE_SELECTOR 0x10
#define USER_DATA_SELECTOR 0x1b
#define USER_CODE_SELECTOR 0x23
#define TSS_SELECTOR 0x28

// In the Mach (arch/x86_64/boot/mach.h), through GS: the stack the SYSCALL entry switches to, and a word it
// parks the user's rsp in while it does.
#define GS_SYSCALL_STACK 8
#define GS_USER_RSP 16

// The TrapFrame (trap.h): 15 general registers, then the vector and error code, then the CPU's frame.
#define FRAME_VECTOR (15 * 8)
#define FRAME_RIP (17 * 8)
#define FRAME_CS (18 * 8)
#define FRAME_RFLAGS (19 * 8)
#define FRAME_RSP (20 * 8)
#define FRAME_SIZE (22 * 8)
// A TrapFrame's vector for a SYSCALL, which has none: past the IDT's 256.
#define SYSCALL_VECTOR 256

#ifdef __ASSEMBLER__
// The general registers, pushed in the TrapFrame's order (rax first, so it ends up highest) and popped back.
.macro PUSH_GENERAL
  pushq %rax
  pushq %rbx
  pushq %rcx
  pushq %rdx
  pushq %rsi
  pushq %rdi
  pushq %rbp
  pushq %r8
  pushq %r9
  pushq %r10
  pushq %r11
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
.endm

.macro POP_GENERAL
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %r11
  popq %r10
  popq %r9
  popq %r8
  popq %rbp
  popq %rdi
  popq %rsi
  popq %rdx
  popq %rcx
  popq %rbx
  popq %rax
.endm

// stac and clac where SMAP is on (user.cc's user_smap_on): both are invalid opcodes on a CPU without it.
// Clobber the flags.
.macro SMAP_STAC
  testb $1, user_smap_on(%rip)
  jz .Lno_stac\@
  stac
.Lno_stac\@:
.endm

.macro SMAP_CLAC
  testb $1, user_smap_on(%rip)
  jz .Lno_clac\@
  clac
.Lno_clac\@:
.endm

// First thing in an entry whose CPU frame's CS is at `cs_offset`(%rsp): from ring 3, the kernel's GS.
.macro SWAPGS_IF_USER cs_offset
  testb $3, \cs_offset(%rsp)
  jz .Lkernel\@
  swapgs
.Lkernel\@:
.endm
#endif
