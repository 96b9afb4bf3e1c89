// UserVm against its reference model (testing/user_vm_model.h) over the fake tables: the input chooses the
// loader's layout, then a stream of mmap, munmap, mprotect, brk, faults and kernel writes, some of them with
// the node pool or the pages run dry. After every step the VMA list, every page of the window through
// Query and the pages' first words must match the model; after the teardown every page, node and mapping
// must be back. What the stream leaves then grows a fork tree over fake spaces (forks, steps and exits in
// the input's order, copy-on-write against the model's frames; testing/user_vm_model.h's RunForkTree).
// (testing/user_vm_property_test runs the same checks over the real x86 tables.)
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <memory>

#include "testing/fake_aspace.h"
#include "testing/phys_arena.h"
#include "testing/user_vm_host.h"
#include "testing/user_vm_model.h"

namespace kmem {
namespace {

class Source {
 public:
  explicit Source(FuzzedDataProvider& data) : data_(data) {}
  uint64_t Pick(uint64_t n) { return data_.ConsumeIntegralInRange<uint64_t>(0, n - 1); }
  bool More() const { return data_.remaining_bytes() != 0; }

 private:
  FuzzedDataProvider& data_;
};

// Steps per input at most: the window is 256 pages, so longer streams find nothing new.
constexpr int kMaxSteps = 400;

}  // namespace
}  // namespace kmem

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  using namespace kmem;
  static testing::PhysArena arena(PhysAddr(0x40000000), 16 << 20);
  static testing::HostUserPages pages(arena);
  FuzzedDataProvider data(bytes, size);
  Source source(data);
  testing::FakeArchAspace arch;
  AddressSpace space("fuzz", AddressSpace::Kind::kUser, arch);
  testing::UserVmRun<Source> run(source, space, pages, arena.direct_map(), 0x400000);
  run.Load();
  for (int step = 0; step < kMaxSteps && data.remaining_bytes() != 0; ++step) {
    run.Step();
    arch.calls.clear();  // the fake's call log, which nothing here reads
  }
  run.Finish();
  if (source.More()) {
    testing::RunForkTree(source, [] { return std::make_unique<testing::FakeSpace>(); }, pages, arena.direct_map(),
                         0x400000, kMaxSteps);
  }
  return 0;
}
