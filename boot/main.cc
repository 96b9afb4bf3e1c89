// The portable kernel: 9front's init order (mach0init, trapinit, meminit0, archinit, xalloc's rampage,
// mmuinit, confinit, xinit, the pools, preallocpages and pageinit, the SMP start-up and the scheduler, the
// self-tests, then the processes and the user programs the command line names) over the architecture's
// steps in boot/arch.h. The architecture's start-up code (arch/<cpu>/boot) enters Main on the boot stack.
#include "boot/allocinit.h"
#include "boot/arch.h"
#include "boot/cmdline.h"
#include "boot/monitor.h"
#include "boot/poolinit.h"
#include "boot/programs.h"
#include "boot/smp_stress.h"
#include "kernel/proc/proc.h"
#include "kernel/sched/sched.h"
#include "mm/base/format.h"
#include "mm/base/panic.h"
#include "mm/palloc/kernel_palloc.h"
#include "mm/pool/selftest.h"
#include "mm/pool/source.h"
#include "mm/vm/palloc_pages.h"
#include "mm/vm/tlb.h"

extern "C" {
using Constructor = void (*)();
extern const Constructor __init_array_start[];
extern const Constructor __init_array_end[];
}

namespace kmem::boot {
namespace {

// How the pools' Smallocs wait: on kernel/proc's wait queue, or (kmem.nosmallocwait, the proof that the
// waiting is what lets the self-test's Smallocs finish) not at all, as before they could.
constinit pool::PoolSync smalloc_sync;

void RunConstructors() {
  for (const Constructor* c = __init_array_start; c != __init_array_end; ++c) (*c)();
}

// The in-kernel self-tests of every layer, run once the whole boot is done: the page allocator hands out
// every user page exactly once, the architecture's MMU maps real memory, threads run, sleep and migrate on
// every CPU (before the stress leaves pages in the pools), the allocators' tests run at once on every CPU,
// and the pools survive a stress run and wipe secrets (their tables, which the monitor compares its
// own with, come last). Each prints what it checked; a failure panics, so a kernel whose memory manager is
// broken can never look like it booted.
void SelfTests(KernelPalloc& palloc) {
  palloc.SelfTest();
  ArchSelfTests(palloc);
  // A freed thread stack would stay in other CPUs' TLBs, and a new thread at its address run on the old
  // stack's contents there.
  if (ShootdownMode() == Shootdown::kOn) {
    kernel::SchedSelfTest();
    kernel::SmallocSelfTest(smalloc_sync);
  } else {
    Print("sched: self-test skipped: kmem.noshootdown leaves freed thread stacks in other CPUs' TLBs\n");
    // The self-test's first Spawn would make the boot CPU's idle thread, whose stack the user programs'
    // page counts (RunProgramsIfAsked) must find taken already: a sleep makes it.
    kernel::SleepMs(1);
  }
  SmpStress(palloc);
  if (pool::PoolSelfTest() != pool::SelfTestStatus::kPassed) Panic("pool self-test failed");
  palloc.Validate();
  Print("selftest: every layer passed\n");
}

}  // namespace

void Main() {
  ArchConsoleInit();
  RunConstructors();
  Print("\nkmem: %s kernel, palloc backend %s\n", kArchName, KernelPalloc::kBackendName);
  const char* cmdline = ArchBootInit();
  Print("kmem: command line '%s'\n", cmdline);
  // For the boot test that proves the shootdown self-test can fail: changes flush only their own CPU.
  if (CmdlineHas(cmdline, "kmem.noshootdown")) {
    SetShootdown(Shootdown::kOff);
    Print("kmem: kmem.noshootdown: TLB changes flush only the CPU that makes them\n");
  }
  ArchMach0Init(CmdlineHas(cmdline, "kmem.cpuid") ? CpuidDump::kYes : CpuidDump::kNo);
  ArchTrapInit();
  Memmap& map = ArchMemInit(CmdlineHas(cmdline, "kmem.memtest") ? MemSource::kMemoryTest : MemSource::kFirmwareMap);
  const unsigned colours = ArchInit();
  HoleAllocator& xalloc = KernelXalloc(map);
  ArchMmuInit(xalloc, CmdlineHas(cmdline, "kmem.mmuwait") ? MmuWait::kYes : MmuWait::kNo);
  Conf& conf = ConfInit(map);
  XInit(conf);
  PoolsEarly(conf, xalloc);
  KernelPalloc& palloc = PageInit(conf, colours);
  if (!CmdlineHas(cmdline, "kmem.nosmallocwait")) smalloc_sync = kernel::SmallocSync();
  PoolsLate(conf, palloc, smalloc_sync);
  conf.nmach = ArchSmpInit(palloc, cmdline);
  // From here the boot goes on as the boot CPU's thread "boot0".
  kernel::SchedStart(PallocPages(palloc));
  SelfTests(palloc);
  ArchTablesFromPalloc(palloc);
  // kmem.nopwait: a fault that finds no memory kills its process instead of waiting (the pressure test's
  // proof that the waiting is what lets its programs finish).
  const kernel::PageWait wait =
      CmdlineHas(cmdline, "kmem.nopwait")
          ? kernel::PageWait{}
          : kernel::PageWait{[](void* ctx, VirtAddr va) { return static_cast<KernelPalloc*>(ctx)->WaitForPage(va); },
                             &palloc};
  kernel::ProcInit({PallocUserPages(palloc), wait, ArchDirectMap(),
                    CmdlineHas(cmdline, "kmem.ps") ? kernel::PrintMaps::kYes : kernel::PrintMaps::kNo});
  RunProgramsIfAsked(cmdline, palloc);
  MonitorIfAsked(cmdline, {palloc, map, xalloc, SelfTests});
  // Exercises the failure path end to end: boot/BUILD.bazel has a test that boots with this word.
  if (CmdlineHas(cmdline, "kmem.panic")) Panic("kmem.panic on the command line");
  ArchFaultTest(cmdline, palloc);
  Print("kmem: boot ok\n");
  ArchExit(ExitStatus::kSuccess);
}

}  // namespace kmem::boot
