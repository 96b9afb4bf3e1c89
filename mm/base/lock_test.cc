#include "mm/base/lock.h"

#include <gtest/gtest.h>

#include <atomic>
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

TEST(LockOrder, LocksTakenDownTheHierarchyNest) {
  SpinLock global("memmap", LockLevel::kGlobal), space("space", LockLevel::kAddressSpace),
      zone("zone", LockLevel::kZone);
  global.Lock();
  space.Lock();
  zone.Lock();
  EXPECT_TRUE(global.HeldHere() && space.HeldHere() && zone.HeldHere());
  zone.Unlock();
  space.Unlock();
  global.Unlock();
}

TEST(LockOrderDeathTest, TakingAHigherLevelPanicsWithBothLocks) {
  SpinLock zone("palloc zone DMA32", LockLevel::kZone), global("xalloc", LockLevel::kGlobal);
  EXPECT_DEATH(
      {
        zone.Lock();
        global.Lock();
      },
      "lock order: cpu [0-9]+ takes spinlock 'xalloc' \\(global level\\) while holding 'palloc zone DMA32' "
      "\\(zone level\\)");
}

TEST(LockOrderDeathTest, TakingTheSameLevelPanics) {
  SpinLock a("memmap", LockLevel::kGlobal), b("kva vmap", LockLevel::kGlobal);
  EXPECT_DEATH(
      {
        a.Lock();
        b.Lock();
      },
      "lock order: cpu [0-9]+ takes spinlock 'kva vmap' \\(global level\\) while holding 'memmap' \\(global "
      "level\\)");
}

// The checker names the lowest lock held, not the last one taken: with global, space and zone held and the
// zone released first, a space-level lock is still refused because of the space lock.
TEST(LockOrderDeathTest, TheLowestLockHeldIsNamed) {
  SpinLock global("memmap", LockLevel::kGlobal), space("space", LockLevel::kAddressSpace),
      zone("zone", LockLevel::kZone), other("other space", LockLevel::kAddressSpace);
  EXPECT_DEATH(
      {
        global.Lock();
        space.Lock();
        zone.Lock();
        zone.Unlock();
        other.Lock();
      },
      "takes spinlock 'other space' \\(address space level\\) while holding 'space' \\(address space level\\)");
}

// Releasing the outer lock first is allowed (lock.h says why); interrupts stay off until the last lock
// goes.
TEST(LockOrder, ReleaseOutOfOrderKeepsInterruptsOffUntilTheLastLock) {
  SpinLock global("arena", LockLevel::kGlobal), zone("zone", LockLevel::kZone);
  global.Lock();
  zone.Lock();
  global.Unlock();
  EXPECT_FALSE(global.HeldHere());
  EXPECT_TRUE(zone.HeldHere());
  EXPECT_EQ(IrqSave(), IrqState::kWereOff);  // the zone lock still holds them off
  zone.Unlock();
  EXPECT_EQ(IrqSave(), IrqState::kWereOn);  // the last release restored what the first Lock found
  IrqRestore(IrqState::kWereOn);
}

TEST(LockOrderDeathTest, AfterAnOutOfOrderReleaseTheRemainingLockStillCounts) {
  SpinLock global("arena", LockLevel::kGlobal), zone("zone", LockLevel::kZone),
      space("space", LockLevel::kAddressSpace);
  EXPECT_DEATH(
      {
        global.Lock();
        zone.Lock();
        global.Unlock();
        space.Lock();
      },
      "lock order: cpu [0-9]+ takes spinlock 'space' \\(address space level\\) while holding 'zone' \\(zone "
      "level\\)");
}

TEST(TryLock, FailsWhileAnotherCpuHoldsTheLockAndSucceedsAfter) {
  SpinLock lock("pcp drain", LockLevel::kZone);
  std::atomic<int> step{0};
  std::thread holder([&] {
    lock.Lock();
    step = 1;
    while (step.load() != 2) CpuRelax();
    lock.Unlock();
    step = 3;
  });
  while (step.load() != 1) CpuRelax();
  EXPECT_FALSE(lock.TryLock());
  EXPECT_EQ(IrqSave(), IrqState::kWereOn);  // a failed TryLock left interrupts as they were
  IrqRestore(IrqState::kWereOn);
  step = 2;
  while (step.load() != 3) CpuRelax();
  ASSERT_TRUE(lock.TryLock());
  EXPECT_TRUE(lock.HeldHere());
  lock.Unlock();
  holder.join();
}

// A TryLock never waits, so it may take a lock at the level of one held (a CPU draining a peer's cache);
// the lock then counts as held, and Lock below it is checked against it.
TEST(TryLock, IsExemptFromTheOrderRuleButCountsAsHeld) {
  SpinLock mine("cpu 0 cache", LockLevel::kZone), peer("cpu 1 cache", LockLevel::kZone);
  mine.Lock();
  ASSERT_TRUE(peer.TryLock());
  EXPECT_TRUE(peer.HeldHere());
  peer.Unlock();
  mine.Unlock();
}

TEST(TryLockDeathTest, LockAfterATryLockIsChecked) {
  SpinLock global("arena", LockLevel::kGlobal), zone("zone", LockLevel::kZone);
  EXPECT_DEATH(
      {
        if (zone.TryLock()) global.Lock();
      },
      "lock order: cpu [0-9]+ takes spinlock 'arena' \\(global level\\) while holding 'zone' \\(zone level\\)");
}

TEST(TryLockDeathTest, TryingALockTwicePanics) {
  SpinLock lock("pcp", LockLevel::kZone);
  EXPECT_DEATH(
      {
        lock.Lock();
        lock.TryLock();
      },
      "spinlock 'pcp' \\(zone level\\) taken twice by cpu [0-9]+");
}

TEST(TryLockDeathTest, HoldingMoreThanTheMostLocksPanics) {
  static SpinLock locks[kMaxHeldLocks + 1] = {
      {"l0", LockLevel::kZone}, {"l1", LockLevel::kZone}, {"l2", LockLevel::kZone},
      {"l3", LockLevel::kZone}, {"l4", LockLevel::kZone}, {"l5", LockLevel::kZone},
      {"l6", LockLevel::kZone}, {"l7", LockLevel::kZone}, {"l8", LockLevel::kZone},
  };
  EXPECT_DEATH(
      {
        for (SpinLock& l : locks) l.TryLock();
      },
      "spinlock 'l8' \\(zone level\\) taken by cpu [0-9]+, which holds 8 locks already");
}

// The textbook deadlock: one CPU takes A then B, the other B then A, and each ends up waiting for the lock
// the other holds. Here the first CPU does wait for B (it spins inside Lock); the second one's attempt to
// take A while holding B panics instead of spinning for ever, so the death test ends rather than hangs.
TEST(LockOrderDeathTest, CatchesAnInversionBeforeItDeadlocks) {
  static SpinLock a("A (global)", LockLevel::kGlobal), b("B (zone)", LockLevel::kZone);
  EXPECT_DEATH(
      {
        std::atomic<int> step{0};
        std::thread first([&] {
          a.Lock();
          step = 1;
          while (step.load() != 2) CpuRelax();
          step = 3;
          b.Lock();  // spins: the second CPU holds B
        });
        std::thread second([&] {
          while (step.load() != 1) CpuRelax();
          b.Lock();
          step = 2;
          while (step.load() != 3) CpuRelax();
          a.Lock();  // the inversion: without the checker, both spin for ever
        });
        first.join();
        second.join();
      },
      "lock order: cpu [0-9]+ takes spinlock 'A \\(global\\)' \\(global level\\) while holding 'B \\(zone\\)' "
      "\\(zone level\\)");
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
