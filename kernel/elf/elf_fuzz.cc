// Fuzz target for the ELF parser: the input is a program file, parsed against the user half and against a
// narrow window of it. Whatever the bytes say, Parse reads only inside them (AddressSanitizer watches the
// input's bounds), refuses with a status, one sentence and an empty Image, or returns an Image that keeps
// every guarantee elf.h gives kernel/proc: segments in [1, kMaxSegments], each inside the file and the limits
// without wrapping, congruent, sorted with no page shared, none writable and executable, the entry inside an
// executable one, and `end` the last one's page-rounded end.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "kernel/elf/elf.h"

namespace kmem::elf {
namespace {

void Fail(const std::string& what) {
  std::fprintf(stderr, "elf_fuzz: %s\n", what.c_str());
  std::abort();
}

void CheckSegment(const Segment& s, uint64_t size, const Limits& limits, unsigned i) {
  const std::string at = "segment " + std::to_string(i) + ": ";
  if (s.memsz == 0 || s.filesz > s.memsz) Fail(at + "filesz/memsz");
  if (s.offset > size || s.filesz > size - s.offset) Fail(at + "file range beyond the file");
  if ((s.va - s.offset) % kPageSize != 0) Fail(at + "va and offset incongruent");
  if (s.va + s.memsz < s.va || PageEnd(s) <= PageStart(s)) Fail(at + "wraps");
  if (PageStart(s) < limits.lowest || PageEnd(s) > limits.highest) Fail(at + "outside the limits");
  if (Has(s.prot, SegmentProt::kWrite) && Has(s.prot, SegmentProt::kExec)) Fail(at + "W+X");
}

void CheckImage(const Image& image, uint64_t size, const Limits& limits) {
  if (image.segments == 0 || image.segments > kMaxSegments) Fail("segment count");
  bool entry_in_exec = false;
  for (unsigned i = 0; i < image.segments; ++i) {
    const Segment& s = image.segment[i];
    CheckSegment(s, size, limits, i);
    if (i > 0 && PageStart(s) < PageEnd(image.segment[i - 1])) Fail("segments unsorted or sharing a page");
    entry_in_exec |= Has(s.prot, SegmentProt::kExec) && image.entry >= s.va && image.entry - s.va < s.memsz;
  }
  if (!entry_in_exec) Fail("entry outside every executable segment");
  if (image.end != PageEnd(image.segment[image.segments - 1])) Fail("end is not the last segment's page end");
}

void ParseAndCheck(const uint8_t* data, size_t size, const Limits& limits) {
  Image image;
  std::memset(&image, 0xa5, sizeof image);  // Parse must overwrite all of it
  char why[160];
  const ElfStatus status = Parse(data, size, limits, &image, why, sizeof why);
  if (std::strlen(why) >= sizeof why) Fail("why overruns its buffer");
  if (std::strcmp(ElfStatusName(status), "unknown") == 0) Fail("a status without a name");
  if (status == ElfStatus::kOk) {
    if (why[0] != '\0') Fail(std::string("kOk with a reason: ") + why);
    CheckImage(image, size, limits);
    return;
  }
  if (why[0] == '\0') Fail(std::string(ElfStatusName(status)) + " without a reason");
  const Image zero{};
  if (std::memcmp(&image, &zero, sizeof image) != 0) Fail(std::string(ElfStatusName(status)) + " left an Image");
}

}  // namespace
}  // namespace kmem::elf

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using kmem::elf::Limits;
  kmem::elf::ParseAndCheck(data, size, Limits{0x1000, uint64_t{1} << 47});
  kmem::elf::ParseAndCheck(data, size, Limits{0x400000, 0x404000});
  return 0;
}
