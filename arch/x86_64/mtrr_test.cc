#include "arch/x86_64/mtrr.h"

#include <gtest/gtest.h>

#include <string>

#include "testing/console_capture.h"
#include "testing/table_msrs.h"

namespace kmem::x86 {
namespace {

using testing::TableMsrs;

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr uint8_t kUC = 0, kWC = 1, kWT = 4, kWP = 5, kWB = 6;
constexpr uint64_t kEnable = 1 << 11, kFixedEnable = 1 << 10, kValid = 1 << 11;

CpuInfo Cpu(uint32_t features = static_cast<uint32_t>(CpuFeature::kMtrr)) {
  CpuInfo cpu;
  cpu.phys_bits = 40;
  cpu.features = features;
  return cpu;
}

void ExpectType(const Mtrrs& m, uint64_t base, uint64_t size, uint8_t type, Uniform uniform) {
  RangeType r = m.TypeOf(PhysAddr(base), size);
  EXPECT_EQ(r.uniform, uniform) << std::hex << "[0x" << base << ", +0x" << size << ")";
  EXPECT_EQ(static_cast<uint8_t>(r.type), type) << std::hex << "[0x" << base << ", +0x" << size << ")";
}

std::string Printed(const Mtrrs& m) {
  testing::ConsoleCapture out;
  m.Dump();
  return out.text();
}

// QEMU's pc machine at -m 1G: SeaBIOS makes [2G, 4G) UC, the legacy VGA window UC, the ROM area WP.
TEST(Mtrrs, QemuAt1G) {
  TableMsrs msrs = TableMsrs::FromFile("qemu_1G");
  Mtrrs m = Mtrrs::Read(msrs, Cpu());
  EXPECT_EQ(m.state(), Mtrrs::State::kEnabled);
  ExpectType(m, 0, 0xa0000, kWB, Uniform::kYes);
  ExpectType(m, 0xa0000, 0x20000, kUC, Uniform::kYes);
  ExpectType(m, 0xc0000, 0x40000, kWP, Uniform::kYes);
  ExpectType(m, 0x9f000, 0x2000, kWB, Uniform::kNo);
  ExpectType(m, 0x100000, kGiB, kWB, Uniform::kYes);
  ExpectType(m, 2 * kGiB - 4 * kMiB, 4 * kMiB, kWB, Uniform::kYes);
  ExpectType(m, 2 * kGiB, 2 * kGiB, kUC, Uniform::kYes);
  ExpectType(m, 0xfee00000, 0x1000, kUC, Uniform::kYes);
  ExpectType(m, 2 * kGiB - 4 * kMiB, 8 * kMiB, kWB, Uniform::kNo);
  ExpectType(m, 4 * kGiB, kGiB, kWB, Uniform::kYes);
  EXPECT_EQ(Printed(m),
            "mtrr: enabled, default type WB, 1 variable range in use\n"
            "mtrr: fixed [0x0, 0xa0000) WB, [0xa0000, 0xc0000) UC, [0xc0000, 0x100000) WP\n"
            "mtrr: variable 0 [0x80000000, 0x100000000) 2G UC\n");
}

// At -m 6G the RAM below 4 GiB ends at 3 GiB and the UC range starts there.
TEST(Mtrrs, QemuAt6G) {
  TableMsrs msrs = TableMsrs::FromFile("qemu_6G");
  Mtrrs m = Mtrrs::Read(msrs, Cpu());
  ExpectType(m, 2 * kGiB, kGiB, kWB, Uniform::kYes);
  ExpectType(m, 3 * kGiB, 4 * kMiB, kUC, Uniform::kYes);
  ExpectType(m, 4 * kGiB, 3 * kGiB, kWB, Uniform::kYes);
  EXPECT_NE(Printed(m).find("mtrr: variable 0 [0xc0000000, 0x100000000) 1G UC\n"), std::string::npos);
}

//   0        1G            2G        3G
//   |--WB (default)----------------------
//        |----WT----------|                 range 0
//        |--UC--|                           range 1 inside it: UC wins
//                   |--WB-|                 range 2 inside range 0: WT+WB is WT
TEST(Mtrrs, OverlappingRangesUncachedWinsWriteThroughBeatsWriteBack) {
  TableMsrs msrs = TableMsrs::Synthetic(4, kEnable | kWB);
  msrs.SetRange(0, kGiB, kGiB, kWT);
  msrs.SetRange(1, kGiB, 256 * kMiB, kUC);
  msrs.SetRange(2, kGiB + 512 * kMiB, 512 * kMiB, kWB);
  Mtrrs m = Mtrrs::Read(msrs, Cpu());
  ExpectType(m, kGiB, 256 * kMiB, kUC, Uniform::kYes);
  ExpectType(m, kGiB + 256 * kMiB, 768 * kMiB, kWT, Uniform::kYes);
  ExpectType(m, kGiB + 512 * kMiB, 4096, kWT, Uniform::kYes);
  ExpectType(m, 0, 2 * kGiB, kWB, Uniform::kNo);
  ExpectType(m, 2 * kGiB, kGiB, kWB, Uniform::kYes);
}

// WB and WC overlapping is undefined by the SDM: neither type is trusted there.
TEST(Mtrrs, UndefinedOverlapIsNotUniform) {
  TableMsrs msrs = TableMsrs::Synthetic(2, kEnable | kUC);
  msrs.SetRange(0, kGiB, kGiB, kWB);
  msrs.SetRange(1, kGiB, 4 * kMiB, kWC);
  Mtrrs m = Mtrrs::Read(msrs, Cpu());
  ExpectType(m, kGiB, 4096, kUC, Uniform::kNo);
  ExpectType(m, kGiB + 4 * kMiB, 4 * kMiB, kWB, Uniform::kYes);
}

// Below 1 MiB the fixed ranges decide, segment by segment, over any variable range.
TEST(Mtrrs, FixedRangesBelowOneMiB) {
  TableMsrs msrs = TableMsrs::Synthetic(1, kEnable | kFixedEnable | kUC);
  msrs.Set(0x250, 0x0606060606060606);
  msrs.Set(0x259, 0x0101010101010101);      // [0xa0000, 0xc0000) WC
  msrs.Set(0x26f, 0x0505050505050504);      // 0xf8000 WT, then WP to 1 MiB
  msrs.SetRange(0, 0, 2 * kGiB, kWB);
  Mtrrs m = Mtrrs::Read(msrs, Cpu());
  ExpectType(m, 0, 0x80000, kWB, Uniform::kYes);
  ExpectType(m, 0x80000, 0x20000, kUC, Uniform::kYes);
  ExpectType(m, 0xa0000, 0x20000, kWC, Uniform::kYes);
  ExpectType(m, 0xf8000, 0x1000, kWT, Uniform::kYes);
  ExpectType(m, 0xf9000, 0x7000, kWP, Uniform::kYes);
  ExpectType(m, 0x100000, kGiB, kWB, Uniform::kYes);
  EXPECT_NE(Printed(m).find("mtrr: fixed [0x0, 0x80000) WB, [0x80000, 0xa0000) UC, [0xa0000, 0xc0000) WC, "
                            "[0xc0000, 0xf8000) UC, [0xf8000, 0xf9000) WT, [0xf9000, 0x100000) WP\n"),
            std::string::npos)
      << Printed(m);
  // Fixed ranges present but not enabled: the variable range covers low memory too.
  msrs.Set(msr::kMtrrDefType, kEnable | kUC);
  ExpectType(Mtrrs::Read(msrs, Cpu()), 0xa0000, 0x1000, kWB, Uniform::kYes);
}

TEST(Mtrrs, DisabledMeansUncachedEverywhere) {
  TableMsrs msrs = TableMsrs::FromFile("qemu_1G");
  msrs.Set(msr::kMtrrDefType, 0x406);  // E clear, FE and WB default left as they were
  Mtrrs m = Mtrrs::Read(msrs, Cpu());
  EXPECT_EQ(m.state(), Mtrrs::State::kDisabled);
  ExpectType(m, 0, 4 * kGiB, kUC, Uniform::kYes);
  EXPECT_EQ(Printed(m), "mtrr: disabled (IA32_MTRR_DEF_TYPE.E clear): all memory is uncached\n");
}

TEST(Mtrrs, AbsentLeavesTypesToThePageTables) {
  TableMsrs none;  // any read fails the test
  Mtrrs m = Mtrrs::Read(none, Cpu(0));
  EXPECT_EQ(m.state(), Mtrrs::State::kAbsent);
  ExpectType(m, 0, 8 * kGiB, kWB, Uniform::kYes);
}

//   2G                  2G+1G
//   |--matched pieces of a scattered mask--|   the whole block is untrusted; outside it the default holds
TEST(Mtrrs, ScatteredMaskIsReportedNotTrusted) {
  TableMsrs msrs = TableMsrs::Synthetic(2, kEnable | kWB);
  // Top bits down to 1 GiB set, bit 29 clear, bit 28 set: matches [2G, 2G+256M) and [2G+512M, 2G+768M).
  msrs.SetRaw(1, 2 * kGiB | kUC, (((uint64_t{1} << 40) - 1) & ~(kGiB - 1)) | (uint64_t{1} << 28) | kValid);
  Mtrrs m = Mtrrs::Read(msrs, Cpu());
  ExpectType(m, 2 * kGiB + 256 * kMiB, 4096, kUC, Uniform::kNo);
  ExpectType(m, kGiB, kGiB, kWB, Uniform::kYes);
  ExpectType(m, kGiB, kGiB + 4096, kWB, Uniform::kNo);
  ExpectType(m, 3 * kGiB, kGiB, kWB, Uniform::kYes);
  EXPECT_NE(Printed(m).find("mtrr: variable 1 mask 0xffd0000000 type UC: the mask is not contiguous; not trusted "
                            "in [0x80000000, 0xc0000000)\n"),
            std::string::npos)
      << Printed(m);
}

TEST(EffectiveType, FollowsTheSdmTable) {
  using T = MemoryType;
  EXPECT_EQ(EffectiveType(T::kWriteBack, T::kUncached), T::kUncached);
  EXPECT_EQ(EffectiveType(T::kUncached, T::kWriteBack), T::kUncached);
  EXPECT_EQ(EffectiveType(T::kUncached, T::kWriteCombining), T::kWriteCombining);
  EXPECT_EQ(EffectiveType(T::kWriteCombining, T::kUncachedMinus), T::kWriteCombining);
  EXPECT_EQ(EffectiveType(T::kWriteBack, T::kUncachedMinus), T::kUncached);
  EXPECT_EQ(EffectiveType(T::kWriteThrough, T::kWriteBack), T::kWriteThrough);
  EXPECT_EQ(EffectiveType(T::kWriteCombining, T::kWriteThrough), T::kUncached);
  EXPECT_EQ(EffectiveType(T::kWriteProtect, T::kWriteBack), T::kWriteProtect);
}

TEST(KernelPat, PcdAndPwtSelectTheTypes) {
  EXPECT_EQ(PatType(0), MemoryType::kWriteBack);
  EXPECT_EQ(PatType(1 << 3), MemoryType::kWriteCombining);
  EXPECT_EQ(PatType(1 << 4), MemoryType::kUncachedMinus);
  EXPECT_EQ(PatType(3 << 3), MemoryType::kUncached);
  // All but entries 1 and 5 (PWT alone, which the kernel never set before) as at power-on.
  constexpr uint64_t kKept = 0xffff00ffffff00ff;
  EXPECT_EQ(kKernelPat & kKept, 0x0007040600070406 & kKept);
}

}  // namespace
}  // namespace kmem::x86
