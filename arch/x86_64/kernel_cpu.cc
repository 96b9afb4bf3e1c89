#include "arch/x86_64/kernel_cpu.h"

#include <stdint.h>

namespace kmem::x86 {
namespace {

constexpr uint64_t kCr4Pge = uint64_t{1} << 7;
constexpr uint64_t kCr4Pcide = uint64_t{1} << 17;
constexpr uint64_t kCr4Smep = uint64_t{1} << 20;
constexpr uint64_t kCr3NoFlush = uint64_t{1} << 63;

uint64_t ReadCr4() {
  uint64_t v;
  asm volatile("mov %%cr4, %0" : "=r"(v));
  return v;
}

void WriteCr4(uint64_t v) { asm volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }

}  // namespace

void KernelCpuOps::LoadCr3(PhysAddr top, uint16_t pcid, TlbReuse reuse) {
  const uint64_t cr3 = top.value() | pcid | (reuse == TlbReuse::kKeep ? kCr3NoFlush : 0);
  asm volatile("mov %0, %%cr3" : : "r"(cr3) : "memory");
}

void KernelCpuOps::Invlpg(VirtAddr va) { asm volatile("invlpg (%0)" : : "r"(va.value()) : "memory"); }

// Clearing CR4.PGE drops every TLB entry, of every PCID, global ones included; setting it again restores
// global pages. Without global pages (a CPU without PGE, so no PCIDs either: kmem turns those on only with
// PGE) a CR3 reload drops everything.
void KernelCpuOps::FlushGlobal() {
  const uint64_t cr4 = ReadCr4();
  if ((cr4 & kCr4Pge) == 0) {
    uint64_t cr3;
    asm volatile("mov %%cr3, %0" : "=r"(cr3));
    asm volatile("mov %0, %%cr3" : : "r"(cr3) : "memory");
    return;
  }
  WriteCr4(cr4 & ~kCr4Pge);
  WriteCr4(cr4);
}

CpuidRegs KernelCpuid::Query(uint32_t leaf, uint32_t subleaf) {
  CpuidRegs r;
  asm volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
  return r;
}

uint64_t KernelMsrs::Read(uint32_t msr) {
  uint32_t lo, hi;
  asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
  return (uint64_t{hi} << 32) | lo;
}

// Only entries no mapping uses change (mtrr.h), so no cache or TLB flush is needed around the write.
void LoadPat() {
  asm volatile("wrmsr" : : "c"(msr::kPat), "a"(static_cast<uint32_t>(kKernelPat)),
               "d"(static_cast<uint32_t>(kKernelPat >> 32))
               : "memory");
}

void EnableGlobalPages() { WriteCr4(ReadCr4() | kCr4Pge); }

void EnablePcids() { WriteCr4(ReadCr4() | kCr4Pcide); }

void EnableSmep() { WriteCr4(ReadCr4() | kCr4Smep); }

}  // namespace kmem::x86
