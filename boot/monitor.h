// The console monitor (`-append kmem.monitor`): after the self-tests the kernel waits at a `kmem>` prompt
// on its serial line and answers mem, memmap, buddyinfo, pools, ptdump, cpus, json and stress N until exit
// or quit (monitor/monitor.h parses and checks the commands; this file only binds them to the kernel).
// `-append kmem.json` prints the JSON memory dump (boot/memjson.h) after the self-tests and after each
// stress run, so that a log shows how fragmentation evolves.
#pragma once

#include "arch/x86_64/mmu.h"
#include "boot/mach.h"
#include "mm/memmap/memmap.h"
#include "mm/palloc/kernel_palloc.h"
#include "mm/xalloc/xalloc.h"

namespace kmem::boot {

// What the commands look at: the boot's own objects.
struct MonitorTargets {
  KernelPalloc& palloc;
  x86::Mmu& mmu;
  const Memmap& map;
  const Mach& mach;
  const HoleAllocator& xalloc;
};

// What the command line asks for: the JSON dump, then the prompt until exit or quit; returns so that the
// boot ends as it would have.
void MonitorIfAsked(const char* cmdline, const MonitorTargets& targets);

}  // namespace kmem::boot
