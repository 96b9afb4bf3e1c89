#include "arch/x86_64/boot/acpi_memory.h"

#include <stdint.h>

#include "mm/base/panic.h"

namespace kmem::boot {

bool KernelAcpiMemory::Read(PhysAddr pa, void* out, size_t n) {
  if (n > UINT64_MAX - pa.value()) return false;
  uint8_t* to = static_cast<uint8_t*>(out);
  while (n > 0) {
    const PhysAddr page = pa.AlignedDown(kPageSize);
    const size_t offset = pa - page, chunk = Min<size_t>(n, kPageSize - offset);
    if (!ReadPage(page, offset, to, chunk)) return false;
    pa = pa + chunk;
    to += chunk;
    n -= chunk;
  }
  return true;
}

bool KernelAcpiMemory::ReadPage(PhysAddr page, size_t offset, uint8_t* out, size_t n) {
  using x86::MmuStatus;
  VirtAddr va;
  MmuStatus s = mmu_.Vmap(page, kPageSize, &va, x86::Cache::kWriteBack);
  if (s == MmuStatus::kMemoryTypeConflict || s == MmuStatus::kMixedMemoryType) {
    s = mmu_.Vmap(page, kPageSize, &va, x86::Cache::kUncached);
  }
  const bool ram = s == MmuStatus::kIsRam;
  if (ram) s = mmu_.Kmap(page, &va);
  if (s != MmuStatus::kOk) return false;
  const volatile uint8_t* from = reinterpret_cast<const volatile uint8_t*>(va.value());
  for (size_t i = 0; i < n; ++i) out[i] = from[offset + i];
  if (ram) {
    mmu_.Kunmap(va);
  } else if (mmu_.Vunmap(va, kPageSize) != MmuStatus::kOk) {
    Panic("acpi: vunmap of the firmware page 0x%lx it just mapped at 0x%lx failed", page.value(), va.value());
  }
  return true;
}

}  // namespace kmem::boot
