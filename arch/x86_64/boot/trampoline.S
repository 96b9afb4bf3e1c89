// The application processors' way into the kernel (9front's apbootstrap, Linux's trampoline_64). The SMP
// start-up (smp.cc) copies [trampoline_start, trampoline_end) to the page kApTrampoline
// (arch/x86_64/pc/legacy.h), fills its parameters and sends the AP a STARTUP IPI naming that page. The AP
// starts there in real mode, CS = page >> 4, IP = 0, and goes through 32-bit protected mode into long mode
// on the trampoline's own page tables: the kernel's half plus an identity mapping of this page, which
// the code runs from while paging comes on. From the kernel half (ap_entry64) it loads the kernel's GDT,
// its boot stack and the kernel's own tables, which do not map the page, and calls ApMain(mach).
//
// The code does not know its address until it runs: it takes it from CS and patches its own GDT pointer
// and far jumps before it uses them. %ebx holds the page's physical address throughout.

#include "arch/x86_64/boot/asm.h"

#define OFF(x) ((x) - trampoline_start)

// The parameters, filled by smp.cc (TrampolineParams there): offsets into trampoline_params.
#define P_CR3 0          // .long: the trampoline's top-level table (below 4 GiB)
#define P_CR4 4          // .long: CR4 on the way (the kernel's, without SMEP, the page being a user page,
                         // and without PCIDE, which needs long mode)
#define P_CR0 8          // .long: the kernel's CR0 (paging on; caching on, whatever INIT left)
#define P_ENTRY 16       // .quad: ap_entry64, set here
#define P_KERNEL_CR3 24  // .quad: the kernel's own top-level table
#define P_CR4_FULL 32    // .quad: the kernel's CR4
#define P_STACK 40       // .quad: the top of the AP's boot stack
#define P_MACH 48        // .quad: the AP's Mach

  .section .rodata
  .balign 16
  .globl trampoline_start
trampoline_start:
  .code16
  cli
  cld
  movw %cs, %ax
  movw %ax, %ds
  movzwl %ax, %ebx
  shll $4, %ebx
  leal OFF(tgdt)(%ebx), %eax
  movl %eax, OFF(tgdt_ptr) + 2
  leal OFF(start32)(%ebx), %eax
  movl %eax, OFF(far32)
  leal OFF(start64)(%ebx), %eax
  movl %eax, OFF(far64)
  lgdtl OFF(tgdt_ptr)
  movl %cr0, %eax
  orl $CR0_PE, %eax
  movl %eax, %cr0
  ljmpl *OFF(far32)

  .code32
start32:
  movw $KERNEL_DS, %ax
  movw %ax, %ds
  movw %ax, %es
  movw %ax, %ss
  movl OFF(trampoline_params) + P_CR4(%ebx), %eax
  orl $CR4_PAE, %eax
  movl %eax, %cr4
  movl OFF(trampoline_params) + P_CR3(%ebx), %eax
  movl %eax, %cr3
  // The kernel's tables use the no-execute bit: archinit refused a CPU without it.
  movl $MSR_EFER, %ecx
  rdmsr
  orl $(EFER_LME | EFER_NXE), %eax
  wrmsr
  movl OFF(trampoline_params) + P_CR0(%ebx), %eax
  movl %eax, %cr0
  ljmpl *OFF(far64)(%ebx)

  .code64
start64:
  movl %ebx, %ebx  // the upper half of a register is undefined across the switch to 64-bit mode
  movq OFF(trampoline_params) + P_ENTRY(%rbx), %rax
  jmp *%rax

  .balign 8
tgdt:
  .quad 0
  .quad 0x00209a0000000000  // 0x08: 64-bit code, the kernel's selector
  .quad 0x00cf92000000ffff  // 0x10: flat data, the kernel's selector
  .quad 0x00cf9a000000ffff  // 0x18: flat 32-bit code, for the step through protected mode
tgdt_end:
tgdt_ptr:
  .word tgdt_end - tgdt - 1
  .long 0  // patched: the page's tgdt
far32:
  .long 0  // patched: the page's start32
  .word 0x18
far64:
  .long 0  // patched: the page's start64
  .word KERNEL_CS

  .balign 8
  .globl trampoline_params
trampoline_params:
  .long 0
  .long 0
  .long 0
  .long 0
  .quad ap_entry64
  .quad 0
  .quad 0
  .quad 0
  .quad 0
  .globl trampoline_end
trampoline_end:

  .text
  .code64
// In the kernel half, on the trampoline's tables: everything read from the page before they go.
ap_entry64:
  lgdt boot_gdt_ptr64(%rip)
  LOAD_KERNEL_DATA_SEGMENTS
  movq OFF(trampoline_params) + P_STACK(%rbx), %rsp
  movq OFF(trampoline_params) + P_MACH(%rbx), %rdi
  movq OFF(trampoline_params) + P_CR4_FULL(%rbx), %rcx
  movq OFF(trampoline_params) + P_KERNEL_CR3(%rbx), %rax
  movq %rax, %cr3
  movq %rcx, %cr4
  xorl %ebp, %ebp  // a zero frame pointer ends stack walks here
  call ApMain
  ud2
