#include "arch/x86_64/delay.h"

#include "arch/x86_64/io.h"
#include "mm/base/panic.h"

namespace kmem::x86 {
namespace {

constexpr uint64_t kPitHz = 1193182;
constexpr uint64_t kCalibrationMs = 10;
constexpr uint16_t kPitChannel2 = 0x42;
constexpr uint16_t kPitCommand = 0x43;
constexpr uint16_t kPort61 = 0x61;
constexpr uint8_t kGate2 = 0x01, kSpeaker = 0x02;

constinit uint64_t tsc_per_ms = 0;

uint64_t Rdtsc() {
  uint32_t lo, hi;
  asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return (uint64_t{hi} << 32) | lo;
}

// Channel 2's count, latched, with the TSC just before and just after the read: the count was what it was at
// some moment in [before, after].
struct PitSample {
  uint64_t before, after;
  uint16_t count;
  uint64_t Mid() const { return before + (after - before) / 2; }
};

PitSample ReadPit() {
  PitSample s;
  s.before = Rdtsc();
  Outb(kPitCommand, 0x80);  // latch channel 2
  const uint8_t lo = Inb(kPitChannel2);
  s.count = static_cast<uint16_t>(lo | Inb(kPitChannel2) << 8);
  s.after = Rdtsc();
  return s;
}

// One measurement: channel 2 counting down from 0xffff, sampled at the start and once kCalibrationMs of PIT
// ticks have gone. *uncertainty gets how long the two reads took, in TSC ticks: a virtual CPU kept from
// running between the reads only lengthens the wait, not the measurement.
uint64_t MeasureOnce(uint64_t* uncertainty) {
  constexpr uint64_t kTicks = kPitHz * kCalibrationMs / 1000;
  Outb(kPort61, static_cast<uint8_t>(Inb(kPort61) & ~(kGate2 | kSpeaker)));
  Outb(kPitCommand, 0xb0);  // channel 2, low byte then high byte, mode 0, binary
  Outb(kPitChannel2, 0xff);
  Outb(kPitChannel2, 0xff);
  Outb(kPort61, static_cast<uint8_t>((Inb(kPort61) & ~kSpeaker) | kGate2));
  const PitSample start = ReadPit();
  PitSample end;
  // Far more TSC ticks than 10 ms on any CPU that runs the kernel: the PIT is not counting.
  constexpr uint64_t kGiveUp = uint64_t{1} << 36;
  do {
    end = ReadPit();
    if (end.after - start.before > kGiveUp) Panic("delay: the PIT's channel 2 did not count 10 ms in 2^36 TSC ticks");
  } while (static_cast<uint16_t>(start.count - end.count) < kTicks);
  Outb(kPort61, static_cast<uint8_t>(Inb(kPort61) & ~kGate2));
  *uncertainty = (start.after - start.before) + (end.after - end.before);
  return (end.Mid() - start.Mid()) * kPitHz / (uint64_t{static_cast<uint16_t>(start.count - end.count)} * 1000);
}

}  // namespace

// The measurement whose reads were quickest (least disturbed) of a few.
uint64_t DelayCalibrate() {
  constexpr int kTries = 3;
  uint64_t best_uncertainty = ~uint64_t{0};
  for (int i = 0; i < kTries; ++i) {
    uint64_t uncertainty;
    const uint64_t rate = MeasureOnce(&uncertainty);
    if (uncertainty < best_uncertainty) {
      best_uncertainty = uncertainty;
      tsc_per_ms = rate;
    }
  }
  KASSERT(tsc_per_ms > 0, "delay: the TSC did not advance over 10 ms of the PIT");
  return tsc_per_ms;
}

uint64_t ReadTsc() { return Rdtsc(); }

uint64_t TscPerMs() { return tsc_per_ms; }

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
