// palloc's waiting (NewPage and WaitForPage through PallocHooks) under threads, each thread a CPU with its
// own page caches (testing/host_env.cc), over hooks built as the kernel's pwait is (kernel/proc/pressure.cc):
// the sleeper reads a wake-up count, evaluates ready with no lock of the hooks held (it takes palloc's),
// then waits under the mutex until the count moves; every free while someone waits bumps it. Threads that
// want more pages than there are sleep and others' frees wake them; a stress of many rounds finds no lost
// wake-up (one leaves a thread asleep with pages free, which the watchdog reports). Every page comes back.
// The kernel's two queues (its own threads woken before processes' faults) live in kernel/proc over
// kernel/sched's WaitQueue, which do not build for the host: this tests palloc's side of the contract.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "mm/palloc/palloc.h"
#include "testing/palloc_backends.h"
#include "testing/await.h"
#include "testing/palloc_host.h"

namespace kmem {
namespace {

using testing::AwaitOrAbort;
using testing::HostPalloc;

// pwait on the host: a mutex, a condition variable and the wake-up count pressure.cc keeps.
class HostPwait {
 public:
  PallocHooks hooks() { return PallocHooks{&Sleep, &Wakeup, this}; }
  int sleeps() {
    std::lock_guard<std::mutex> hold(mu_);
    return sleeps_;
  }
  int wakeups() {
    std::lock_guard<std::mutex> hold(mu_);
    return wakeups_;
  }

 private:
  static PallocWait Sleep(void* ctx, bool (*ready)(void*), void* arg) {
    auto* self = static_cast<HostPwait*>(ctx);
    uint64_t seen;
    {
      std::lock_guard<std::mutex> hold(self->mu_);
      seen = self->seq_;
    }
    if (ready(arg)) return PallocWait::kRetry;
    std::unique_lock<std::mutex> hold(self->mu_);
    ++self->sleeps_;
    self->cv_.wait(hold, [&] { return self->seq_ != seen; });
    return PallocWait::kRetry;
  }

  static void Wakeup(void* ctx) {
    auto* self = static_cast<HostPwait*>(ctx);
    std::lock_guard<std::mutex> hold(self->mu_);
    ++self->seq_;
    ++self->wakeups_;
    self->cv_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t seq_ = 0;
  int sleeps_ = 0;
  int wakeups_ = 0;
};

VirtAddr Va(uint64_t n) { return VirtAddr(n << kPageShift); }

template <typename Backend>
class PwaitTest : public ::testing::Test {
 protected:
  // Every page back and the allocator's structures intact, once every thread is done.
  void ExpectAllBack(HostPalloc<Backend>& p) {
    EXPECT_EQ(p->FreeCount(), p->TotalPages());
    EXPECT_EQ(p->UserCount(), 0u);
    p->Validate();
  }
  HostPwait pwait_;
};
TYPED_TEST_SUITE(PwaitTest, testing::PallocBackends, testing::PallocBackendNames);

// Every page is out; four threads' NewPage sleep (each once: nothing is freed before all sleep), three
// other threads free one page each and then a fourth, and every sleeper gets a page of its own.
TYPED_TEST(PwaitTest, SleepersOnAnEmptyAllocatorAllGetAPageAsOthersFree) {
  HostPalloc<TypeParam> p({{PhysAddr(0x200000), 32}}, 1, this->pwait_.hooks());
  std::vector<Page*> held;
  for (PageResult r; (r = p->TryNewPage(Va(held.size()))).status == PallocStatus::kOk;) held.push_back(r.page);
  ASSERT_EQ(held.size(), 32u);
  constexpr unsigned kSleepers = 4;
  std::atomic<unsigned> served{0};
  std::vector<Page*> got(kSleepers);
  std::vector<std::thread> sleepers;
  for (unsigned i = 0; i < kSleepers; ++i) {
    sleepers.emplace_back([&, i] {
      got[i] = p->NewPage(Va(100 + i));
      served.fetch_add(1);
    });
  }
  while (this->pwait_.sleeps() < static_cast<int>(kSleepers)) std::this_thread::yield();
  EXPECT_EQ(served.load(), 0u);
  std::vector<std::thread> freers;
  for (unsigned i = 0; i < 3; ++i) {
    freers.emplace_back([&, i] {
      p->PutPage(held[i]);
      if (i == 0) p->PutPage(held[3]);
    });
  }
  AwaitOrAbort(served, kSleepers, "sleepers");
  for (std::thread& t : freers) t.join();
  for (std::thread& t : sleepers) t.join();
  std::set<Page*> distinct(got.begin(), got.end());
  EXPECT_EQ(distinct.size(), kSleepers);
  EXPECT_EQ(distinct.count(nullptr), 0u);
  EXPECT_EQ(p->UserCount(), 32u);
  EXPECT_GE(this->pwait_.wakeups(), 1);
  for (Page* page : got) p->PutPage(page);
  for (size_t i = 4; i < held.size(); ++i) p->PutPage(held[i]);
  this->ExpectAllBack(p);
}

// Seven threads want two pages at a time from eight for many rounds, holding them across a yield: most
// of them find none and sleep, and each free wakes them (eight pages keep one thread able to finish
// whatever the others hold, so only a lost wake-up can leave a thread asleep). Half the second pages come
// through WaitForPage after a failed TryNewPage, as a user fault's do. The threads start together, and a
// pass in which no thread ever slept (the scheduler ran each through its rounds alone, seen on a fast
// 2-core machine about once in 15) is run again, up to 10 times, so that the test always means something.
TYPED_TEST(PwaitTest, ManyRoundsLoseNoWakeup) {
  HostPalloc<TypeParam> p({{PhysAddr(0x200000), 8}}, 1, this->pwait_.hooks());
  constexpr unsigned kThreads = 7;  // and this thread: kMaxCpus host threads at once
  constexpr unsigned kRounds = 2000;
  unsigned passes = 0;
  for (; passes < 10 && this->pwait_.sleeps() == 0; ++passes) {
    std::atomic<unsigned> ready{0}, done{0};
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        ready.fetch_add(1);
        while (ready.load() != kThreads) std::this_thread::yield();
        for (unsigned r = 0; r < kRounds; ++r) {
          Page* a = p->NewPage(Va(2 * t));
          Page* b = nullptr;
          if (r % 2 == 0) {
            b = p->NewPage(Va(2 * t + 1));
          } else {
            PageResult got;
            while ((got = p->TryNewPage(Va(2 * t + 1))).status != PallocStatus::kOk) {
              ASSERT_TRUE(p->WaitForPage(Va(2 * t + 1)));
            }
            b = got.page;
          }
          ASSERT_TRUE(a != nullptr && b != nullptr && a != b);
          std::this_thread::yield();
          p->PutPage(a);
          p->PutPage(b);
        }
        done.fetch_add(1);
      });
    }
    AwaitOrAbort(done, kThreads, "stress threads");
    for (std::thread& t : threads) t.join();
    this->ExpectAllBack(p);
  }
  EXPECT_GT(this->pwait_.sleeps(), 0);  // the allocator ran dry often enough for the test to mean something
  std::printf("%d sleeps, %d wakeups over %u pages in %u passes\n", this->pwait_.sleeps(), this->pwait_.wakeups(),
              2 * kThreads * kRounds * passes, passes);
}

}  // namespace
}  // namespace kmem
