// bazel run -c opt //bench:palloc -- BACKEND WORKLOAD [--threads=1,2] [--frames=N] [--steps=N]
// BACKEND: buddy, colour or all; WORKLOAD: one of palloc_workloads.h's, or all. Prints one line per
// figure: kmem-BACKEND<TAB>WORKLOAD<TAB>N threads<TAB>WHAT<TAB>N.N UNIT. The threaded workloads run once
// for each count of --threads, in that order; the others on one thread. --frames and --steps shrink the
// run (the smoke test uses them); the defaults are the literature's 2^20 frames and 10 M steps. Flags by
// absl::flags (--help lists them).
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "bench/palloc_workloads.h"
#include "mm/base/percpu.h"
#include "mm/palloc/buddy.h"
#include "mm/palloc/colour.h"

ABSL_FLAG(uint64_t, frames, kmem::bench::Sizes{}.frames, "frames the allocator manages");
ABSL_FLAG(std::optional<uint64_t>, steps, std::nullopt,
          "alloc/free pairs of repeat0h, repeat9h and remote and steps of mixed, per thread (default: 10 M, "
          "2.5 M, 10 M and 10 M)");
ABSL_FLAG(std::vector<std::string>, threads, std::vector<std::string>({"1", "2"}),
          "thread counts the threaded workloads (repeat0h, repeat9h, mixed, remote) run with, in order");

namespace {

using kmem::bench::Figure;
using kmem::bench::Sizes;

template <typename Backend>
bool RunOne(const std::string& workload, const Sizes& z, unsigned threads) {
  std::vector<Figure> figures = kmem::bench::Run<Backend>(workload, z, threads);
  for (const Figure& f : figures) {
    // Per-frame byte counts are fractions of a byte: print them to the hundredth.
    int digits = std::strcmp(f.unit, "bytes") == 0 && f.value < 10 ? 2 : 1;
    std::printf("kmem-%s\t%s\t%u thread%s\t%s\t%.*f %s\n", Backend::kName, workload.c_str(), threads,
                threads == 1 ? "" : "s", f.what.c_str(), digits, f.value, f.unit);
  }
  std::fflush(stdout);
  return !figures.empty();
}

std::string UsageText() {
  return absl::StrFormat(
      "usage: palloc buddy|colour|all WORKLOAD|all [--threads=1,2] [--frames=N] [--steps=N]\nworkloads: %s",
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
    z.repeat0_pairs = z.repeat9_pairs = z.mixed_steps = z.remote_pairs = *steps;
  }
  std::vector<unsigned> counts;
  for (const std::string& t : absl::GetFlag(FLAGS_threads)) {
    unsigned n;
    // The host gives each live thread one of kMaxCpus CPU ids, and the main thread holds one.
    if (!absl::SimpleAtoi(t, &n) || n == 0 || n >= kmem::kMaxCpus) return Usage();
    counts.push_back(n);
  }
  std::vector<std::string> workloads;
  if (workload == "all") {
    workloads.assign(std::begin(kmem::bench::kWorkloads), std::end(kmem::bench::kWorkloads));
  } else {
    workloads.push_back(workload);
  }
  if (backend != "buddy" && backend != "colour" && backend != "all") return Usage();
  for (const std::string& w : workloads) {
    for (unsigned threads : kmem::bench::Threaded(w) ? counts : std::vector<unsigned>{1}) {
      bool ok = true;
      if (backend == "buddy" || backend == "all") ok &= RunOne<kmem::BuddyBackend>(w, z, threads);
      if (backend == "colour" || backend == "all") ok &= RunOne<kmem::ColourBackend>(w, z, threads);
      if (!ok) return Usage();
    }
  }
  return 0;
}
