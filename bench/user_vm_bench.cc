// Cost of a process's VMA operations (mm/vm/user_vm.h) over the x86 tables on a host Mmu: a demand-zero
// fault (palloc's NewPage in the address's colour, zeroing 4 KiB, the map), an mmap+munmap pair of 4 KiB and
// of 2 MiB with every page faulted in between, and a VMA lookup among 10, 1000 and 100 000 VMAs (the AVL
// tree's O(log n): the label gives log2 n beside the time); fork of a space with 64 MiB touched and the child's
// exit (copy-on-write: no page copied), and the first write to a page after a fork (a copy when the page is
// shared, in place when its reference is the only one left); the first fault of a text page, copied from the
// image or shared through the image cache; the munmap of one page in a process whose second thread runs in
// the space on another CPU (a TLB shootdown to that CPU) against the same with that CPU elsewhere.
//   bazel run -c opt //bench:user_vm_bench
#include <benchmark/benchmark.h>
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "arch/x86_64/aspace.h"
#include "mm/vm/image.h"
#include "mm/vm/tlb.h"
#include "testing/phys_arena.h"
#include "testing/pt_pages.h"
#include "testing/user_vm_host.h"

namespace {

using kmem::Access;
using kmem::FaultStatus;
using kmem::kPageSize;
using kmem::PhysAddr;
using kmem::Prot;
using kmem::UserVmStatus;
using kmem::VirtAddr;

// Ignores the CPU operations instead of recording them, so a long run does not grow a log. Each host thread
// is the CPU host_env gave it, so the Mmu's per-CPU state (the loaded table, the table pools) is that CPU's.
class CountingCpu : public kmem::x86::CpuOps {
 public:
  void LoadCr3(PhysAddr, uint16_t, kmem::TlbReuse) override {}
  void Invlpg(VirtAddr) override {}
  void FlushGlobal() override {}
  unsigned CpuId() override { return ::kmem::CpuId(); }
};

constexpr uint64_t kLo = 0x10000, kHi = 0x800000000000;

// Faults [at, at + len) of `vm` in, page by page, for `access`; each fault must resolve.
void FaultEach(kmem::UserVm& vm, VirtAddr at, uint64_t len, Access access) {
  for (uint64_t off = 0; off < len; off += kPageSize) {
    if (vm.Fault(at + off, access).status != FaultStatus::kResolved) std::abort();
  }
}

// Times one first fault of a page of [at, at + len) for `access` per iteration, in order; after the last
// page, untimed, unmaps the range and `remap()` maps it afresh (returning where).
template <typename Remap>
void TimeFirstFaults(benchmark::State& state, kmem::UserVm& vm, VirtAddr at, uint64_t len, Access access,
                     Remap remap) {
  uint64_t off = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(vm.Fault(at + off, access));
    off += kPageSize;
    if (off == len) {
      state.PauseTiming();
      if (vm.Munmap(at, len) != UserVmStatus::kOk) std::abort();
      at = remap();
      off = 0;
      state.ResumeTiming();
    }
  }
}

// A user space with its UserVm: user pages from a 256 MiB arena, tables from another; text shared through
// `images` when given.
struct Fixture {
  explicit Fixture(kmem::ImageCache* images = nullptr)
      : images(images),
        user(PhysAddr(0x40000000), 256 << 20),
        tables(PhysAddr(0x100000000), 64 << 20),
        pt(tables),
        mmu(tables.direct_map(), pt, cpu),
        pages(user) {
    if (mmu.Init(kmem::x86::Mmu::GiantPages::kYes) != kmem::x86::MmuStatus::kOk) std::abort();
    arch = std::make_unique<kmem::x86::X86Aspace>(kmem::x86::X86Aspace::Kernel(mmu));
    if (kmem::x86::X86Aspace::User(mmu, arch.get()) != kmem::VmStatus::kOk) std::abort();
    space = std::make_unique<kmem::AddressSpace>("bench", kmem::AddressSpace::Kind::kUser, *arch);
    karch = std::make_unique<kmem::x86::X86Aspace>(kmem::x86::X86Aspace::Kernel(mmu));
    kernel = std::make_unique<kmem::AddressSpace>("kernel", kmem::AddressSpace::Kind::kKernel, *karch);
    vm = std::make_unique<kmem::UserVm>(*space, pages.source(), user.direct_map(), nodes.source(),
                                        kmem::UserVmLimits{VirtAddr(kLo), VirtAddr(kHi)}, images);
  }
  ~Fixture() { vm->Teardown(); }

