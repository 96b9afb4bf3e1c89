#include "arch/x86_64/pc/acpi.h"

#include <algorithm>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "testing/acpi_tables.h"
#include "testing/console_capture.h"

namespace kmem::x86 {
namespace {

using testing::AcpiImage;
using testing::AcpiLayout;
using testing::AcpiMachine;
using testing::AcpiMadt;
using testing::Bytes;
using testing::kCpuOn;
using testing::kCpuOnlineCapable;
using testing::MadtIoApic;
using testing::MadtLapicOverride;
using testing::MadtLocalApic;
using testing::MadtX2Apic;

constexpr uint32_t kLapic = 0xfee00000;
constexpr uint32_t kPcatCompat = 1;

struct Found {
  AcpiStatus status;
  AcpiCpus cpus;
  std::string log;
};

Found Find(AcpiImage& image) {
  testing::ConsoleCapture console;
  Found f;
  f.status = AcpiFindCpus(image, &f.cpus);
  f.log = console.text();
  return f;
}

std::vector<uint32_t> ApicIds(const AcpiCpus& cpus) {
  std::vector<uint32_t> ids;
  for (unsigned i = 0; i < cpus.n; ++i) ids.push_back(cpus.cpu[i].apic_id);
  return ids;
}

// A whole line of the parser's output.
#define EXPECT_LINE(found, line) EXPECT_NE((found).log.find("acpi: " line "\n"), std::string::npos) << (found).log

// Four enabled processors with APIC ids 0-3 and an I/O APIC, as QEMU's -smp 4.
Bytes FourCpus(uint8_t revision = 3) {
  return AcpiMadt(kLapic, kPcatCompat,
                  {MadtLocalApic(0, 0, kCpuOn), MadtLocalApic(1, 1, kCpuOn), MadtLocalApic(2, 2, kCpuOn),
                   MadtLocalApic(3, 3, kCpuOn), MadtIoApic(0, 0xfec00000)},
                  revision);
}

constexpr AcpiLayout kAt{};
// Offsets inside an SDT header.
constexpr uint64_t kLength = 4, kChecksum = 9, kMadtEntries = 44;

void SetLe32(AcpiImage* image, uint64_t pa, uint32_t v) {
  image->Write(pa, Bytes{static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v >> 16),
                         static_cast<uint8_t>(v >> 24)});
}

// Changes the length field of a table in the tables area and, where the new length stays in the area,
// fixes the checksum over it, so that only the length lies.
void SetLength(AcpiImage* image, uint64_t table, uint32_t length) {
  SetLe32(image, table + kLength, length);
  if (length > kChecksum && table + length <= testing::kAcpiTablesArea + testing::kAcpiTablesAreaBytes) {
    image->Resum(table + kChecksum, table, length);
  }
}

// --- Finding the RSDP and the root table.

TEST(AcpiTest, RsdpRevision0UsesTheRsdt) {
  AcpiImage image = AcpiMachine(FourCpus(), 0);
  Found f = Find(image);
  ASSERT_EQ(f.status, AcpiStatus::kOk) << f.log;
  EXPECT_EQ(f.log,
            "acpi: RSDP at 0xf5a00 revision 0, RSDT at 0x7fe0000, MADT at 0x7fe2000: 4 CPUs (0 disabled), local "
            "APIC at 0xfee00000, 8259 PICs\n");
  EXPECT_EQ(ApicIds(f.cpus), (std::vector<uint32_t>{0, 1, 2, 3}));
  EXPECT_EQ(f.cpus.cpu[2].uid, 2u);
  EXPECT_EQ(f.cpus.lapic_base, PhysAddr(kLapic));
  EXPECT_TRUE(f.cpus.has_8259);
}

TEST(AcpiTest, RsdpRevision2PrefersTheXsdt) {
  AcpiImage image = AcpiMachine(FourCpus(), 2);
  Found f = Find(image);
  ASSERT_EQ(f.status, AcpiStatus::kOk) << f.log;
  EXPECT_EQ(f.log,
            "acpi: RSDP at 0xf5a00 revision 2, XSDT at 0x7fe1000, MADT at 0x7fe2000: 4 CPUs (0 disabled), local "
            "APIC at 0xfee00000, 8259 PICs\n");
}

TEST(AcpiTest, XsdtAbove4GiB) {
  const uint64_t xsdt = 0x1'0000'0000;
  AcpiImage image = AcpiMachine(FourCpus(), 2);
  image.Map(xsdt, 0x1000);
  image.Write(xsdt, testing::AcpiRoot("XSDT", {kAt.madt}));
  image.Write(kAt.rsdp, testing::AcpiRsdp(2, static_cast<uint32_t>(kAt.rsdt), xsdt));
  Found f = Find(image);
  ASSERT_EQ(f.status, AcpiStatus::kOk) << f.log;
  EXPECT_NE(f.log.find("XSDT at 0x100000000, MADT at 0x7fe2000: 4 CPUs"), std::string::npos) << f.log;
}

TEST(AcpiTest, RsdpInTheEbdaComesFirst) {
  AcpiLayout at;
  at.rsdp = 0x9fc00 + 0x40;
  AcpiImage image = AcpiMachine(FourCpus(), 0, at);
  image.Write(kAt.rsdp, testing::AcpiRsdp(0, 0xdead000, 0));  // a second RSDP in the BIOS area, never read
  Found f = Find(image);
  ASSERT_EQ(f.status, AcpiStatus::kOk) << f.log;
  EXPECT_NE(f.log.find("acpi: RSDP at 0x9fc40 revision 0, RSDT at 0x7fe0000"), std::string::npos) << f.log;
}

TEST(AcpiTest, RsdpAtTheBiosAreaEdges) {
  for (uint64_t rsdp : {0xe0000, 0xfffe0}) {
    AcpiImage image = AcpiMachine(FourCpus(), 0, {.rsdp = rsdp});
    Found f = Find(image);
    EXPECT_EQ(f.status, AcpiStatus::kOk) << std::hex << rsdp << f.log;
  }
}

TEST(AcpiTest, RsdpOffA16ByteBoundaryIsNotFound) {
  AcpiImage image = AcpiMachine(FourCpus(), 0, {.rsdp = 0xf5a08});
  Found f = Find(image);
  EXPECT_EQ(f.status, AcpiStatus::kNoRsdp);
  EXPECT_EQ(f.log, "acpi: no RSDP in the EBDA or at [0xe0000, 0x100000)\n");
}

TEST(AcpiTest, EbdaSegmentOutsideConventionalMemoryIsIgnored) {
  AcpiImage image = AcpiMachine(FourCpus(), 0, {.ebda_segment = 0xf000});
  Found f = Find(image);
  EXPECT_EQ(f.status, AcpiStatus::kOk);
  EXPECT_LINE(f, "EBDA segment word 0xf000 points outside conventional memory, ignored");
}

TEST(AcpiTest, NoLowMemoryIsNoRsdp) {
  AcpiImage image;
  Found f = Find(image);
  EXPECT_EQ(f.status, AcpiStatus::kNoRsdp);
  EXPECT_EQ(f.cpus.n, 0u);
}

// --- RSDPs that lie.

TEST(AcpiTest, RsdpWithABadChecksumIsIgnoredAndTheScanGoesOn) {
  AcpiImage image = AcpiMachine(FourCpus(), 0, {.rsdp = 0xf6000});
  Bytes liar = testing::AcpiRsdp(0, 0xdead000, 0);
  liar[8] ^= 1;
  image.Write(0xf5a00, liar);
  Found f = Find(image);
  ASSERT_EQ(f.status, AcpiStatus::kOk) << f.log;
  EXPECT_LINE(f, "RSDP at 0xf5a00: checksum fails, ignored");
  EXPECT_NE(f.log.find("acpi: RSDP at 0xf6000 revision 0, RSDT"), std::string::npos) << f.log;
}

TEST(AcpiTest, RsdpExtendedChecksumFailsUsesTheRsdt) {
  AcpiImage image = AcpiMachine(FourCpus(), 2);
  image.Write(kAt.rsdp + 32, Bytes{0x5a});  // the extended checksum; the first 20 bytes still sum to 0
  Found f = Find(image);
  ASSERT_EQ(f.status, AcpiStatus::kOk) << f.log;
  EXPECT_LINE(f, "RSDP at 0xf5a00: revision 2 but its extended checksum over 36 bytes fails, using the RSDT");
  EXPECT_NE(f.log.find("revision 2, RSDT at 0x7fe0000"), std::string::npos) << f.log;
}

TEST(AcpiTest, RsdpExtendedLengthLieIsNotFollowed) {
  AcpiImage image = AcpiMachine(FourCpus(), 2);
  SetLe32(&image, kAt.rsdp + 20, 0x10000000);
  image.Resum(kAt.rsdp + 32, kAt.rsdp, 36);
  Found f = Find(image);
  ASSERT_EQ(f.status, AcpiStatus::kOk) << f.log;
  EXPECT_LINE(f, "RSDP at 0xf5a00: revision 2 but its extended checksum over 268435456 bytes fails, using the RSDT");
  EXPECT_LT(image.bytes_read(), 200'000u);
}

TEST(AcpiTest, RsdpExtendedPartUnreadable) {
  // A revision 2 RSDP whose last 16 bytes are past the end of readable memory.
  AcpiImage low;
  low.Map(0xe0000, 0xf5a00 + 20 - 0xe0000);
  Bytes rsdp = testing::AcpiRsdp(2, 0x7fe0000, 0x7fe1000);
  rsdp.resize(20);
  low.Write(0xf5a00, rsdp);
  Found f = Find(low);
  EXPECT_EQ(f.status, AcpiStatus::kBadRoot);
  EXPECT_LINE(f, "RSDP at 0xf5a00: revision 2 but its extended part is unreadable, using the RSDT");
  EXPECT_LINE(f, "RSDT at 0x7fe0000: unreadable, ignored");
  EXPECT_LINE(f, "RSDP at 0xf5a00 revision 2: no valid root table (RSDT 0x7fe0000, XSDT 0x0)");
}

// --- Root tables that lie.

TEST(AcpiTest, XsdtWithABadChecksumFallsBackToTheRsdt) {
  AcpiImage image = AcpiMachine(FourCpus(), 2);
  image.Write(kAt.xsdt + kChecksum, Bytes{0});
  Found f = Find(image);
  ASSERT_EQ(f.status, AcpiStatus::kOk) << f.log;
  EXPECT_LINE(f, "XSDT at 0x7fe1000: checksum fails, ignored");
  EXPECT_LINE(f, "falling back to the RSDT at 0x7fe0000");
  EXPECT_NE(f.log.find("revision 2, RSDT at 0x7fe0000, MADT at 0x7fe2000: 4 CPUs"), std::string::npos) << f.log;
}

TEST(AcpiTest, RsdtWithABadChecksumIsBadRoot) {
  AcpiImage image = AcpiMachine(FourCpus(), 0);
  image.Write(kAt.rsdt + kChecksum, Bytes{0});
  Found f = Find(image);
  EXPECT_EQ(f.status, AcpiStatus::kBadRoot);
  EXPECT_LINE(f, "RSDT at 0x7fe0000: checksum fails, ignored");
  EXPECT_EQ(f.cpus.n, 0u);
}

TEST(AcpiTest, RootWithTheWrongSignature) {
  AcpiImage image = AcpiMachine(FourCpus(), 0);
  image.Write(kAt.rsdt, Bytes{'X', 'S', 'D', 'T'});
  Found f = Find(image);
  EXPECT_EQ(f.status, AcpiStatus::kBadRoot);
  EXPECT_LINE(f, "RSDT at 0x7fe0000: signature 0x54445358 is not 'RSDT', ignored");
}

TEST(AcpiTest, RootLengthShorterThanItsHeader) {
  AcpiImage image = AcpiMachine(FourCpus(), 0);
  SetLength(&image, kAt.rsdt, 20);
  Found f = Find(image);
  EXPECT_EQ(f.status, AcpiStatus::kBadRoot);
  EXPECT_LINE(f, "RSDT at 0x7fe0000: length 20 outside [36, 65536], ignored");
}

TEST(AcpiTest, RootLengthPastTheBound) {
  AcpiImage image = AcpiMachine(FourCpus(), 0);
  SetLength(&image, kAt.rsdt, 0x10000000);
  Found f = Find(image);
  EXPECT_EQ(f.status, AcpiStatus::kBadRoot);
  EXPECT_LINE(f, "RSDT at 0x7fe0000: length 268435456 outside [36, 65536], ignored");
  EXPECT_LT(image.bytes_read(), 200'000u);
}

TEST(AcpiTest, RootLengthPastReadableMemory) {
  AcpiImage image = AcpiMachine(FourCpus(), 0);
  // 60 KiB from the end of the tables area: inside the bound, past the area.
  const uint64_t rsdt = testing::kAcpiTablesArea + testing::kAcpiTablesAreaBytes - 64;
  image.Write(rsdt, testing::AcpiRoot("RSDT", {kAt.madt}));
  SetLe32(&image, rsdt + kLength, 60 << 10);
  image.Write(kAt.rsdp, testing::AcpiRsdp(0, static_cast<uint32_t>(rsdt), 0));
  Found f = Find(image);
  EXPECT_EQ(f.status, AcpiStatus::kBadRoot);
  EXPECT_LINE(f, "RSDT at 0x7ffffc0: its body is unreadable, ignored");
}

TEST(AcpiTest, RootWithAPartialEntry) {
  AcpiImage image = AcpiMachine(FourCpus(), 2);
  SetLength(&image, kAt.xsdt, 36 + 16 + 3);
  Found f = Find(image);
  ASSERT_EQ(f.status, AcpiStatus::kOk) << f.log;
  EXPECT_LINE(f, "XSDT at 0x7fe1000: a partial entry of 3 bytes at its end, ignored");
}

TEST(AcpiTest, RootPointersOutsideMemoryAreIgnored) {
  AcpiImage image = AcpiMachine(FourCpus(), 2);
  image.Write(kAt.xsdt, testing::AcpiRoot("XSDT", {0xdead0000, ~uint64_t{0} - 1, 0, kAt.madt}));
  Found f = Find(image);
  ASSERT_EQ(f.status, AcpiStatus::kOk) << f.log;
  EXPECT_LINE(f, "XSDT entry 0: table at 0xdead0000 unreadable, ignored");
  EXPECT_LINE(f, "XSDT entry 1: table at 0xfffffffffffffffe unreadable, ignored");
  EXPECT_EQ(f.cpus.n, 4u);
}

TEST(AcpiTest, RsdpPointingOutsideMemory) {
  AcpiImage image = AcpiMachine(FourCpus(), 2);
  image.Write(kAt.rsdp, testing::AcpiRsdp(2, 0xfffffff0, ~uint64_t{0} - 8));
  Found f = Find(image);
  EXPECT_EQ(f.status, AcpiStatus::kBadRoot);
  EXPECT_LINE(f, "XSDT at 0xfffffffffffffff7: unreadable, ignored");
  EXPECT_LINE(f, "falling back to the RSDT at 0xfffffff0");
  EXPECT_LINE(f, "RSDT at 0xfffffff0: unreadable, ignored");
}

TEST(AcpiTest, RootWithoutAMadt) {
  AcpiImage image = AcpiMachine(FourCpus(), 0);
  image.Write(kAt.rsdt, testing::AcpiRoot("RSDT", {kAt.other}));
  Found f = Find(image);
  EXPECT_EQ(f.status, AcpiStatus::kNoMadt);
  EXPECT_LINE(f, "RSDT at 0x7fe0000 lists no MADT");
}

TEST(AcpiTest, OnlyTheFirstMadtIsRead) {
  AcpiImage image = AcpiMachine(FourCpus(), 0);
  const uint64_t second = kAt.madt + 0x800;
  image.Write(second, AcpiMadt(kLapic, 0, {MadtLocalApic(9, 9, kCpuOn)}));
  image.Write(kAt.rsdt, testing::AcpiRoot("RSDT", {kAt.madt, second}));
  Found f = Find(image);
  ASSERT_EQ(f.status, AcpiStatus::kOk) << f.log;
  EXPECT_LINE(f, "RSDT entry 1: another MADT at 0x7fe2800, ignored");
  EXPECT_EQ(ApicIds(f.cpus), (std::vector<uint32_t>{0, 1, 2, 3}));
}

// --- MADTs that lie.

TEST(AcpiTest, MadtWithABadChecksum) {
  AcpiImage image = AcpiMachine(FourCpus(), 0);
  image.Write(kAt.madt + kChecksum, Bytes{0});
  Found f = Find(image);
  EXPECT_EQ(f.status, AcpiStatus::kNoMadt);
  EXPECT_LINE(f, "MADT at 0x7fe2000: checksum fails, ignored");
}

TEST(AcpiTest, MadtLengthShorterThanItsHeader) {
  AcpiImage image = AcpiMachine(FourCpus(), 0);
  SetLength(&image, kAt.madt, 40);
  Found f = Find(image);
  EXPECT_EQ(f.status, AcpiStatus::kNoMadt);
  EXPECT_LINE(f, "MADT at 0x7fe2000: length 40 outside [44, 1048576], ignored");
}

TEST(AcpiTest, MadtLengthPastTheBound) {
  AcpiImage image = AcpiMachine(FourCpus(), 0);
  SetLength(&image, kAt.madt, (1 << 20) + 1);
  Found f = Find(image);
  EXPECT_EQ(f.status, AcpiStatus::kNoMadt);
  EXPECT_LINE(f, "MADT at 0x7fe2000: length 1048577 outside [44, 1048576], ignored");
}

TEST(AcpiTest, MadtEntryOfLengthZero) {
  AcpiImage image = AcpiMachine(FourCpus(), 0);
  image.Write(kAt.madt + kMadtEntries + 8 + 1, Bytes{0});  // the second entry's length
  image.Resum(kAt.madt + kChecksum, kAt.madt, FourCpus().size());
  Found f = Find(image);
  EXPECT_EQ(f.status, AcpiStatus::kBadMadt);
  EXPECT_LINE(f, "MADT at 0x7fe2000: entry at +52 of type 0 has length 0, needs 8, MADT ignored");
  EXPECT_EQ(f.cpus.n, 0u);
}

TEST(AcpiTest, MadtEntryShorterThanItsTypeNeeds) {
  Bytes x2 = MadtX2Apic(7, 7, kCpuOn);
  x2[1] = 12;  // a 16-byte x2APIC entry claiming 12: its uid would be the next entry's bytes
  Bytes madt = AcpiMadt(kLapic, 0, {MadtLocalApic(0, 0, kCpuOn), x2});
  AcpiImage image = AcpiMachine(madt, 0);
  Found f = Find(image);
  EXPECT_EQ(f.status, AcpiStatus::kBadMadt);
  EXPECT_LINE(f, "MADT at 0x7fe2000: entry at +52 of type 9 has length 12, needs 16, MADT ignored");
}

TEST(AcpiTest, MadtEntryRunningPastTheTable) {
  Bytes madt = AcpiMadt(kLapic, 0, {MadtLocalApic(0, 0, kCpuOn), MadtIoApic(1, 0xfec00000)});
  madt[kMadtEntries + 8 + 1] = 40;  // the I/O APIC entry claims 40 of the table's 12 remaining bytes
  AcpiImage image = AcpiMachine(madt, 0);
  image.Resum(kAt.madt + kChecksum, kAt.madt, madt.size());
  Found f = Find(image);
  EXPECT_EQ(f.status, AcpiStatus::kBadMadt);
  EXPECT_LINE(f, "MADT at 0x7fe2000: entry at +52 of length 40 runs past the table's 64 bytes, MADT ignored");
}

TEST(AcpiTest, MadtWithAStrayByteAtItsEnd) {
  Bytes madt = FourCpus();
  AcpiImage image = AcpiMachine(madt, 0);
  SetLength(&image, kAt.madt, static_cast<uint32_t>(madt.size() + 1));
  Found f = Find(image);
  EXPECT_EQ(f.status, AcpiStatus::kBadMadt);
  EXPECT_LINE(f, "MADT at 0x7fe2000: entry at +88 runs past the table's 89 bytes, MADT ignored");
}

TEST(AcpiTest, MadtWithoutUsableProcessors) {
  AcpiImage image = AcpiMachine(AcpiMadt(kLapic, 0, {MadtLocalApic(0, 0, 0), MadtIoApic(1, 0xfec00000)}), 0);
  Found f = Find(image);
  EXPECT_EQ(f.status, AcpiStatus::kBadMadt);
  EXPECT_LINE(f, "MADT at 0x7fe2000: no usable processor (1 disabled), MADT ignored");
  EXPECT_EQ(f.cpus.disabled, 0u) << "a failed search leaves nothing behind";
}

TEST(AcpiTest, MadtWithoutALocalApicAddress) {
  AcpiImage image = AcpiMachine(AcpiMadt(0, 0, {MadtLocalApic(0, 0, kCpuOn)}), 0);
  Found f = Find(image);
  EXPECT_EQ(f.status, AcpiStatus::kBadMadt);
  EXPECT_LINE(f, "MADT at 0x7fe2000: local APIC base 0x0 is not a page address, MADT ignored");
}

// --- Processor entries.

TEST(AcpiTest, X2ApicEntries) {
  Bytes madt = AcpiMadt(kLapic, 0,
                        {MadtLocalApic(0, 0, kCpuOn), MadtX2Apic(1, 1, kCpuOn), MadtX2Apic(300, 2, kCpuOn),
                         MadtX2Apic(0x10000, 0x12345678, kCpuOn)});
  AcpiImage image = AcpiMachine(madt, 2);
  Found f = Find(image);
  ASSERT_EQ(f.status, AcpiStatus::kOk) << f.log;
  EXPECT_EQ(ApicIds(f.cpus), (std::vector<uint32_t>{0, 1, 300, 0x10000}));
  EXPECT_EQ(f.cpus.cpu[3].uid, 0x12345678u);
  EXPECT_FALSE(f.cpus.has_8259);
}

TEST(AcpiTest, DisabledAndOnlineCapableProcessors) {
  const std::vector<Bytes> entries = {MadtLocalApic(0, 0, kCpuOn), MadtLocalApic(1, 1, 0),
                                      MadtLocalApic(2, 2, kCpuOnlineCapable), MadtX2Apic(3, 3, kCpuOnlineCapable),
                                      MadtX2Apic(4, 4, 0)};
  // From MADT revision 5 (ACPI 6.3) an online-capable processor can be started.
  AcpiImage v5 = AcpiMachine(AcpiMadt(kLapic, 0, entries, 5), 2);
  Found f = Find(v5);
  ASSERT_EQ(f.status, AcpiStatus::kOk) << f.log;
  EXPECT_EQ(ApicIds(f.cpus), (std::vector<uint32_t>{0, 2, 3}));
  EXPECT_EQ(f.cpus.disabled, 2u);
  EXPECT_NE(f.log.find(": 3 CPUs (2 disabled)"), std::string::npos) << f.log;
  // Before it, the bit is reserved: not a promise of anything.
  AcpiImage v4 = AcpiMachine(AcpiMadt(kLapic, 0, entries, 4), 2);
  f = Find(v4);
  ASSERT_EQ(f.status, AcpiStatus::kOk) << f.log;
  EXPECT_EQ(ApicIds(f.cpus), (std::vector<uint32_t>{0}));
  EXPECT_EQ(f.cpus.disabled, 4u);
}

TEST(AcpiTest, LocalApicAddressOverride) {
  AcpiImage image = AcpiMachine(
      AcpiMadt(kLapic, 0, {MadtLocalApic(0, 0, kCpuOn), MadtLapicOverride(0x10'fee0'0000), MadtLapicOverride(0x5000)}),
      2);
  Found f = Find(image);
  ASSERT_EQ(f.status, AcpiStatus::kOk) << f.log;
  EXPECT_EQ(f.cpus.lapic_base, PhysAddr(0x10'fee0'0000));
  EXPECT_LINE(f, "MADT entry at +64: a second local APIC override, ignored");
  EXPECT_NE(f.log.find("local APIC at 0x10fee00000\n"), std::string::npos) << f.log;
}

TEST(AcpiTest, MisalignedOverrideIsALie) {
  AcpiImage image = AcpiMachine(AcpiMadt(kLapic, 0, {MadtLocalApic(0, 0, kCpuOn), MadtLapicOverride(0xfee00010)}), 2);
  Found f = Find(image);
  EXPECT_EQ(f.status, AcpiStatus::kBadMadt);
  EXPECT_LINE(f, "MADT at 0x7fe2000: local APIC base 0xfee00010 is not a page address, MADT ignored");
}

TEST(AcpiTest, MoreProcessorsThanKMaxCpus) {
  std::vector<Bytes> entries;
  for (unsigned i = 0; i < kMaxCpus + 4; ++i) entries.push_back(MadtX2Apic(100 + i, i, kCpuOn));
  entries.push_back(MadtX2Apic(99, 99, 0));
  AcpiImage image = AcpiMachine(AcpiMadt(kLapic, 0, entries), 2);
  Found f = Find(image);
  ASSERT_EQ(f.status, AcpiStatus::kOk) << f.log;
  EXPECT_EQ(f.cpus.n, kMaxCpus);
  EXPECT_EQ(f.cpus.beyond_max, 4u);
  EXPECT_EQ(f.cpus.disabled, 1u);
  EXPECT_EQ(f.cpus.cpu[kMaxCpus - 1].apic_id, 100 + kMaxCpus - 1);
  EXPECT_LINE(f, "4 usable processors past the first 8 (kMaxCpus) left out");
}

TEST(AcpiTest, RepeatedApicIdIsDropped) {
  AcpiImage image = AcpiMachine(
      AcpiMadt(kLapic, 0, {MadtLocalApic(0, 0, kCpuOn), MadtLocalApic(1, 1, kCpuOn), MadtX2Apic(1, 7, kCpuOn)}), 2);
  Found f = Find(image);
  ASSERT_EQ(f.status, AcpiStatus::kOk) << f.log;
  EXPECT_EQ(ApicIds(f.cpus), (std::vector<uint32_t>{0, 1}));
  EXPECT_LINE(f, "MADT entry at +60: APIC id 1 repeated (uid 7), ignored");
}

TEST(AcpiTest, BroadcastApicIdsAreIgnored) {
  AcpiImage image = AcpiMachine(AcpiMadt(kLapic, 0,
                                         {MadtLocalApic(0, 0xff, kCpuOn), MadtX2Apic(0xffffffff, 1, kCpuOn),
                                          MadtX2Apic(0xff, 2, kCpuOn)}),
                                2);
  Found f = Find(image);
  ASSERT_EQ(f.status, AcpiStatus::kOk) << f.log;
  EXPECT_LINE(f, "MADT entry at +44: APIC id 0xff is the broadcast id, ignored");
  EXPECT_LINE(f, "MADT entry at +52: APIC id 0xffffffff is the broadcast id, ignored");
  EXPECT_EQ(ApicIds(f.cpus), (std::vector<uint32_t>{0xff})) << "an x2APIC entry's 0xff is an ordinary id";
}

// --- Bounds on what a hostile machine costs.

// 8K XSDT entries, each an unreadable pointer: at most 16 lines, then a count.
TEST(AcpiTest, ReportsAreCapped) {
  AcpiImage image = AcpiMachine(FourCpus(), 2);
  std::vector<uint64_t> tables(((64 << 10) - 36) / 8 - 1, 0xdead0000);
  tables.push_back(kAt.madt);
  const uint64_t xsdt = 0x2000'0000;
  image.Map(xsdt, 64 << 10);
  image.Write(xsdt, testing::AcpiRoot("XSDT", tables));
  image.Write(kAt.rsdp, testing::AcpiRsdp(2, static_cast<uint32_t>(kAt.rsdt), xsdt));
  Found f = Find(image);
  ASSERT_EQ(f.status, AcpiStatus::kOk) << f.log;
  EXPECT_EQ(std::count(f.log.begin(), f.log.end(), '\n'), 16 + 2) << f.log;
  EXPECT_LINE(f, "8170 more ignored tables or entries not shown");
}

// Every root entry names the same MADT of the greatest length: one MADT is read, not 8K.
TEST(AcpiTest, ManyMadtsCostOne) {
  AcpiImage image = AcpiMachine(FourCpus(), 2);
  const uint64_t big = 0x1000'0000;
  image.Map(big, 1 << 20);
  Bytes madt = FourCpus();
  madt.resize(1 << 20);
  image.Write(big, madt);
  SetLe32(&image, big + kLength, 1 << 20);
  image.Write(big + kChecksum, Bytes{0x11});  // a checksum that fails
  const uint64_t xsdt = 0x2000'0000;
  image.Map(xsdt, 64 << 10);
  image.Write(xsdt, testing::AcpiRoot("XSDT", std::vector<uint64_t>(8000, big)));
  image.Write(kAt.rsdp, testing::AcpiRsdp(2, static_cast<uint32_t>(kAt.rsdt), xsdt));
  Found f = Find(image);
  EXPECT_EQ(f.status, AcpiStatus::kNoMadt);
  EXPECT_LT(image.bytes_read(), 2u << 20);
  EXPECT_LE(image.largest_read(), 64u);
}

// --- QEMU's own tables (testing/acpi/, recorded with SeaBIOS; see testing/BUILD.bazel).

TEST(AcpiTest, QemuPcSmp4) {
  AcpiImage image = AcpiImage::Load("testing/acpi/qemu_pc_smp4");
  Found f = Find(image);
  ASSERT_EQ(f.status, AcpiStatus::kOk) << f.log;
  EXPECT_EQ(f.log,
            "acpi: RSDP at 0xf59d0 revision 0, RSDT at 0x7fe1bbb, MADT at 0x7fe1acb: 4 CPUs (0 disabled), local "
            "APIC at 0xfee00000, 8259 PICs\n");
  EXPECT_EQ(ApicIds(f.cpus), (std::vector<uint32_t>{0, 1, 2, 3}));
  for (unsigned i = 0; i < 4; ++i) EXPECT_EQ(f.cpus.cpu[i].uid, i);
}

TEST(AcpiTest, QemuQ35Smp4Of8) {
  AcpiImage image = AcpiImage::Load("testing/acpi/qemu_q35_smp4_max8");
  Found f = Find(image);
  ASSERT_EQ(f.status, AcpiStatus::kOk) << f.log;
  EXPECT_EQ(ApicIds(f.cpus), (std::vector<uint32_t>{0, 1, 2, 3}));
  EXPECT_EQ(f.cpus.disabled, 4u) << "QEMU lists the hot-pluggable CPUs up to maxcpus as disabled";
  EXPECT_NE(f.log.find(": 4 CPUs (4 disabled), local APIC at 0xfee00000, 8259 PICs\n"), std::string::npos) << f.log;
}

TEST(AcpiTest, StatusNames) {
  EXPECT_STREQ(AcpiStatusName(AcpiStatus::kOk), "ok");
  EXPECT_STREQ(AcpiStatusName(AcpiStatus::kNoRsdp), "no RSDP");
  EXPECT_STREQ(AcpiStatusName(AcpiStatus::kBadRoot), "no valid root table");
  EXPECT_STREQ(AcpiStatusName(AcpiStatus::kNoMadt), "no valid MADT");
  EXPECT_STREQ(AcpiStatusName(AcpiStatus::kBadMadt), "no usable processor in the MADT");
}

}  // namespace
}  // namespace kmem::x86
