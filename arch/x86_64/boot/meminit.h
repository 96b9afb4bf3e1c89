// meminit0 (9front's name): the kernel's physical memory discovery at boot. Builds the typed memory map
// (mm/memmap) from the loader's E820 map, or from a memory test when there is none, and prints what it
// found: the MTRRs the firmware programmed, the firmware map as given, the sanitised E820 map (the format of
// //tools:memmap) and the typed map.
#pragma once

#include <stdint.h>

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/mtrr.h"
#include "arch/x86_64/boot/multiboot.h"
#include "boot/arch.h"
#include "mm/base/addr.h"
#include "mm/memmap/memmap.h"

namespace kmem::boot {

// Fills the kernel's memory map and returns it: firmware RAM minus the legacy hole below 1 MiB, with the
// kernel image, page 0 and the Multiboot structures reserved and option ROMs found in the ISA window.
// `source` kMemoryTest ignores the loader's map (the kernel's `kmem.memtest` command-line word), as when
// none is given. Physical addresses from the CPU's limit (`cpu`, from mach0init) up are reserved: nothing
// there exists, RAM a map claims there included. First reads and prints the MTRRs (the memory test probes
// only what they make write-back). Panics only when the map overflows, which no real machine's map can make
// it do.
Memmap& MemInit(const MultibootInfo& mbi, PhysAddr info_pa, MemSource source, const x86::CpuInfo& cpu);

// The MTRRs as MemInit read them.
const x86::Mtrrs& MemMtrrs();

}  // namespace kmem::boot