  // Another process over its own top level, sharing the fixture's Mmu, pages, nodes and image cache.
  struct Peer {
    explicit Peer(Fixture& f) : arch(kmem::x86::X86Aspace::Kernel(f.mmu)), kernel(f.kernel.get()) {
      if (kmem::x86::X86Aspace::User(f.mmu, &arch) != kmem::VmStatus::kOk) std::abort();
      space = std::make_unique<kmem::AddressSpace>("peer", kmem::AddressSpace::Kind::kUser, arch);
      vm = std::make_unique<kmem::UserVm>(*space, f.pages.source(), f.user.direct_map(), f.nodes.source(),
                                          kmem::UserVmLimits{VirtAddr(kLo), VirtAddr(kHi)}, f.images);
    }
    // Its exit: every page's reference dropped, its tables released.
    ~Peer() {
      vm->Teardown();
      space->Release(*kernel);
    }
    kmem::x86::X86Aspace arch;
    kmem::AddressSpace* kernel;
    std::unique_ptr<kmem::AddressSpace> space;
    std::unique_ptr<kmem::UserVm> vm;
  };
  // A fork's child.
  struct Child : Peer {
    explicit Child(Fixture& f) : Peer(f) {
      if (f.vm->Fork(*vm) != UserVmStatus::kOk) std::abort();
    }
  };

  VirtAddr Mmap(uint64_t len, VirtAddr hint = VirtAddr(0), Prot prot = Prot::kWrite) {
    VirtAddr at;
    if (vm->Mmap(hint, len, prot, &at) != UserVmStatus::kOk) std::abort();
    return at;
  }
  void FaultAll(VirtAddr at, uint64_t len) { FaultEach(*vm, at, len, Access::kWrite); }

  kmem::ImageCache* images;
  kmem::testing::PhysArena user, tables;
  kmem::testing::ArenaPtPages pt;
  CountingCpu cpu;
  kmem::x86::Mmu mmu;
  kmem::testing::HostUserPages pages;
  kmem::testing::VmaNodePool nodes;
  std::unique_ptr<kmem::x86::X86Aspace> arch, karch;
  std::unique_ptr<kmem::AddressSpace> space, kernel;
  std::unique_ptr<kmem::UserVm> vm;
};

// Faults 16 MiB page by page; the unmap and the new mapping between rounds are not timed.
void BM_DemandZeroFault(benchmark::State& state) {
  Fixture f;
  constexpr uint64_t kLen = 16 << 20;
  TimeFirstFaults(state, *f.vm, f.Mmap(kLen), kLen, Access::kWrite, [&] { return f.Mmap(kLen); });
}
BENCHMARK(BM_DemandZeroFault);

// mmap, a write fault on every page, munmap (which unmaps and frees them): 4 KiB and 2 MiB.
void BM_MmapFaultMunmap(benchmark::State& state) {
  Fixture f;
  const uint64_t len = static_cast<uint64_t>(state.range(0));
  for (auto _ : state) {
    VirtAddr at = f.Mmap(len);
    f.FaultAll(at, len);
    if (f.vm->Munmap(at, len) != UserVmStatus::kOk) std::abort();
  }
  state.SetLabel(std::to_string(len / kPageSize) + " pages");
}
BENCHMARK(BM_MmapFaultMunmap)->Arg(4 << 10)->Arg(2 << 20);

// Lookup of a random address among n one-page VMAs a page apart (alternate protections, so none merge),
// cycling through `probes` addresses: 4096 walk paths that leave the caches at 100 000 VMAs (8 MiB of
// nodes), or 16 whose paths stay cached, which leaves the walk's log n steps alone.
void BM_VmaLookup(benchmark::State& state) {
  Fixture f;
  const uint64_t n = static_cast<uint64_t>(state.range(0));
  const size_t nprobes = static_cast<size_t>(state.range(1));
  constexpr uint64_t kBase = 0x100000000;
  for (uint64_t i = 0; i < n; ++i) {
    f.Mmap(kPageSize, VirtAddr(kBase + 2 * i * kPageSize), i % 2 == 0 ? Prot::kRead : Prot::kWrite);
  }
  std::mt19937_64 rng(14);
  std::vector<VirtAddr> probes(nprobes);
  for (auto& p : probes) p = VirtAddr(kBase + 2 * (rng() % n) * kPageSize + rng() % kPageSize);
  kmem::Vma vma;
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.vm->Lookup(probes[i], &vma));
    i = (i + 1) & (probes.size() - 1);
  }
  state.SetLabel("log2 n = " + std::to_string(static_cast<int>(std::lround(std::log2(static_cast<double>(n))))));
}
BENCHMARK(BM_VmaLookup)->ArgsProduct({{10, 1000, 100000}, {16, 4096}});

