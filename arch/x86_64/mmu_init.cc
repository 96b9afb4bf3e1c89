#include "arch/x86_64/mmu_init.h"

#include <stdint.h>

#include "arch/x86_64/kernel_cpu.h"
#include "arch/x86_64/kernel_image.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/ptdump.h"
#include "mm/base/format.h"
#include "mm/base/panic.h"

namespace kmem::x86 {
namespace {

void Map(Mmu& mmu, const char* what, PhysAddr pa, VirtAddr va, PhysAddr end, Attr attrs) {
  if (end <= pa) return;
  MmuStatus s = mmu.Pmap(mmu.kernel_table(), pa, va, end - pa, attrs);
  if (s != MmuStatus::kOk) {
    Panic("mmu: mapping %s [0x%lx, 0x%lx) at 0x%lx: %s", what, pa.value(), end.value(), va.value(), MmuStatusName(s));
  }
}

}  // namespace

void MmuInit(Mmu& mmu, const RamRange* ram, size_t n, Mmu::GiantPages giant, GlobalPages global, PhysAddr phys_limit) {
  const PhysAddr window(kKzeroWindow);
  if (global == GlobalPages::kYes) EnableGlobalPages();
  if (MmuStatus s = mmu.Init(giant, phys_limit); s != MmuStatus::kOk) Panic("mmu: no page for the kernel's tables: %s", MmuStatusName(s));

  // Firmware ranges need not be page-aligned; only whole pages inside them are RAM we may map cached.
  PhysAddr direct_end;
  const PhysAddr image = ImagePhysAddr(_kernel_start), image_end = ImagePhysAddr(_end);
  for (size_t i = 0; i < n; ++i) {
    KASSERT(ram[i].base.IsAlignedTo(kPageSize) && IsAligned(ram[i].size, kPageSize),
            "RAM range [0x%lx, +0x%lx) is not page-aligned", ram[i].base.value(), ram[i].size);
    const PhysAddr base = ram[i].base;
    const PhysAddr end = Min(ram[i].end(), PhysAddr(kDirectMapMax));
    Map(mmu, "RAM in the direct map", base, DirectMapAddressOf(base), end, Attr::kWrite | Attr::kGlobal);
    direct_end = Max(direct_end, end);
    // Below 2 GiB the RAM also stays at KZERO, around the image, which gets its own protections below.
    const PhysAddr low_end = Min(end, window);
    Map(mmu, "low RAM at KZERO", base, KzeroAddressOf(base), Min(low_end, image), Attr::kWrite | Attr::kGlobal);
    const PhysAddr above = Max(base, image_end);
    Map(mmu, "low RAM at KZERO", above, KzeroAddressOf(above), low_end, Attr::kWrite | Attr::kGlobal);
  }
  Map(mmu, "kernel text", image, KzeroAddressOf(image), ImagePhysAddr(_etext), Attr::kExec | Attr::kGlobal);
  Map(mmu, "kernel rodata", ImagePhysAddr(_etext), KzeroAddressOf(ImagePhysAddr(_etext)), ImagePhysAddr(_erodata), Attr::kGlobal);
  Map(mmu, "kernel data", ImagePhysAddr(_erodata), KzeroAddressOf(ImagePhysAddr(_erodata)), ImagePhysAddr(boot_stack_guard),
      Attr::kWrite | Attr::kGlobal);
  Map(mmu, "kernel bss", ImagePhysAddr(boot_stack_bottom), KzeroAddressOf(ImagePhysAddr(boot_stack_bottom)), image_end,
      Attr::kWrite | Attr::kGlobal);

  mmu.MmuSwitch(mmu.kernel_table());
  mmu.SetTableWindow(DirectMap(PhysAddr(0), direct_end.value(), kDirectMap));
  mmu.SetDirectMapEnd(direct_end);
  Print("mmu: kernel tables live at 0x%lx: %lu page-table pages, %s pages, %s\n", mmu.kernel_table().value(),
        mmu.table_pages(), giant == Mmu::GiantPages::kYes ? "1G, 2M and 4K" : "2M and 4K",
        global == GlobalPages::kYes ? "global kernel entries" : "no global pages");
  Print("mmu: guard page at 0x%lx under the boot stack\n", reinterpret_cast<uintptr_t>(boot_stack_guard));
  const uint64_t wx = WritableExecutableBytes(mmu, mmu.kernel_table());
  if (wx != 0) Panic("mmu: W+X check failed: %lu bytes writable and executable", wx);
  Print("mmu: W+X check passed: no writable and executable mapping\n");
  Print("mmu: page tables of the kernel (VA range, size, pages, flags UWXGC, PA):\n");
  MmuDump(mmu, mmu.kernel_table());
}

}  // namespace kmem::x86
