// The kernel's window on the firmware's ACPI tables (arch/x86_64/pc/acpi.h's AcpiMemory): each page read is
// mapped for the copy and unmapped after, through vmap (write-back where the MTRRs allow it, uncached where
// they make the page UC) or, for a page of RAM, which vmap refuses, kmap. What cannot be mapped (beyond the
// CPU's physical addresses, a range that wraps) is refused, so a table that points anywhere costs a refused
// read.
#pragma once

#include <stddef.h>

#include "arch/x86_64/mmu.h"
#include "arch/x86_64/pc/acpi.h"

namespace kmem::boot {

class KernelAcpiMemory final : public x86::AcpiMemory {
 public:
  explicit KernelAcpiMemory(x86::Mmu& mmu) : mmu_(mmu) {}
  // O(pages of the range) maps and unmaps.
  bool Read(PhysAddr pa, void* out, size_t n) override;

 private:
  bool ReadPage(PhysAddr page, size_t offset, uint8_t* out, size_t n);

  x86::Mmu& mmu_;
};

}  // namespace kmem::boot
