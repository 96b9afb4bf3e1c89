// The all-CPU stress among the boot's self-tests (issue 13's kernel stress): palloc's, the pools' and the
// architecture's concurrent self-tests on every online CPU at once, with every count checked back.
#pragma once

#include "mm/palloc/kernel_palloc.h"

namespace kmem::boot {

// Runs the stress on every online CPU through ArchRunOnCpus and prints a line per CPU and a total. Call on
// a quiet machine (nothing else allocating): afterwards palloc's free and user pages (in all and per zone,
// with what the pools grew by), the pools' live blocks, Kmalloc's and the kernel's page-table pages are as
// before, and every pool and slab cache walks clean; a count that is not panics with both values.
void SmpStress(KernelPalloc& palloc);

}  // namespace kmem::boot
