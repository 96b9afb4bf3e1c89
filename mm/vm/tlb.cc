#include "mm/vm/tlb.h"

#include "mm/base/format.h"

namespace kmem {
namespace {

Shootdown mode = Shootdown::kOn;

// Each CPU's counts, written by that CPU with interrupts off; summed with relaxed loads, so a total read
// while CPUs flush is a moment's approximation, never a torn value.
PerCpu<TlbStats> stats;

void Bump(uint64_t& counter, uint64_t by) { __atomic_store_n(&counter, counter + by, __ATOMIC_RELAXED); }
uint64_t Read(const uint64_t& counter) { return __atomic_load_n(&counter, __ATOMIC_RELAXED); }

struct Call {
  const TlbBatch* batch;
  TlbFlushFn flush;
  void* ctx;
};

// One CPU's part, with interrupts off.
void FlushHere(void* arg) {
  const Call& c = *static_cast<const Call*>(arg);
  TlbStats& s = stats.Here();
  switch (c.flush(c.ctx, *c.batch)) {
    case TlbDone::kPages: Bump(s.pages, c.batch->count()); break;
    case TlbDone::kFull: Bump(s.full_flushes, 1); break;
    case TlbDone::kDeferred: Bump(s.deferred, 1); break;
  }
}

}  // namespace

void SetShootdown(Shootdown m) { mode = m; }
Shootdown ShootdownMode() { return mode; }

void TlbShootdown(CpuSet cpus, const TlbBatch& batch, TlbFlushFn flush, void* ctx) {
  if (batch.empty()) return;
  Call call{&batch, flush, ctx};
  const IrqState irq = IrqSave();
  const unsigned me = CpuId();
  if (mode == Shootdown::kOff) cpus = cpus & CpuSet::Of(me);
  const CpuSet others = cpus.Without(me);
  if (others.Empty()) {
    if (cpus.Has(me)) FlushHere(&call);
    IrqRestore(irq);
    return;
  }
  TlbStats& s = stats.Here();
  Bump(s.shootdowns, 1);
  Bump(s.remote_cpus, others.Count());
  IrqRestore(irq);
  CrossCall(cpus, FlushHere, &call);
}

TlbStats TlbStatsTotal() {
  TlbStats t = {};
  for (unsigned cpu = 0; cpu < kMaxCpus; ++cpu) {
    const TlbStats& s = stats[cpu];
    t.shootdowns += Read(s.shootdowns);
    t.remote_cpus += Read(s.remote_cpus);
    t.pages += Read(s.pages);
    t.full_flushes += Read(s.full_flushes);
    t.deferred += Read(s.deferred);
  }
  return t;
}

// Each CPU clears its own slot, as it alone writes it.
void TlbStatsReset() {
  CrossCall(
      OnlineCpus(), [](void*) { stats.Here() = TlbStats{}; }, nullptr);
}

void TlbStatsPrint() {
  const TlbStats t = TlbStatsTotal();
  Print("tlb: %lu shootdowns to %lu other cpus, %lu pages and %lu full flushes on all cpus, %lu flushes deferred "
        "to the next load; shootdown %s\n",
        t.shootdowns, t.remote_cpus, t.pages, t.full_flushes, t.deferred, mode == Shootdown::kOn ? "on" : "off");
}

}  // namespace kmem
