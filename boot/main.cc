// kmain: the kernel's C++ entry, called from arch/x86_64/boot/multiboot.S on the boot stack in the higher half with
// the Multiboot magic and the physical address of the boot information.
#include <stddef.h>
#include <stdint.h>

#include "arch/x86_64/layout.h"
#include "arch/x86_64/trap.h"
#include "boot/allocinit.h"
#include "arch/x86_64/boot/archinit.h"
#include "boot/cmdline.h"
#include "arch/x86_64/boot/faulttest.h"
#include "arch/x86_64/boot/mach.h"
#include "arch/x86_64/boot/meminit.h"
#include "arch/x86_64/boot/mmu_setup.h"
#include "arch/x86_64/boot/multiboot.h"
#include "boot/poolinit.h"
#include "arch/x86_64/boot/qemu_exit.h"
#include "arch/x86_64/boot/selftest.h"
#include "arch/x86_64/boot/serial.h"
#include "mm/base/format.h"
#include "mm/base/panic.h"
#include "mm/palloc/kernel_palloc.h"

extern "C" {
using Constructor = void (*)();
extern const Constructor __init_array_start[];
extern const Constructor __init_array_end[];
[[noreturn]] void kmain(uint32_t magic, uint32_t info_pa);
}

namespace kmem::boot {
namespace {

void RunConstructors() {
  for (const Constructor* c = __init_array_start; c != __init_array_end; ++c) (*c)();
}

}  // namespace

[[noreturn]] void Main(uint32_t magic, uint32_t info_pa) {
  SerialInit();
  RunConstructors();
  Print("\nkmem: x86_64 kernel, palloc backend %s\n", KernelPalloc::kBackendName);
  if (magic != kMultibootLoaderMagic) Panic("not started by a Multiboot loader: magic 0x%x", magic);
  const auto& mbi = *x86::KzeroPointer<const MultibootInfo>(PhysAddr(info_pa));
  const char* cmdline = (mbi.flags & MultibootInfo::kCmdline) != 0
                            ? CmdlineWords(x86::KzeroPointer<const char>(PhysAddr(mbi.cmdline)))
                            : "";
  Print("kmem: command line '%s'\n", cmdline);
  const Mach& mach = Mach0Init(CmdlineHas(cmdline, "kmem.cpuid") ? CpuidDump::kYes : CpuidDump::kNo);
  x86::TrapInit();
  Memmap& map = MemInit(mbi, PhysAddr(info_pa),
                        CmdlineHas(cmdline, "kmem.memtest") ? MemSource::kMemoryTest : MemSource::kFirmwareMap,
                        mach.cpu);
  const ArchConfig arch = ArchInit(mach.cpu);
  HoleAllocator& xalloc = KernelXalloc(map);
  const InstalledRam& ram = MemInstalledRam();
  SetUpMmu(ram.range, ram.n, MemMtrrs(), xalloc, arch,
           CmdlineHas(cmdline, "kmem.mmuwait") ? MmuWait::kYes : MmuWait::kNo);
  const Conf& conf = ConfInit(map);
  XInit(conf);
  PoolsEarly(conf, xalloc);
  KernelPalloc& palloc = PageInit(conf, arch.colours);
  PoolsLate(conf, palloc);
  SelfTests(palloc, KernelMmu());
  // Exercises the failure path end to end: boot/BUILD.bazel has a test that boots with this word.
  if (CmdlineHas(cmdline, "kmem.panic")) Panic("kmem.panic on the command line");
  FaultTest(cmdline, palloc);
  Print("kmem: boot ok\n");
  QemuExit(ExitStatus::kSuccess);
}

}  // namespace kmem::boot

void kmain(uint32_t magic, uint32_t info_pa) { kmem::boot::Main(magic, info_pa); }
