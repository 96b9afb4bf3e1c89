// The kernel image as arch/x86_64/boot/kernel.ld lays it out: the section boundaries it defines and their physical
// addresses. The image is linked at KZERO + pa, so each boundary's physical address is a subtraction.
#pragma once

#include "arch/x86_64/layout.h"
#include "mm/base/addr.h"

extern "C" {
// Start of the image (Multiboot header, text), end of text, end of rodata, end of bss (page-aligned).
extern char _kernel_start[], _etext[], _erodata[], _end[];
// The boot stack in the bss (arch/x86_64/boot/multiboot.S): a guard page, which the kernel's tables leave unmapped,
// then the stack from its lowest address (bottom) to its top.
extern char boot_stack_guard[], boot_stack_bottom[], boot_stack_top[];
// The boot tables' page-directory-pointer table, reached through both PML4 entry 0 (identity) and 511
// (KZERO); live until the kernel's own tables are loaded.
extern uint64_t boot_pdpt[512];
}

namespace kmem::x86 {

// The physical address of a boundary symbol of the image.
inline PhysAddr ImagePhysAddr(const char* symbol) {
  return PhysAddrOfKzero(VirtAddr(reinterpret_cast<uintptr_t>(symbol)));
}

// Bytes from the start of the image to the end of its bss.
inline uint64_t ImageBytes() { return ImagePhysAddr(_end) - ImagePhysAddr(_kernel_start); }

}  // namespace kmem::x86
