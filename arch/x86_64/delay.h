// Calibrated delays (kernel-only): the TSC, measured once against the PIT, which ticks at a known rate on
// every PC (and in QEMU, under TCG as under KVM, on the host's clock). The MP start-up's waits (10 ms after
// INIT, 200 us after each STARTUP) and its bounded waits for an AP are in real time.
#pragma once

#include <stdint.h>

namespace kmem::x86 {

// Counts the TSC over 10 ms of the PIT's channel 2 (gated by port 0x61, its count latched and read with
// the TSC on either side), keeps the try of three whose reads were quickest, and keeps the rate for the
// calls below; returns it, in TSC ticks per millisecond. Once, on the boot CPU, before any
// delay; panics when the PIT never counts down (no PIT: the kernel cannot time the start-up).
uint64_t DelayCalibrate();

// Spins for at least `us` microseconds.
void DelayUs(uint64_t us);

// The TSC now, and its rate in ticks per millisecond as DelayCalibrate measured it (0 before): for timing.
uint64_t ReadTsc();
uint64_t TscPerMs();

// A deadline `us` microseconds from now, and whether it has passed.
uint64_t DeadlineUs(uint64_t us);
bool Passed(uint64_t deadline);

}  // namespace kmem::x86
