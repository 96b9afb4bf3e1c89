// Hands the Multiboot memory map to the MMU start-up (arch/x86_64/mmu_init.h) and, for the boot test
// that compares the kernel's tables with QEMU's view, holds the kernel still while the tables are live.
#pragma once

#include <stdint.h>

#include "boot/multiboot.h"

namespace kmem::boot {

enum class MmuWait { kNo, kYes };

// Builds and loads the kernel's page tables from the RAM ranges of `mbi` (at physical `info_pa`), taking
// page-table pages above the kernel image and every Multiboot structure. With MmuWait::kYes, prints
// "kmem: mmu tables live, waiting" and waits for a byte on the serial line before returning.
void SetUpMmu(const MultibootInfo& mbi, uint32_t info_pa, MmuWait wait);

}  // namespace kmem::boot
