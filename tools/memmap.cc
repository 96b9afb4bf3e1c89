// memmap: sanitises an E820 map the way the kernel does and prints both of the kernel's tables, so that
// people can point it at their own firmware's map.
//
//   bazel run //tools:memmap -- [--format=text|9front] FILE|-
//
// Prints the sanitised E820 map (`0x%016x 0x%016x %u`: base, exclusive end, type), a blank line and the
// typed memory map with sizes and the usable total; what the sanitiser repaired and RAM beyond the physical
// limit are noted on stderr. A malformed or empty map, or a FILE that cannot be read, is reported on stderr,
// the exit status is 1, and nothing goes to stdout. A relative FILE names a file in the directory
// `bazel run` was started from (BUILD_WORKING_DIRECTORY), not in the runfiles tree the tool runs in.
#include "mm/memmap/memmap.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <string>

#include "arch/x86_64/layout.h"
#include "arch/x86_64/pc/legacy.h"
#include "mm/base/format.h"
#include "mm/memmap/e820.h"
#include "mm/memmap/parse.h"

namespace {

int Usage() {
  std::fprintf(stderr, "usage: memmap [--format=text|9front] FILE|-\n");
  return 2;
}

// Where `file` is for the person who typed it: under `bazel run`, relative to their directory.
std::string Resolve(const char* file) {
  const char* cwd = std::getenv("BUILD_WORKING_DIRECTORY");
  if (file[0] == '/' || cwd == nullptr || cwd[0] == '\0') return file;
  return std::string(cwd) + "/" + file;
}

// All of `fd` into *text; on failure the reason, from errno.
const char* ReadAll(int fd, std::string* text) {
  char buf[1 << 16];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n == 0) return nullptr;
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::strerror(errno);
    }
    text->append(buf, static_cast<size_t>(n));
  }
}

// Reads `file` ("-" for standard input) into *text; on failure prints why and returns false.
bool ReadInput(const char* file, std::string* text) {
  int fd = STDIN_FILENO;
  if (std::strcmp(file, "-") != 0) {
    fd = open(Resolve(file).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      std::fprintf(stderr, "memmap: cannot read %s: %s\n", file, std::strerror(errno));
      return false;
    }
  }
  const char* why = ReadAll(fd, text);
  if (fd != STDIN_FILENO) close(fd);
  if (why != nullptr) std::fprintf(stderr, "memmap: cannot read %s: %s\n", file, why);
  return why == nullptr;
}

kmem::E820Map firmware, sanitised;
kmem::Memmap typed(kmem::x86::kArchPhysLimit);

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
  if (!ReadInput(file, &text)) return 1;

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
  kmem::MemmapStatus s = kmem::x86::PcAddE820(sanitised, &typed);
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
  if (uint64_t above = kmem::E820RamAbove(sanitised, typed.limit().value()); above != 0) {
    std::fprintf(stderr, "memmap: note: %lu KiB of RAM at or above the 2^52 physical limit left out of the typed map\n",
                 above >> 10);
  }
  kmem::E820Print(sanitised, "");
  kmem::Print("\n");
  typed.Dump();
  return 0;
}
