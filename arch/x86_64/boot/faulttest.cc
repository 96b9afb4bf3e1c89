// The boot tests' way into the trap handler: `kmem.fault=WHAT` on the command line makes one bad access
// after the self-tests, and the test (boot/BUILD.bazel) expects the panic that names it:
//   null    read address 0 (nothing is mapped there once the kernel's own tables are live)
//   rodata  write to the kernel's read-only data
//   nx      call into the kernel's data, which is no-execute
//   smep    call into a user page (faults where the CPU has SMEP, which archinit turns on)
//   smap    read a user page outside the checked copies (faults where the CPU has SMAP, which archinit
//           turns on unless kmem.nosmap)
//   copy    CopyFromUser of a user page into a vmalloc'ed page's last bytes and on into its guard page: a
//           fault on the kernel side of a checked copy panics like any kernel fault
//   stack   recurse until the boot stack runs into its guard page (a double fault)
//   vmalloc write one byte past a vmalloc'ed page, into its guard page
//   apstack the stack recursion on the last CPU online, whose boot stack is vmalloc's (a double fault
//           there, on that CPU's own double-fault stack)
//   crosscall a cross-call with interrupts off, which the cross-call contract forbids
//   threadoverflow the stack recursion on a kernel thread (kernel/sched), whose stack's guard page stops it
#include <stdint.h>

#include "arch/x86_64/boot/mmu_setup.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/user.h"
#include "boot/allocinit.h"
#include "boot/arch.h"
#include "boot/cmdline.h"
#include "kernel/sched/sched.h"
#include "mm/base/format.h"
#include "mm/base/panic.h"
#include "mm/vm/palloc_pages.h"

namespace kmem::boot {
namespace {

const uint64_t read_only_word = 0x0123456789abcdef;
uint8_t data_code[16] = {0xc3};  // ret: harmless if the no-execute bit did not stop the call

// The accesses are inline assembly: in C++ each would be undefined behaviour the compiler may drop.
void ReadNull() {
  uint64_t v;
  asm volatile("movq (%1), %0" : "=r"(v) : "r"(uintptr_t{0}) : "memory");
}

void WriteRodata() { asm volatile("movq $0, (%0)" : : "r"(&read_only_word) : "memory"); }

void CallData() { asm volatile("call *%0" : : "r"(data_code) : "memory"); }

// A page of `ret`s mapped user-executable at 4 MiB in a fresh address space, then called from the kernel.
alignas(4096) uint8_t user_code[4096] = {0xc3};

// Returns the user page's address, loaded.
uint64_t LoadUserPage() {
  x86::Mmu& mmu = KernelMmu();
  PhysAddr space;
  const VirtAddr at(4 << 20);
  const PhysAddr page = x86::PhysAddrOfKzero(VirtAddr(reinterpret_cast<uintptr_t>(user_code)));
  if (mmu.NewAddressSpace(&space) != x86::MmuStatus::kOk ||
      mmu.Pmap(space, page, at, kPageSize, x86::Attr::kUser | x86::Attr::kExec) != x86::MmuStatus::kOk) {
    Panic("faulttest: no page tables for the user page");
  }
  mmu.MmuSwitch(space);
  return at.value();
}

void CallUserPage() { asm volatile("call *%0" : : "r"(LoadUserPage()) : "memory"); }

void ReadUserPage() {
  uint64_t v;
  asm volatile("movq (%1), %0" : "=r"(v) : "r"(LoadUserPage()) : "memory");
}

// Each frame holds 512 bytes the compiler must keep, and the call is not in tail position.
[[gnu::noinline]] uint64_t Recurse(uint64_t depth) {
  volatile uint8_t frame[512];
  frame[0] = static_cast<uint8_t>(depth);
  if (depth == ~uint64_t{0}) return frame[0];
  return Recurse(depth + 1) + frame[0];
}

// One byte past the end of a one-page vmalloc buffer: its guard page.
KernelPalloc* fault_palloc;

VirtAddr VmallocPage() {
  Vmalloc vmalloc(KernelMmu().vmap_arena(), KernelSpace(), PallocPages(*fault_palloc));
  VirtAddr buffer;
  if (vmalloc.Alloc(kPageSize, Guard::kAbove, &buffer) != VmallocStatus::kOk) Panic("faulttest: no vmalloc page");
  return buffer;
}

void OverrunVmalloc() { asm volatile("movb $0, (%0)" : : "r"((VmallocPage() + kPageSize).value()) : "memory"); }

void CopyIntoGuard() {
  const VirtAddr buffer = VmallocPage();
  x86::CopyFromUser(reinterpret_cast<void*>((buffer + kPageSize - 8).value()), LoadUserPage(), 16);
}

void RecurseJob(void*) { Recurse(0); }

void RecurseOnLastCpu() {
  unsigned last = 0;
  for (unsigned cpu = 0; cpu < kMaxCpus; ++cpu) {
    if (OnlineCpus().Has(cpu)) last = cpu;
  }
  ArchRunOnCpus(CpuSet::Of(last), RecurseJob, nullptr);
}

void RecurseOnThread() {
  kernel::Thread* t;
  if (kernel::Spawn("overflow", RecurseJob, nullptr, kernel::kAnyCpu, &t) != kernel::SchedStatus::kOk) {
    Panic("faulttest: no thread");
  }
  kernel::Join(t);
}

void CrossCallWithInterruptsOff() {
  const IrqState irq = IrqSave();
  CrossCall(OnlineCpus(), [](void*) {}, nullptr);
  IrqRestore(irq);
}

}  // namespace

void ArchFaultTest(const char* cmdline, KernelPalloc& palloc) {
  fault_palloc = &palloc;
  static constexpr struct {
    const char* word;
    void (*fault)();
  } kFaults[] = {{"kmem.fault=null", ReadNull},
                 {"kmem.fault=rodata", WriteRodata},
                 {"kmem.fault=nx", CallData},
                 {"kmem.fault=smep", CallUserPage},
                 {"kmem.fault=smap", ReadUserPage},
                 {"kmem.fault=copy", CopyIntoGuard},
                 {"kmem.fault=stack", [] { Recurse(0); }},
                 {"kmem.fault=vmalloc", OverrunVmalloc},
                 {"kmem.fault=apstack", RecurseOnLastCpu},
                 {"kmem.fault=crosscall", CrossCallWithInterruptsOff},
                 {"kmem.fault=threadoverflow", RecurseOnThread}};
  for (const auto& f : kFaults) {
    if (!CmdlineHas(cmdline, f.word)) continue;
    Print("faulttest: %s\n", f.word);
    f.fault();
    Print("faulttest: %s did not fault\n", f.word);
  }
}

}  // namespace kmem::boot
