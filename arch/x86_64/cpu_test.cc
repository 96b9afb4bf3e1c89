#include "arch/x86_64/cpu.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "testing/console_capture.h"

namespace kmem::x86 {
namespace {

// A recorded CPU: the leaves of a testing/cpuid/ file, or leaves a test sets. Asking for a leaf that is not
// there fails the test: CpuIdentify must stay within what the CPU says it has.
class TableCpuid final : public CpuidSource {
 public:
  static TableCpuid FromFile(const std::string& name) {
    TableCpuid t;
    std::ifstream in("testing/cpuid/" + name + ".txt");
    EXPECT_TRUE(in.good()) << name;
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      t.lines_.push_back(line);
      std::istringstream f(line);
      uint32_t leaf, sub;
      CpuidRegs r;
      f >> std::hex >> leaf >> sub >> r.eax >> r.ebx >> r.ecx >> r.edx;
      EXPECT_FALSE(f.fail()) << name << ": " << line;
      t.Set(leaf, sub, r);
    }
    return t;
  }

  void Set(uint32_t leaf, uint32_t sub, CpuidRegs r) { leaves_[{leaf, sub}] = r; }

  CpuidRegs Query(uint32_t leaf, uint32_t subleaf) override {
    auto it = leaves_.find({leaf, subleaf});
    if (it == leaves_.end()) {
      ADD_FAILURE() << "CPUID leaf 0x" << std::hex << leaf << " subleaf " << subleaf << " is not recorded";
      return {};
    }
    return it->second;
  }

  const std::vector<std::string>& lines() const { return lines_; }

