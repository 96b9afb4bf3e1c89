// The x86 self-tests (boot/arch.h's ArchSelfTests), run once the whole boot is done: the MMU maps,
// translates, switches and unmaps real memory, vmap maps the local APIC uncached and refuses RAM, vmalloc
// maps over the kernel's tables with guard pages. Each prints what it checked; a failure panics.
#pragma once

#include <stdint.h>

#include "mm/palloc/kernel_palloc.h"

namespace kmem::boot {

// Page-table pages the MMU self-test takes from xalloc at most: the VMAP window's second- and first-level
// tables, a top-level table and the user mapping's third-, second- and first-level tables. The vmalloc
// self-test after it maps in the VMAP window again, with tables from the MMU's pool of freed ones.
inline constexpr uint64_t kMmuSelfTestTablePages = 6;

// The ring-3 self-test (usertest.cc) on the boot CPU: prints one "user: self-test ok" line with the null
// system call's cost, or panics.
void UserSelfTest(KernelPalloc& palloc);

// palloc's free pages and those the MMU keeps pooled for page tables: what a self-test that makes and
// releases a space must find as before. On a quiet machine.
uint64_t FreeAndPooledPages(const KernelPalloc& palloc);

}  // namespace kmem::boot
