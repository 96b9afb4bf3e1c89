#include "arch/x86_64/mmu_init.h"

#include <stdint.h>

#include "arch/x86_64/kernel_cpu.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/ptdump.h"
#include "mm/base/format.h"
#include "mm/base/panic.h"

extern "C" {
extern char _kernel_start[], _etext[], _erodata[], _end[];
extern char boot_stack_guard[], boot_stack_bottom[];
}

namespace kmem::x86 {
namespace {

// Page-table pages until the page allocator is wired in: upwards from the first free byte, and a stack of
// returned pages to reuse first.
class BootPtPages final : public PtPageAllocator {
 public:
  void Init(PhysAddr next, PhysAddr limit) {
    start_ = next_ = next;
    limit_ = limit;
  }

  bool Alloc(PhysAddr* page) override {
    if (freed_count_ > 0) {
      *page = freed_[--freed_count_];
      return true;
    }
    if (next_ + kPageSize > limit_) return false;
    *page = next_;
    next_ = next_ + kPageSize;
    return true;
  }

  void Free(PhysAddr page) override {
    KASSERT(freed_count_ < kMaxFreed, "boot page-table source: %u pages freed already", freed_count_);
    freed_[freed_count_++] = page;
  }

  PhysAddr start() const { return start_; }
  PhysAddr next() const { return next_; }

 private:
  static constexpr unsigned kMaxFreed = 256;
  PhysAddr start_, next_, limit_;
  PhysAddr freed_[kMaxFreed] = {};
  unsigned freed_count_ = 0;
};

constinit KernelCpuOps cpu_ops;
constinit BootPtPages pt_pages;
// Until the new tables are live, page-table pages are reached through the boot tables' KZERO window.
constinit Mmu mmu(DirectMap(PhysAddr(0), kKzeroWindow, kKzero), pt_pages, cpu_ops);

PhysAddr Paddr(const char* symbol) { return PhysAddrOfKzero(VirtAddr(reinterpret_cast<uintptr_t>(symbol))); }

void Map(const char* what, PhysAddr pa, VirtAddr va, PhysAddr end, Attr attrs) {
  if (end <= pa) return;
  MmuStatus s = mmu.Pmap(mmu.kernel_table(), pa, va, end - pa, attrs);
  if (s != MmuStatus::kOk) {
    Panic("mmu: mapping %s [0x%lx, 0x%lx) at 0x%lx: %s", what, pa.value(), end.value(), va.value(), MmuStatusName(s));
  }
}

PhysAddr Min(PhysAddr a, PhysAddr b) { return a < b ? a : b; }
PhysAddr Max(PhysAddr a, PhysAddr b) { return a < b ? b : a; }

}  // namespace

Mmu& KernelMmu() { return mmu; }

void MmuInit(const RamRange* ram, size_t n, PhysAddr free) {
  const PhysAddr window(kKzeroWindow);
  PhysAddr limit = free;
  for (size_t i = 0; i < n; ++i) {
    if (ram[i].base <= free && free < ram[i].end) limit = Min(ram[i].end, window);
  }
  pt_pages.Init(free, limit);
  EnableGlobalPages();
  const Mmu::GiantPages giant = CpuGiantPages();
  if (MmuStatus s = mmu.Init(giant); s != MmuStatus::kOk) Panic("mmu: no page for the kernel's tables: %s", MmuStatusName(s));

  // Firmware ranges need not be page-aligned; only whole pages inside them are RAM we may map cached.
  PhysAddr direct_end;
  const PhysAddr image = Paddr(_kernel_start), image_end = Paddr(_end);
  for (size_t i = 0; i < n; ++i) {
    uint64_t b;
    if (!AlignUp(ram[i].base.value(), kPageSize, &b)) continue;
    const PhysAddr base(b);
    const PhysAddr end = Min(ram[i].end, PhysAddr(kDirectMapMax)).AlignedDown(kPageSize);
    Map("RAM in the direct map", base, DirectMapAddressOf(base), end, Attr::kWrite | Attr::kGlobal);
    direct_end = Max(direct_end, end);
    // Below 2 GiB the RAM also stays at KZERO, around the image, which gets its own protections below.
    const PhysAddr low_end = Min(end, window);
    Map("low RAM at KZERO", base, KzeroAddressOf(base), Min(low_end, image), Attr::kWrite | Attr::kGlobal);
    const PhysAddr above = Max(base, image_end);
    Map("low RAM at KZERO", above, KzeroAddressOf(above), low_end, Attr::kWrite | Attr::kGlobal);
  }
  Map("kernel text", image, KzeroAddressOf(image), Paddr(_etext), Attr::kExec | Attr::kGlobal);
  Map("kernel rodata", Paddr(_etext), KzeroAddressOf(Paddr(_etext)), Paddr(_erodata), Attr::kGlobal);
  Map("kernel data", Paddr(_erodata), KzeroAddressOf(Paddr(_erodata)), Paddr(boot_stack_guard),
      Attr::kWrite | Attr::kGlobal);
  Map("kernel bss", Paddr(boot_stack_bottom), KzeroAddressOf(Paddr(boot_stack_bottom)), image_end,
      Attr::kWrite | Attr::kGlobal);

  mmu.MmuSwitch(mmu.kernel_table());
  mmu.SetTableWindow(DirectMap(PhysAddr(0), direct_end.value(), kDirectMap));
  mmu.SetDirectMapEnd(direct_end);
  Print("mmu: kernel tables live at 0x%lx: %lu page-table pages from [0x%lx, 0x%lx), %s pages\n",
        mmu.kernel_table().value(), mmu.table_pages(), pt_pages.start().value(), pt_pages.next().value(),
        giant == Mmu::GiantPages::kYes ? "1G, 2M and 4K" : "2M and 4K");
  Print("mmu: guard page at 0x%lx under the boot stack\n", reinterpret_cast<uintptr_t>(boot_stack_guard));
  const uint64_t wx = WritableExecutableBytes(mmu, mmu.kernel_table());
  if (wx != 0) Panic("mmu: W+X check failed: %lu bytes writable and executable", wx);
  Print("mmu: W+X check passed: no writable and executable mapping\n");
  Print("mmu: page tables of the kernel (VA range, size, pages, flags UWXGC, PA):\n");
  MmuDump(mmu, mmu.kernel_table());
}

}  // namespace kmem::x86
