// User programs at boot: `-append run=PROG[:ARG...][,PROG...]` starts the programs named (user/, linked
// into the kernel) at once on any CPUs, with their arguments, and waits for them all; `-append
// kmem.usertests` runs the suite: hello, memhog, mmapchurn, stack (killed at its limit), segv in
// each of its ways (each killed with its message), memstat, then 64 memhogs at once across the CPUs,
// checking how each ended; `-append kmem.sharedtext` starts 32 copies of sharedtext at once, which check
// that they share one copy of its text; `-append kmem.userbench` times a demand-zero fault from user space
// and a switch between two processes on one CPU (bench/README.md). Whichever ran, once every program has
// ended, palloc's free and user pages, the page-table pages and the pools' counts are exactly what they
// were before (or the kernel panics with both values), and one "run:" line says so.
#pragma once

#include "mm/palloc/kernel_palloc.h"

namespace kmem::boot {

void RunProgramsIfAsked(const char* cmdline, KernelPalloc& palloc);

}  // namespace kmem::boot
