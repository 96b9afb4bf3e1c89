#include "mm/base/percpu.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace kmem {
namespace {

TEST(CpuSet, SetOperations) {
  const CpuSet s = CpuSet::Of(1) | CpuSet::Of(3);
  EXPECT_TRUE(s.Has(1));
  EXPECT_FALSE(s.Has(2));
  EXPECT_EQ(s.Count(), 2u);
  EXPECT_EQ(s.Without(1), CpuSet::Of(3));
  EXPECT_EQ(CpuSet::All().Count(), kMaxCpus);
  EXPECT_TRUE((s & CpuSet::Of(2)).Empty());
}

TEST(PerCpu, SlotsAreOnTheirOwnCacheLines) {
  static PerCpu<uint32_t> counts;
  EXPECT_GE(reinterpret_cast<uintptr_t>(&counts[1]) - reinterpret_cast<uintptr_t>(&counts[0]), 64u);
  const IrqState irq = IrqSave();
  EXPECT_EQ(&counts.Here(), &counts[CpuId()]);
  IrqRestore(irq);
}

TEST(IrqSaveCpu, SaysWhatIrqSaveAndCpuIdWouldAndNests) {
  std::thread([] {
    const CpuIrq outer = IrqSaveCpu();  // the thread's first hook: it takes its CPU here
    EXPECT_EQ(outer.irq, IrqState::kWereOn);
    EXPECT_EQ(outer.cpu, CpuId());
    const CpuIrq inner = IrqSaveCpu();
    EXPECT_EQ(inner.irq, IrqState::kWereOff);
    EXPECT_EQ(inner.cpu, outer.cpu);
    IrqRestore(inner.irq);
    IrqRestore(outer.irq);
    const CpuIrq again = IrqSaveCpu();
    EXPECT_EQ(again.irq, IrqState::kWereOn);
    IrqRestore(again.irq);
  }).join();
}

void SaveCpuIrq(void* arg) { *static_cast<CpuIrq*>(arg) = IrqSaveCpu(); }

TEST(IrqSaveCpu, InACrossCallPartSaysThatCpuWithInterruptsOff) {
  const unsigned other = (CpuId() + 1) % kMaxCpus;
  CpuIrq seen{.cpu = kMaxCpus, .irq = IrqState::kWereOn};
  CrossCall(CpuSet::Of(other), SaveCpuIrq, &seen);
  EXPECT_EQ(seen.cpu, other);
  EXPECT_EQ(seen.irq, IrqState::kWereOff);
}

// Threads that hold CPU ids and spin until told to stop, each inside and outside interrupts-off sections
// in turn; inside, they mark their CPU busy in two steps that a part running there at the same time would
// see half done.
class Cpus {
 public:
  explicit Cpus(unsigned n) {
    for (unsigned i = 0; i < n; ++i) {
      threads_.emplace_back([this] {
        ids_[slots_.fetch_add(1)] = CpuId();
        started_.fetch_add(1);  // after the id is written, which ids() reads once all have started
        while (!stop_.load(std::memory_order_relaxed)) {
          const IrqState irq = IrqSave();
          std::atomic<int>& busy = busy_[CpuId()];
          busy.store(1, std::memory_order_relaxed);
          for (int k = 0; k < 50; ++k) CpuRelax();
          busy.store(0, std::memory_order_relaxed);
          IrqRestore(irq);
        }
      });
    }
    while (started_.load() != n) CpuRelax();
  }
  ~Cpus() {
    stop_ = true;
    for (std::thread& t : threads_) t.join();
  }
  CpuSet ids() const {
    CpuSet s;
    for (unsigned i = 0; i < threads_.size(); ++i) s = s | CpuSet::Of(ids_[i]);
    return s;
  }
  bool BusyHere() { return busy_[CpuId()].load(std::memory_order_relaxed) != 0; }

 private:
  std::vector<std::thread> threads_;
  std::atomic<unsigned> slots_{0};
  std::atomic<unsigned> started_{0};
  std::atomic<bool> stop_{false};
  unsigned ids_[kMaxCpus] = {};
  std::atomic<int> busy_[kMaxCpus] = {};
};

struct Seen {
  Cpus* cpus;
  std::atomic<uint32_t> ran{0};
  std::atomic<int> inside_a_section{0};
};

void Record(void* arg) {
  Seen* seen = static_cast<Seen*>(arg);
  seen->ran.fetch_or(uint32_t{1} << CpuId());
  if (seen->cpus->BusyHere()) seen->inside_a_section.fetch_add(1);
  EXPECT_EQ(IrqSave(), IrqState::kWereOff);  // parts run with interrupts off
}

TEST(CrossCall, RunsOnEveryCpuOfTheSetAsThatCpuAndOnlyBetweenItsSections) {
  Cpus cpus(3);
  const unsigned me = CpuId();
  const CpuSet targets = cpus.ids() | CpuSet::Of(me);
  for (int round = 0; round < 2000; ++round) {
    Seen seen{&cpus};
    CrossCall(targets, Record, &seen);
    ASSERT_EQ(seen.ran.load(), targets.bits()) << "round " << round;
    ASSERT_EQ(seen.inside_a_section.load(), 0) << "a part ran inside a section, round " << round;
  }
}

TEST(CrossCall, ReachesAnIdNoThreadHolds) {
  Cpus cpus(1);
  const unsigned free_id = static_cast<unsigned>(__builtin_ctz(~(cpus.ids() | CpuSet::Of(CpuId())).bits()));
  Seen seen{&cpus};
  CrossCall(CpuSet::Of(free_id), Record, &seen);
  EXPECT_EQ(seen.ran.load(), CpuSet::Of(free_id).bits());
}

TEST(CrossCallDeathTest, CallingWithInterruptsOffPanics) {
  EXPECT_DEATH(
      {
        IrqSave();
        CrossCall(CpuSet::Of(CpuId()), [](void*) {}, nullptr);
      },
      "cross-call from cpu [0-9]+ with interrupts off");
}

}  // namespace
}  // namespace kmem
