#include "boot/smp_stress.h"

#include "boot/arch.h"
#include "boot/counts.h"
#include "mm/base/format.h"
#include "mm/base/panic.h"
#include "mm/base/percpu.h"
#include "mm/pool/selftest.h"

namespace kmem::boot {
namespace {

// The all-CPU stress's size per CPU: palloc's rounds take up to 64 user pages and a block each, the
// architecture's rounds two vmaps and a vmalloc. Under TCG on a 2-core host a -smp 8 boot takes 3-4 s with
// the stress, 1 s without it (the boot test allows 240 s).
constexpr uint64_t kStressPageRounds = 100;
constexpr uint64_t kStressMapRounds = 100;

// The stress's totals, which every CPU adds its share to.
struct StressRun {
  KernelPalloc* palloc;
  uint64_t page_pairs, pool_pairs, maps;
  unsigned failed;
};

// One CPU's part: palloc's, the pools' and the architecture's concurrent self-tests, one line of what it did.
// Its net user pages are what it allocated less what it freed for the others (palloc's stress frees the
// pages another CPU took), so only their sum over the CPUs must come back to zero.
void StressCpu(void* arg) {
  StressRun& run = *static_cast<StressRun*>(arg);
  const unsigned cpu = CpuId();
  const int64_t users_before = run.palloc->CpuCounts(cpu).users;
  const uint64_t pages = run.palloc->SelfTestConcurrent(kStressPageRounds);
  uint64_t pool_pairs;
  const bool pool_ok = pool::PoolSelfTestConcurrent(&pool_pairs) == pool::SelfTestStatus::kPassed;
  const uint64_t maps = ArchStressCpu(*run.palloc, kStressMapRounds);
  const PallocCpuCounts now = run.palloc->CpuCounts(cpu);
  Print("smp stress cpu%u: %lu page pairs (%ld user pages net here, %lu pages cached), %lu pool pairs%s, %lu maps\n",
        cpu, pages, now.users - users_before, now.cached_pages, pool_pairs, pool_ok ? "" : " FAILED", maps);
  __atomic_fetch_add(&run.page_pairs, pages, __ATOMIC_RELAXED);
  __atomic_fetch_add(&run.pool_pairs, pool_pairs, __ATOMIC_RELAXED);
  __atomic_fetch_add(&run.maps, maps, __ATOMIC_RELAXED);
  if (!pool_ok) __atomic_fetch_add(&run.failed, 1, __ATOMIC_RELAXED);
}

}  // namespace

// The allocators on every online CPU at once (issue 13's kernel stress): pages freed on other CPUs than
// took them, Kmalloc and slab storms, vmaps and vmallocs shot down everywhere. Afterwards every count is
// back, per zone and in all, and every structure walks clean; a count that is not panics with both values.
void SmpStress(KernelPalloc& palloc) {
  const MemCounts before = CountMem(palloc);
  StressRun run{&palloc, 0, 0, 0, 0};
  ArchRunOnCpus(OnlineCpus(), StressCpu, &run);
  if (run.failed != 0) Panic("smp stress: the pools' stress failed on %u CPUs", run.failed);
  const MemCounts after = CountMem(palloc);
  ExpectCountsBack("smp stress", before, after);
  Print("smp stress: %u cpus, %lu page pairs, %lu pool pairs, %lu maps, every page back (%lu free, %lu in the "
        "pools, %lu in page tables)\n",
        OnlineCpus().Count(), run.page_pairs, run.pool_pairs, run.maps, palloc.FreeCount(),
        after.free - palloc.FreeCount(), after.tables);
}

}  // namespace kmem::boot
