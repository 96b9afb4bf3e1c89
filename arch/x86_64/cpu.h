// CPU identification: what the memory manager must know of its CPU, decoded from CPUID. The page-table
// features the MMU may use (no-execute, 1 GiB pages, global pages, PCIDs), the physical address width
// that bounds the memory map, and the cache geometry behind page colours.
//
// Decoding reads leaves through a CpuidSource, so host tests decode recorded CPUs (testing/cpuid/) and the
// kernel's source executes CPUID (kernel_cpu.h).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/base/addr.h"

namespace kmem::x86 {

struct CpuidRegs {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};

class CpuidSource {
 public:
  // The registers CPUID returns for `leaf` with ECX = `subleaf`. A leaf past the CPU's maximum reads as
  // whatever the CPU gives there; CpuIdentify never asks for one.
  virtual CpuidRegs Query(uint32_t leaf, uint32_t subleaf) = 0;

 protected:
  ~CpuidSource() = default;
};

// One bit each in CpuInfo::features.
enum class CpuFeature : uint32_t {
  kNx = 1u << 0,          // no-execute page bit (0x80000001 EDX 20)
  kGiantPages = 1u << 1,  // 1 GiB pages (0x80000001 EDX 26)
  kGlobalPages = 1u << 2, // CR4.PGE (1 EDX 13)
  kPcid = 1u << 3,        // process-context identifiers (1 ECX 17)
  kInvpcid = 1u << 4,     // the INVPCID instruction (7.0 EBX 10)
  kSmep = 1u << 5,        // supervisor-mode execution prevention (7.0 EBX 7)
  kSmap = 1u << 6,        // supervisor-mode access prevention (7.0 EBX 20)
  kLa57 = 1u << 7,        // 5-level paging (7.0 ECX 16)
  kMtrr = 1u << 8,        // memory-type range registers (1 EDX 12)
  kPat = 1u << 9,         // the page attribute table (1 EDX 16)
};

enum class CacheType : uint8_t { kData = 1, kInstruction = 2, kUnified = 3 };

struct CpuCache {
  uint8_t level = 0;
  CacheType type = CacheType::kData;
  uint32_t ways = 0;
  uint32_t line_bytes = 0;
  uint64_t sets = 0;
  uint64_t bytes = 0;  // ways x partitions x line x sets
};

// The architecture's widest addresses: MAXPHYADDR is at most 52; 5-level paging has 57-bit addresses.
inline constexpr uint32_t kMaxPhysBits = 52;
inline constexpr uint32_t kMaxVirtBits = 57;

struct CpuInfo {
  static constexpr size_t kMaxCaches = 8;

  char vendor[13] = {};  // "GenuineIntel", "AuthenticAMD", ...
  char brand[49] = {};   // the processor name string, leading blanks dropped; empty when there is none
  uint32_t family = 0, model = 0, stepping = 0;  // with the extended family and model folded in
  uint32_t phys_bits = 0;  // MAXPHYADDR: physical addresses at or above 2^phys_bits do not exist
  uint32_t virt_bits = 0;
  uint32_t features = 0;   // CpuFeature bits
  CpuCache cache[kMaxCaches];
  size_t ncaches = 0;
  // Page colours (a power of two in [1, kMaxColours]) from the largest data or unified cache: size / (ways x
  // page size) page-sized slices per way, so frames whose pfn agrees modulo that count compete for the same
  // sets. 1 when the CPU describes no caches (some QEMU models), where colouring then does nothing.
  unsigned colours = 1;

  bool Has(CpuFeature f) const { return (features & static_cast<uint32_t>(f)) != 0; }
  // The first physical address the CPU cannot form.
  PhysAddr PhysLimit() const { return PhysAddr(uint64_t{1} << phys_bits); }
};

// Decodes leaves 0, 1, 4, 7 and 0x80000000-0x80000008, 0x8000001d as far as the CPU's maximum leaves
// reach. Caches come from leaf 4 (Intel) or 0x8000001d (AMD, same layout). Without leaf 0x80000008 the
// address widths are the architectural defaults: 36 physical bits with PAE (32 without), 48 virtual;
// with it they are clamped to [32, kMaxPhysBits] and [48, kMaxVirtBits].
CpuInfo CpuIdentify(CpuidSource& cpuid);

// Three lines for CPU `machno`: "cpuN: VENDOR BRAND family F model M stepping S", the address widths with
// the features above that the CPU has, and the caches with the page colours they give.
void CpuPrint(const CpuInfo& cpu, unsigned machno);

// Prints the raw leaves CpuIdentify reads (and the subleaves of 4 and 0x8000001d until the type reads 0),
// one "cpuid: LEAF SUBLEAF EAX EBX ECX EDX" line each in hex: the format of testing/cpuid/, so that a new
// CPU's boot log (with kmem.cpuid) becomes a test case.
void CpuidDump(CpuidSource& cpuid);

}  // namespace kmem::x86
