// The parser over the real user programs (//user:programs, built by the user toolchain), with the limits
// the kernel loads them with: each is accepted, starts at 0x400000 with an executable segment that holds
// its entry point, and has no segment both writable and executable. The files come as arguments.
#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "kernel/elf/elf.h"

namespace kmem::elf {
namespace {

std::vector<std::string> files;

// The user half the kernel gives programs (arch/x86_64/boot/proc_arch.cc), less the stack's top page.
constexpr Limits kUserHalf{0x1000, (uint64_t{1} << 47) - 0x1000};

TEST(ProgramsElfTest, EveryProgramLoads) {
  ASSERT_GE(files.size(), 6u) << "the programs of //user:programs come as arguments";
  for (const std::string& path : files) {
    std::ifstream in(path, std::ios::binary);
    ASSERT_TRUE(in) << path;
    const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Image image;
    char why[160];
    ASSERT_EQ(Parse(bytes.data(), bytes.size(), kUserHalf, &image, why, sizeof why), ElfStatus::kOk)
        << path << ": " << why;
    EXPECT_EQ(PageStart(image.segment[0]), 0x400000u) << path;
    bool entry_in_text = false;
    for (unsigned i = 0; i < image.segments; ++i) {
      const Segment& s = image.segment[i];
      EXPECT_FALSE(Has(s.prot, SegmentProt::kWrite) && Has(s.prot, SegmentProt::kExec)) << path << " segment " << i;
      entry_in_text |= Has(s.prot, SegmentProt::kExec) && image.entry >= s.va && image.entry < s.va + s.memsz;
    }
    EXPECT_TRUE(entry_in_text) << path;
    EXPECT_GE(image.end, image.segment[image.segments - 1].va + image.segment[image.segments - 1].memsz) << path;
  }
}

}  // namespace
}  // namespace kmem::elf

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  for (int i = 1; i < argc; ++i) kmem::elf::files.emplace_back(argv[i]);
  return RUN_ALL_TESTS();
}
