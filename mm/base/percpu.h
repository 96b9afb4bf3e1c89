// The CPU-local facts mm/ needs, supplied by the environment that links it, the way Panic and Print are
// (mm/base/panic.h): the kernel answers for the CPU it runs on (arch/x86_64/kernel_percpu.cc), the host for
// the calling thread (testing/host_env.cc), so that host tests can run mm/ code on several "CPUs" at once.
// The interrupt hooks' common case is inline, from the environment's asm/irqflags.h (at the end).
#pragma once

#include <stdint.h>

namespace kmem {

// The most CPUs kmem runs on; per-CPU tables are sized by it.
inline constexpr unsigned kMaxCpus = 8;

// The calling CPU, in [0, kMaxCpus). Stable while interrupts are off (no migration then).
unsigned CpuId();

// Whether interrupts were enabled before IrqSave turned them off.
enum class IrqState : uint32_t { kWereOff, kWereOn };
// Turns interrupts off on this CPU and says whether they were on; IrqRestore puts them back as they were.
// Pairs nest. The host has no interrupts: its sections exclude the cross-calls to their CPU.
inline IrqState IrqSave();
inline void IrqRestore(IrqState state);

// IrqSave, then CpuId, in one: the per-CPU fast paths (palloc's caches, the slab magazines, the lock
// checker) need both on every operation. IrqRestore(s.irq) ends the section.
struct CpuIrq {
  unsigned cpu;
  IrqState irq;
};
inline CpuIrq IrqSaveCpu();
// IrqSaveCpu's common case alone, for the fast paths that make no call (their slow paths are tail calls):
// turns interrupts off, sets `here` and returns true; or changes nothing and returns false when the section
// needs IrqSaveCpu (on the host: a thread's first section, a nested one, a cross-call pending for its CPU;
// the kernel's always succeeds).
inline bool TryIrqSaveCpu(CpuIrq& here);

// Spin-wait hint (PAUSE on x86): lets a sibling hardware thread run and saves power while spinning.
void CpuRelax();

// A set of CPUs, one bit per CpuId.
class CpuSet {
 public:
  constexpr CpuSet() = default;
  constexpr explicit CpuSet(uint32_t bits) : bits_(bits) {}
  static constexpr CpuSet Of(unsigned cpu) { return CpuSet(uint32_t{1} << cpu); }
  static constexpr CpuSet All() { return CpuSet((uint32_t{1} << kMaxCpus) - 1); }

  constexpr bool Has(unsigned cpu) const { return (bits_ >> cpu & 1) != 0; }
  constexpr bool Empty() const { return bits_ == 0; }
  constexpr unsigned Count() const { return static_cast<unsigned>(__builtin_popcount(bits_)); }
  constexpr CpuSet operator|(CpuSet o) const { return CpuSet(bits_ | o.bits_); }
  constexpr CpuSet operator&(CpuSet o) const { return CpuSet(bits_ & o.bits_); }
  constexpr CpuSet Without(unsigned cpu) const { return CpuSet(bits_ & ~(uint32_t{1} << cpu)); }
  constexpr bool operator==(const CpuSet&) const = default;
  constexpr uint32_t bits() const { return bits_; }

 private:
  uint32_t bits_ = 0;
};
static_assert(kMaxCpus <= 32, "CpuSet has one bit a CPU");

// The CPUs that run kmem code: the kernel's boot CPU and every application processor it started, the
// host's every id (a host id no thread holds is a CPU sitting idle with interrupts on).
CpuSet OnlineCpus();

// The cross-CPU call (9front's and Linux's IPI function call): runs fn(arg) on every CPU of `cpus` that is
// online, each with interrupts off and CpuId() answering that CPU, and returns once all have finished. The
// caller's own part runs here, directly. A CPU runs its part between two of its own interrupts-off
// sections, never inside one, so fn may touch that CPU's per-CPU data as the CPU itself does. The caller
// must have interrupts on: a CPU that waits for others with interrupts off could never answer their calls
// (Linux's smp_call_function rule); calling with them off panics.
using CrossCallFn = void (*)(void* arg);
void CrossCall(CpuSet cpus, CrossCallFn fn, void* arg);

// One T per CPU, each on its own cache lines so that CPUs never share a line through it. Used with
// interrupts off (CpuId is stable then); another CPU's slot only from a cross-call to that CPU or under
// a lock the slot's owner also takes.
template <typename T>
class PerCpu {
 public:
  T& Here() { return slot_[CpuId()].value; }
  T& operator[](unsigned cpu) { return slot_[cpu].value; }
  const T& operator[](unsigned cpu) const { return slot_[cpu].value; }

 private:
  struct alignas(64) Slot {
    T value;
  };
  Slot slot_[kMaxCpus];
};

}  // namespace kmem

// The interrupt hooks are inline, so that the fast paths calling them make no call: the kernel's pushf/cli
// and sti, the host's store, fence and load on its thread's CPU flags. Their definitions are the
// environment's, as Linux's <asm/irqflags.h> is the architecture's: mm/base's dependencies select
// arch/<environment>/irqflags.h, seen here as asm/irqflags.h. The rest of the contract is out of line.
#include "asm/irqflags.h"