 private:
  std::map<std::pair<uint32_t, uint32_t>, CpuidRegs> leaves_;
  std::vector<std::string> lines_;
};

std::string Printed(const CpuInfo& cpu) {
  testing::ConsoleCapture out;
  CpuPrint(cpu, 0);
  return out.text();
}

constexpr uint32_t Bit(CpuFeature f) { return static_cast<uint32_t>(f); }

struct Known {
  const char* file;
  const char* vendor;
  const char* brand;
  uint32_t family, model, stepping;
  uint32_t phys_bits, virt_bits;
  uint32_t features;
  const char* caches;  // the third printed line after "cpu0: caches:"
  unsigned colours;
};

constexpr uint32_t kNx = Bit(CpuFeature::kNx), kGiant = Bit(CpuFeature::kGiantPages),
                   kPge = Bit(CpuFeature::kGlobalPages), kPcid = Bit(CpuFeature::kPcid),
                   kInvpcid = Bit(CpuFeature::kInvpcid), kSmep = Bit(CpuFeature::kSmep),
                   kSmap = Bit(CpuFeature::kSmap), kLa57 = Bit(CpuFeature::kLa57),
                   kTypes = Bit(CpuFeature::kPat) | Bit(CpuFeature::kMtrr);

// Expected values read off the vendors' CPUID definitions by hand for each recorded CPU.
const Known kKnown[] = {
    {"amd_epyc_vm", "AuthenticAMD", "AMD EPYC", 0x1a, 0x2, 1, 48, 48,
     kNx | kGiant | kPge | kPcid | kInvpcid | kSmep | kSmap | kTypes,
     " L1d 48K 12-way 64-byte lines, L1i 32K 8-way 64-byte lines, L2 1M 16-way 64-byte lines, L3 32M 16-way "
     "64-byte lines; 512 page colours",
     512},  // 32M / (16 ways x 4K)
    {"qemu_max", "AuthenticAMD", "QEMU TCG CPU version 2.5+", 0xf, 0x6b, 1, 40, 57,
     kNx | kGiant | kPge | kSmep | kSmap | kLa57 | kTypes, " none described; 1 page colour", 1},
    {"qemu64", "AuthenticAMD", "QEMU Virtual CPU version 2.5+", 0xf, 0x6b, 1, 40, 48, kNx | kPge | kTypes,
     " none described; 1 page colour", 1},
    {"qemu64_no_nx", "AuthenticAMD", "QEMU Virtual CPU version 2.5+", 0xf, 0x6b, 1, 40, 48, kPge | kTypes,
     " none described; 1 page colour", 1},
    {"qemu_skylake", "GenuineIntel", "Intel Core Processor (Skylake)", 0x6, 0x5e, 3, 40, 48,
     kNx | kPge | kSmep | kSmap | kTypes,
     " L1d 32K 8-way 64-byte lines, L1i 32K 8-way 64-byte lines, L2 4M 16-way 64-byte lines, L3 16M 16-way "
     "64-byte lines; 256 page colours",
     256},
    {"qemu_epyc", "AuthenticAMD", "AMD EPYC Processor", 0x17, 0x1, 2, 40, 48, kNx | kGiant | kPge | kSmep | kSmap | kTypes,
     " L1d 32K 8-way 64-byte lines, L1i 64K 4-way 64-byte lines, L2 512K 8-way 64-byte lines, L3 8M 16-way "
     "64-byte lines; 128 page colours",
     128},  // 8M / (16 ways x 4K)
};

class RecordedCpu : public ::testing::TestWithParam<Known> {};

TEST_P(RecordedCpu, DecodesToTheKnownAnswer) {
  const Known& k = GetParam();
  TableCpuid cpuid = TableCpuid::FromFile(k.file);
  CpuInfo cpu = CpuIdentify(cpuid);
  EXPECT_STREQ(cpu.vendor, k.vendor);
  EXPECT_STREQ(cpu.brand, k.brand);
  EXPECT_EQ(cpu.family, k.family);
  EXPECT_EQ(cpu.model, k.model);
  EXPECT_EQ(cpu.stepping, k.stepping);
  EXPECT_EQ(cpu.phys_bits, k.phys_bits);
  EXPECT_EQ(cpu.virt_bits, k.virt_bits);
  EXPECT_EQ(cpu.PhysLimit().value(), uint64_t{1} << k.phys_bits);
  EXPECT_EQ(cpu.features, k.features) << std::hex << (cpu.features ^ k.features);
  EXPECT_EQ(cpu.colours, k.colours);
  std::string text = Printed(cpu);
  EXPECT_NE(text.find("cpu0: caches:" + std::string(k.caches) + "\n"), std::string::npos) << text;
}

// The dump prints exactly the leaves the file holds, in its order: a boot log with kmem.cpuid is a test case.
TEST_P(RecordedCpu, DumpReproducesTheRecording) {
  TableCpuid cpuid = TableCpuid::FromFile(GetParam().file);
  testing::ConsoleCapture out;
  CpuidDump(cpuid);
  std::string want;
  for (const std::string& line : cpuid.lines()) want += "cpuid: " + line + "\n";
  EXPECT_EQ(out.text(), want);
}

INSTANTIATE_TEST_SUITE_P(Cpus, RecordedCpu, ::testing::ValuesIn(kKnown),
                         [](const ::testing::TestParamInfo<Known>& p) { return std::string(p.param.file); });

// A minimal CPU: leaves 0 and 1 and the extended maximum only.
TableCpuid Minimal(uint32_t leaf1_eax, uint32_t leaf1_edx) {
  TableCpuid t;
  t.Set(0, 0, {1, 0x756e6547, 0x6c65746e, 0x49656e69});  // "GenuineIntel"
  t.Set(1, 0, {leaf1_eax, 0, 0, leaf1_edx});
  t.Set(0x80000000, 0, {0x80000000, 0, 0, 0});
  return t;
}

TEST(CpuIdentify, WithoutLeaf80000008TheWidthsAreTheArchitecturalDefaults) {
  TableCpuid pae = Minimal(0x000006f1, 1u << 6);
  CpuInfo cpu = CpuIdentify(pae);
  EXPECT_EQ(cpu.phys_bits, 36u);
  EXPECT_EQ(cpu.virt_bits, 48u);
  TableCpuid no_pae = Minimal(0x000006f1, 0);
  EXPECT_EQ(CpuIdentify(no_pae).phys_bits, 32u);
  EXPECT_STREQ(CpuIdentify(no_pae).brand, "");
  EXPECT_EQ(CpuIdentify(no_pae).ncaches, 0u);
}

// Family 6 and 15 fold the extended model in; only family 15 adds the extended family.
TEST(CpuIdentify, FoldsExtendedFamilyAndModel) {
  TableCpuid intel = Minimal(0x000906ea, 0);  // family 6, ext model 9, model 0xe, stepping 0xa
  CpuInfo a = CpuIdentify(intel);
  EXPECT_EQ(a.family, 0x6u);
  EXPECT_EQ(a.model, 0x9eu);
  EXPECT_EQ(a.stepping, 0xau);
  TableCpuid amd = Minimal(0x00a20f10, 0);  // family 0xf + 0xa, ext model 2, model 1
  CpuInfo b = CpuIdentify(amd);
  EXPECT_EQ(b.family, 0x19u);
  EXPECT_EQ(b.model, 0x21u);
  TableCpuid old = Minimal(0x00010543, 0);  // family 5: the extended model is not part of the model
  EXPECT_EQ(CpuIdentify(old).model, 0x4u);
}

TEST(CpuIdentify, BrandDropsLeadingAndTrailingBlanks) {
  TableCpuid t = Minimal(0x000006f1, 0);
  t.Set(0x80000000, 0, {0x80000004, 0, 0, 0});
  t.Set(0x80000001, 0, {});
  const char text[49] = "      Intel(R) Xeon(R) CPU E5-2690 0 @ 2.90GHz  ";
  for (uint32_t i = 0; i < 3; ++i) {
    uint32_t w[4];
    std::memcpy(w, text + 16 * i, 16);
    t.Set(0x80000002 + i, 0, {w[0], w[1], w[2], w[3]});
  }
  EXPECT_STREQ(CpuIdentify(t).brand, "Intel(R) Xeon(R) CPU E5-2690 0 @ 2.90GHz");
}

// More cache subleaves than CpuInfo holds: the first kMaxCaches are kept, the rest never asked for.
TEST(CpuIdentify, KeepsAtMostMaxCaches) {
  TableCpuid t = Minimal(0x000006f1, 0);
  t.Set(0, 0, {4, 0x756e6547, 0x6c65746e, 0x49656e69});
  for (uint32_t i = 0; i <= CpuInfo::kMaxCaches; ++i) t.Set(4, i, {0x41, 0x01c0003f, 0x3ff, 0});  // L2 512K 8-way
  CpuInfo cpu = CpuIdentify(t);
  EXPECT_EQ(cpu.ncaches, CpuInfo::kMaxCaches);
  EXPECT_EQ(cpu.cache[CpuInfo::kMaxCaches - 1].bytes, 512u << 10);
  EXPECT_EQ(cpu.colours, 16u);  // 512K / (8 ways x 4K)
}

// 1024 ways x 1024 partitions x 4096-byte lines x 2^32 sets is 2^64 bytes: no CPU, and no 64-bit size.
TEST(CpuIdentify, ACacheTooBigForSixtyFourBitsEndsTheList) {
  TableCpuid t = Minimal(0x000006f1, 0);
  t.Set(0, 0, {4, 0x756e6547, 0x6c65746e, 0x49656e69});
  t.Set(4, 0, {0x21, 0x01c0003f, 0x3f, 0});  // L1d 32K 8-way
  t.Set(4, 1, {0x43, 0xffffffff, 0xffffffff, 0});
  CpuInfo cpu = CpuIdentify(t);
  EXPECT_EQ(cpu.ncaches, 1u);
  EXPECT_EQ(cpu.cache[0].bytes, 32u << 10);
}

TEST(CpuIdentify, AddressWidthsStayWithinTheArchitecture) {
  TableCpuid t = Minimal(0x000006f1, 0);
  t.Set(0x80000000, 0, {0x80000008, 0, 0, 0});
  for (uint32_t leaf = 0x80000001; leaf < 0x80000008; ++leaf) t.Set(leaf, 0, {});
  t.Set(0x80000008, 0, {0x0000ffff, 0, 0, 0});
  CpuInfo wide = CpuIdentify(t);
  EXPECT_EQ(wide.phys_bits, kMaxPhysBits);
  EXPECT_EQ(wide.virt_bits, kMaxVirtBits);
  t.Set(0x80000008, 0, {0x00000000, 0, 0, 0});
  CpuInfo narrow = CpuIdentify(t);
  EXPECT_EQ(narrow.phys_bits, 32u);
  EXPECT_EQ(narrow.virt_bits, 48u);
}

TEST(CpuIdentify, ColoursClampToThePageAllocatorsMaximum) {
  TableCpuid t = Minimal(0x000006f1, 0);
  t.Set(0, 0, {4, 0x756e6547, 0x6c65746e, 0x49656e69});
  t.Set(4, 0, {0x63, 0x0000003f, (1u << 20) - 1, 0});  // L3, 1 way, 2^20 sets of 64 bytes: 64 MiB direct-mapped
  t.Set(4, 1, {});
  EXPECT_EQ(CpuIdentify(t).colours, kMaxColours);
}

}  // namespace
}  // namespace kmem::x86
