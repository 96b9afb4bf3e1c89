// What the kernel's entry (multiboot.S) and the application processors' trampoline (trampoline.S) share:
// the control-register and EFER bits of the switch to long mode, the boot GDT's selectors, and the loading
// of the data segments once in 64-bit mode. For assembly only.
#pragma once

#define CR0_PE 0x1
#define CR0_WP 0x10000
#define CR0_PG 0x80000000
#define CR4_PAE 0x20
#define MSR_EFER 0xC0000080
#define EFER_LME 0x100
#define EFER_NXE 0x800

// The selectors every boot GDT shares, after its null entry (the trampoline's adds 32-bit code at 0x18).
#define KERNEL_CS 0x08
#define KERNEL_DS 0x10

// In 64-bit mode after the lgdt of a boot GDT: the data segments from it, FS and GS null (their bases are
// MSRs, set in C++). Clobbers %ax.
.macro LOAD_KERNEL_DATA_SEGMENTS
  movw $KERNEL_DS, %ax
  movw %ax, %ds
  movw %ax, %es
  movw %ax, %ss
  xorw %ax, %ax
  movw %ax, %fs
  movw %ax, %gs
.endm
