// The host's inline halves of mm/base/percpu.h's interrupt hooks, included by percpu.h only (as
// asm/irqflags.h): the common
// case of a section's start and end runs in its caller, so the allocators' per-CPU fast paths make no call
// for them (out of line, the two hook pairs were a third of a palloc alloc+free pair: 116 callgrind
// instructions with them, 104 inline; the calls also made the fast paths keep their values in callee-saved
// registers). Everything else (the first section of a thread, nested sections, cross-calls) is the slow
// half, IrqSaveCpuSlow, in the environment the binary links: testing/host_env.cc, where each thread is a
// CPU and a cross-call reaches another thread's CPU between two of its sections, or tools/tool_env.cc, one
// CPU whose every section takes the slow half.
#pragma once

namespace kmem {

// One CPU's flags, a Dekker pair between its sections and a cross-caller: a section sets irqs_off and
// then reads claimed; a cross-caller sets claimed and then reads irqs_off (testing/host_env.cc, which pays
// for the store-load ordering of both sides with membarrier(2), so the section's side is a store, a
// compiler fence and a load). Accessed with __atomic builtins only. A line each: every section writes its
// CPU's. The two flags sit in different 8-byte words: with claimed in the word of irqs_off, the section's
// load of it right behind its store to irqs_off cost 5-7% of a slab pair and of a 1-thread palloc remote
// pair (bench/README.md's pool section).
struct alignas(64) HostCpuFlags {
  bool irqs_off = false;
  alignas(8) bool claimed = false;
};

// The calling thread's interrupt flag as mm/ sees it, the CPU it runs as (its own once it took one, -1
// before, or the CPU whose cross-call part it runs) and that CPU's flags. One initial-exec TLS block,
// reached by %fs-relative loads as the kernel's Mach is by %gs-relative ones (the default model of a
// library compiled -fPIC goes through __tls_get_addr). Defined by the environment.
struct HostThreadCpu {
  bool irqs_on = true;
  int cpu = -1;
  HostCpuFlags* flags = nullptr;  // cpu's, once cpu is set
  // flags when its sections may take the cheap side of the Dekker pair (membarrier registered, and not under
  // TSan, which models neither membarrier nor fences), else nullptr: the inline half's one test for both
  // (a separate global flag cost 3 more instructions a section).
  HostCpuFlags* cheap_flags = nullptr;
};
extern constinit thread_local HostThreadCpu host_thread_cpu [[gnu::tls_model("initial-exec")]];

// A section's start in every case the inline half leaves out: interrupts already off, the thread's first
// section, no cheap sections, a cross-call claiming this CPU.
CpuIrq IrqSaveCpuSlow();

inline bool TryIrqSaveCpu(CpuIrq& here) {
  HostThreadCpu& t = host_thread_cpu;
  HostCpuFlags* f = t.cheap_flags;
  if (__builtin_expect(f == nullptr, 0) || __builtin_expect(!t.irqs_on, 0)) return false;
  __atomic_store_n(&f->irqs_off, true, __ATOMIC_RELAXED);
  __atomic_signal_fence(__ATOMIC_SEQ_CST);  // the cross-caller's membarrier orders the store before the load
  if (__builtin_expect(__atomic_load_n(&f->claimed, __ATOMIC_ACQUIRE), 0)) {
    __atomic_store_n(&f->irqs_off, false, __ATOMIC_RELEASE);
    return false;  // IrqSaveCpuSlow lets the claim's part run first, as a CPU takes a pending interrupt
  }
  t.irqs_on = false;
  here = CpuIrq{.cpu = static_cast<unsigned>(t.cpu), .irq = IrqState::kWereOn};
  return true;
}

inline CpuIrq IrqSaveCpu() {
  CpuIrq here;
  return TryIrqSaveCpu(here) ? here : IrqSaveCpuSlow();
}

inline IrqState IrqSave() { return IrqSaveCpu().irq; }

inline void IrqRestore(IrqState state) {
  if (state != IrqState::kWereOn) return;
  HostThreadCpu& t = host_thread_cpu;
  __atomic_store_n(&t.flags->irqs_off, false, __ATOMIC_RELEASE);
  t.irqs_on = true;
}

}  // namespace kmem
