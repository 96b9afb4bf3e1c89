// The console monitor (`-append kmem.monitor`): after the self-tests the kernel waits at a `kmem>` prompt
// on its serial line and answers mem, memmap, buddyinfo, pools, ptdump, cpus, json and stress N until exit
// or quit (monitor/monitor.h parses and checks the commands; this file only binds them to the kernel).
// `-append kmem.json` prints the JSON memory dump (boot/memjson.h) after the self-tests and after each
// stress run, so that a log shows how fragmentation evolves.
#pragma once

#include "mm/memmap/memmap.h"
#include "mm/palloc/kernel_palloc.h"
#include "mm/xalloc/xalloc.h"

namespace kmem::boot {

// What the commands look at: the boot's own objects, and the self-tests the stress command runs again.
// The architecture's parts (page tables, CPUs, the console's input) come through boot/arch.h.
struct MonitorTargets {
  KernelPalloc& palloc;
  const Memmap& map;
  const HoleAllocator& xalloc;
  void (*self_tests)(KernelPalloc& palloc);
};

// What the command line asks for: the JSON dump, then the prompt until exit or quit; returns so that the
// boot ends as it would have.
void MonitorIfAsked(const char* cmdline, const MonitorTargets& targets);

}  // namespace kmem::boot
