// bazel run -c opt //bench:palloc -- BACKEND WORKLOAD [--frames=N] [--steps=N]
// BACKEND: buddy, colour or all; WORKLOAD: one of palloc_workloads.h's, or all. Prints one line per
// figure: kmem-BACKEND<TAB>WORKLOAD<TAB>WHAT<TAB>N.N UNIT. --frames and --steps shrink the run (the smoke
// test uses them); the defaults are the literature's 2^20 frames and 10 M steps.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench/palloc_workloads.h"
#include "mm/palloc/buddy.h"
#include "mm/palloc/colour.h"

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

int Usage() {
  std::fprintf(stderr, "usage: palloc buddy|colour|all WORKLOAD|all [--frames=N] [--steps=N]\nworkloads:");
  for (const char* w : kmem::bench::kWorkloads) std::fprintf(stderr, " %s", w);
  std::fprintf(stderr, "\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return Usage();
  std::string backend = argv[1], workload = argv[2];
  Sizes z;
  for (int i = 3; i < argc; ++i) {
    if (std::strncmp(argv[i], "--frames=", 9) == 0) {
      z.frames = std::strtoull(argv[i] + 9, nullptr, 0);
    } else if (std::strncmp(argv[i], "--steps=", 8) == 0) {
      z.repeat0_pairs = z.repeat9_pairs = z.mixed_steps = std::strtoull(argv[i] + 8, nullptr, 0);
    } else {
      return Usage();
    }
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
