// memmap: sanitises an E820 map the way the kernel does and prints both of the kernel's tables, so that
// people can point it at their own firmware's map.
//
//   bazel run //tools:memmap -- [--format=text|9front] FILE|-
//
// Prints the sanitised E820 map (`0x%016x 0x%016x %u`: base, exclusive end, type), a blank line and the
// typed memory map with sizes and the usable total. A malformed line is reported on stderr with its line
// number, the exit status is 1, and nothing goes to stdout.
#include "mm/memmap/memmap.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>

#include "mm/base/format.h"
#include "mm/memmap/e820.h"
#include "mm/memmap/parse.h"

namespace {

int Usage() {
  std::fprintf(stderr, "usage: memmap [--format=text|9front] FILE|-\n");
  return 2;
}

kmem::E820Map firmware, sanitised;
kmem::Memmap typed;

}  // namespace

int main(int argc, char** argv) {
  auto parse = kmem::ParseE820Text;
  const char* file = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--format=9front") == 0) {
      parse = kmem::ParseE820Plan9;
    } else if (std::strcmp(argv[i], "--format=text") == 0) {
      parse = kmem::ParseE820Text;
    } else if (file == nullptr && (argv[i][0] != '-' || argv[i][1] == '\0')) {
      file = argv[i];
    } else {
      return Usage();
    }
  }
  if (file == nullptr) return Usage();

  std::string text;
  if (std::strcmp(file, "-") == 0) {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "memmap: cannot read %s\n", file);
      return 1;
    }
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  kmem::ParseResult r = parse(text.data(), text.size(), &firmware);
  if (r.status != kmem::ParseStatus::kOk) {
    std::fprintf(stderr, "memmap: %s:%zu: %s\n", file, r.line, r.reason);
    return 1;
  }
  kmem::E820Report report;
  if (kmem::E820Sanitise(firmware, &sanitised, &report) != kmem::E820Status::kOk) {
    std::fprintf(stderr, "memmap: %s: the sanitised map needs more than %zu entries\n", file, kmem::E820Map::kCapacity);
    return 1;
  }
  kmem::MemmapStatus s = kmem::MemmapAddE820(sanitised, &typed);
  if (s != kmem::MemmapStatus::kOk) {
    std::fprintf(stderr, "memmap: %s: typed map: %s\n", file, kmem::MemmapStatusName(s));
    return 1;
  }
  if (report.dropped_empty != 0)
    std::fprintf(stderr, "memmap: note: %zu empty entries dropped\n", report.dropped_empty);
  if (report.clipped != 0)
    std::fprintf(stderr, "memmap: note: %zu entries wrapping past 2^64 clipped there\n", report.clipped);
  if (report.unknown_types != 0) {
    std::fprintf(stderr, "memmap: note: %zu entries of unknown type counted as reserved\n", report.unknown_types);
  }
  kmem::E820Print(sanitised, "");
  kmem::Print("\n");
  typed.Dump();
  return 0;
}
