// The kernel's first instructions. QEMU (or GRUB) loads the flat image at 1 MiB through the Multiboot v1
// header below and enters _start32 in 32-bit protected mode with paging off, EAX = Multiboot magic and
// EBX = physical address of the Multiboot information. We clear .bss, build boot page tables that map the
// first 2 GiB of physical memory twice (identity, so the jump into long mode survives, and at KZERO, where
// the kernel is linked), enter long mode, move to the higher half and call kmain(magic, info).
//
// The kernel is linked at KZERO + 1 MiB and loaded at 1 MiB, so before paging every symbol is used as
// PADDR(symbol).

#include "arch/x86_64/boot/asm.h"

#define KZERO 0xffffffff80000000
#define PADDR(x) ((x) - KZERO)

#define MB_MAGIC 0x1BADB002
#define MB_FLAGS ((1 << 1) | (1 << 16))  // want the memory map; the header carries load addresses

#define PTE_P 0x1
#define PTE_W 0x2
#define PTE_PS 0x80


  .section .multiboot, "a"
  .balign 4
multiboot_header:
  .long MB_MAGIC
  .long MB_FLAGS
  .long -(MB_MAGIC + MB_FLAGS)
  .long PADDR(multiboot_header)  // header_addr
  .long PADDR(_kernel_start)     // load_addr
  .long 0                        // load_end_addr: 0 means the whole file
  .long PADDR(_end)              // bss_end_addr
  .long PADDR(_start32)          // entry_addr

  .section .text.boot, "ax"
  .code32
  .globl _start32
_start32:
  cli
  cld
  movl %eax, %esi  // Multiboot magic, kept for kmain
  movl %ebx, %ebp  // Multiboot info (physical)

  // .bss holds the boot page tables and stack: zero it rather than trust the loader to.
  movl $PADDR(__bss_start), %edi
  movl $PADDR(_end), %ecx
  subl %edi, %ecx
  shrl $2, %ecx
  xorl %eax, %eax
  rep stosl

  // Two page directories of 2 MiB pages cover physical [0, 2 GiB).
  movl $PADDR(boot_pd), %edi
  movl $(PTE_P | PTE_W | PTE_PS), %eax
  xorl %edx, %edx
  movl $1024, %ecx
1:
  movl %eax, (%edi)
  movl %edx, 4(%edi)
  addl $0x200000, %eax
  adcl $0, %edx
  addl $8, %edi
  loop 1b

  // PDPT entries 0/1 (identity) and 510/511 (KZERO) point at the two directories.
  movl $PADDR(boot_pdpt), %edi
  movl $(PADDR(boot_pd) + PTE_P + PTE_W), %eax
  movl %eax, 0(%edi)
  movl %eax, 510 * 8(%edi)
  addl $4096, %eax
  movl %eax, 8(%edi)
  movl %eax, 511 * 8(%edi)

  // PML4 entries 0 (identity) and 511 (KZERO) share the PDPT.
  movl $PADDR(boot_pml4), %edi
  movl $(PADDR(boot_pdpt) + PTE_P + PTE_W), %eax
  movl %eax, 0(%edi)
  movl %eax, 511 * 8(%edi)

  movl %cr4, %eax
  orl $CR4_PAE, %eax
  movl %eax, %cr4
  movl $PADDR(boot_pml4), %eax
  movl %eax, %cr3
  // EFER.NXE only where CPUID says the no-execute bit exists (0x80000001 EDX bit 20): setting it on a
  // CPU without one faults here, before any console; archinit then refuses such a CPU with a message.
  movl $EFER_LME, %edi
  movl $0x80000000, %eax
  cpuid
  cmpl $0x80000001, %eax
  jb 2f
  movl $0x80000001, %eax
  cpuid
  testl $(1 << 20), %edx
  jz 2f
  orl $EFER_NXE, %edi
2:
  movl $MSR_EFER, %ecx
  rdmsr
  orl %edi, %eax
  wrmsr
  movl %cr0, %eax
  orl $(CR0_PG | CR0_WP | CR0_PE), %eax
  movl %eax, %cr0

  lgdt PADDR(boot_gdt_ptr32)
  ljmp $KERNEL_CS, $PADDR(start64_low)

  .code64
start64_low:
  movabsq $start64, %rax
  jmp *%rax

  .text
start64:
  lgdt boot_gdt_ptr64
  LOAD_KERNEL_DATA_SEGMENTS
  movq $boot_stack_top, %rsp
  movl %esi, %edi   // kmain(magic, info_pa)
  movl %ebp, %esi
  xorl %ebp, %ebp   // a zero frame pointer ends stack walks here
  call kmain
2:
  cli
  hlt
  jmp 2b

  .section .rodata
  .balign 8
boot_gdt:
  .quad 0
  .quad 0x00209a0000000000  // 0x08: 64-bit code
  .quad 0x0000920000000000  // 0x10: data
boot_gdt_end:
boot_gdt_ptr32:
  .word boot_gdt_end - boot_gdt - 1
  .long PADDR(boot_gdt)
  .balign 8
  .globl boot_gdt_ptr64
boot_gdt_ptr64:
  .word boot_gdt_end - boot_gdt - 1
  .quad boot_gdt

  .bss
  .balign 4096
  .globl boot_pml4
boot_pml4:
  .skip 4096
  // Entry 2 is free: the memory test (meminit.cc) puts its probe window there.
  .globl boot_pdpt
boot_pdpt:
  .skip 4096
boot_pd:
  .skip 2 * 4096
  // Left unmapped by the kernel's own tables (arch/x86_64/mmu_init.cc): a stack overflow faults.
  .globl boot_stack_guard
boot_stack_guard:
  .skip 4096
  .globl boot_stack_bottom
boot_stack_bottom:
  .skip 16384
  .globl boot_stack_top
boot_stack_top:
