#include "arch/x86_64/cpu.h"

#include "mm/base/format.h"

namespace kmem::x86 {
namespace {

uint32_t Bits(uint32_t v, int lo, int hi) { return (v >> lo) & ((uint32_t{2} << (hi - lo)) - 1); }
bool Bit(uint32_t v, int bit) { return ((v >> bit) & 1) != 0; }
uint32_t Clamp(uint32_t v, uint32_t lo, uint32_t hi) { return v < lo ? lo : v > hi ? hi : v; }

void CopyRegs(char* out, const uint32_t* words, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    for (int b = 0; b < 4; ++b) out[i * 4 + b] = static_cast<char>(words[i] >> (8 * b));
  }
}

void DecodeBrand(CpuidSource& cpuid, CpuInfo* info) {
  char raw[49] = {};
  for (uint32_t i = 0; i < 3; ++i) {
    CpuidRegs r = cpuid.Query(0x80000002 + i, 0);
    const uint32_t words[4] = {r.eax, r.ebx, r.ecx, r.edx};
    CopyRegs(raw + 16 * i, words, 4);
  }
  const char* from = raw;
  while (*from == ' ') ++from;
  size_t n = 0;
  while (from[n] != '\0' && n + 1 < sizeof(info->brand)) {
    info->brand[n] = from[n];
    ++n;
  }
  while (n > 0 && info->brand[n - 1] == ' ') info->brand[--n] = '\0';
}

// Leaf 4 and 0x8000001d share a layout: EAX bits 0-4 give a subleaf's cache type, 0 when no cache is left.
uint32_t CacheTypeBits(const CpuidRegs& r) { return Bits(r.eax, 0, 4); }

// Subleaf i describes one cache until the type reads 0. A
// description whose size does not fit in 64 bits is nonsense (no real CPU comes near) and ends the list.
void DecodeCaches(CpuidSource& cpuid, uint32_t leaf, CpuInfo* info) {
  uint64_t largest = 0, colours = 1;
  for (uint32_t i = 0; i < CpuInfo::kMaxCaches; ++i) {
    CpuidRegs r = cpuid.Query(leaf, i);
    const uint32_t type = CacheTypeBits(r);
    if (type == 0 || type > 3) break;
    const uint64_t ways = Bits(r.ebx, 22, 31) + 1, partitions = Bits(r.ebx, 12, 21) + 1;
    const uint64_t line = Bits(r.ebx, 0, 11) + 1, sets = uint64_t{r.ecx} + 1;
    uint64_t bytes;
    if (__builtin_mul_overflow(ways * partitions * line, sets, &bytes)) break;
    CpuCache& c = info->cache[info->ncaches++];
    c.level = static_cast<uint8_t>(Bits(r.eax, 5, 7));
    c.type = static_cast<CacheType>(type);
    c.ways = static_cast<uint32_t>(ways);
    c.line_bytes = static_cast<uint32_t>(line);
    c.sets = sets;
    c.bytes = bytes;
    if (c.type != CacheType::kInstruction && c.bytes > largest) {
      largest = c.bytes;
      colours = c.bytes / (c.ways * kPageSize);
    }
  }
  unsigned pow2 = 1;
  while (pow2 * 2 <= colours && pow2 * 2 <= kMaxColours) pow2 *= 2;
  info->colours = pow2;
}

CpuidRegs DumpLeaf(CpuidSource& cpuid, uint32_t leaf, uint32_t subleaf) {
  const CpuidRegs r = cpuid.Query(leaf, subleaf);
  Print("cpuid: 0x%08x 0x%x 0x%08x 0x%08x 0x%08x 0x%08x\n", leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
  return r;
}

void DumpCacheLeaf(CpuidSource& cpuid, uint32_t leaf) {
  for (uint32_t i = 0; i < CpuInfo::kMaxCaches; ++i) {
    if (CacheTypeBits(DumpLeaf(cpuid, leaf, i)) == 0) break;
  }
}

bool HasExtLeaf(uint32_t max_ext, uint32_t leaf) { return max_ext >= leaf && max_ext < 0x80010000; }

}  // namespace

CpuInfo CpuIdentify(CpuidSource& cpuid) {
  CpuInfo info;
  const CpuidRegs l0 = cpuid.Query(0, 0);
  const uint32_t max_leaf = l0.eax;
  const uint32_t vendor[3] = {l0.ebx, l0.edx, l0.ecx};
  CopyRegs(info.vendor, vendor, 3);
  const uint32_t max_ext = cpuid.Query(0x80000000, 0).eax;
  const auto has_ext = [max_ext](uint32_t leaf) { return HasExtLeaf(max_ext, leaf); };

  bool pae = false;
  if (max_leaf >= 1) {
    const CpuidRegs l1 = cpuid.Query(1, 0);
    const uint32_t base_family = Bits(l1.eax, 8, 11);
    const uint32_t base_model = Bits(l1.eax, 4, 7);
    info.family = base_family == 0xf ? base_family + Bits(l1.eax, 20, 27) : base_family;
    info.model = base_family == 0x6 || base_family == 0xf ? (Bits(l1.eax, 16, 19) << 4) | base_model : base_model;
    info.stepping = Bits(l1.eax, 0, 3);
    pae = Bit(l1.edx, 6);
    if (Bit(l1.edx, 12)) info.features |= static_cast<uint32_t>(CpuFeature::kMtrr);
    if (Bit(l1.edx, 13)) info.features |= static_cast<uint32_t>(CpuFeature::kGlobalPages);
    if (Bit(l1.edx, 16)) info.features |= static_cast<uint32_t>(CpuFeature::kPat);
    if (Bit(l1.ecx, 17)) info.features |= static_cast<uint32_t>(CpuFeature::kPcid);
  }
  if (max_leaf >= 7) {
    const CpuidRegs l7 = cpuid.Query(7, 0);
    if (Bit(l7.ebx, 7)) info.features |= static_cast<uint32_t>(CpuFeature::kSmep);
    if (Bit(l7.ebx, 10)) info.features |= static_cast<uint32_t>(CpuFeature::kInvpcid);
    if (Bit(l7.ebx, 20)) info.features |= static_cast<uint32_t>(CpuFeature::kSmap);
    if (Bit(l7.ecx, 16)) info.features |= static_cast<uint32_t>(CpuFeature::kLa57);
  }
  if (has_ext(0x80000001)) {
    const CpuidRegs e1 = cpuid.Query(0x80000001, 0);
    if (Bit(e1.edx, 20)) info.features |= static_cast<uint32_t>(CpuFeature::kNx);
    if (Bit(e1.edx, 26)) info.features |= static_cast<uint32_t>(CpuFeature::kGiantPages);
  }
  if (has_ext(0x80000004)) DecodeBrand(cpuid, &info);
  info.phys_bits = pae ? 36 : 32;
  info.virt_bits = 48;
  if (has_ext(0x80000008)) {
    // Within what the architecture allows: a hypervisor's nonsense must not become a shift past 63 bits
    // or a map that ends below the first 4 GiB.
    const CpuidRegs e8 = cpuid.Query(0x80000008, 0);
    info.phys_bits = Clamp(Bits(e8.eax, 0, 7), 32, kMaxPhysBits);
    info.virt_bits = Clamp(Bits(e8.eax, 8, 15), 48, kMaxVirtBits);
  }
  // Intel describes its caches in leaf 4; AMD in 0x8000001d, leaf 4 reading as zeros there.
  if (max_leaf >= 4 && CacheTypeBits(cpuid.Query(4, 0)) != 0) {
    DecodeCaches(cpuid, 4, &info);
  } else if (has_ext(0x8000001d)) {
    DecodeCaches(cpuid, 0x8000001d, &info);
  }
  return info;
}

void CpuPrint(const CpuInfo& cpu, unsigned machno) {
  Print("cpu%u: %s%s%s family 0x%x model 0x%x stepping %u\n", machno, cpu.vendor, cpu.brand[0] != '\0' ? " " : "",
        cpu.brand, cpu.family, cpu.model, cpu.stepping);
  static constexpr struct {
    CpuFeature feature;
    const char* name;
  } kNames[] = {{CpuFeature::kNx, "nx"},       {CpuFeature::kGiantPages, "1g-pages"},
                {CpuFeature::kGlobalPages, "pge"}, {CpuFeature::kPcid, "pcid"},
                {CpuFeature::kInvpcid, "invpcid"}, {CpuFeature::kSmep, "smep"},
                {CpuFeature::kSmap, "smap"},     {CpuFeature::kLa57, "la57"},
                {CpuFeature::kPat, "pat"},       {CpuFeature::kMtrr, "mtrr"}};
  Print("cpu%u: %u-bit physical, %u-bit virtual addresses; paging features:", machno, cpu.phys_bits,
        cpu.virt_bits);
  for (const auto& n : kNames) {
    if (cpu.Has(n.feature)) Print(" %s", n.name);
  }
  Print("\n");
  Print("cpu%u: caches:", machno);
  if (cpu.ncaches == 0) Print(" none described");
  for (size_t i = 0; i < cpu.ncaches; ++i) {
    const CpuCache& c = cpu.cache[i];
    static constexpr const char* kSuffix[] = {"", "d", "i", ""};
    char size[24];
    FormatSize(size, sizeof size, c.bytes);
    Print("%s L%u%s %s %u-way %u-byte lines", i == 0 ? "" : ",", c.level, kSuffix[static_cast<int>(c.type)], size,
          c.ways, c.line_bytes);
  }
  Print("; %u page colour%s\n", cpu.colours, cpu.colours == 1 ? "" : "s");
}

void CpuidDump(CpuidSource& cpuid) {
  const uint32_t max_leaf = cpuid.Query(0, 0).eax;
  static constexpr uint32_t kBasic[] = {0, 1, 4, 7};
  for (uint32_t leaf : kBasic) {
    if (leaf > max_leaf) break;
    if (leaf == 4) {
      DumpCacheLeaf(cpuid, 4);
    } else {
      DumpLeaf(cpuid, leaf, 0);
    }
  }
  const uint32_t max_ext = cpuid.Query(0x80000000, 0).eax;
  for (uint32_t leaf = 0x80000000; leaf <= 0x80000008; ++leaf) {
    if (leaf != 0x80000000 && !HasExtLeaf(max_ext, leaf)) break;
    DumpLeaf(cpuid, leaf, 0);
  }
  if (HasExtLeaf(max_ext, 0x8000001d)) DumpCacheLeaf(cpuid, 0x8000001d);
}

}  // namespace kmem::x86
