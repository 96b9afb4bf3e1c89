// Smalloc's waiting under threads, through testing::ThreadSync (a mutex and condition variable, the host's
// stand-in for the kernel's wait queue): Smallocs on an exhausted pool block until other threads free,
// and a stress of many rounds finds no lost wake-up (one would leave a thread asleep with the pool free,
// which the watchdog reports). The suite runs under --config=tsan too (.ci/run).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "mm/pool/pool.h"
#include "testing/await.h"
#include "testing/pool_host.h"

namespace kmem::pool {
namespace {

using testing::AwaitOrAbort;

// One page: three blocks of kBlock fill it (each 1040 bytes with its header and canary, the arena's own
// bookkeeping 128 or more), a fourth does not fit.
constexpr uint64_t kLimit = 4096;
constexpr size_t kBlock = 1000;
constexpr unsigned kFit = 3;

class SmallocTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PoolInit(pool_, {"smalloctest", kLimit, kLimit, FreeFill::kPoison, heap_.source(), sync_.sync()});
  }

  // Allocates until the pool is full; the blocks it holds.
  std::vector<void*> Fill() {
    std::vector<void*> held;
    for (;;) {
      PoolAllocation a = PoolAlloc(pool_, kBlock, Zero::kNo);
      if (a.p == nullptr) {
        EXPECT_EQ(a.status, PoolStatus::kOverLimit);
        return held;
      }
      held.push_back(a.p);
    }
  }

  testing::HeapSource heap_;
  testing::ThreadSync sync_;
  Pool pool_{"smalloctest"};
};

bool AllZero(const void* p, size_t n) {
  auto* c = static_cast<const uint8_t*>(p);
  for (size_t i = 0; i < n; ++i) {
    if (c[i] != 0) return false;
  }
  return true;
}

// The pool is full; four threads' Smallocs sleep (each once: nothing is released before all sleep), the
// three blocks are freed from three other threads, and the waiters, each freeing its block again, all get
// one: every block back and the pool's walk agrees.
TEST_F(SmallocTest, WaitersOnAFullPoolAllCompleteAsOtherThreadsFree) {
  std::vector<void*> held = Fill();
  ASSERT_EQ(held.size(), kFit);
  constexpr unsigned kWaiters = 4;  // with the three freers and this thread, kMaxCpus host threads
  std::atomic<unsigned> served{0};
  std::vector<std::thread> waiters;
  for (unsigned i = 0; i < kWaiters; ++i) {
    waiters.emplace_back([&] {
      void* p = PoolSmalloc(pool_, kBlock);
      EXPECT_TRUE(AllZero(p, kBlock));
      EXPECT_EQ(PoolMsize(pool_, p), kBlock);
      std::memset(p, 0x5a, kBlock);
      PoolFree(pool_, p);
      served.fetch_add(1);
    });
  }
  while (sync_.sleeps() < static_cast<int>(kWaiters)) std::this_thread::yield();
  EXPECT_EQ(served.load(), 0u);
  std::vector<std::thread> freers;
  for (void* p : held) freers.emplace_back([this, p] { PoolFree(pool_, p); });
  AwaitOrAbort(served, kWaiters, "waiters");
  for (std::thread& t : freers) t.join();
  for (std::thread& t : waiters) t.join();
  const AllocStats s = PoolStatsOf(pool_);
  EXPECT_EQ(s.live_blocks, 0u);
  EXPECT_EQ(s.allocs, kFit + kWaiters);
  EXPECT_EQ(s.frees, kFit + kWaiters);
  EXPECT_EQ(PoolGrown(pool_), kLimit);
  EXPECT_GE(sync_.wakeups(), 1);
  PoolCheck(pool_);
}

