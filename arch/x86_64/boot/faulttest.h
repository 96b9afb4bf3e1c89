// The boot tests' way into the trap handler: `kmem.fault=WHAT` on the command line makes one bad access
// after the self-tests, and the test (boot/BUILD.bazel) expects the panic that names it:
//   null    read address 0 (nothing is mapped there once the kernel's own tables are live)
//   rodata  write to the kernel's read-only data
//   nx      call into the kernel's data, which is no-execute
//   smep    call into a user page (faults where the CPU has SMEP, which archinit turns on)
//   stack   recurse until the boot stack runs into its guard page (a double fault)
//   vmalloc write one byte past a vmalloc'ed page, into its guard page
#pragma once

#include "mm/palloc/kernel_palloc.h"

namespace kmem::boot {

// Does nothing when the command line names no fault.
void FaultTest(const char* cmdline, KernelPalloc& palloc);

}  // namespace kmem::boot