// fork + the child's exit of a space with 64 MiB touched (16 384 pages): the child's tables filled with the
// shared pages, the parent's write-protected (after the first round they are read-only already), then the
// child's teardown drops each reference and its tables go.
void BM_ForkExit64MiB(benchmark::State& state) {
  Fixture f;
  constexpr uint64_t kLen = 64 << 20;
  f.FaultAll(f.Mmap(kLen), kLen);
  for (auto _ : state) Fixture::Child child(f);
  state.SetLabel(std::to_string(kLen / kPageSize) + " pages, none copied");
}
BENCHMARK(BM_ForkExit64MiB)->Unit(benchmark::kMillisecond);

// The first write to a page after a fork, page by page over 4 MiB: with the child alive each is shared and
// the child's write copies it (NewPage in the colour, 4 KiB copied, unmap and map, the old reference
// dropped); with the child gone each has one reference and the parent's write makes it writable in place.
// A new fork between rounds is not timed.
void BM_CowFirstWrite(benchmark::State& state) {
  const bool copy = state.range(0) == 1;
  Fixture f;
  constexpr uint64_t kLen = 4 << 20;
  const VirtAddr at = f.Mmap(kLen);
  f.FaultAll(at, kLen);
  auto child = std::make_unique<Fixture::Child>(f);
  if (!copy) child.reset();
  uint64_t off = 0;
  for (auto _ : state) {
    kmem::UserVm& writer = copy ? *child->vm : *f.vm;
    benchmark::DoNotOptimize(writer.Fault(at + off, Access::kWrite));
    off += kPageSize;
    if (off == kLen) {
      state.PauseTiming();
      child = std::make_unique<Fixture::Child>(f);
      if (!copy) child.reset();
      off = 0;
      state.ResumeTiming();
    }
  }
  state.SetLabel(copy ? "shared: copies" : "sole: in place");
}
BENCHMARK(BM_CowFirstWrite)->Arg(1)->Arg(0);

// Images' memory from malloc.
kmem::ImageSource MallocImages() {
  return kmem::ImageSource{[](void*, uint64_t bytes) { return std::malloc(bytes); },
                           [](void*, void* mem) { std::free(mem); }, nullptr};
}

// The first fault of a text page, page by page over 4 MiB of text: copied (no image cache: NewPage in the
// colour, 4 KiB copied from the image, the map) or shared (the image cache's page, which another process
// running the program filled: the image's lock for the lookup, a reference, the map). Loading the text
// afresh between rounds is not timed.
void BM_TextFirstFault(benchmark::State& state) {
  const bool shared = state.range(0) == 1;
  constexpr uint64_t kLen = 4 << 20;
  const VirtAddr at(0x400000);
  std::vector<uint8_t> image(kLen, 0x90);
  const auto load = [&](kmem::UserVm& vm) {
    if (vm.AddImage(at, kLen, Prot::kExec, kmem::VmaKind::kText, image.data(), kLen) != UserVmStatus::kOk) {
      std::abort();
    }
  };
  kmem::ImageCache cache(MallocImages());
  Fixture f(shared ? &cache : nullptr);
  std::unique_ptr<Fixture::Peer> first;  // the process that filled the image's pages
  if (shared) {
    first = std::make_unique<Fixture::Peer>(f);
    load(*first->vm);
    FaultEach(*first->vm, at, kLen, Access::kExec);
  }
  load(*f.vm);
  TimeFirstFaults(state, *f.vm, at, kLen, Access::kExec, [&] {
    load(*f.vm);
    return at;
  });
  state.SetLabel(shared ? "shared: the image's page" : "copied: a page of its own");
}
BENCHMARK(BM_TextFirstFault)->Arg(0)->Arg(1);