// Seven threads take turns at three blocks for many rounds, each holding its block across a yield so that
// the others find the pool full and sleep; every free that finds a waiter wakes them. A lost wake-up
// leaves a thread asleep for good once the others are done.
TEST_F(SmallocTest, ManyRoundsLoseNoWakeup) {
  constexpr unsigned kThreads = 7;  // and this thread: kMaxCpus host threads at once
  constexpr unsigned kRounds = 3000;
  std::atomic<unsigned> done{0};
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (unsigned r = 0; r < kRounds; ++r) {
        auto* p = static_cast<uint8_t*>(PoolSmalloc(pool_, kBlock));
        p[0] = static_cast<uint8_t>(t);
        p[kBlock - 1] = static_cast<uint8_t>(r);
        std::this_thread::yield();
        EXPECT_EQ(p[0], static_cast<uint8_t>(t));
        EXPECT_EQ(p[kBlock - 1], static_cast<uint8_t>(r));
        PoolFree(pool_, p);
      }
      done.fetch_add(1);
    });
  }
  AwaitOrAbort(done, kThreads, "stress threads");
  for (std::thread& t : threads) t.join();
  const AllocStats s = PoolStatsOf(pool_);
  EXPECT_EQ(s.live_blocks, 0u);
  EXPECT_EQ(s.allocs, uint64_t{kThreads} * kRounds);
  EXPECT_EQ(PoolGrown(pool_), kLimit);
  EXPECT_GT(sync_.sleeps(), 0);  // the pool was full often enough for the test to mean something
  PoolCheck(pool_);
  std::printf("%d sleeps, %d wakeups over %u Smallocs\n", sync_.sleeps(), sync_.wakeups(), kThreads * kRounds);
}

// The window a lost wake-up hides in, made wide: a free lands after Smalloc's failed attempt and before its
// sleep hook looks at ready. The pool must have counted the waiter and moved `released` on, so ready is
// already true and the hook need not block (were it false, a real hook would sleep for good).
struct FreeBeforeReady {
  Pool* pool;
  void* block;
  int calls = 0;
  bool ready_after_free = false;
};

TEST_F(SmallocTest, AFreeBetweenTheFailedAttemptAndTheSleepMakesReadyTrue) {
  std::vector<void*> held = Fill();
  FreeBeforeReady f{&pool_, held.back()};
  held.pop_back();
  PoolSetSync(pool_, {[](void* ctx, bool (*ready)(void*), void* arg) {
                        auto& f = *static_cast<FreeBeforeReady*>(ctx);
                        ++f.calls;
                        std::thread([&f] { PoolFree(*f.pool, f.block); }).join();
                        f.ready_after_free = ready(arg);
                        return PoolWait::kRetry;
                      },
                      nullptr, &f});
  void* got = PoolSmalloc(pool_, kBlock);
  EXPECT_EQ(f.calls, 1);
  EXPECT_TRUE(f.ready_after_free);
  EXPECT_EQ(got, f.block);
  PoolFree(pool_, got);
  for (void* p : held) PoolFree(pool_, p);
}

// Memory released by a higher limit wakes a Smalloc too, though no block is freed.
TEST_F(SmallocTest, ANewLimitWakesAWaiter) {
  std::vector<void*> held = Fill();
  void* got = nullptr;
  std::thread waiter([&] { got = PoolSmalloc(pool_, kBlock); });
  while (sync_.sleeps() == 0) std::this_thread::yield();
  PoolSetSource(pool_, heap_.source(), 2 * kLimit);
  waiter.join();
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(PoolStatsOf(pool_).live_blocks, kFit + 1);
  for (void* p : held) PoolFree(pool_, p);
  PoolFree(pool_, got);
}

// Nothing in the pool could ever be freed to make room: the source is dry and no block is live.
TEST(SmallocDeathTest, AnEmptyPoolWhoseSourceIsDryPanics) {
  testing::HeapSource dry(0);
  testing::ThreadSync sync;
  Pool pool{"drypool"};
  PoolInit(pool, {"drypool", kLimit, kLimit, FreeFill::kPoison, dry.source(), sync.sync()});
  EXPECT_DEATH(PoolSmalloc(pool, kBlock), "smalloc: pool drypool cannot serve 1000 bytes \\(no backing memory left\\) "
                                          "and holds no live block whose free could make room");
}

}  // namespace
}  // namespace kmem::pool
