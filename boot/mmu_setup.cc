#include "boot/mmu_setup.h"

#include "arch/x86_64/layout.h"
#include "arch/x86_64/mmu_init.h"
#include "boot/serial.h"
#include "mm/base/format.h"
#include "mm/base/panic.h"

extern "C" char _end[];

namespace kmem::boot {
namespace {

constexpr size_t kMaxRanges = 64;
constexpr uint32_t kE820Ram = 1;

PhysAddr Max(PhysAddr a, PhysAddr b) { return a < b ? b : a; }

}  // namespace

void SetUpMmu(const MultibootInfo& mbi, uint32_t info_pa, MmuWait wait) {
  if ((mbi.flags & MultibootInfo::kMemMap) == 0) Panic("mmu: the loader gave no memory map");
  x86::RamRange ram[kMaxRanges];
  size_t n = 0;
  // Page-table pages must not land on anything the loader handed over: the information block, the map
  // and the command line all lie somewhere in low RAM, QEMU's right above the image.
  PhysAddr free = Max(x86::PhysAddrOfKzero(VirtAddr(reinterpret_cast<uintptr_t>(_end))),
                      PhysAddr(info_pa) + sizeof(MultibootInfo));
  free = Max(free, PhysAddr(mbi.mmap_addr) + mbi.mmap_length);
  if ((mbi.flags & MultibootInfo::kCmdline) != 0) {
    const char* c = x86::KzeroPointer<const char>(PhysAddr(mbi.cmdline));
    uint64_t len = 0;
    while (c[len] != '\0') ++len;
    free = Max(free, PhysAddr(mbi.cmdline) + len + 1);
  }
  uint64_t aligned;
  AlignUp(free.value(), kPageSize, &aligned);
  PhysAddr p(mbi.mmap_addr);
  const PhysAddr end = p + mbi.mmap_length;
  while (p < end) {
    const auto* e = x86::KzeroPointer<const MultibootMmapEntry>(p);
    if (e->type == kE820Ram) {
      if (n == kMaxRanges) Panic("mmu: more than %zu RAM ranges", kMaxRanges);
      ram[n++] = {PhysAddr(e->base), PhysAddr(e->base + e->length)};
    }
    p = p + e->size + sizeof e->size;
  }
  x86::MmuInit(ram, n, PhysAddr(aligned));
  if (wait == MmuWait::kYes) {
    Print("kmem: mmu tables live, waiting\n");
    SerialRead();
    Print("kmem: mmu wait over\n");
  }
}

}  // namespace kmem::boot