// Pins the calling thread to host CPU `cpu`, so that the process's two threads run on two cores.
void PinTo(unsigned cpu) {
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  pthread_setaffinity_np(pthread_self(), sizeof one, &one);
}

// The calling thread pinned to host CPU `cpu` while it lives, then back on the CPUs it had.
class Pinned {
 public:
  explicit Pinned(unsigned cpu) {
    pthread_getaffinity_np(pthread_self(), sizeof was_, &was_);
    PinTo(cpu);
  }
  ~Pinned() { pthread_setaffinity_np(pthread_self(), sizeof was_, &was_); }

 private:
  cpu_set_t was_;
};

// The process's second thread: kmem CPU 1 on host CPU 1, which loads `space` (the process's, so that its
// munmaps ask this CPU; or the kernel's, so that they do not) and spins there with interrupts on, as a user
// thread spins in ring 3. A cross-call reaches it between its interrupts-off sections, of which it has none
// while it spins: host_env's caller claims the CPU (membarrier(2), which interrupts the core running it) and
// runs the flush as CPU 1. It leaves for the kernel's space before it ends.
class SecondCpu {
 public:
  SecondCpu(kmem::AddressSpace& space, kmem::AddressSpace& kernel)
      : thread_([this, &space, &kernel] {
          PinTo(1);
          space.Activate();
          cpu_ = kmem::CpuId();
          ready_.store(true, std::memory_order_release);
          while (!stop_.load(std::memory_order_acquire)) kmem::CpuRelax();
          kernel.Activate();
        }) {
    while (!ready_.load(std::memory_order_acquire)) std::this_thread::yield();
  }
  ~SecondCpu() {
    stop_.store(true, std::memory_order_release);
    thread_.join();
  }
  unsigned cpu() const { return cpu_; }

 private:
  std::atomic<bool> ready_{false}, stop_{false};
  unsigned cpu_ = 0;
  std::thread thread_;
};

// munmap of one page, after its mmap and a write fault (not timed), on CPU 0 with the process's space
// loaded, while CPU 1 runs in that space (asked: a shootdown to one other CPU) or in the kernel's (not asked:
// the flush on CPU 0 alone). Wall-clock time of the munmap alone; the counters give the shootdowns and the
// other CPUs asked per munmap, from the TLB counts, and the run fails if they are not 1 and 1, or 0 and 0.
// One fixture for every run, so the CPUs' loaded spaces never point at a space that is gone.
void BM_MunmapShootdown(benchmark::State& state) {
  const bool remote = state.range(0) == 1;
  static Fixture f;
  const Pinned pin(0);
  f.space->Activate();
  SecondCpu second(remote ? *f.space : *f.kernel, *f.kernel);
  if (kmem::CpuId() != 0 || second.cpu() != 1) {
    state.SkipWithError("the benchmark thread must be cpu 0 and the second thread cpu 1");
    return;
  }
  const kmem::TlbStats before = kmem::TlbStatsTotal();
  for (auto _ : state) {
    const VirtAddr at = f.Mmap(kPageSize);
    f.FaultAll(at, kPageSize);
    const auto start = std::chrono::steady_clock::now();
    const UserVmStatus s = f.vm->Munmap(at, kPageSize);
    const auto end = std::chrono::steady_clock::now();
    if (s != UserVmStatus::kOk) std::abort();
    state.SetIterationTime(std::chrono::duration<double>(end - start).count());
  }
  const kmem::TlbStats after = kmem::TlbStatsTotal();
  const double n = static_cast<double>(state.iterations());
  const double shootdowns = static_cast<double>(after.shootdowns - before.shootdowns);
  const double asked = static_cast<double>(after.remote_cpus - before.remote_cpus);
  if (shootdowns != (remote ? n : 0) || asked != (remote ? n : 0)) {
    state.SkipWithError("the second cpu was not asked once per munmap, or was asked without the space");
  }
  state.counters["shootdowns"] = benchmark::Counter(shootdowns, benchmark::Counter::kAvgIterations);
  state.counters["remote_cpus"] = benchmark::Counter(asked, benchmark::Counter::kAvgIterations);
  state.SetLabel(remote ? "cpu 1 in the space: asked" : "cpu 1 in the kernel's space: not asked");
}
BENCHMARK(BM_MunmapShootdown)->Arg(1)->Arg(0)->UseManualTime();

}  // namespace

BENCHMARK_MAIN();
