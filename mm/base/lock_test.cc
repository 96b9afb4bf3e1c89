#include "mm/base/lock.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace kmem {
namespace {

TEST(SpinLock, KeepsACounterExactAcrossThreads) {
  static SpinLock lock("test counter", LockLevel::kGlobal);
  constexpr int kThreads = 4, kRounds = 200000;
  // A read, a yield-prone gap and a write: without the lock, increments from other threads get lost.
  volatile uint64_t counter = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        LockGuard g(lock);
        uint64_t v = counter;
        counter = v + 1;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(counter, uint64_t{kThreads} * kRounds);
}

TEST(SpinLock, KnowsWhichCpuHoldsIt) {
  SpinLock lock("held", LockLevel::kZone);
  EXPECT_FALSE(lock.HeldHere());
  lock.Lock();
  EXPECT_TRUE(lock.HeldHere());
  bool elsewhere = true;
  std::thread([&] { elsewhere = lock.HeldHere(); }).join();
  EXPECT_FALSE(elsewhere);
  lock.Unlock();
  EXPECT_FALSE(lock.HeldHere());
}

TEST(SpinLock, InterruptsAreOffWhileHeldAndRestoredAfter) {
  SpinLock outer("outer", LockLevel::kGlobal), inner("inner", LockLevel::kZone);
  outer.Lock();
  EXPECT_EQ(IrqSave(), IrqState::kWereOff);  // Lock turned them off
  inner.Lock();
  inner.Unlock();
  EXPECT_EQ(IrqSave(), IrqState::kWereOff);  // the inner lock found them off and left them so
  outer.Unlock();
  EXPECT_EQ(IrqSave(), IrqState::kWereOn);  // the outer one found them on
  IrqRestore(IrqState::kWereOn);
}

TEST(SpinLockDeathTest, TakingALockTwicePanicsWithItsName) {
  SpinLock lock("palloc zone 0", LockLevel::kZone);
  EXPECT_DEATH(
      {
        lock.Lock();
        lock.Lock();
      },
      "spinlock 'palloc zone 0' \\(zone level\\) taken twice by cpu [0-9]+");
}

TEST(SpinLockDeathTest, ReleasingAFreeLockPanics) {
  SpinLock lock("xalloc", LockLevel::kGlobal);
  EXPECT_DEATH(lock.Unlock(), "spinlock 'xalloc' \\(global level\\) released by cpu [0-9]+, but nobody holds it");
}

TEST(SpinLockDeathTest, ReleasingAnotherCpusLockPanics) {
  SpinLock lock("space", LockLevel::kAddressSpace);
  EXPECT_DEATH(
      {
        const unsigned me = CpuId();  // this thread's id first, so the other one cannot get it
        std::thread([&] { lock.Lock(); }).join();
        if (CpuId() == me) lock.Unlock();
      },
      "spinlock 'space' \\(address space level\\) released by cpu [0-9]+, but cpu [0-9]+ holds it");
}

TEST(HostCpu, ThreadsAliveAtOnceHaveDistinctIdsAndIdsAreReused) {
  unsigned a = 0, b = 0;
  std::thread ta([&] { a = CpuId(); });
  ta.join();
  std::thread tb([&] { b = CpuId(); });
  tb.join();
  EXPECT_EQ(a, b);  // the first thread's id went back when it exited
  unsigned mine = CpuId(), other = mine;
  std::thread([&] { other = CpuId(); }).join();
  EXPECT_NE(mine, other);
  EXPECT_LT(other, kMaxCpus);
}

}  // namespace
}  // namespace kmem
