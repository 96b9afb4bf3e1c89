#include "kernel/elf/elf.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "testing/elf_builder.h"

namespace kmem::elf {
namespace {

using testing::ElfFile;
using testing::kPfR;
using testing::kPfW;
using testing::kPfX;
using testing::kUserLimits;
using testing::LoadPhdr;
using testing::ValidElf;

struct Parsed {
  ElfStatus status;
  Image image;
  std::string why;
};

Parsed ParseBytes(const std::vector<uint8_t>& bytes, const Limits& limits = kUserLimits) {
  Parsed p;
  char why[256];
  p.status = Parse(bytes.data(), bytes.size(), limits, &p.image, why, sizeof why);
  p.why = why;
  return p;
}

Parsed ParseFile(const ElfFile& f) { return ParseBytes(f.Build()); }

std::vector<uint8_t> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << path;
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

bool IsZero(const Image& image) {
  const Image zero{};
  return std::memcmp(&image, &zero, sizeof image) == 0;
}

// A refused file: its status, its exact sentence, and nothing left in the Image.
#define EXPECT_REFUSED(file, expected_status, message)             \
  do {                                                             \
    const Parsed parsed_ = ParseFile(file);                        \
    EXPECT_EQ(parsed_.status, ElfStatus::expected_status)          \
        << ElfStatusName(parsed_.status) << ": " << parsed_.why;   \
    EXPECT_EQ(parsed_.why, message);                               \
    EXPECT_TRUE(IsZero(parsed_.image));                            \
  } while (0)

void ExpectSegment(const Segment& s, uint64_t va, uint64_t memsz, uint64_t offset, uint64_t filesz,
                   SegmentProt prot) {
  EXPECT_EQ(s.va, va);
  EXPECT_EQ(s.memsz, memsz);
  EXPECT_EQ(s.offset, offset);
  EXPECT_EQ(s.filesz, filesz);
  EXPECT_EQ(s.prot, prot);
}

TEST(Elf, AcceptsValidProgram) {
  const Parsed p = ParseFile(ValidElf());
  ASSERT_EQ(p.status, ElfStatus::kOk) << p.why;
  EXPECT_EQ(p.why, "");
  EXPECT_EQ(p.image.entry, 0x401000u);
  ASSERT_EQ(p.image.segments, 3u);
  ExpectSegment(p.image.segment[0], 0x401000, 0x100, 0x1000, 0x100, SegmentProt::kRead | SegmentProt::kExec);
  ExpectSegment(p.image.segment[1], 0x402000, 0x80, 0x2000, 0x80, SegmentProt::kRead);
  ExpectSegment(p.image.segment[2], 0x403000, 0x2000, 0x3000, 0x40, SegmentProt::kRead | SegmentProt::kWrite);
  EXPECT_EQ(PageEnd(p.image.segment[2]), 0x405000u);
  EXPECT_EQ(p.image.end, 0x405000u);
}

TEST(Elf, AcceptsSegmentsSharingFilePages) {
  const Parsed p = ParseFile(testing::PackedElf());
  ASSERT_EQ(p.status, ElfStatus::kOk) << p.why;
  EXPECT_EQ(p.image.entry, 0x4011e0u);
  ASSERT_EQ(p.image.segments, 3u);
  ExpectSegment(p.image.segment[0], 0x400000, 0x1e0, 0, 0x1e0, SegmentProt::kRead);
  ExpectSegment(p.image.segment[1], 0x4011e0, 0x35, 0x1e0, 0x35, SegmentProt::kRead | SegmentProt::kExec);
  ExpectSegment(p.image.segment[2], 0x402218, 0x1010, 0x218, 0x10, SegmentProt::kRead | SegmentProt::kWrite);
  EXPECT_EQ(PageStart(p.image.segment[1]), 0x401000u);
  EXPECT_EQ(PageEnd(p.image.segment[1]), 0x402000u);
  EXPECT_EQ(p.image.end, 0x404000u);
}

// A static program linked by the machine's clang and ld.lld (testing/elf/static_program.S): what lld
// writes, not what the builder imitates. With -Ttext=0x401000 lld keeps the headers in a read-only segment at
// its base, 0x200000, and puts the read-only data after the text, each segment in pages of its own.
TEST(Elf, AcceptsStaticProgramFromLld) {
  const Parsed p = ParseBytes(ReadFile("testing/elf/static_program"));
  ASSERT_EQ(p.status, ElfStatus::kOk) << p.why;
  EXPECT_EQ(p.image.entry, 0x401000u);  // _start, first in .text
  ASSERT_EQ(p.image.segments, 4u);
  EXPECT_EQ(p.image.segment[0].prot, SegmentProt::kRead);  // the ELF and program headers
  EXPECT_EQ(p.image.segment[0].offset, 0u);
  EXPECT_EQ(p.image.segment[1].prot, SegmentProt::kRead | SegmentProt::kExec);
  EXPECT_EQ(p.image.segment[1].va, 0x401000u);
  EXPECT_EQ(p.image.segment[2].prot, SegmentProt::kRead);  // .rodata
  const Segment& data = p.image.segment[3];
  EXPECT_EQ(data.prot, SegmentProt::kRead | SegmentProt::kWrite);
  EXPECT_EQ(data.memsz, data.filesz + 8192);  // .bss after .data
  EXPECT_EQ(p.image.end, PageEnd(data));
}

// The fuzzer's seeds are the builder's programs, which Parse accepts, or the fuzzer starts from nothing.
TEST(Elf, FuzzSeedsAreBuilderPrograms) {
  EXPECT_EQ(ReadFile("testing/elf/corpus/valid"), ValidElf().Build());
  EXPECT_EQ(ReadFile("testing/elf/corpus/packed"), testing::PackedElf().Build());
  EXPECT_EQ(ReadFile("testing/elf/corpus/max_segments"), testing::MaxSegmentsElf().Build());
}

TEST(Elf, RefusesFileShorterThanHeader) {
  ElfFile f = ValidElf();
  f.size = 63;
  EXPECT_REFUSED(f, kTruncated, "the file's 0x3f bytes are fewer than the 0x40 of the ELF header");
  f.size = 0;
  EXPECT_REFUSED(f, kTruncated, "the file's 0x0 bytes are fewer than the 0x40 of the ELF header");
}

TEST(Elf, RefusesBadMagic) {
  ElfFile f = ValidElf();
  f.header.e_ident[3] = 'f';
  EXPECT_REFUSED(f, kBadMagic, "e_ident[0..3] is 7f 45 4c 66, not the ELF magic 7f 45 4c 46");
}

TEST(Elf, Refuses32BitClass) {
  ElfFile f = ValidElf();
  f.header.e_ident[4] = 1;
  EXPECT_REFUSED(f, kBadClass, "e_ident[EI_CLASS] is 1, not ELFCLASS64 (2)");
}

TEST(Elf, RefusesBigEndian) {
  ElfFile f = ValidElf();
  f.header.e_ident[5] = 2;
  EXPECT_REFUSED(f, kBadByteOrder, "e_ident[EI_DATA] is 2, not ELFDATA2LSB (1)");
}

TEST(Elf, RefusesIdentVersion) {
  ElfFile f = ValidElf();
  f.header.e_ident[6] = 0;
  EXPECT_REFUSED(f, kBadVersion, "e_ident[EI_VERSION] is 0, not EV_CURRENT (1)");
}

TEST(Elf, RefusesHeaderVersion) {
  ElfFile f = ValidElf();
  f.header.e_version = 2;
  EXPECT_REFUSED(f, kBadVersion, "e_version is 2, not EV_CURRENT (1)");
}

TEST(Elf, RefusesGnuOsAbi) {
  ElfFile f = ValidElf();
  f.header.e_ident[7] = 3;  // ELFOSABI_GNU: IFUNCs and other GNU extensions
  EXPECT_REFUSED(f, kBadOsAbi, "e_ident[EI_OSABI] is 3, not ELFOSABI_SYSV (0)");
}

TEST(Elf, RefusesAbiVersion) {
  ElfFile f = ValidElf();
  f.header.e_ident[8] = 1;
  EXPECT_REFUSED(f, kBadOsAbi, "e_ident[EI_ABIVERSION] is 1, not 0");
}

TEST(Elf, RefusesPositionIndependentExecutable) {
  ElfFile f = ValidElf();
  f.header.e_type = 3;
  EXPECT_REFUSED(f, kPositionIndependent,
                 "e_type is ET_DYN (3), a position-independent executable or shared object: only static ET_EXEC "
                 "programs are supported");
}

TEST(Elf, RefusesRelocatableObject) {
  ElfFile f = ValidElf();
  f.header.e_type = 1;
  EXPECT_REFUSED(f, kNotExecutable, "e_type is 1, not ET_EXEC (2)");
}

TEST(Elf, RefusesOtherMachine) {
  ElfFile f = ValidElf();
  f.header.e_machine = 183;  // EM_AARCH64
  EXPECT_REFUSED(f, kBadMachine, "e_machine is 183, not EM_X86_64 (62)");
}

TEST(Elf, RefusesHeaderSize) {
  ElfFile f = ValidElf();
  f.header.e_ehsize = 52;  // ELF32's
  EXPECT_REFUSED(f, kBadHeaderSize, "e_ehsize is 52, not 64");
}

TEST(Elf, RefusesProgramHeaderSize) {
  ElfFile f = ValidElf();
  f.header.e_phentsize = 32;
  EXPECT_REFUSED(f, kBadPhentsize, "e_phentsize is 32, not 56");
}

TEST(Elf, RefusesNoProgramHeaders) {
  ElfFile f = ValidElf();
  f.header.e_phnum = 0;
  EXPECT_REFUSED(f, kBadPhnum, "e_phnum is 0, not in [1, 64]");
}

TEST(Elf, RefusesTooManyProgramHeaders) {
  ElfFile f = ValidElf();
  f.header.e_phnum = 0xffff;  // PN_XNUM: the count would be in section header 0
  EXPECT_REFUSED(f, kBadPhnum, "e_phnum is 65535, not in [1, 64]");
}

TEST(Elf, RefusesProgramHeadersPastFileEnd) {
  ElfFile f = ValidElf();
  f.header.e_phoff = 0x3040 - 4 * 56 + 1;
  EXPECT_REFUSED(f, kPhdrsBeyondFile, "e_phoff 0x2f61 + e_phnum 4 * 0x38 bytes ends beyond the file's 0x3040 bytes");
}

// e_phoff + the table's size wraps to a small number: a check that adds them would let it through.
TEST(Elf, RefusesProgramHeadersWrapping) {
  ElfFile f = ValidElf();
  f.header.e_phoff = UINT64_MAX - 55;
  EXPECT_REFUSED(f, kPhdrsBeyondFile,
                 "e_phoff 0xffffffffffffffc8 + e_phnum 4 * 0x38 bytes ends beyond the file's 0x3040 bytes");
}

TEST(Elf, RefusesInterpreter) {
  ElfFile f = ValidElf();
  f.phdrs.insert(f.phdrs.begin(), Elf64Phdr{testing::kPtInterp, kPfR, 0x200, 0x400200, 0x400200, 0x1c, 0x1c, 1});
  f.header.e_phnum = 5;
  EXPECT_REFUSED(f, kDynamic, "program header 0: PT_INTERP: dynamically linked programs are not supported");
}

TEST(Elf, RefusesDynamicSection) {
  ElfFile f = ValidElf();
  f.Add(Elf64Phdr{testing::kPtDynamic, kPfR | kPfW, 0x3000, 0x403000, 0x403000, 0x40, 0x40, 8});
  EXPECT_REFUSED(f, kDynamic, "program header 4: PT_DYNAMIC: dynamically linked programs are not supported");
}

TEST(Elf, RefusesExecutableStack) {
  ElfFile f = ValidElf();
  f.phdrs[3].p_flags = kPfR | kPfW | kPfX;
  EXPECT_REFUSED(f, kExecStack, "program header 3: PT_GNU_STACK p_flags 0x7 asks for an executable stack");
}

TEST(Elf, AcceptsProgramWithoutStackHeader) {
  ElfFile f = ValidElf();
  f.phdrs.pop_back();
  f.header.e_phnum = 3;
  EXPECT_EQ(ParseFile(f).status, ElfStatus::kOk);
}

// Notes, TLS, the header table, RELRO and unknown types describe nothing the loader maps: ignored, whatever
// their fields say.
TEST(Elf, IgnoresOtherProgramHeaders) {
  ElfFile f = ValidElf();
  for (const uint32_t type : {testing::kPtNote, testing::kPtPhdr, testing::kPtTls, testing::kPtGnuRelro,
                              uint32_t{0x70000000}}) {
    f.Add(Elf64Phdr{type, kPfW | kPfX, UINT64_MAX, UINT64_MAX, 0, UINT64_MAX, 1, 3});
  }
  const Parsed p = ParseFile(f);
  EXPECT_EQ(p.status, ElfStatus::kOk) << p.why;
  EXPECT_EQ(p.image.segments, 3u);
}

TEST(Elf, RefusesFileszAboveMemsz) {
  ElfFile f = ValidElf();
  f.phdrs[1].p_filesz = 0x81;
  EXPECT_REFUSED(f, kFileszAboveMemsz, "program header 1: p_filesz 0x81 exceeds p_memsz 0x80");
}

TEST(Elf, RefusesEmptySegment) {
  ElfFile f = ValidElf();
  f.phdrs[1].p_filesz = 0;
  f.phdrs[1].p_memsz = 0;
  EXPECT_REFUSED(f, kEmptySegment, "program header 1: a PT_LOAD with p_memsz 0");
}

TEST(Elf, RefusesAlignmentBelowPage) {
  ElfFile f = ValidElf();
  f.phdrs[0].p_align = 0x800;
  EXPECT_REFUSED(f, kBadAlign,
                 "program header 0: p_align 0x800 is not a power of two of at least the page size 0x1000");
  f.phdrs[0].p_align = 0;  // "no alignment" in the gABI: a loader that maps pages needs one
  EXPECT_REFUSED(f, kBadAlign, "program header 0: p_align 0x0 is not a power of two of at least the page size 0x1000");
}

TEST(Elf, RefusesAlignmentNotPowerOfTwo) {
  ElfFile f = ValidElf();
  f.phdrs[0].p_align = 0x3000;
  EXPECT_REFUSED(f, kBadAlign,
                 "program header 0: p_align 0x3000 is not a power of two of at least the page size 0x1000");
}

TEST(Elf, AcceptsLargeAlignment) {
  ElfFile f = ValidElf();
  f.phdrs[0].p_align = 0x200000;  // GNU ld's max-page-size before binutils 2.31
  EXPECT_EQ(ParseFile(f).status, ElfStatus::kOk);
}

TEST(Elf, RefusesAddressIncongruentWithOffset) {
  ElfFile f = ValidElf();
  f.phdrs[1].p_vaddr = 0x402010;
  EXPECT_REFUSED(f, kMisaligned,
                 "program header 1: p_vaddr 0x402010 and p_offset 0x2000 differ mod the page size 0x1000");
}

TEST(Elf, RefusesSegmentPastFileEnd) {
  ElfFile f = ValidElf();
  f.size = 0x4000;
  f.phdrs[2] = LoadPhdr(kPfR | kPfW, 0x2000, 0x403000, 0x3000, 0x3000);
  EXPECT_REFUSED(f, kSegmentBeyondFile,
                 "program header 2: p_offset 0x2000 + p_filesz 0x3000 ends beyond the file's 0x4000 bytes");
}

TEST(Elf, RefusesSegmentOffsetPastFileEnd) {
  ElfFile f = ValidElf();
  f.phdrs[2] = LoadPhdr(kPfR | kPfW, 0x5000, 0x403000, 0, 0x2000);  // bss only, but at a lying offset
  EXPECT_REFUSED(f, kSegmentBeyondFile,
                 "program header 2: p_offset 0x5000 + p_filesz 0x0 ends beyond the file's 0x3040 bytes");
}

// p_offset + p_filesz wraps to 0x2000, inside the file.
TEST(Elf, RefusesSegmentFileRangeWrapping) {
  ElfFile f = ValidElf();
  f.phdrs[2] = LoadPhdr(kPfR | kPfW, 0x3000, 0x403000, 0xfffffffffffff000, 0xfffffffffffff000);
  EXPECT_REFUSED(f, kSegmentBeyondFile,
                 "program header 2: p_offset 0x3000 + p_filesz 0xfffffffffffff000 ends beyond the file's 0x3040 "
                 "bytes");
}

TEST(Elf, RefusesSegmentBelowUserRange) {
  ElfFile f = ValidElf();
  f.phdrs[0].p_vaddr = 0xff0;  // its page is page 0
  f.phdrs[0].p_offset = 0xff0;
  EXPECT_REFUSED(f, kOutsideLimits,
                 "program header 0: p_vaddr 0xff0 + p_memsz 0x100, pages [0x0, 0x2000), lies outside the user range "
                 "[0x1000, 0x800000000000)");
}

TEST(Elf, RefusesSegmentAboveUserRange) {
  ElfFile f = ValidElf();
  f.phdrs[2].p_vaddr = 0x7ffffffff000;  // bss runs one page past the top
  EXPECT_REFUSED(f, kOutsideLimits,
                 "program header 2: p_vaddr 0x7ffffffff000 + p_memsz 0x2000, pages [0x7ffffffff000, 0x800000001000), "
                 "lies outside the user range [0x1000, 0x800000000000)");
}

TEST(Elf, AcceptsSegmentEndingAtTopOfUserRange) {
  ElfFile f = ValidElf();
  f.phdrs[2].p_vaddr = 0x7fffffffe000;
  const Parsed p = ParseFile(f);
  ASSERT_EQ(p.status, ElfStatus::kOk) << p.why;
  EXPECT_EQ(p.image.end, kUserLimits.highest);
}

// p_vaddr + p_memsz wraps past 2^64; and one that does not, but whose page-rounded end would.
TEST(Elf, RefusesSegmentWrappingAddressSpace) {
  ElfFile f = ValidElf();
  f.phdrs[2].p_vaddr = 0xfffffffffffff000;
  f.phdrs[2].p_memsz = 0x2000;
  EXPECT_REFUSED(f, kOutsideLimits,
                 "program header 2: p_vaddr 0xfffffffffffff000 + p_memsz 0x2000 wraps past the top of the address "
                 "space");
  f.phdrs[2].p_memsz = 0xfff;
  EXPECT_REFUSED(f, kOutsideLimits,
                 "program header 2: p_vaddr 0xfffffffffffff000 + p_memsz 0xfff wraps past the top of the address "
                 "space");
}

TEST(Elf, RefusesWritableExecutableSegment) {
  ElfFile f = ValidElf();
  f.phdrs[2].p_flags = kPfR | kPfW | kPfX;
  EXPECT_REFUSED(f, kWriteExec, "program header 2: p_flags 0x7 is both writable and executable");
}

TEST(Elf, RefusesUnsortedSegments) {
  ElfFile f = ValidElf();
  std::swap(f.phdrs[1], f.phdrs[2]);
  EXPECT_REFUSED(f, kUnsorted,
                 "program header 2: p_vaddr 0x402000 is below 0x403000 of the PT_LOAD before it (program header 1)");
}

// The header between two PT_LOADs is not one: the message names the PT_LOAD compared with.
//   [0x401000 text 0x401100)   [0x401800 rodata 0x401880)   both in page 0x401000
TEST(Elf, RefusesSegmentsSharingPage) {
  ElfFile f = ValidElf();
  const Elf64Phdr text = f.phdrs[0], stack = f.phdrs[3], data = f.phdrs[2];
  f.phdrs = {text, stack, LoadPhdr(kPfR, 0x2800, 0x401800, 0x80, 0x80), data};
  EXPECT_REFUSED(f, kOverlap,
                 "program header 2: pages [0x401000, 0x402000) overlap [0x401000, 0x402000) of program header 0");
}

// The same protection does not make a shared page acceptable: every page comes from one segment.
TEST(Elf, RefusesSamePermissionSegmentsSharingPage) {
  ElfFile f = ValidElf();
  f.phdrs[1] = LoadPhdr(kPfR | kPfX, 0x2100, 0x401100, 0x80, 0x80);
  EXPECT_REFUSED(f, kOverlap,
                 "program header 1: pages [0x401000, 0x402000) overlap [0x401000, 0x402000) of program header 0");
}

//   [0x403000 data 0x403040 ... bss 0x405000)
//                 [0x404000 next 0x404080)
TEST(Elf, RefusesSegmentInsidePreviousBss) {
  ElfFile f = ValidElf();
  f.Add(LoadPhdr(kPfR, 0x3000, 0x404000, 0x40, 0x80));
  EXPECT_REFUSED(f, kOverlap,
                 "program header 4: pages [0x404000, 0x405000) overlap [0x403000, 0x405000) of program header 2");
}

TEST(Elf, AcceptsSegmentOnNextPage) {
  ElfFile f = ValidElf();
  f.Add(LoadPhdr(kPfR, 0x3000, 0x405000, 0x40, 0x80));
  const Parsed p = ParseFile(f);
  ASSERT_EQ(p.status, ElfStatus::kOk) << p.why;
  EXPECT_EQ(p.image.end, 0x406000u);
}

// kMaxSegments PT_LOADs load; one more is refused.
TEST(Elf, RefusesMoreThanMaxSegments) {
  ElfFile f = testing::MaxSegmentsElf();
  const Parsed p = ParseFile(f);
  ASSERT_EQ(p.status, ElfStatus::kOk) << p.why;
  EXPECT_EQ(p.image.segments, kMaxSegments);
  EXPECT_EQ(p.image.end, 0x40d000u);
  f.phdrs.back().p_type = testing::kPtLoad;
  EXPECT_REFUSED(f, kTooManySegments, "program header 9: a PT_LOAD beyond the 8 supported");
}

TEST(Elf, RefusesNoLoadableSegment) {
  ElfFile f = ValidElf();
  f.phdrs.erase(f.phdrs.begin(), f.phdrs.begin() + 3);
  f.header.e_phnum = 1;
  EXPECT_REFUSED(f, kNoSegments, "no PT_LOAD among the 1 program headers");
}

TEST(Elf, RefusesEntryInData) {
  ElfFile f = ValidElf();
  f.header.e_entry = 0x403000;
  EXPECT_REFUSED(f, kBadEntry, "e_entry 0x403000 is not inside an executable segment");
}

TEST(Elf, RefusesEntryJustPastText) {
  ElfFile f = ValidElf();
  f.header.e_entry = 0x401100;  // inside text's page, past its p_memsz
  EXPECT_REFUSED(f, kBadEntry, "e_entry 0x401100 is not inside an executable segment");
  f.header.e_entry = 0x4010ff;
  EXPECT_EQ(ParseFile(f).status, ElfStatus::kOk);
}

TEST(Elf, RefusesEntryOutsideEverySegment) {
  ElfFile f = ValidElf();
  f.header.e_entry = 0;
  EXPECT_REFUSED(f, kBadEntry, "e_entry 0x0 is not inside an executable segment");
}

// The sentence is cut to the caller's buffer; a caller that wants only the status passes none.
TEST(Elf, WhyFitsCallersBuffer) {
  ElfFile f = ValidElf();
  f.header.e_machine = 3;
  const std::vector<uint8_t> bytes = f.Build();
  Image image;
  char why[8];
  EXPECT_EQ(Parse(bytes.data(), bytes.size(), kUserLimits, &image, why, sizeof why), ElfStatus::kBadMachine);
  EXPECT_STREQ(why, "e_machi");
  EXPECT_EQ(Parse(bytes.data(), bytes.size(), kUserLimits, &image, nullptr, 0), ElfStatus::kBadMachine);
}

TEST(Elf, StatusNamesAreDistinct) {
  std::set<std::string> names;
  for (unsigned s = 0; s <= static_cast<unsigned>(ElfStatus::kBadEntry); ++s) {
    const std::string name = ElfStatusName(static_cast<ElfStatus>(s));
    EXPECT_NE(name, "unknown") << s;
    EXPECT_TRUE(names.insert(name).second) << name;
  }
}

TEST(ElfDeathTest, PanicsOnLimitsOutOfOrder) {
  const std::vector<uint8_t> bytes = ValidElf().Build();
  Image image;
  EXPECT_DEATH(Parse(bytes.data(), bytes.size(), Limits{0x2000, 0x1000}, &image, nullptr, 0),
               "elf limits \\[0x2000, 0x1000\\) are not an ordered page-aligned range");
  EXPECT_DEATH(Parse(bytes.data(), bytes.size(), Limits{0x1000, 0x10001}, &image, nullptr, 0),
               "elf limits \\[0x1000, 0x10001\\) are not an ordered page-aligned range");
}

}  // namespace
}  // namespace kmem::elf
