// The cross-call self-test (smp.h's SmpSelfTest). Each call records, in the answering CPU's own slot, the
// caller's round, CpuId and the stack pointer it ran on; the caller then checks that every online CPU
// answered that round on a stack of its own, inside the boot stack its Mach names (vmalloc's, for an AP).
#include <stdint.h>

#include "arch/x86_64/boot/mach.h"
#include "arch/x86_64/boot/smp.h"
#include "mm/base/format.h"
#include "mm/base/panic.h"
#include "mm/base/percpu.h"

namespace kmem::boot {
namespace {

// Rounds from one caller, and from every CPU at once (each answering the others' calls while it waits).
constexpr uint64_t kRounds = 1000;
constexpr uint64_t kStormRounds = 1000;

struct Sample {
  uint64_t round = 0;
  uint64_t rsp = 0;
  unsigned cpu = 0;
};
// samples[target][caller]: written by the target only, read by the caller after the call.
constinit PerCpu<Sample[kMaxCpus]> samples;

struct Round {
  unsigned caller;
  uint64_t round;
};

void Record(void* arg) {
  const Round& r = *static_cast<const Round*>(arg);
  Sample& s = samples.Here()[r.caller];
  asm volatile("mov %%rsp, %0" : "=r"(s.rsp));
  s.cpu = CpuId();
  s.round = r.round;
}

void Check(const Round& r) {
  const CpuSet online = OnlineCpus();
  for (unsigned cpu = 0; cpu < kMaxCpus; ++cpu) {
    if (!online.Has(cpu)) continue;
    const Sample& s = samples[cpu][r.caller];
    if (s.round != r.round) {
      Panic("smp self-test: cpu%u did not answer round %lu of cpu%u's cross-calls (it last answered %lu)", cpu,
            r.round, r.caller, s.round);
    }
    if (s.cpu != cpu) Panic("smp self-test: cpu%u's part ran where CpuId says %u", cpu, s.cpu);
    const Mach& m = MachOf(cpu);
    if (s.rsp < m.stack_base.value() || s.rsp >= m.stack_top.value()) {
      Panic("smp self-test: cpu%u answered cpu%u on rsp 0x%lx, outside its boot stack [0x%lx, 0x%lx)", cpu, r.caller,
            s.rsp, m.stack_base.value(), m.stack_top.value());
    }
  }
}

// `rounds` cross-calls from this CPU to every online CPU, each checked.
void CallEveryone(uint64_t rounds) {
  for (uint64_t i = 1; i <= rounds; ++i) {
    // Round numbers only grow, so that a stale sample from an earlier run never passes for this one.
    const Round r{CpuId(), samples[CpuId()][CpuId()].round + 1};
    CrossCall(OnlineCpus(), Record, const_cast<Round*>(&r));
    Check(r);
  }
}

void CallEveryoneJob(void* rounds) { CallEveryone(*static_cast<const uint64_t*>(rounds)); }

}  // namespace

void SmpSelfTest() {
  const CpuSet online = OnlineCpus();
  CallEveryone(kRounds);
  unsigned last = 0;
  for (unsigned cpu = 0; cpu < kMaxCpus; ++cpu) {
    if (online.Has(cpu)) last = cpu;
  }
  uint64_t rounds = kRounds;
  RunOnCpus(CpuSet::Of(last), CallEveryoneJob, &rounds);
  uint64_t storm = kStormRounds;
  RunOnCpus(online, CallEveryoneJob, &storm);
  Print("smp: self-test ok: %u CPUs answered %lu cross-calls from cpu0, %lu from cpu%u and %lu from each CPU at "
        "once, each on its own boot stack\n",
        online.Count(), kRounds, kRounds, last, kStormRounds);
}

}  // namespace kmem::boot
