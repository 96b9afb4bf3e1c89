// bazel run -c opt //bench:palloc -- BACKEND WORKLOAD [--frames=N] [--steps=N]
// BACKEND: buddy, colour or all; WORKLOAD: one of palloc_workloads.h's, or all. Prints one line per
// figure: kmem-BACKEND<TAB>WORKLOAD<TAB>WHAT<TAB>N.N UNIT. --frames and --steps shrink the run (the smoke
// test uses them); the defaults are the literature's 2^20 frames and 10 M steps. Flags by absl::flags
// (--help lists them).
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "bench/palloc_workloads.h"
#include "mm/palloc/buddy.h"
#include "mm/palloc/colour.h"

ABSL_FLAG(uint64_t, frames, kmem::bench::Sizes{}.frames, "frames the allocator manages");
ABSL_FLAG(std::optional<uint64_t>, steps, std::nullopt,
          "alloc/free pairs of repeat0h and repeat9h and steps of mixed (default: 10 M, 2.5 M and 10 M)");

namespace {

using kmem::bench::Figure;
using kmem::bench::Sizes;

template <typename Backend>
bool RunOne(const std::string& workload, const Sizes& z) {
  std::vector<Figure> figures = kmem::bench::Run<Backend>(workload, z);
  for (const Figure& f : figures) {
    // Per-frame byte counts are fractions of a byte: print them to the hundredth.
    int digits = std::strcmp(f.unit, "bytes") == 0 && f.value < 10 ? 2 : 1;
    std::printf("kmem-%s\t%s\t%s\t%.*f %s\n", Backend::kName, workload.c_str(), f.what.c_str(), digits, f.value,
                f.unit);
  }
  std::fflush(stdout);
  return !figures.empty();
}

std::string UsageText() {
  return absl::StrFormat("usage: palloc buddy|colour|all WORKLOAD|all [--frames=N] [--steps=N]\nworkloads: %s",
                         absl::StrJoin(kmem::bench::kWorkloads, " "));
}

int Usage() {
  absl::FPrintF(stderr, "%s\n", UsageText());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(UsageText());
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() != 3) return Usage();
  std::string backend = args[1], workload = args[2];
  Sizes z;
  z.frames = absl::GetFlag(FLAGS_frames);
  if (std::optional<uint64_t> steps = absl::GetFlag(FLAGS_steps)) {
    z.repeat0_pairs = z.repeat9_pairs = z.mixed_steps = *steps;
  }
  std::vector<std::string> workloads;
  if (workload == "all") {
    workloads.assign(std::begin(kmem::bench::kWorkloads), std::end(kmem::bench::kWorkloads));
  } else {
    workloads.push_back(workload);
  }
  for (const std::string& w : workloads) {
    bool ok = true;
    if (backend == "buddy" || backend == "all") ok &= RunOne<kmem::BuddyBackend>(w, z);
    if (backend == "colour" || backend == "all") ok &= RunOne<kmem::ColourBackend>(w, z);
    if (backend != "buddy" && backend != "colour" && backend != "all") return Usage();
    if (!ok) return Usage();
  }
  return 0;
}
