#include "arch/x86_64/mtrr.h"

#include "mm/base/format.h"

namespace kmem::x86 {
namespace {

constexpr uint64_t kCapVcnt = 0xff;
constexpr uint64_t kCapFixed = uint64_t{1} << 8;
constexpr uint64_t kDefFixedEnable = uint64_t{1} << 10;
constexpr uint64_t kDefEnable = uint64_t{1} << 11;
constexpr uint64_t kMaskValid = uint64_t{1} << 11;
constexpr uint64_t kFixedEnd = 0x100000;

constexpr uint8_t kUc = static_cast<uint8_t>(MemoryType::kUncached);
constexpr uint8_t kWt = static_cast<uint8_t>(MemoryType::kWriteThrough);
constexpr uint8_t kWb = static_cast<uint8_t>(MemoryType::kWriteBack);

bool IsMtrrType(uint64_t t) { return t == 0 || t == 1 || (t >= 4 && t <= 6); }

// The fixed ranges in address order: where each MSR's eight segments start and how large they are.
struct FixedMsr {
  uint32_t msr;
  uint64_t base;
  uint64_t segment;
};
constexpr FixedMsr kFixedMsrs[] = {
    {msr::kMtrrFix64K00000, 0x00000, 0x10000},   {msr::kMtrrFix16K80000, 0x80000, 0x4000},
    {msr::kMtrrFix16KA0000, 0xa0000, 0x4000},    {msr::kMtrrFix4KC0000 + 0, 0xc0000, 0x1000},
    {msr::kMtrrFix4KC0000 + 1, 0xc8000, 0x1000}, {msr::kMtrrFix4KC0000 + 2, 0xd0000, 0x1000},
    {msr::kMtrrFix4KC0000 + 3, 0xd8000, 0x1000}, {msr::kMtrrFix4KC0000 + 4, 0xe0000, 0x1000},
    {msr::kMtrrFix4KC0000 + 5, 0xe8000, 0x1000}, {msr::kMtrrFix4KC0000 + 6, 0xf0000, 0x1000},
    {msr::kMtrrFix4KC0000 + 7, 0xf8000, 0x1000},
};

// The fixed segment holding pa (< 1 MiB): its index and [start, end).
unsigned FixedSegment(uint64_t pa, uint64_t* start, uint64_t* end) {
  unsigned index = 0;
  for (const FixedMsr& f : kFixedMsrs) {
    if (pa < f.base + 8 * f.segment) {
      const uint64_t i = (pa - f.base) / f.segment;
      *start = f.base + i * f.segment;
      *end = *start + f.segment;
      return index + static_cast<unsigned>(i);
    }
    index += 8;
  }
  return 0;  // not reached: pa < 1 MiB
}

// Where several variable ranges match one address (SDM 11.11.4.1): UC wins, WT over WB; any other
// disagreement is undefined.
uint8_t Combine(uint8_t a, uint8_t b) {
  if (a == b) return a;
  if (a == kUc || b == kUc) return kUc;
  if ((a == kWt && b == kWb) || (a == kWb && b == kWt)) return kWt;
  return 0xff;
}

}  // namespace

const char* MemoryTypeName(MemoryType type) {
  switch (type) {
    case MemoryType::kUncached: return "UC";
    case MemoryType::kWriteCombining: return "WC";
    case MemoryType::kWriteThrough: return "WT";
    case MemoryType::kWriteProtect: return "WP";
    case MemoryType::kWriteBack: return "WB";
    case MemoryType::kUncachedMinus: return "UC-";
  }
  return "?";
}

Mtrrs Mtrrs::Read(MsrSource& msrs, const CpuInfo& cpu) {
  Mtrrs m;
  m.phys_limit_ = cpu.PhysLimit().value();
  if (!cpu.Has(CpuFeature::kMtrr)) return m;
  const uint64_t cap = msrs.Read(msr::kMtrrCap);
  const uint64_t def = msrs.Read(msr::kMtrrDefType);
  m.default_type_ = static_cast<uint8_t>(def & 0xff);
  if ((def & kDefEnable) == 0) {
    m.state_ = State::kDisabled;
    return m;
  }
  m.state_ = State::kEnabled;
  if (!IsMtrrType(m.default_type_)) m.default_type_ = kUntrusted;
  m.fixed_ = (cap & kCapFixed) != 0 && (def & kDefFixedEnable) != 0;
  if (m.fixed_) {
    unsigned index = 0;
    for (const FixedMsr& f : kFixedMsrs) {
      const uint64_t v = msrs.Read(f.msr);
      for (unsigned i = 0; i < 8; ++i) {
        const uint8_t t = static_cast<uint8_t>(v >> (8 * i));
        m.fixed_types_[index++] = IsMtrrType(t) ? t : kUntrusted;
      }
    }
  }
  const uint64_t addr_mask = (m.phys_limit_ - 1) & ~uint64_t{0xfff};
  const unsigned vcnt = static_cast<unsigned>(cap & kCapVcnt);
  for (unsigned n = 0; n < vcnt; ++n) {
    const uint64_t mask_msr = msrs.Read(msr::kMtrrPhysBase0 + 2 * n + 1);
    if ((mask_msr & kMaskValid) == 0) continue;
    if (m.count_ == kMaxVariable) {
      ++m.ignored_;
      continue;
    }
    const uint64_t base_msr = msrs.Read(msr::kMtrrPhysBase0 + 2 * n);
    Variable& v = m.var_[m.count_++];
    v.index = static_cast<uint8_t>(n);
    v.mask = mask_msr & addr_mask;
    v.type = static_cast<uint8_t>(base_msr & 0xff);
    // The block the mask's top run of ones spans: every address the range matches lies in it. The mask is
    // contiguous (the range is that block) when it has no ones below; otherwise the range matches
    // scattered pieces of the block, which is all that can be said of it.
    uint64_t span = m.phys_limit_;
    for (uint64_t bit = m.phys_limit_ >> 1; bit >= 0x1000 && (v.mask & bit) != 0; bit >>= 1) span = bit;
    v.base = base_msr & addr_mask & ~(span - 1);
    v.size = span;
    v.trusted = IsMtrrType(v.type) && v.mask == (addr_mask & ~(span - 1));
  }
  return m;
}

// The type at one address, kUntrusted where the MTRRs do not say reliably.
uint8_t Mtrrs::TypeAt(uint64_t pa) const {
  if (state_ == State::kAbsent) return kWb;
  if (state_ == State::kDisabled) return kUc;
  if (fixed_ && pa < kFixedEnd) {
    uint64_t start, end;
    return fixed_types_[FixedSegment(pa, &start, &end)];
  }
  bool matched = false;
  uint8_t type = 0;
  for (unsigned i = 0; i < count_; ++i) {
    const Variable& v = var_[i];
    if (pa - v.base >= v.size) continue;
    if (!v.trusted) return kUntrusted;
    type = matched ? Combine(type, v.type) : v.type;
    matched = true;
  }
  return matched ? type : default_type_;
}

// The first address above pa where TypeAt may change (UINT64_MAX when none).
uint64_t Mtrrs::NextBoundary(uint64_t pa) const {
  if (state_ != State::kEnabled) return UINT64_MAX;
  if (fixed_ && pa < kFixedEnd) {
    uint64_t start, end;
    FixedSegment(pa, &start, &end);
    return end;
  }
  uint64_t next = UINT64_MAX;
  for (unsigned i = 0; i < count_; ++i) {
    const Variable& v = var_[i];
    if (v.base > pa && v.base < next) next = v.base;
    if (v.base + v.size > pa && v.base + v.size < next) next = v.base + v.size;
  }
  return next;
}

RangeType Mtrrs::TypeOf(PhysAddr base, uint64_t size) const {
  const uint64_t end = size > UINT64_MAX - base.value() ? UINT64_MAX : base.value() + size;
  uint64_t pa = base.value();
  const uint8_t first = TypeAt(pa);
  const bool trusted = first != kUntrusted;
  RangeType r = {static_cast<MemoryType>(trusted ? first : kUc), trusted ? Uniform::kYes : Uniform::kNo};
  while (r.uniform == Uniform::kYes) {
    pa = NextBoundary(pa);
    if (pa >= end) break;
    if (TypeAt(pa) != first) r.uniform = Uniform::kNo;
  }
  return r;
}

void Mtrrs::Dump() const {
  if (state_ == State::kAbsent) {
    Print("mtrr: none (CPUID 1 EDX bit 12 clear): the page tables alone pick memory types\n");
    return;
  }
  if (state_ == State::kDisabled) {
    Print("mtrr: disabled (IA32_MTRR_DEF_TYPE.E clear): all memory is uncached\n");
    return;
  }
  Print("mtrr: enabled, default type %s, %u variable range%s in use\n",
        MemoryTypeName(static_cast<MemoryType>(default_type_)), count_, count_ == 1 ? "" : "s");
  if (fixed_) {
    Print("mtrr: fixed");
    uint64_t pa = 0, start, end;
    while (pa < kFixedEnd) {
      const unsigned first = FixedSegment(pa, &start, &end);
      uint64_t to = end;
      while (to < kFixedEnd && fixed_types_[FixedSegment(to, &start, &end)] == fixed_types_[first]) to = end;
      Print("%s [0x%lx, 0x%lx) %s", pa == 0 ? "" : ",", pa, to,
            MemoryTypeName(static_cast<MemoryType>(fixed_types_[first])));
      pa = to;
    }
    Print("\n");
  }
  for (unsigned i = 0; i < count_; ++i) {
    const Variable& v = var_[i];
    if (v.trusted) {
      char size[24];
      FormatSize(size, sizeof size, v.size);
      Print("mtrr: variable %u [0x%lx, 0x%lx) %s %s\n", v.index, v.base, v.base + v.size, size,
            MemoryTypeName(static_cast<MemoryType>(v.type)));
    } else {
      Print("mtrr: variable %u mask 0x%lx type %s: %s; not trusted in [0x%lx, 0x%lx)\n", v.index, v.mask,
            MemoryTypeName(static_cast<MemoryType>(v.type)),
            IsMtrrType(v.type) ? "the mask is not contiguous" : "a reserved type", v.base, v.base + v.size);
    }
  }
  if (ignored_ != 0) Print("mtrr: %u variable ranges past the first %u ignored\n", ignored_, kMaxVariable);
}

MemoryType EffectiveType(MemoryType mtrr, MemoryType pat) {
  switch (pat) {
    case MemoryType::kUncached: return MemoryType::kUncached;
    case MemoryType::kWriteCombining: return MemoryType::kWriteCombining;
    // UC- gives way to an MTRR WC; everything else it makes UC.
    case MemoryType::kUncachedMinus:
      return mtrr == MemoryType::kWriteCombining ? MemoryType::kWriteCombining : MemoryType::kUncached;
    case MemoryType::kWriteThrough:
      return mtrr == MemoryType::kUncached || mtrr == MemoryType::kWriteCombining ? MemoryType::kUncached
                                                                                    : MemoryType::kWriteThrough;
    case MemoryType::kWriteProtect:
      return mtrr == MemoryType::kUncached || mtrr == MemoryType::kWriteCombining ? MemoryType::kUncached
                                                                                    : MemoryType::kWriteProtect;
    case MemoryType::kWriteBack: return mtrr;  // the MTRR type, whatever it is
  }
  return MemoryType::kUncached;
}

MemoryType PatType(uint64_t pte) {
  const unsigned index = static_cast<unsigned>((pte >> 3) & 3);  // PWT is bit 3, PCD bit 4
  return static_cast<MemoryType>((kKernelPat >> (8 * index)) & 0xff);
}

}  // namespace kmem::x86
