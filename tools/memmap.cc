// memmap: sanitises an E820 map the way the kernel does and prints both of the kernel's tables, so that
// people can point it at their own firmware's map.
//
//   bazel run //tools:memmap -- [--format=text|9front] FILE|-
// (flags by absl::flags: --help lists them; errors travel as absl::Status with the file and line)
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
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/pc/legacy.h"
#include "mm/base/format.h"
#include "mm/memmap/e820.h"
#include "mm/memmap/parse.h"

// How FILE is written: one `0xBASE 0xEND TYPE` a line, or a plan9.ini with a `*e820=` line.
enum class MapFormat { kText, k9front };

bool AbslParseFlag(absl::string_view text, MapFormat* format, std::string* error) {
  if (text == "text") {
    *format = MapFormat::kText;
  } else if (text == "9front") {
    *format = MapFormat::k9front;
  } else {
    *error = absl::StrFormat("'%s' is neither text nor 9front", text);
    return false;
  }
  return true;
}

std::string AbslUnparseFlag(MapFormat format) { return format == MapFormat::kText ? "text" : "9front"; }

ABSL_FLAG(MapFormat, format, MapFormat::kText,
          "text: one '0xBASE 0xEND TYPE' a line, # comments; 9front: a plan9.ini with a *e820= line");

namespace {

constexpr int kUsage = 2;

// Where `file` is for the person who typed it: under `bazel run`, relative to their directory.
std::string Resolve(const char* file) {
  const char* cwd = std::getenv("BUILD_WORKING_DIRECTORY");
  if (file[0] == '/' || cwd == nullptr || cwd[0] == '\0') return file;
  return absl::StrFormat("%s/%s", cwd, file);
}

// All of `file` ("-" for standard input).
absl::StatusOr<std::string> ReadInput(const char* file) {
  const bool stdin_ = absl::string_view(file) == "-";
  int fd = stdin_ ? STDIN_FILENO : open(Resolve(file).c_str(), O_RDONLY | O_CLOEXEC);
  std::string text;
  char buf[1 << 16];
  int error = fd < 0 ? errno : 0;
  while (error == 0) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0 && errno != EINTR) error = errno;
    if (n > 0) text.append(buf, static_cast<size_t>(n));
  }
  if (fd >= 0 && !stdin_) close(fd);
  if (error != 0) return absl::ErrnoToStatus(error, absl::StrFormat("cannot read %s", file));
  return text;
}

kmem::E820Map firmware, sanitised;
kmem::Memmap typed(kmem::x86::kArchPhysLimit);

// What the sanitiser repaired and what the typed map leaves out, on stderr.
void PrintNotes(const kmem::E820Report& report) {
  if (report.dropped_empty != 0) {
    absl::FPrintF(stderr, "memmap: note: %u empty entries dropped\n", report.dropped_empty);
  }
  if (report.clipped != 0) {
    absl::FPrintF(stderr, "memmap: note: %u entries wrapping past 2^64 clipped there\n", report.clipped);
  }
  if (report.unknown_types != 0) {
    absl::FPrintF(stderr, "memmap: note: %u entries of unknown type counted as reserved\n", report.unknown_types);
  }
  if (uint64_t above = kmem::E820RamAbove(sanitised, typed.limit().value()); above != 0) {
    absl::FPrintF(stderr,
                  "memmap: note: %u KiB of RAM at or above the 2^52 physical limit left out of the typed map\n",
                  above >> 10);
  }
}

// Reads, sanitises and types the map in `file`, then prints both tables; nothing is printed on an error.
absl::Status Run(const char* file, MapFormat format) {
  absl::StatusOr<std::string> text = ReadInput(file);
  if (!text.ok()) return text.status();
  auto parse = format == MapFormat::k9front ? kmem::ParseE820Plan9 : kmem::ParseE820Text;
  kmem::ParseResult r = parse(text->data(), text->size(), &firmware);
  if (r.status != kmem::ParseStatus::kOk) {
    return absl::InvalidArgumentError(absl::StrFormat("%s:%u: %s", file, r.line, r.reason));
  }
  kmem::E820Report report;
  if (kmem::E820Sanitise(firmware, &sanitised, &report) != kmem::E820Status::kOk) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("%s: the sanitised map needs more than %u entries", file, kmem::E820Map::kCapacity));
  }
  if (kmem::MemmapStatus s = kmem::x86::PcAddE820(sanitised, &typed); s != kmem::MemmapStatus::kOk) {
    return absl::ResourceExhaustedError(absl::StrFormat("%s: typed map: %s", file, kmem::MemmapStatusName(s)));
  }
  PrintNotes(report);
  kmem::E820Print(sanitised, "");
  kmem::Print("\n");
  typed.Dump();
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("sanitises an E820 map as the kernel does and prints its tables.\n"
                               "usage: memmap [--format=text|9front] FILE|-");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() != 2) {
    absl::FPrintF(stderr, "usage: memmap [--format=text|9front] FILE|-\n");
    return kUsage;
  }
  absl::Status status = Run(args[1], absl::GetFlag(FLAGS_format));
  if (!status.ok()) {
    absl::FPrintF(stderr, "memmap: %s\n", status.message());
    return 1;
  }
  return 0;
}
