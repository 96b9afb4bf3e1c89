// Memory types on x86_64 (Intel SDM vol. 3A, 11.11-11.12): the MTRRs the firmware programmed, decoded from
// their MSRs; the kernel's PAT layout; and the effective type a page gets from the two. Vmap asks it which
// cache type a device range may have, the memory test which chunks are RAM-like (write-back) at all.
//
// Decoding reads the MSRs through an MsrSource, so host tests decode recorded machines (testing/mtrr/) and
// the kernel's source executes RDMSR (kernel_cpu.h).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "arch/x86_64/cpu.h"
#include "mm/base/addr.h"

namespace kmem::x86 {

// The architectural encodings, shared by MTRRs and PAT entries; kUncachedMinus exists only in the PAT.
enum class MemoryType : uint8_t {
  kUncached = 0,
  kWriteCombining = 1,
  kWriteThrough = 4,
  kWriteProtect = 5,
  kWriteBack = 6,
  kUncachedMinus = 7,
};
// "UC", "WC", "WT", "WP", "WB", "UC-"; "?" for a reserved encoding.
const char* MemoryTypeName(MemoryType type);

class MsrSource {
 public:
  virtual uint64_t Read(uint32_t msr) = 0;

 protected:
  ~MsrSource() = default;
};

namespace msr {
inline constexpr uint32_t kMtrrCap = 0xfe;
inline constexpr uint32_t kMtrrPhysBase0 = 0x200;  // PHYSBASEn = 0x200 + 2n, PHYSMASKn = 0x201 + 2n
inline constexpr uint32_t kMtrrFix64K00000 = 0x250;
inline constexpr uint32_t kMtrrFix16K80000 = 0x258;
inline constexpr uint32_t kMtrrFix16KA0000 = 0x259;
inline constexpr uint32_t kMtrrFix4KC0000 = 0x268;  // through 0x26f, 32 KiB each
inline constexpr uint32_t kPat = 0x277;
inline constexpr uint32_t kMtrrDefType = 0x2ff;
}  // namespace msr

// Whether every byte of a range has one memory type.
enum class Uniform { kNo, kYes };

struct RangeType {
  MemoryType type;  // the type of every byte when uniform; of the first byte otherwise
  Uniform uniform;
};

// The MTRRs as decoded once at boot. A variable range the decoder cannot trust (a mask that is not
// contiguous, a reserved type) is reported by Dump and makes every range query that touches the block it
// may cover non-uniform; so does an overlap of ranges whose type the SDM leaves undefined (WB with WC, say).
class Mtrrs {
 public:
  static constexpr unsigned kMaxVariable = 32;  // CPUs have 8 to 10 pairs; IA32_MTRRCAP.VCNT could claim 255
  static constexpr unsigned kFixedSegments = 88;  // 8 x 64 KiB, 16 x 16 KiB, 64 x 4 KiB below 1 MiB

  enum class State : uint8_t {
    kAbsent,    // the CPU has none (CPUID 1 EDX bit 12): types come from the page tables alone, as over WB
    kDisabled,  // IA32_MTRR_DEF_TYPE.E clear: all memory is UC
    kEnabled,
  };

  // Reads IA32_MTRRCAP, IA32_MTRR_DEF_TYPE, the fixed ranges (when the CPU has them) and the variable
  // ranges (at most kMaxVariable; a CPU claiming more has the rest ignored and reported). Reads nothing
  // when `cpu` has no MTRRs.
  static Mtrrs Read(MsrSource& msrs, const CpuInfo& cpu);

  // The type of [base, base + size). O((fixed + variable ranges) x variable ranges).
  RangeType TypeOf(PhysAddr base, uint64_t size) const;

  // One "mtrr: " block: the state and default type, the fixed ranges coalesced, each enabled variable
  // range's base, size and type, and a line for each range not trusted and why.
  void Dump() const;

  State state() const { return state_; }

 private:
  struct Variable {
    uint64_t base;   // PHYSBASE & mask
    uint64_t mask;   // PHYSMASK's address bits within the physical width
    uint64_t size;   // of the block the mask's contiguous top bits span: the range itself when trusted
    uint8_t type;
    uint8_t index;   // the MSR pair's number
    bool trusted;
  };
  static constexpr uint8_t kUntrusted = 0xff;

  uint8_t TypeAt(uint64_t pa) const;
  uint64_t NextBoundary(uint64_t pa) const;

  State state_ = State::kAbsent;
  uint8_t default_type_ = static_cast<uint8_t>(MemoryType::kUncached);
  bool fixed_ = false;  // fixed ranges present and enabled
  unsigned count_ = 0;  // enabled variable ranges
  unsigned ignored_ = 0;  // ranges past kMaxVariable
  uint64_t phys_limit_ = 0;
  uint8_t fixed_types_[kFixedSegments] = {};
  Variable var_[kMaxVariable] = {};
};

// The effective memory type of a page whose MTRR type is `mtrr` and whose PAT entry says `pat` (SDM vol.
// 3A table 11-7).
MemoryType EffectiveType(MemoryType mtrr, MemoryType pat);

// The kernel's PAT: entries 0-3 are WB, WC, UC-, UC and 4-7 repeat them, so the PAT bit is never needed
// and PCD|PWT alone select: none WB, PWT WC, PCD UC-, both UC. Only entries 1 and 5 (WT at power-on)
// differ from the power-on layout, and no mapping uses them before the PAT is loaded.
inline constexpr uint64_t kKernelPat = 0x0007010600070106;
// The type the kernel's PAT gives PTE bits PWT (bit 3) and PCD (bit 4).
MemoryType PatType(uint64_t pte);

}  // namespace kmem::x86
