#include "boot/allocinit.h"

#include "arch/x86_64/kernel_image.h"
#include "arch/x86_64/layout.h"
#include "mm/base/format.h"
#include "mm/base/panic.h"
#include "mm/palloc/prealloc.h"

namespace kmem::boot {
namespace {

// xalloc reaches memory through the KZERO window the boot page tables map, so confinit counts only the
// pages below its end as the kernel's.
constexpr DirectMap kKzeroMap(PhysAddr(0), x86::kKzeroWindow, x86::kKzero);

constinit HoleAllocator xalloc(kKzeroMap);
constinit KernelPalloc palloc;
constinit Conf conf;  // 2.5 KiB of banks: static, not on the 16 KiB boot stack

// rampage before xinit: one page of RAM out of the memory map, marked allocated there for good.
bool TakeMapPage(void* ctx, PhysAddr* out) {
  Memmap* map = static_cast<Memmap*>(ctx);
  MemmapStatus s = map->Alloc(Memmap::kAnyAddress, kPageSize, kPageSize, MemType::kRam, out);
  if (s != MemmapStatus::kOk) {
    Print("rampage: memory map: %s\n", MemmapStatusName(s));
    return false;
  }
  return kKzeroMap.Covers(*out, kPageSize);
}

}  // namespace

HoleAllocator& KernelXalloc(Memmap& map) {
  xalloc.SetEarlyPageSource({TakeMapPage, &map});
  return xalloc;
}

const Conf& ConfInit(const Memmap& map) {
  RamRange ram[Conf::kMaxBanks];
  size_t n = 0;
  for (const MemRange& r : map.Ranges(MemType::kRam)) {
    if (n == Conf::kMaxBanks) Panic("confinit: more than %zu RAM ranges in the memory map", Conf::kMaxBanks);
    ram[n++] = RamRange{r.base, r.size};
  }
  ConfParams params{kKzeroMap, x86::ImageBytes()};
  ConfStatus s = Confinit(ram, n, params, &conf);
  if (s != ConfStatus::kOk) Panic("confinit: %s", ConfStatusName(s));
  return conf;
}

void XInit(const Conf& c) {
  RamRange k[Conf::kMaxBanks];
  size_t n = c.KernelRanges(k, Conf::kMaxBanks);
  XholeStatus s = xalloc.Xinit(k, n);
  if (s != XholeStatus::kOk) Panic("xinit: %s", XholeStatusName(s));
  xalloc.Xsummary();
}

KernelPalloc& PageInit(const Conf& c, unsigned colours) {
  RamRange u[Conf::kMaxBanks];
  size_t n = c.UserRanges(u, Conf::kMaxBanks);
  if (n == 0) Panic("pageinit: confinit left no user memory");
  static PreallocPlan plan;  // 2 KiB: not on the boot stack
  PreallocStatus s = PlanPrealloc(u, n, &KernelPalloc::BankBytes, &plan);
  if (s != PreallocStatus::kOk) Panic("preallocpages: %s (%zu user banks)", PreallocStatusName(s), n);
  // 9front's preallocpages: the arrays come off the top of high memory, which the direct map reaches.
  PallocBank banks[Conf::kMaxBanks];
  for (size_t i = 0; i < n; ++i) {
    void* meta = reinterpret_cast<void*>(x86::DirectMapAddressOf(plan.base + plan.offset[i]).value());
    banks[i] = PallocBank{plan.bank[i].base, plan.bank[i].size / kPageSize, meta};
  }
  Print("preallocpages: %lu KiB of page descriptors and bitmaps for %zu banks in %lu KiB off the top of "
        "[0x%lx, 0x%lx)\n",
        plan.used >> 10, n, plan.bytes >> 10, u[plan.donor].base.value(), u[plan.donor].end().value());
  palloc.PageInit(banks, n, colours);
  palloc.PrintFreeTable();
  return palloc;
}

}  // namespace kmem::boot
