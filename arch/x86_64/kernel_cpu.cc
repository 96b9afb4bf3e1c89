#include "arch/x86_64/kernel_cpu.h"

#include <stdint.h>

namespace kmem::x86 {
namespace {

constexpr uint64_t kCr4Pge = uint64_t{1} << 7;

uint64_t ReadCr4() {
  uint64_t v;
  asm volatile("mov %%cr4, %0" : "=r"(v));
  return v;
}

void WriteCr4(uint64_t v) { asm volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }

}  // namespace

void KernelCpuOps::LoadCr3(PhysAddr top) { asm volatile("mov %0, %%cr3" : : "r"(top.value()) : "memory"); }

void KernelCpuOps::Invlpg(VirtAddr va) { asm volatile("invlpg (%0)" : : "r"(va.value()) : "memory"); }

// Clearing CR4.PGE drops every TLB entry, global ones included; setting it again restores global pages.
void KernelCpuOps::FlushGlobal() {
  const uint64_t cr4 = ReadCr4();
  WriteCr4(cr4 & ~kCr4Pge);
  WriteCr4(cr4);
}

Mmu::GiantPages CpuGiantPages() {
  uint32_t eax = 0x80000001, ebx, ecx = 0, edx;
  asm volatile("cpuid" : "+a"(eax), "=b"(ebx), "+c"(ecx), "=d"(edx));
  return (edx & (1u << 26)) != 0 ? Mmu::GiantPages::kYes : Mmu::GiantPages::kNo;
}

void EnableGlobalPages() { WriteCr4(ReadCr4() | kCr4Pge); }

}  // namespace kmem::x86
