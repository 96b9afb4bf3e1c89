#include "boot/allocinit.h"

#include "arch/x86_64/kernel_image.h"
#include "arch/x86_64/layout.h"
#include "mm/base/format.h"
#include "mm/base/panic.h"

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
  PallocBank banks[Conf::kMaxBanks];
  uint64_t meta = 0;
  for (size_t i = 0; i < n; ++i) {
    uint64_t bytes = KernelPalloc::BankBytes(u[i].base, u[i].size / kPageSize);
    // 9front's preallocpages: the arrays come from the kernel's share, never from the bank they describe.
    void* p = xalloc.Xspanalloc(bytes, 64, 0);
    if (p == nullptr) {
      xalloc.Xsummary();
      Panic("preallocpages: no %lu bytes in xalloc for bank %zu's descriptors", bytes, i);
    }
    banks[i] = PallocBank{u[i].base, u[i].size / kPageSize, p};
    meta += bytes;
  }
  Print("preallocpages: %lu KiB of page descriptors and bitmaps for %zu banks\n", meta >> 10, n);
  palloc.PageInit(banks, n, colours);
  palloc.PrintFreeTable();
  return palloc;
}

}  // namespace kmem::boot
