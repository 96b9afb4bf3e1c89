#include "arch/x86_64/delay.h"

#include "arch/x86_64/io.h"
#include "mm/base/addr.h"
#include "mm/base/panic.h"

namespace kmem::x86 {
namespace {

constexpr uint64_t kPitHz = 1193182;
constexpr uint64_t kCalibrationMs = 10;
constexpr uint16_t kPitChannel2 = 0x42;
constexpr uint16_t kPitCommand = 0x43;
constexpr uint16_t kPort61 = 0x61;
constexpr uint8_t kGate2 = 0x01, kSpeaker = 0x02, kOut2 = 0x20;

constinit uint64_t tsc_per_ms = 0;

uint64_t Rdtsc() {
  uint32_t lo, hi;
  asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return (uint64_t{hi} << 32) | lo;
}

// TSC ticks over one kCalibrationMs countdown of the PIT's channel 2.
uint64_t MeasureOnce() {
  constexpr uint64_t kCount = kPitHz * kCalibrationMs / 1000;
  static_assert(kCount <= 0xffff, "the PIT's counter is 16 bits");
  // Gate low (speaker off) while programming; mode 0 (interrupt on terminal count) raises OUT2 when the
  // count, started by the gate going high, reaches zero.
  Outb(kPort61, static_cast<uint8_t>(Inb(kPort61) & ~(kGate2 | kSpeaker)));
  Outb(kPitCommand, 0xb0);  // channel 2, low byte then high byte, mode 0, binary
  Outb(kPitChannel2, static_cast<uint8_t>(kCount));
  Outb(kPitChannel2, static_cast<uint8_t>(kCount >> 8));
  Outb(kPort61, static_cast<uint8_t>((Inb(kPort61) & ~kSpeaker) | kGate2));
  const uint64_t start = Rdtsc();
  uint64_t now = start;
  // Far more TSC ticks than 10 ms on any CPU that runs the kernel: the PIT is not counting.
  constexpr uint64_t kGiveUp = uint64_t{1} << 36;
  while ((Inb(kPort61) & kOut2) == 0) {
    now = Rdtsc();
    if (now - start > kGiveUp) Panic("delay: the PIT's channel 2 did not count down 10 ms in 2^36 TSC ticks");
  }
  now = Rdtsc();
  Outb(kPort61, static_cast<uint8_t>(Inb(kPort61) & ~kGate2));
  return now - start;
}

}  // namespace

// A measurement can only come out long (the CPU, a virtual one above all, was kept from the loop while the
// PIT counted on), never short: the shortest of a few is the rate.
uint64_t DelayCalibrate() {
  constexpr int kTries = 3;
  uint64_t ticks = ~uint64_t{0};
  for (int i = 0; i < kTries; ++i) ticks = Min(ticks, MeasureOnce());
  tsc_per_ms = ticks / kCalibrationMs;
  KASSERT(tsc_per_ms > 0, "delay: the TSC did not advance over 10 ms of the PIT");
  return tsc_per_ms;
}

uint64_t DeadlineUs(uint64_t us) {
  KASSERT(tsc_per_ms != 0, "delay before DelayCalibrate");
  return Rdtsc() + us * tsc_per_ms / 1000;
}

bool Passed(uint64_t deadline) { return static_cast<int64_t>(Rdtsc() - deadline) >= 0; }

void DelayUs(uint64_t us) {
  const uint64_t deadline = DeadlineUs(us);
  while (!Passed(deadline)) asm volatile("pause");
}

}  // namespace kmem::x86
