// The local APIC (kernel-only): each CPU's interrupt controller, which takes the IPIs the SMP start-up and
// the cross-calls send. x2APIC (its registers are MSRs) when the CPU has one, xAPIC (a page of registers,
// mapped uncached by the caller) otherwise; the boot CPU picks the mode for every CPU. Also the legacy
// 8259 PICs, which the kernel masks where the firmware says they exist: only IPIs arrive.
#pragma once

#include <stdint.h>

#include "mm/base/addr.h"

namespace kmem::x86 {

// Interrupts the APIC aborts deliver here; its handler sends no EOI (the SDM's rule for spurious ones).
inline constexpr unsigned kSpuriousVector = 0xff;

enum class ApicMode : uint8_t { kXApic, kX2Apic };
const char* ApicModeName(ApicMode mode);

// What CPUID says: x2APIC when leaf 1 ECX bit 21 is set.
ApicMode LapicModeOffered();
// The boot CPU's APIC registers' physical page, from IA32_APIC_BASE (the MADT says the same).
PhysAddr LapicBase();

// Every CPU uses `mode`; for kXApic, `mmio` is the registers' page mapped uncached (ignored for kX2Apic).
// Once, on the boot CPU, before LapicInitCpu.
void LapicUse(ApicMode mode, VirtAddr mmio);
ApicMode LapicMode();

// Enables this CPU's local APIC in the mode LapicUse chose: software-enabled with kSpuriousVector, every
// interrupt accepted (TPR 0), its own timer, LINT0, LINT1 and error interrupts masked. Each CPU once.
void LapicInitCpu();
// This CPU's APIC id: 8 bits in xAPIC mode, 32 in x2APIC mode.
uint32_t LapicId();
// Ends the interrupt being handled, so that the APIC delivers the next one of its class.
void LapicEoi();

// An interrupt on `vector` to the CPU whose APIC id is `apic_id`. Stores before it are visible to the
// target before the interrupt arrives.
void LapicSendIpi(uint32_t apic_id, unsigned vector);
// The MP start-up's two messages (SDM vol. 3 8.4.4): INIT resets the target into wait-for-SIPI; STARTUP
// makes a waiting CPU run real-mode code at `page` (4 KiB-aligned, below 1 MiB).
void LapicSendInit(uint32_t apic_id);
void LapicSendStartup(uint32_t apic_id, PhysAddr page);

// The local APIC timer, which counts down at the bus clock over 16 (its divide register). Calibration: the
// timer's counts per millisecond, measured over 10 ms of the TSC (delay.h, calibrated first); once, on the
// boot CPU. LapicTimerPeriodic: this CPU's timer interrupts on `vector` every `count` counts, for ever.
uint32_t LapicTimerCalibrate();
void LapicTimerPeriodic(unsigned vector, uint32_t count);

// Moves the 8259 PICs' vectors to [0x20, 0x30), clear of the exceptions, and masks all their inputs.
void PicMask();

}  // namespace kmem::x86
