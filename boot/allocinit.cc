#include "boot/allocinit.h"

#include "boot/arch.h"
#include "kernel/proc/proc.h"
#include "kernel/sched/sched.h"
#include "mm/base/format.h"
#include "mm/base/panic.h"
#include "mm/conf/meminit.h"
#include "mm/palloc/pageinit.h"
#include "mm/pool/selftest.h"

namespace kmem::boot {
namespace {

constinit KernelPalloc palloc;
constinit Conf conf;  // 2.5 KiB of banks: static, not on the 16 KiB boot stack
constinit PreallocPlan plan;  // 2 KiB, the same

// rampage before xinit: one page of RAM out of the memory map, marked allocated there for good.
bool TakeMapPage(void* ctx, PhysAddr* out) {
  Memmap* map = static_cast<Memmap*>(ctx);
  MemmapStatus s = map->Alloc(Memmap::kAnyAddress, kPageSize, kPageSize, MemType::kRam, out);
  if (s != MemmapStatus::kOk) {
    Print("rampage: memory map: %s\n", MemmapStatusName(s));
    return false;
  }
  return ArchEarlyWindow().Covers(*out, kPageSize);
}

// What the boot takes from each share before any process runs: its self-tests' needs (the MMU self-test's
// block and the scheduler self-test's stacks are back before the pools' self-test starts), the page
// allocator's arrays as KernelPalloc sizes them.
ConfNeeds BootNeeds() {
  ConfNeeds needs;
  needs.kernel_bytes = ArchSelfTestKernelBytes();
  needs.user_bytes = pool::kSelfTestSourceBytes > kernel::kSelfTestBytes ? pool::kSelfTestSourceBytes : kernel::kSelfTestBytes;
  PageInitArrayNeeds(&KernelPalloc::BankBytes, &needs);
  needs.mainmem_bytes = pool::kSelfTestMainmemBytes;
  needs.secrmem_bytes = pool::kSelfTestSecrmemBytes;
  return needs;
}

// The RAM still free after the image, the boot structures and the page tables must hold a split that
// meets the boot's needs; the machine needs that much more than what is already gone.
void CheckMinimum(const RamRange* ram, size_t n) {
  const InstalledRam& installed = ArchInstalledRam();
  const ConfMinimum m = ConfCheckMinimum(installed.range, installed.n, ram, n, BootNeeds());
  if (!m.Met()) Panic("kmem needs at least %lu KiB of RAM, this machine has %lu KiB", m.need_kib, m.has_kib);
}

}  // namespace

HoleAllocator& KernelXalloc(Memmap& map) {
  ArchXalloc().SetEarlyPageSource({TakeMapPage, &map});
  return ArchXalloc();
}

Conf& ConfInit(const Memmap& map) {
  RamRange ram[Conf::kMaxBanks];
  size_t n = 0;
  if (ConfRamRanges(map, ram, &n) != ConfStatus::kOk) {
    Panic("confinit: more than %zu RAM ranges in the memory map", Conf::kMaxBanks);
  }
  CheckMinimum(ram, n);
  ConfParams params{ArchEarlyWindow(), ArchImageBytes(), ArchLowMemoryEnd()};
  ConfStatus s = Confinit(ram, n, params, &conf);
  if (s != ConfStatus::kOk) Panic("confinit: %s", ConfStatusName(s));
  return conf;
}

void XInit(const Conf& c) {
  RamRange k[Conf::kMaxBanks];
  size_t n = c.KernelRanges(k, Conf::kMaxBanks);
  XholeStatus s = ArchXalloc().Xinit(k, n);
  if (s != XholeStatus::kOk) Panic("xinit: %s", XholeStatusName(s));
  ArchXalloc().Xsummary();
}

KernelPalloc& PageInit(const Conf& c, unsigned colours) {
  // pwait's hooks: they sleep once the scheduler runs; before, running out of pages panics.
  PageInitStatus s = kmem::PageInit(c, ArchDirectMap(), colours, &plan, &palloc, kernel::PwaitHooks());
  if (s.user_banks == 0) Panic("pageinit: confinit left no user memory");
  if (!s.ok()) Panic("preallocpages: %s (%zu user banks)", PreallocStatusName(s.prealloc), s.user_banks);
  return palloc;
}

}  // namespace kmem::boot
