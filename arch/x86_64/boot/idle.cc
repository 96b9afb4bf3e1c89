// What the online CPUs run when nothing else does (smp.h's IdleLoop), and the jobs RunOnCpus hands them:
// one slot per CPU, filled by a cross-call to it and emptied by the CPU itself with interrupts off.
#include "arch/x86_64/boot/smp.h"
#include "arch/x86_64/kernel_percpu.h"
#include "mm/base/panic.h"
#include "mm/base/percpu.h"

namespace kmem::boot {
namespace {

// The job each CPU's idle loop runs with interrupts on (RunOnCpus).
struct alignas(64) Job {
  CrossCallFn fn = nullptr;
  void* arg = nullptr;
  x86::Countdown* done = nullptr;
};
constinit Job jobs[kMaxCpus];
constinit bool (*idle_step)() = nullptr;

// With interrupts off: the job posted to this CPU, taken, or false when there is none.
bool TakeJob(Job* out) {
  Job& j = jobs[CpuId()];
  if (j.fn == nullptr) return false;
  *out = j;
  j = Job{};
  return true;
}

void RunJob(const Job& j) {
  j.fn(j.arg);
  j.done->Done();
}

// A cross-call: posts the job at `arg` to this CPU.
void PostJob(void* arg) {
  Job& slot = jobs[CpuId()];
  if (slot.fn != nullptr) Panic("smp: cpu %u was handed a job while it still had one", CpuId());
  slot = *static_cast<const Job*>(arg);
}

}  // namespace

void SetIdleStep(bool (*step)()) { __atomic_store_n(&idle_step, step, __ATOMIC_RELEASE); }

// cli before the checks, sti;hlt after (sti's shadow holds interrupts until hlt), so no wake-up is lost.
void IdleLoop() {
  for (;;) {
    asm volatile("cli" : : : "memory");
    Job j;
    if (TakeJob(&j)) {
      asm volatile("sti" : : : "memory");
      RunJob(j);
      continue;
    }
    bool (*const step)() = __atomic_load_n(&idle_step, __ATOMIC_ACQUIRE);
    if (step != nullptr && step()) continue;
    asm volatile("sti; hlt" : : : "memory");
  }
}

void RunOnCpus(CpuSet cpus, CrossCallFn fn, void* arg) {
  const CpuSet targets = cpus & OnlineCpus();
  const unsigned me = CpuId();
  const CpuSet remote = targets.Without(me);
  x86::Countdown done;
  done.Start(remote.Count());
  Job job{fn, arg, &done};
  CrossCall(remote, PostJob, &job);
  if (targets.Has(me)) fn(arg);
  // Jobs handed to this CPU while it waits run here, or their caller would wait for this one for ever.
  while (!done.Finished()) {
    const IrqState irq = IrqSave();
    Job mine;
    const bool have = TakeJob(&mine);
    IrqRestore(irq);
    if (have) {
      RunJob(mine);
    } else {
      done.Sleep();
    }
  }
}

}  // namespace kmem::boot
