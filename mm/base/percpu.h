// The CPU-local facts mm/ needs, supplied by the environment that links it, the way Panic and Print are
// (mm/base/panic.h): the kernel answers for the CPU it runs on (arch/x86_64/kernel_percpu.cc), the host for
// the calling thread (testing/host_env.cc), so that host tests can run mm/ code on several "CPUs" at once.
#pragma once

#include <stdint.h>

namespace kmem {

// The most CPUs kmem runs on; per-CPU tables are sized by it.
inline constexpr unsigned kMaxCpus = 8;

// The calling CPU, in [0, kMaxCpus). Stable while interrupts are off (no migration then).
unsigned CpuId();

// Whether interrupts were enabled before IrqSave turned them off.
enum class IrqState : uint8_t { kWereOff, kWereOn };
// Turns interrupts off on this CPU and says whether they were on; IrqRestore puts them back as they were.
// Pairs nest. The host has no interrupts: its hooks only keep the pairing.
IrqState IrqSave();
void IrqRestore(IrqState state);

// Spin-wait hint (PAUSE on x86): lets a sibling hardware thread run and saves power while spinning.
void CpuRelax();

}  // namespace kmem
