#include "mm/vm/kva.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "testing/console_capture.h"

namespace kmem {
namespace {

constexpr uint64_t kBase = 0xffffc90000000000;
constexpr uint64_t kPage = kPageSize;

class KvaTest : public ::testing::Test {
 protected:
  static constexpr size_t kRecords = 64;
  KvaRecord records_[kRecords];
  KvaArena arena_{"test", VirtAddr(kBase), 64 * kPage, records_, kRecords};

  VirtAddr MustAlloc(uint64_t size, Guard guard = Guard::kNone, uint64_t align = kPage) {
    VirtAddr va;
    KvaStatus s = arena_.Alloc(size, align, guard, &va);
    EXPECT_EQ(s, KvaStatus::kOk) << KvaStatusName(s);
    return va;
  }
};

TEST_F(KvaTest, FirstFitInAddressOrderAndFreeReopensTheGap) {
  VirtAddr a = MustAlloc(2 * kPage), b = MustAlloc(kPage), c = MustAlloc(3 * kPage);
  EXPECT_EQ(a, VirtAddr(kBase));
  EXPECT_EQ(b, VirtAddr(kBase + 2 * kPage));
  EXPECT_EQ(c, VirtAddr(kBase + 3 * kPage));
  uint64_t size = 0;
  ASSERT_EQ(arena_.Free(b, &size), KvaStatus::kOk);
  EXPECT_EQ(size, kPage);
  EXPECT_EQ(MustAlloc(kPage), b);                           // the gap b left
  EXPECT_EQ(MustAlloc(kPage), VirtAddr(kBase + 6 * kPage));  // after c
  arena_.Validate();
}

//   guard above:  [ range a ][guard]  [ range b ] ...
//   guard below:  [guard][ stack s ]
TEST_F(KvaTest, GuardPagesAreReservedAndNeverHandedOut) {
  VirtAddr a = MustAlloc(2 * kPage, Guard::kAbove);
  VirtAddr b = MustAlloc(kPage);
  EXPECT_EQ(a, VirtAddr(kBase));
  EXPECT_EQ(b, VirtAddr(kBase + 3 * kPage));  // not in a's guard page
  VirtAddr s = MustAlloc(2 * kPage, Guard::kBelow);
  EXPECT_EQ(s, VirtAddr(kBase + 5 * kPage));  // its guard at kBase + 4 pages

  KvaLookup l = arena_.Find(VirtAddr(kBase + 2 * kPage + 8));
  EXPECT_EQ(l.place, KvaPlace::kGuard);
  EXPECT_EQ(l.va, a);
  EXPECT_EQ(l.size, 2 * kPage);
  l = arena_.Find(VirtAddr(kBase + 4 * kPage));
  EXPECT_EQ(l.place, KvaPlace::kGuard);
  EXPECT_EQ(l.va, s);
  EXPECT_EQ(arena_.Find(a + kPage).place, KvaPlace::kRange);
  EXPECT_EQ(arena_.Find(VirtAddr(kBase + 7 * kPage)).place, KvaPlace::kFree);

  KvaStats st = arena_.Stats();
  EXPECT_EQ(st.ranges, 3u);
  EXPECT_EQ(st.usable_bytes, 5 * kPage);
  EXPECT_EQ(st.guard_bytes, 2 * kPage);
  EXPECT_EQ(st.largest_free, 57 * kPage);
}

TEST_F(KvaTest, AlignmentCountsForTheUsableStartNotTheGuard) {
  KvaRecord rec[4];
  KvaArena big("big", VirtAddr(kBase), 64ull << 20, rec, 4);
  VirtAddr va;
  ASSERT_EQ(big.Alloc(kPage, kPage, Guard::kNone, &va), KvaStatus::kOk);
  ASSERT_EQ(big.Alloc(2 << 20, 2 << 20, Guard::kBelow, &va), KvaStatus::kOk);
  EXPECT_EQ(va, VirtAddr(kBase + (2 << 20)));
  EXPECT_EQ(big.Find(va - kPage).place, KvaPlace::kGuard);
}

TEST_F(KvaTest, ExhaustionIsAnErrorNotAnOverlap) {
  VirtAddr va;
  EXPECT_EQ(arena_.Alloc(65 * kPage, kPage, Guard::kNone, &va), KvaStatus::kNoSpace);
  EXPECT_EQ(arena_.Alloc(64 * kPage, kPage, Guard::kAbove, &va), KvaStatus::kNoSpace);  // the guard needs a page
  VirtAddr all = MustAlloc(63 * kPage, Guard::kAbove);
  EXPECT_EQ(arena_.Alloc(kPage, kPage, Guard::kNone, &va), KvaStatus::kNoSpace);
  ASSERT_EQ(arena_.Free(all, nullptr), KvaStatus::kOk);
  EXPECT_EQ(MustAlloc(64 * kPage), VirtAddr(kBase));
}

TEST_F(KvaTest, RunningOutOfRecordsIsAnError) {
  KvaRecord rec[2];
  KvaArena small("small", VirtAddr(kBase), 64 * kPage, rec, 2);
  VirtAddr va;
  ASSERT_EQ(small.Alloc(kPage, kPage, Guard::kNone, &va), KvaStatus::kOk);
  ASSERT_EQ(small.Alloc(kPage, kPage, Guard::kNone, &va), KvaStatus::kOk);
  EXPECT_EQ(small.Alloc(kPage, kPage, Guard::kNone, &va), KvaStatus::kNoRecord);
}

TEST_F(KvaTest, BadRequestsAndForeignFreesAreErrors) {
  VirtAddr va;
  EXPECT_EQ(arena_.Alloc(0, kPage, Guard::kNone, &va), KvaStatus::kBadRequest);
  EXPECT_EQ(arena_.Alloc(kPage + 1, kPage, Guard::kNone, &va), KvaStatus::kBadRequest);
  EXPECT_EQ(arena_.Alloc(kPage, 3 * kPage, Guard::kNone, &va), KvaStatus::kBadRequest);
  EXPECT_EQ(arena_.Alloc(kPage, 512, Guard::kNone, &va), KvaStatus::kBadRequest);
  EXPECT_EQ(arena_.Alloc(~uint64_t{0} & ~(kPage - 1), kPage, Guard::kAbove, &va), KvaStatus::kNoSpace);
  VirtAddr s = MustAlloc(2 * kPage, Guard::kBelow);
  EXPECT_EQ(arena_.Free(s - kPage, nullptr), KvaStatus::kNotAllocated);  // its guard page
  EXPECT_EQ(arena_.Free(s + kPage, nullptr), KvaStatus::kNotAllocated);  // inside it
  EXPECT_EQ(arena_.Free(VirtAddr(kBase + 40 * kPage), nullptr), KvaStatus::kNotAllocated);
  ASSERT_EQ(arena_.Free(s, nullptr), KvaStatus::kOk);
  EXPECT_EQ(arena_.Free(s, nullptr), KvaStatus::kNotAllocated);  // twice
}

TEST(KvaArena, AWindowEndingAt2To64IsUsableToItsLastPage) {
  KvaRecord rec[4];
  const uint64_t base = ~uint64_t{0} - 4 * kPage + 1;
  KvaArena top("top", VirtAddr(base), 4 * kPage, rec, 4);
  VirtAddr va;
  ASSERT_EQ(top.Alloc(3 * kPage, kPage, Guard::kBelow, &va), KvaStatus::kOk);
  EXPECT_EQ(va, VirtAddr(base + kPage));
  EXPECT_EQ(top.Alloc(kPage, kPage, Guard::kNone, &va), KvaStatus::kNoSpace);
  EXPECT_EQ(top.Stats().largest_free, 0u);
  top.Validate();
}

TEST(KvaArena, DumpListsRangesAndTotals) {
  KvaRecord rec[4];
  KvaArena a("vmap", VirtAddr(kBase), 16 * kPage, rec, 4);
  VirtAddr va;
  ASSERT_EQ(a.Alloc(2 * kPage, kPage, Guard::kAbove, &va), KvaStatus::kOk);
  testing::ConsoleCapture out;
  a.Dump();
  EXPECT_EQ(out.text(),
            "kva vmap: [0xffffc90000000000, 0xffffc90000010000)\n"
            "  0xffffc90000000000-0xffffc90000002000       8K guard above\n"
            "kva vmap: 1 ranges, 8 KiB in use, 4 KiB of guard pages, largest gap 52 KiB\n");
}

// Property: a random stream of allocations and frees against a model of which pages are taken. No range
// is handed out twice, no range covers another's guard page, and a request fails only when no gap fits.
TEST(KvaArena, RandomStreamAgreesWithAPageModel) {
  constexpr uint64_t kPages = 256;
  KvaRecord rec[64];
  KvaArena a("random", VirtAddr(kBase), kPages * kPage, rec, 64);
  std::mt19937_64 rng(7);
  std::vector<int> owner(kPages, -1);  // page -> id of the reservation that holds it (guards included)
  std::map<uint64_t, std::pair<int, uint64_t>> live;  // usable va -> (id, usable size)
  int next_id = 0;
  for (int step = 0; step < 20000; ++step) {
    if (!live.empty() && rng() % 2 == 0) {
      auto it = live.begin();
      std::advance(it, static_cast<long>(rng() % live.size()));
      uint64_t size = 0;
      ASSERT_EQ(a.Free(VirtAddr(it->first), &size), KvaStatus::kOk);
      ASSERT_EQ(size, it->second.second);
      std::replace(owner.begin(), owner.end(), it->second.first, -1);
      live.erase(it);
      continue;
    }
    const uint64_t pages = 1 + rng() % 8;
    const Guard guard = static_cast<Guard>(rng() % 3);
    const uint64_t align = kPage << (rng() % 3);
    VirtAddr va;
    KvaStatus s = a.Alloc(pages * kPage, align, guard, &va);
    const uint64_t total = pages + (guard == Guard::kNone ? 0 : 1);
    const uint64_t below = guard == Guard::kBelow ? 1 : 0;
    // The model's first fit: the lowest start whose usable page is aligned and whose pages are all free.
    int64_t want = -1;
    for (uint64_t p = 0; p + total <= kPages && want < 0; ++p) {
      if (((kBase + (p + below) * kPage) & (align - 1)) != 0) continue;
      if (std::all_of(owner.begin() + p, owner.begin() + p + total, [](int o) { return o < 0; })) want = p;
    }
    if (want < 0 || live.size() == 64) {
      ASSERT_NE(s, KvaStatus::kOk) << "step " << step;
      continue;
    }
    ASSERT_EQ(s, KvaStatus::kOk) << "step " << step;
    ASSERT_EQ(va, VirtAddr(kBase + (want + below) * kPage)) << "step " << step;
    std::fill(owner.begin() + want, owner.begin() + want + total, next_id);
    live[va.value()] = {next_id++, pages * kPage};
    ASSERT_EQ(a.Find(VirtAddr(kBase + want * kPage)).place, below ? KvaPlace::kGuard : KvaPlace::kRange);
  }
  a.Validate();
}

TEST(KvaArena, ThreadsNeverGetTheSameRange) {
  KvaRecord rec[512];
  KvaArena a("shared", VirtAddr(kBase), 4096 * kPage, rec, 512);
  std::vector<std::vector<uint64_t>> got(2);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 2000; ++round) {
        VirtAddr va;
        if (a.Alloc(kPage, kPage, Guard::kAbove, &va) != KvaStatus::kOk) continue;
        got[t].push_back(va.value());
        if (round % 3 != 0) {
          ASSERT_EQ(a.Free(va, nullptr), KvaStatus::kOk);
          got[t].pop_back();
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::vector<uint64_t> all = got[0];
  all.insert(all.end(), got[1].begin(), got[1].end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end());
  EXPECT_EQ(a.Stats().ranges, all.size());
  a.Validate();
}

// Who owns each page of a window, as threads see it: a page is claimed by one reservation at a time, as
// usable memory or as its guard page. Threads claim every page of a range right after Alloc returns it
// and give them back right before Free, so a page handed out twice, or a guard page inside another range,
// fails the claim.
class PageOwners {
 public:
  static constexpr uint8_t kFree = 0, kGuard = 0xff;
  explicit PageOwners(size_t pages) : owner_(pages) {}
  bool Claim(uint64_t va, uint64_t bytes, uint8_t who) {
    bool ok = true;
    for (uint64_t p = va; p < va + bytes; p += kPage) {
      uint8_t expected = kFree;
      ok &= owner_[Index(p)].compare_exchange_strong(expected, who);
    }
    return ok;
  }
  void Release(uint64_t va, uint64_t bytes) {
    for (uint64_t p = va; p < va + bytes; p += kPage) owner_[Index(p)].store(kFree);
  }

 private:
  static size_t Index(uint64_t va) { return (va - kBase) / kPage; }
  std::vector<std::atomic<uint8_t>> owner_;
};

// Threads allocate ranges of 1-4 pages with random guards and free them in random order, some freed by
// another thread than the one that got them. No page is ever handed out twice, every guard page stays
// outside every range (the arena calls it a guard while its range lives), and at the end the arena is
// empty and consistent.
TEST(KvaArena, ConcurrentAllocAndFreeNeverShareAPageOrAGuard) {
  constexpr size_t kPages = 4096, kRecords = 1024;
  static KvaRecord rec[kRecords];
  KvaArena a("stress", VirtAddr(kBase), kPages * kPage, rec, kRecords);
  PageOwners owners(kPages);
  struct Live {
    VirtAddr va;
    uint64_t size;
    Guard guard;
  };
  std::mutex handoff_lock;
  std::vector<Live> handoff;  // ranges one thread allocated for another to free
  std::atomic<int> broken{0};
  auto guard_page = [](const Live& r) {
    return r.guard == Guard::kAbove ? r.va.value() + r.size : r.va.value() - kPage;
  };
  auto release = [&](const Live& r) {
    owners.Release(r.va.value(), r.size);
    if (r.guard != Guard::kNone) {
      if (a.Find(VirtAddr(guard_page(r))).place != KvaPlace::kGuard) broken.fetch_add(1);
      owners.Release(guard_page(r), kPage);
    }
    uint64_t size = 0;
    if (a.Free(r.va, &size) != KvaStatus::kOk || size != r.size) broken.fetch_add(1);
  };
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      std::vector<Live> mine;
      for (int round = 0; round < 20000; ++round) {
        if (mine.size() < 32 && rng() % 2 == 0) {
          const Guard guard = static_cast<Guard>(rng() % 3);
          const uint64_t size = (1 + rng() % 4) * kPage;
          VirtAddr va;
          const KvaStatus s = a.Alloc(size, kPage, guard, &va);
          if (s != KvaStatus::kOk) {
            broken.fetch_add(1);  // 4 threads * 33 ranges * 5 pages fit easily
            continue;
          }
          Live r{va, size, guard};
          bool ok = owners.Claim(va.value(), size, static_cast<uint8_t>(t + 1));
          if (guard != Guard::kNone) ok &= owners.Claim(guard_page(r), kPage, PageOwners::kGuard);
          if (!ok) broken.fetch_add(1);
          mine.push_back(r);
        } else if (!mine.empty()) {
          std::swap(mine[rng() % mine.size()], mine.back());
          const Live r = mine.back();
          mine.pop_back();
          if (rng() % 4 == 0) {
            std::lock_guard<std::mutex> g(handoff_lock);
            handoff.push_back(r);
            continue;
          }
          release(r);
        }
        Live other{};
        {
          std::lock_guard<std::mutex> g(handoff_lock);
          if (handoff.empty()) continue;
          other = handoff.back();
          handoff.pop_back();
        }
        release(other);
      }
      for (const Live& r : mine) release(r);
    });
  }
  for (std::thread& t : threads) t.join();
  for (const Live& r : handoff) release(r);
  EXPECT_EQ(broken.load(), 0);
  EXPECT_EQ(a.Stats().ranges, 0u);
  EXPECT_EQ(a.Stats().largest_free, kPages * kPage);
  a.Validate();
}

