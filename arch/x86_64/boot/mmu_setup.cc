#include "arch/x86_64/boot/mmu_setup.h"

#include "arch/x86_64/aspace.h"
#include "arch/x86_64/fault.h"
#include "arch/x86_64/kernel_cpu.h"
#include "arch/x86_64/kernel_image.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/mmu_init.h"
#include "arch/x86_64/trap.h"
#include "arch/x86_64/boot/serial.h"
#include "mm/base/format.h"
#include "mm/base/panic.h"

namespace kmem::boot {
namespace {

// Page-table pages from Rampage until pageinit, from palloc after (user spaces' tables come and go with
// processes). Pages the MMU gives back go to palloc when they are its own; the others (tables emptied by an
// unmap that were taken from xalloc, or from the memory map before xinit, which cannot be Xfree'd) are kept
// for reuse here, and reused first.
class BootPtPages final : public x86::PtPageAllocator {
 public:
  void Init(HoleAllocator* xalloc) { xalloc_ = xalloc; }
  void UsePalloc(KernelPalloc* palloc) { palloc_ = palloc; }

  bool Alloc(PhysAddr* page) override {
    if (returned_ > 0) {
      *page = spare_[--returned_];
      return true;
    }
    if (palloc_ != nullptr) {
      const PageResult r = palloc_->TryAllocContig(0);
      if (r.status != PallocStatus::kOk) return false;
      *page = palloc_->Pa(r.page);
      return true;
    }
    KASSERT(xalloc_ != nullptr, "page-table page wanted before SetUpMmu");
    void* p = xalloc_->Rampage();
    if (p == nullptr) return false;
    *page = x86::PhysAddrOfKzero(VirtAddr(reinterpret_cast<uintptr_t>(p)));
    return true;
  }

  void Free(PhysAddr page) override {
    if (palloc_ != nullptr && palloc_->Holds(page)) {
      palloc_->FreeContig(page, 0);
      return;
    }
    KASSERT(returned_ < kSpares, "%u page-table pages returned already, 0x%lx is one too many", returned_,
            page.value());
    spare_[returned_++] = page;
  }

 private:
  static constexpr unsigned kSpares = 256;
  HoleAllocator* xalloc_ = nullptr;
  KernelPalloc* palloc_ = nullptr;
  PhysAddr spare_[kSpares] = {};
  unsigned returned_ = 0;
};

constinit x86::KernelCpuOps cpu_ops;
constinit BootPtPages pt_pages;
// Until the new tables are live, page-table pages are reached through the boot tables' KZERO window.
constinit x86::Mmu mmu(DirectMap(PhysAddr(0), x86::kKzeroWindow, x86::kKzero), pt_pages, cpu_ops);
// The kernel's address space (mm/vm/aspace.h) over the Mmu's kernel table.
constinit x86::X86Aspace kernel_tables = x86::X86Aspace::Kernel(mmu);
constinit AddressSpace kernel_space("kernel", AddressSpace::Kind::kKernel, kernel_tables);

// For the trap handler's panic: the guard page by name, anything else by what the loaded tables map there.
void ExplainFault(uint64_t address, char* buf, size_t cap) {
  const uint64_t guard = reinterpret_cast<uintptr_t>(boot_stack_guard);
  if (address >= guard && address < reinterpret_cast<uintptr_t>(boot_stack_bottom)) {
    FormatTo(buf, cap, "the boot stack's guard page: the kernel stack overflowed");
    return;
  }
  if (KvaLookup l = mmu.vmap_arena().Find(VirtAddr(address)); l.place == KvaPlace::kGuard) {
    FormatTo(buf, cap, "the guard page of the VMAP range [0x%lx, 0x%lx): an overrun off its %s", l.va.value(),
             (l.va + l.size).value(), address < l.va.value() ? "bottom" : "end");
    return;
  }
  x86::DescribeTranslation(mmu.Translate(mmu.current(), VirtAddr(address)), buf, cap);
}

}  // namespace

x86::Mmu& KernelMmu() { return mmu; }

void TablePagesFromPalloc(KernelPalloc& palloc) { pt_pages.UsePalloc(&palloc); }

AddressSpace& KernelSpace() { return kernel_space; }

void SetUpMmu(const RamRange* ram, size_t n, const x86::Mtrrs& mtrrs, HoleAllocator& xalloc, const ArchConfig& arch,
              MmuWait wait) {
  pt_pages.Init(&xalloc);
  x86::MmuInit(mmu, ram, n, arch.giant, arch.global, arch.phys_limit);
  if (arch.pcids == x86::Mmu::Pcids::kYes) {
    x86::EnablePcids();  // the kernel's table is loaded with PCID 0, as setting CR4.PCIDE requires
    mmu.SetPcids(x86::Mmu::Pcids::kYes);
  }
  mmu.SetPhysicalMemory(ram, n, mtrrs);
  kernel_space.Activate();  // the tables MmuInit loaded: this only records the boot CPU as their user
  x86::SetFaultExplainer(ExplainFault);
  if (wait == MmuWait::kYes) {
    Print("kmem: mmu tables live, waiting\n");
    SerialRead();
    Print("kmem: mmu wait over\n");
  }
}

}  // namespace kmem::boot
