// kernel/proc/arch.h's address-space half on x86_64: user tables are X86Aspaces over the kernel's Mmu
// (their own top level, the kernel half shared, a PCID each where the CPU has them), kept in Kmalloc'ed
// objects; the user half is [one page, 2^47), page 0 left out so that a null pointer always faults.
#include "arch/x86_64/aspace.h"
#include "arch/x86_64/boot/mmu_setup.h"
#include "arch/x86_64/layout.h"
#include "kernel/proc/arch.h"
#include "mm/base/panic.h"
#include "mm/base/placement_new.h"
#include "mm/pool/slab.h"

namespace kmem::kernel {

UserHalf ArchUserHalf() { return UserHalf{kPageSize, x86::kUserLimit}; }

ArchAspace* ArchNewUserTables() {
  static_assert(alignof(x86::X86Aspace) <= 16, "Kmalloc aligns to 16 bytes");
  void* mem = pool::Kmalloc(sizeof(x86::X86Aspace));
  if (mem == nullptr) return nullptr;
  // Constructed (its vtable set) as the kernel's, then made a user space by User's assignment.
  auto* tables = new (mem) x86::X86Aspace(x86::X86Aspace::Kernel(boot::KernelMmu()));
  if (x86::X86Aspace::User(boot::KernelMmu(), tables) != VmStatus::kOk) {
    pool::Kfree(tables);
    return nullptr;
  }
  return tables;
}

void ArchFreeUserTables(ArchAspace* tables) { pool::Kfree(static_cast<x86::X86Aspace*>(tables)); }

uint64_t ArchUserTablePages(ArchAspace& tables) {
  return boot::KernelMmu().UserTablePages(static_cast<x86::X86Aspace&>(tables).root());
}

}  // namespace kmem::kernel
