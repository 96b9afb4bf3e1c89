#include "arch/x86_64/apic.h"

#include "arch/x86_64/delay.h"
#include "arch/x86_64/io.h"
#include "mm/base/panic.h"
#include "mm/base/percpu.h"

namespace kmem::x86 {
namespace {

constexpr uint32_t kApicBaseMsr = 0x1b;
constexpr uint64_t kApicGlobalEnable = uint64_t{1} << 11;
constexpr uint64_t kApicX2Enable = uint64_t{1} << 10;
constexpr uint64_t kApicBaseMask = 0x000ffffffffff000;
constexpr uint32_t kX2ApicMsrBase = 0x800;  // x2APIC register MSR = 0x800 + xAPIC offset / 16

// Register offsets in the xAPIC page.
constexpr uint32_t kId = 0x20;
constexpr uint32_t kTpr = 0x80;
constexpr uint32_t kEoi = 0xb0;
constexpr uint32_t kSvr = 0xf0;
constexpr uint32_t kIcrLow = 0x300;
constexpr uint32_t kIcrHigh = 0x310;
constexpr uint32_t kLvtTimer = 0x320;
constexpr uint32_t kLvtLint0 = 0x350;
constexpr uint32_t kLvtLint1 = 0x360;
constexpr uint32_t kLvtError = 0x370;
constexpr uint32_t kTimerInitial = 0x380;
constexpr uint32_t kTimerCurrent = 0x390;
constexpr uint32_t kTimerDivide = 0x3e0;

constexpr uint32_t kSvrEnable = 1u << 8;
constexpr uint32_t kLvtMasked = 1u << 16;
constexpr uint32_t kIcrPending = 1u << 12;  // xAPIC: delivery status, set until the APIC has sent it
constexpr uint32_t kIcrAssert = 1u << 14;
constexpr uint32_t kIcrInit = 5u << 8;
constexpr uint32_t kIcrStartup = 6u << 8;
constexpr uint32_t kLvtPeriodic = 1u << 17;
constexpr uint32_t kDivideBy16 = 0x3;

constinit ApicMode mode = ApicMode::kXApic;
constinit volatile uint32_t* mmio = nullptr;

uint64_t ReadMsr(uint32_t msr) {
  uint32_t lo, hi;
  asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
  return (uint64_t{hi} << 32) | lo;
}

void WriteMsr(uint32_t msr, uint64_t v) {
  asm volatile("wrmsr" : : "c"(msr), "a"(static_cast<uint32_t>(v)), "d"(static_cast<uint32_t>(v >> 32)) : "memory");
}

uint32_t Read(uint32_t reg) {
  if (mode == ApicMode::kX2Apic) return static_cast<uint32_t>(ReadMsr(kX2ApicMsrBase + reg / 16));
  return mmio[reg / 4];
}

void Write(uint32_t reg, uint32_t v) {
  if (mode == ApicMode::kX2Apic) {
    WriteMsr(kX2ApicMsrBase + reg / 16, v);
    return;
  }
  mmio[reg / 4] = v;
}

// One interrupt command. xAPIC: destination in the high word's top byte, the low word sends; then wait
// until the APIC has taken it. Interrupts are off throughout: a handler that sends an IPI of its own
// between the two writes would leave this one the handler's destination. x2APIC: one 64-bit MSR,
// destination in the high half; a WRMSR there is not serializing, so a fence first makes earlier stores
// visible before the IPI (Linux's weak_wrmsr_fence).
void SendIcr(uint32_t apic_id, uint32_t low) {
  if (mode == ApicMode::kX2Apic) {
    asm volatile("mfence; lfence" : : : "memory");
    WriteMsr(kX2ApicMsrBase + kIcrLow / 16, (uint64_t{apic_id} << 32) | low);
    return;
  }
  KASSERT(apic_id <= 0xff, "xAPIC destination %u does not fit 8 bits", apic_id);
  const IrqState irq = IrqSave();
  mmio[kIcrHigh / 4] = apic_id << 24;
  mmio[kIcrLow / 4] = low;
  while ((mmio[kIcrLow / 4] & kIcrPending) != 0) asm volatile("pause");
  IrqRestore(irq);
}

}  // namespace

const char* ApicModeName(ApicMode m) { return m == ApicMode::kX2Apic ? "x2APIC" : "xAPIC"; }

ApicMode LapicModeOffered() {
  uint32_t eax = 1, ebx, ecx = 0, edx;
  asm volatile("cpuid" : "+a"(eax), "=b"(ebx), "+c"(ecx), "=d"(edx));
  return (ecx & (1u << 21)) != 0 ? ApicMode::kX2Apic : ApicMode::kXApic;
}

PhysAddr LapicBase() { return PhysAddr(ReadMsr(kApicBaseMsr) & kApicBaseMask); }

void LapicUse(ApicMode m, VirtAddr regs) {
  mode = m;
  mmio = m == ApicMode::kXApic ? reinterpret_cast<volatile uint32_t*>(regs.value()) : nullptr;
}

ApicMode LapicMode() { return mode; }

void LapicInitCpu() {
  const uint64_t base = ReadMsr(kApicBaseMsr);
  // Enabled first in xAPIC mode: the SDM allows x2APIC to be entered only from there (and leaving it for
  // xAPIC faults, so a firmware's x2APIC stays as it is).
  if ((base & kApicGlobalEnable) == 0) WriteMsr(kApicBaseMsr, base | kApicGlobalEnable);
  if (mode == ApicMode::kX2Apic && (base & kApicX2Enable) == 0) {
    WriteMsr(kApicBaseMsr, base | kApicGlobalEnable | kApicX2Enable);
  }
  Write(kTpr, 0);
  constexpr uint32_t kLvts[] = {kLvtTimer, kLvtLint0, kLvtLint1, kLvtError};
  for (uint32_t lvt : kLvts) Write(lvt, kLvtMasked);
  Write(kSvr, kSvrEnable | kSpuriousVector);
}

uint32_t LapicId() {
  const uint32_t id = Read(kId);
  return mode == ApicMode::kX2Apic ? id : id >> 24;
}

void LapicEoi() { Write(kEoi, 0); }

void LapicSendIpi(uint32_t apic_id, unsigned vector) {
  KASSERT(vector >= 32 && vector <= 0xff, "IPI on vector %u", vector);
  SendIcr(apic_id, vector);
}

void LapicSendInit(uint32_t apic_id) { SendIcr(apic_id, kIcrInit | kIcrAssert); }

void LapicSendStartup(uint32_t apic_id, PhysAddr page) {
  KASSERT(page.IsAlignedTo(kPageSize) && page.value() < 0x100000, "STARTUP page 0x%lx not a page below 1 MiB",
          page.value());
  SendIcr(apic_id, kIcrStartup | static_cast<uint32_t>(page.value() >> kPageShift));
}

uint32_t LapicTimerCalibrate() {
  constexpr uint64_t kMs = 10;
  Write(kTimerDivide, kDivideBy16);
  Write(kLvtTimer, kLvtMasked);
  Write(kTimerInitial, ~uint32_t{0});
  DelayUs(kMs * 1000);
  const uint32_t counted = ~uint32_t{0} - Read(kTimerCurrent);
  Write(kTimerInitial, 0);
  KASSERT(counted >= kMs, "the local APIC timer counted %u in %lu ms", counted, kMs);
  return static_cast<uint32_t>(counted / kMs);
}

void LapicTimerPeriodic(unsigned vector, uint32_t count) {
  KASSERT(vector >= 32 && vector <= 0xff && count > 0, "APIC timer on vector %u every %u counts", vector, count);
  Write(kTimerDivide, kDivideBy16);
  Write(kLvtTimer, kLvtPeriodic | vector);
  Write(kTimerInitial, count);
}

void PicMask() {
  // ICW1 (cascade, ICW4 follows), ICW2 (vector base), ICW3 (master: slave on input 2; slave: its id 2),
  // ICW4 (8086 mode), then OCW1: every input masked.
  constexpr struct {
    uint16_t command, data;
    uint8_t base, cascade;
  } kPics[] = {{0x20, 0x21, 0x20, 0x04}, {0xa0, 0xa1, 0x28, 0x02}};
  for (const auto& p : kPics) {
    Outb(p.command, 0x11);
    Outb(p.data, p.base);
    Outb(p.data, p.cascade);
    Outb(p.data, 0x01);
    Outb(p.data, 0xff);
  }
}

}  // namespace kmem::x86
