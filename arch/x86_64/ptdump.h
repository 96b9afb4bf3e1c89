// A page-table dump in the style of Linux's ptdump, and the W+X check built on the same leaf walk.
//
// One line per run of leaves that are contiguous in virtual and physical memory with the same page size
// and attributes:
//   VA-start-VA-end (exclusive)  size  count x page-size  flags -> PA-start
//   ffff800000000000-ffff800040000000     1G     1 x 1G  -W-G- -> 0000000000000000
// flags: U user, W writable, X executable, G global, C uncached or c write-combining; '-' where absent.
#pragma once

#include <stdint.h>

#include "arch/x86_64/mmu.h"

namespace kmem::x86 {

// Prints the dump of `table` through kmem::Print; returns the number of lines. O(entries of the table).
unsigned MmuDump(Mmu& mmu, PhysAddr table);

// The number of bytes mapped both writable and executable in `table`: 0 means W^X holds.
uint64_t WritableExecutableBytes(Mmu& mmu, PhysAddr table);

}  // namespace kmem::x86