// The window holds exactly 1000 reservations of 2 pages and a guard; threads released together race for
// them. Exactly 1000 succeed, each distinct, and every thread's last attempt fails with kNoSpace: running
// out is an error, never an overlap. Then all are freed by other threads and the window is whole again.
TEST(KvaArena, ExhaustionUnderContentionGrantsEachRangeOnce) {
  constexpr size_t kRanges = 1000, kRecords = 1024;
  static KvaRecord rec[kRecords];
  KvaArena a("exhaust", VirtAddr(kBase), kRanges * 3 * kPage, rec, kRecords);
  constexpr int kThreads = 4;
  for (int round = 0; round < 10; ++round) {
    std::vector<std::vector<VirtAddr>> got(kThreads);
    std::vector<KvaStatus> last(kThreads, KvaStatus::kOk);
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        ready.fetch_add(1);
        while (ready.load() != kThreads) std::this_thread::yield();
        VirtAddr va;
        while ((last[t] = a.Alloc(2 * kPage, kPage, Guard::kAbove, &va)) == KvaStatus::kOk) got[t].push_back(va);
      });
    }
    for (std::thread& t : threads) t.join();
    std::vector<uint64_t> all;
    for (int t = 0; t < kThreads; ++t) {
      EXPECT_EQ(last[t], KvaStatus::kNoSpace) << KvaStatusName(last[t]);
      for (VirtAddr va : got[t]) all.push_back(va.value());
    }
    std::sort(all.begin(), all.end());
    ASSERT_EQ(all.size(), kRanges);
    EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end());
    EXPECT_EQ(a.Stats().guard_bytes, kRanges * kPage);
    a.Validate();
    threads.clear();
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (VirtAddr va : got[(t + 1) % kThreads]) EXPECT_EQ(a.Free(va, nullptr), KvaStatus::kOk);
      });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(a.Stats().ranges, 0u);
    a.Validate();
  }
}

}  // namespace
}  // namespace kmem
