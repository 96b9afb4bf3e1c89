// The narrow interface between the portable boot (boot/main.cc, 9front's init order) and one architecture:
// what every arch/<cpu>/boot provides, declared once here in portable types. The portable boot calls nothing
// else of an architecture; the architecture's start-up code calls Main once it runs C++ on a boot stack.
// Each step prints its part of the boot log and panics when the machine cannot run the kernel.
#pragma once

#include <stdint.h>

#include "mm/base/direct_map.h"
#include "mm/base/percpu.h"
#include "mm/base/ram_range.h"
#include "mm/memmap/memmap.h"
#include "mm/palloc/kernel_palloc.h"
#include "mm/xalloc/xalloc.h"

namespace kmem::boot {

// The portable kernel: the init order, the self-tests, then the exit. Never returns.
[[noreturn]] void Main();

// The architecture the boot log's first line names ("x86_64").
extern const char kArchName[];

// The console Print and Panic write to; first of all, before the constructors run.
void ArchConsoleInit();

// Checks the loader's hand-over (panics when the kernel was not started by a loader it knows) and returns
// the command line's words, "" when there are none.
const char* ArchBootInit();

// mach0init: the boot CPU's per-CPU structure and what the CPU says it is, printed; kYes also prints the
// raw identification registers (kmem.cpuid on the command line).
enum class CpuidDump { kNo, kYes };
void ArchMach0Init(CpuidDump dump);

// trapinit: from here a fault in the kernel panics with a report.
void ArchTrapInit();

// meminit0: the machine's typed memory map from the firmware's map, or from a memory test with kMemoryTest
// (kmem.memtest) or when the firmware gives none; what the kernel and the boot structures occupy and what
// the CPU cannot address are reserved in it.
enum class MemSource : uint8_t { kFirmwareMap, kMemoryTest };
Memmap& ArchMemInit(MemSource source);

// The machine's RAM as meminit0 found it, page-aligned, before anything was reserved out of it: what the
// direct map covers. Valid after ArchMemInit.
struct InstalledRam {
  static constexpr size_t kMaxRanges = kMaxRamBanks;
  RamRange range[kMaxRanges];
  size_t n = 0;
};
const InstalledRam& ArchInstalledRam();

// The end of the architecture's low memory, which the kernel never runs on (the PC's first MiB).
PhysAddr ArchLowMemoryEnd();

// The bytes of the loaded kernel (text, data, bss): not in the RAM ranges, but kernel memory to confinit.
uint64_t ArchImageBytes();

// The windows mm/ reaches physical memory through (mm/base/direct_map.h): the early one, mapped from the
// start, that xalloc's holes and the early page tables must lie in (x86_64: KZERO, the boot tables' 2 GiB),
// and the direct map of all RAM the page allocator's arrays and pages are reached through once ArchMmuInit
// has run.
DirectMap ArchEarlyWindow();
DirectMap ArchDirectMap();

// The kernel's one xalloc, over ArchEarlyWindow(), with no holes yet: the architecture defines it because
// only there is the window a constant, which keeps xalloc constant-initialised (no constructor runs).
HoleAllocator& ArchXalloc();

// What the architecture's self-tests take from xalloc at most (page-table pages), for the boot's minimum.
uint64_t ArchSelfTestKernelBytes();

// archinit: what the CPU lets the memory manager use; returns the page colours for the page allocator.
unsigned ArchInit();

// mmuinit: the kernel's own page tables over all RAM, table pages from xalloc.Rampage() (the memory map
// before xinit). kYes prints "kmem: mmu tables live, waiting" and waits for a byte on the console.
enum class MmuWait { kNo, kYes };
void ArchMmuInit(HoleAllocator& xalloc, MmuWait wait);

// The SMP start-up: every other CPU the machine has started, online for cross-calls (mm/base/percpu.h)
// and idle with interrupts on, which they are on every CPU from here; returns how many CPUs are online
// (conf.nmach). After pageinit and the pools: the other CPUs' stacks come from vmalloc. `cmdline` may
// name a start-up fault for the boot tests (x86_64: kmem.nosipi).
unsigned ArchSmpInit(KernelPalloc& palloc, const char* cmdline);

// From here every new page-table page comes from `palloc` (before, from xalloc, whose pages the self-tests'
// counts and the boot's minimum reckon with), and those freed go back to it: processes' tables come and go.
void ArchTablesFromPalloc(KernelPalloc& palloc);

// Runs fn(arg) on every online CPU of `cpus` at once, with interrupts on (the caller's own part here), and
// returns when all have finished: work for the other CPUs, which fn may spread further with cross-calls.
// Once the scheduler runs (kernel/sched), another CPU runs its part on its idle thread, so after the
// threads it is running block or yield, and fn must not block; the caller's CPU waits in hlt, running
// no other thread meanwhile.
void ArchRunOnCpus(CpuSet cpus, CrossCallFn fn, void* arg);

// The architecture's self-tests (its MMU and vmap, vmalloc over its tables, the cross-calls, the TLB
// shootdown), run between
// the page allocator's and the pools'.
void ArchSelfTests(KernelPalloc& palloc);

// One CPU's part of the all-CPU stress (boot/main.cc), safe on every online CPU at once with interrupts on:
// `rounds` times Vmaps of device space (translations checked) and a Vmalloc of one to four pages (a pattern
// of this CPU written through it and read back), each unmapped again. Panics with the round and the
// values on a mismatch; returns the mappings it made.
uint64_t ArchStressCpu(KernelPalloc& palloc, uint64_t rounds);

// The pages in page tables now (the kernel's and every user space's), which the stress and the user
// programs must leave as they found them.
uint64_t ArchTablePages();
// The page-table pages from palloc that the architecture keeps pooled for later tables, added to
// per_zone[zone] by the zone they came from; on a quiet machine.
void ArchPooledTablePages(const KernelPalloc& palloc, uint64_t per_zone[kZones]);

// The bad access the command line names (kmem.fault=WHAT), whose trap report a boot test expects; nothing
// when it names none.
void ArchFaultTest(const char* cmdline, KernelPalloc& palloc);

// For the console monitor (boot/monitor.h): the next byte from the console, or false at once when none has
// come (the monitor yields its CPU meanwhile); the kernel's page tables in the architecture's dump format;
// each CPU's identity; the kernel-VA arenas' ranges.
bool ArchConsoleTryRead(char* c);
void ArchDumpPageTables();
void ArchDumpCpus();
void ArchDumpKernelVa();

// Stops the machine; under QEMU with the status the boot tests read.
enum class ExitStatus : uint8_t { kSuccess, kFailure };
[[noreturn]] void ArchExit(ExitStatus status);

}  // namespace kmem::boot
