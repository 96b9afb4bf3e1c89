// The x86_64 PC's side of boot/arch.h, over the steps in this folder: kmain, which multiboot.S calls on the
// boot stack in the higher half with the Multiboot magic and the physical address of the boot information,
// keeps both and enters the portable boot; the steps read the machine through them and through Mach 0.
#include <stdint.h>

#include "arch/x86_64/boot/archinit.h"
#include "arch/x86_64/boot/mach.h"
#include "arch/x86_64/boot/meminit.h"
#include "arch/x86_64/boot/mmu_setup.h"
#include "arch/x86_64/boot/multiboot.h"
#include "arch/x86_64/boot/qemu_exit.h"
#include "arch/x86_64/boot/selftest.h"
#include "arch/x86_64/boot/serial.h"
#include "arch/x86_64/boot/smp.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/kernel_image.h"
#include "arch/x86_64/kernel_percpu.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/pc/legacy.h"
#include "arch/x86_64/ptdump.h"
#include "arch/x86_64/trap.h"
#include "boot/arch.h"
#include "boot/cmdline.h"
#include "mm/base/panic.h"

extern "C" [[noreturn]] void kmain(uint32_t magic, uint32_t info_pa);

namespace kmem::boot {
namespace {

// The KZERO window the boot page tables map: xalloc's.
constexpr DirectMap kKzeroMap(PhysAddr(0), x86::kKzeroWindow, x86::kKzero);
constinit HoleAllocator xalloc(kKzeroMap);

uint32_t boot_magic;
PhysAddr boot_info_pa;
const char* cmdline = "";  // the user's words, from ArchBootInit
const Mach* mach;
ArchConfig arch;

const MultibootInfo& BootInfo() { return *x86::KzeroPointer<const MultibootInfo>(boot_info_pa); }

// The words the user gave, from the command line a Multiboot loader passes: QEMU and GRUB put the kernel
// image's path first (a runfiles path under `bazel run`), which is theirs, not the user's.
const char* CmdlineWords(const char* multiboot_cmdline) {
  const char* p = multiboot_cmdline;
  while (*p != '\0' && *p != ' ') ++p;
  while (*p == ' ') ++p;
  return p;
}

}  // namespace

const char kArchName[] = "x86_64";

void ArchConsoleInit() { SerialInit(); }

const char* ArchBootInit() {
  if (boot_magic != kMultibootLoaderMagic) Panic("not started by a Multiboot loader: magic 0x%x", boot_magic);
  const MultibootInfo& mbi = BootInfo();
  if ((mbi.flags & MultibootInfo::kCmdline) != 0) {
    cmdline = CmdlineWords(x86::KzeroPointer<const char>(PhysAddr(mbi.cmdline)));
  }
  return cmdline;
}

PhysAddr ArchLowMemoryEnd() { return PhysAddr(x86::kLegacyEnd); }

uint64_t ArchImageBytes() { return x86::ImageBytes(); }

DirectMap ArchEarlyWindow() { return kKzeroMap; }
DirectMap ArchDirectMap() { return DirectMap(PhysAddr(0), x86::kDirectMapMax, x86::kDirectMap); }

HoleAllocator& ArchXalloc() { return xalloc; }

uint64_t ArchSelfTestKernelBytes() { return kMmuSelfTestTablePages * kPageSize; }

void ArchMach0Init(CpuidDump dump) { mach = &Mach0Init(dump); }

void ArchTrapInit() { x86::TrapInit(); }

Memmap& ArchMemInit(MemSource source) { return MemInit(BootInfo(), boot_info_pa, source, mach->cpu); }

unsigned ArchInit() {
  arch = ArchInit(mach->cpu, CmdlineHas(cmdline, "kmem.nosmap") ? x86::Smap::kOff : x86::Smap::kOn);
  return arch.colours;
}

void ArchMmuInit(HoleAllocator& xalloc, MmuWait wait) {
  const InstalledRam& ram = ArchInstalledRam();
  SetUpMmu(ram.range, ram.n, MemMtrrs(), xalloc, arch, wait);
}

void ArchTablesFromPalloc(KernelPalloc& palloc) { TablePagesFromPalloc(palloc); }

unsigned ArchSmpInit(KernelPalloc& palloc, const char* cmdline) {
  return SmpInit(palloc, CmdlineHas(cmdline, "kmem.nosipi") ? SmpFault::kLastGetsNoStartup : SmpFault::kNone);
}

void ArchRunOnCpus(CpuSet cpus, CrossCallFn fn, void* arg) { RunOnCpus(cpus, fn, arg); }

bool ArchConsoleTryRead(char* c) { return SerialTryRead(c); }

void ArchDumpPageTables() { x86::MmuDump(KernelMmu(), KernelMmu().kernel_table()); }

void ArchDumpCpus() { SmpDumpCpus(); }

void ArchDumpKernelVa() { KernelMmu().vmap_arena().Dump(); }

void ArchExit(ExitStatus status) {
  QemuExit(status == ExitStatus::kSuccess ? QemuStatus::kSuccess : QemuStatus::kFailure);
}

}  // namespace kmem::boot

void kmain(uint32_t magic, uint32_t info_pa) {
  // CpuId reads the Mach through GS, and the first Print takes the console lock, which asks it.
  kmem::x86::SetGsBase(&kmem::boot::MachOf(0));
  kmem::boot::boot_magic = magic;
  kmem::boot::boot_info_pa = kmem::PhysAddr(info_pa);
  kmem::boot::Main();
}
