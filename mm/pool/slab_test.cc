#include "mm/pool/slab.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "mm/base/addr.h"
#include "testing/console_capture.h"
#include "testing/pool_host.h"

namespace kmem::pool {
namespace {

class SlabTest : public ::testing::Test {
 protected:
  void SetUp() override { KmemInit(heap_.source()); }
  testing::HeapSource heap_;
  std::mt19937_64 rng_{7};
};

bool AllBytes(const void* p, size_t n, uint8_t b) {
  auto* c = static_cast<const uint8_t*>(p);
  return std::all_of(c, c + n, [b](uint8_t x) { return x == b; });
}

TEST_F(SlabTest, KmallocPicksTheSmallestClass) {
  std::vector<std::pair<size_t, size_t>> cases = {{0, 16},    {1, 16},     {16, 16},    {17, 32},
                                                  {100, 128}, {128, 128},  {129, 256},  {513, 1024},
                                                  {2047, 2048}, {2049, 4096}, {4096, 4096}};
  std::shuffle(cases.begin(), cases.end(), rng_);
  for (auto [size, cls] : cases) {
    void* p = Kmalloc(size);
    ASSERT_NE(p, nullptr) << size;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 16, 0u) << size;
    EXPECT_EQ(KmallocSize(p), cls) << size;
    Kfree(p);
  }
  EXPECT_EQ(Kmalloc(kKmallocMax + 1), nullptr);
  Kfree(nullptr);
}

TEST_F(SlabTest, KmallocBlocksAreDisjointAndKeepTheirContents) {
  std::map<uint8_t*, size_t> live;
  for (int i = 0; i < 2000; ++i) {
    size_t n = 1 + rng_() % kKmallocMax;
    auto* p = static_cast<uint8_t*>(Kmalloc(n));
    ASSERT_NE(p, nullptr);
    std::memset(p, static_cast<int>(n), n);
    live[p] = n;
  }
  for (auto it = live.begin(); std::next(it) != live.end(); ++it) {
    EXPECT_LE(it->first + it->second, std::next(it)->first);
  }
  EXPECT_EQ(KmallocStats().live_blocks, 2000u);
  KmemCheckAll();
  std::vector<std::pair<uint8_t*, size_t>> order(live.begin(), live.end());
  std::shuffle(order.begin(), order.end(), rng_);
  for (auto [p, n] : order) {
    EXPECT_TRUE(AllBytes(p, n, static_cast<uint8_t>(n)));
    Kfree(p);
  }
  KmemCheckAll();
  EXPECT_EQ(KmallocStats().live_blocks, 0u);
  EXPECT_EQ(KmallocStats().live_bytes, 0u);
}

TEST_F(SlabTest, CacheHonoursAlignmentAndZero) {
  KmemCache* c = KmemCacheCreate("aligned", 100, 64);
  ASSERT_NE(c, nullptr);
  std::vector<void*> objs;
  for (int i = 0; i < 100; ++i) {
    void* p = KmemCacheAlloc(c, i % 2 == 0 ? Zero::kYes : Zero::kNo);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
    // Zeroed objects are zero throughout; others show poison in their window, never a stale link.
    if (i % 2 == 0) {
      EXPECT_TRUE(AllBytes(p, 100, 0)) << i;
    } else {
      EXPECT_TRUE(AllBytes(p, kSlabPoisonWindow, kPoisonByte)) << i;
    }
    std::memset(p, 0xcc, 100);
    objs.push_back(p);
  }
  std::shuffle(objs.begin(), objs.end(), rng_);
  for (void* p : objs) KmemCacheFree(c, p);
  KmemCacheCheck(c);
  EXPECT_TRUE(KmemCacheDestroy(c));
}

// Freed objects reach their slabs through this CPU's magazine and bundles, half a magazine at a time. A
// slab that empties is kept for reuse while the cache keeps fewer than kKeptEmptyBytes of them, and goes
// back to the source past that; KmemReap drains the magazines and bundles and gives every kept slab back.
TEST_F(SlabTest, EmptySlabsAreKeptUpToTheBoundAndReaped) {
  KmemCache* c = KmemCacheCreate("obj", 256, 8);  // one-page slabs of 14 objects
  const uint64_t kept = kKeptEmptyBytes / kPageSize;
  uint64_t before = heap_.bytes_out();
  std::vector<void*> objs;
  while (KmemCacheSlabs(c) < kept + 2 * kHeldPerCpu) objs.push_back(KmemCacheAlloc(c));
  std::shuffle(objs.begin(), objs.end(), rng_);
  for (void* o : objs) KmemCacheFree(c, o);
  KmemCacheCheck(c);
  EXPECT_EQ(KmemCacheEmptySlabs(c), kept);
  EXPECT_LE(KmemCacheSlabs(c), kept + kHeldPerCpu);  // the rest hold an object this CPU holds at most
  EXPECT_EQ(heap_.bytes_out(), KmemSlabBytes());  // kmem_bundle's slabs too: they hold the bundles
  EXPECT_GE(KmemReap(), kept * kPageSize);
  EXPECT_EQ(KmemCacheSlabs(c), 0u);
  EXPECT_EQ(heap_.bytes_out(), before);
  KmemCacheCheck(c);
  EXPECT_TRUE(KmemCacheDestroy(c));
}

// An object goes back onto its own slot of its slab's free stack at every stride: each size up to a page
// in steps of a word, at four alignments, three slabs' worth, two of every three objects freed and drained
// into the slabs (the third keeps each slab in use), then the check reads every stack.
TEST_F(SlabTest, EveryStrideFindsItsSlotsOnTheFreeStacks) {
  for (size_t align : {8, 16, 64, 4096}) {
    for (size_t size = 8; size <= kPageSize; size += 8) {
      KmemCache* c = KmemCacheCreate("stride", size, align);
      ASSERT_NE(c, nullptr);
      std::vector<void*> objs;
      while (KmemCacheSlabs(c) < 3) objs.push_back(KmemCacheAlloc(c));
      for (size_t i = 0; i < objs.size(); ++i) {
        if (i % 3 != 0) KmemCacheFree(c, objs[i]);
      }
      KmemReap();
      KmemCacheCheck(c);
      for (size_t i = 0; i < objs.size(); i += 3) KmemCacheFree(c, objs[i]);
      ASSERT_TRUE(KmemCacheDestroy(c)) << size << " bytes aligned to " << align;
    }
  }
}

// Frees past a full magazine go into the CPU's bundles, not the slab layer, and the allocations after them
// take the same objects back from the bundles: no slab changes hands, none empties, none is added.
TEST_F(SlabTest, FullMagazinesFillBundlesThatRefillTheMagazine) {
  KmemCache* c = KmemCacheCreate("obj", 64, 8);
  constexpr int kObjects = kMagazine + 4 * (kMagazine / 2);  // a full magazine and four bundles
  std::vector<void*> objs;
  for (int i = 0; i < kObjects; ++i) objs.push_back(KmemCacheAlloc(c));
  const uint64_t slabs = KmemCacheSlabs(c);
  std::shuffle(objs.begin(), objs.end(), rng_);
  for (void* o : objs) KmemCacheFree(c, o);
  KmemCacheCheck(c);  // the bundled objects' seals, and the slabs counting them in use
  EXPECT_EQ(KmemCacheEmptySlabs(c), 0u);  // every freed object is still with this CPU
  std::set<void*> again;
  for (int i = 0; i < kObjects; ++i) again.insert(KmemCacheAlloc(c));
  EXPECT_EQ(again, std::set<void*>(objs.begin(), objs.end()));
  EXPECT_EQ(KmemCacheSlabs(c), slabs);
  for (void* o : again) KmemCacheFree(c, o);
  EXPECT_GT(KmemReap(), 0u);  // the reap drains the bundles: their slabs empty and go back
  EXPECT_EQ(KmemCacheSlabs(c), 0u);
  KmemCacheCheck(c);
  EXPECT_TRUE(KmemCacheDestroy(c));
}

TEST_F(SlabTest, DestroyRefusesWhileObjectsLive) {
  KmemCache* c = KmemCacheCreate("leaky", 48, 16);
  void* p = KmemCacheAlloc(c);
  EXPECT_FALSE(KmemCacheDestroy(c));
  KmemCacheFree(c, p);
  EXPECT_TRUE(KmemCacheDestroy(c));
  // The cache's slabs went back: the source has out only the live caches' slabs (kmem_cache's among them,
  // which keeps the descriptor's slab, empty).
  EXPECT_EQ(heap_.bytes_out(), KmemSlabBytes());
}

TEST_F(SlabTest, SourceRunningDryGivesNull) {
  testing::HeapSource small(kPageSize);
  KmemInit(small.source_without_give());
  int n = 0;
  while (Kmalloc(64) != nullptr) ++n;
  EXPECT_GT(n, 20);
  EXPECT_EQ(KmemCacheCreate("none", 8, 8), nullptr);
}

// A cache whose source runs dry takes back what this CPU holds of another cache: A's freed objects sit in
// this CPU's magazine and bundles, pinning A's slabs, until B's growth reaps them.
TEST_F(SlabTest, AGrowingCacheTakesBackTheObjectsACpuHoldsOfAnother) {
  testing::HeapSource small(1 << 20);
  KmemInit(small.source());
  KmemCache* a = KmemCacheCreate("a", 1024, 8);
  KmemCache* b = KmemCacheCreate("b", 1024, 8);
  std::vector<void*> objs;
  for (int i = 0; i < 600; ++i) objs.push_back(KmemCacheAlloc(a));
  ASSERT_EQ(std::count(objs.begin(), objs.end(), nullptr), 0);
  for (void* p : objs) KmemCacheFree(a, p);
  EXPECT_EQ(KmemCacheEmptySlabs(a), 0u);  // every slab of A is held by the CPU's magazine and bundles
  objs.clear();
  for (void* p; (p = KmemCacheAlloc(b)) != nullptr;) objs.push_back(p);
  EXPECT_GT(objs.size(), 600u);  // without the reap, what A did not take: under 350
  EXPECT_EQ(KmemCacheSlabs(a), 0u);
  for (void* p : objs) KmemCacheFree(b, p);
  KmemCacheCheck(b);
  EXPECT_TRUE(KmemCacheDestroy(a));
  EXPECT_TRUE(KmemCacheDestroy(b));
}

TEST_F(SlabTest, StatisticsAndTable) {
  KmemCache* c = KmemCacheCreate("widget", 40, 8);
  void* a = KmemCacheAlloc(c);
  void* b = KmemCacheAlloc(c);
  KmemCacheFree(c, a);
  AllocStats s = KmemCacheStats(c);
  EXPECT_EQ(s.live_blocks, 1u);
  EXPECT_EQ(s.live_bytes, 40u);
  EXPECT_EQ(s.peak_bytes, 80u);
  testing::ConsoleCapture out;
  KmemDump();
  EXPECT_NE(out.text().find("widget               40             1           40           80      1"),
            std::string::npos)
      << out.text();
  EXPECT_NE(out.text().find("kmalloc-4k"), std::string::npos);
  KmemCacheFree(c, b);
}

using SlabDeathTest = SlabTest;

TEST_F(SlabDeathTest, KfreeTwicePanics) {
  void* p = Kmalloc(30);
  Kfree(p);
  EXPECT_DEATH(Kfree(p), "cache kmalloc: kfree of 0x[0-9a-f]+: double free, the object is free");
}

TEST_F(SlabDeathTest, CacheFreeTwicePanics) {
  KmemCache* c = KmemCacheCreate("obj", 24, 8);
  void* p = KmemCacheAlloc(c);
  KmemCacheFree(c, p);
  EXPECT_DEATH(KmemCacheFree(c, p), "cache obj: free of 0x[0-9a-f]+: double free");
}

TEST_F(SlabDeathTest, FreeIntoTheWrongCachePanics) {
  KmemCache* a = KmemCacheCreate("a", 24, 8);
  KmemCache* b = KmemCacheCreate("b", 24, 8);
  void* p = KmemCacheAlloc(a);
  EXPECT_DEATH(KmemCacheFree(b, p), "cache b: free of 0x[0-9a-f]+: foreign pointer, the object belongs to cache a");
}

TEST_F(SlabDeathTest, KfreeOfACacheObjectPanics) {
  KmemCache* a = KmemCacheCreate("a", 24, 8);
  void* p = KmemCacheAlloc(a);
  EXPECT_DEATH(Kfree(p), "cache kmalloc: kfree of 0x[0-9a-f]+: foreign pointer, the object is not from Kmalloc");
}

TEST_F(SlabDeathTest, KfreeOfAForeignPointerPanics) {
  alignas(16) static uint8_t elsewhere[64];
  EXPECT_DEATH(Kfree(elsewhere + 32), "cache kmalloc: kfree of 0x[0-9a-f]+: foreign pointer or smashed header canary");
}

// Kfree's dispatch has a case for each of the 16 tags a header link can carry: an object whose link was
// retagged with no class (0, 10-15) panics with the smashed header it has, as a retagged class would.
TEST_F(SlabDeathTest, KfreeOfAHeaderTaggedWithNoClassPanics) {
  auto* p = static_cast<uint64_t*>(Kmalloc(64));
  const uint64_t link = p[-1];
  for (uint64_t tag : {0, 10, 11, 12, 13, 14, 15}) {
    p[-1] = (link & ~uint64_t{15}) | tag;
    EXPECT_DEATH(Kfree(p), "cache kmalloc: kfree of 0x[0-9a-f]+: foreign pointer or smashed header canary") << tag;
  }
  p[-1] = link;
  Kfree(p);
}

TEST_F(SlabDeathTest, WritePastTheObjectPanicsOnFree) {
  auto* p = static_cast<uint8_t*>(Kmalloc(16));
  p[16] = 0;
  EXPECT_DEATH(Kfree(p), "cache kmalloc-16: kfree of 0x[0-9a-f]+: tail canary smashed, written past the 16-byte object");
}

// Kfree checks each class's canary at an offset of its own (ByTag): a write to the class's last byte is
// allowed and one past it is caught, at every class.
TEST_F(SlabDeathTest, WritePastTheObjectOfEveryClassPanicsOnFree) {
  for (size_t size = 16; size <= kKmallocMax; size *= 2) {
    auto* p = static_cast<uint8_t*>(Kmalloc(size));
    p[size - 1] = 0;
    Kfree(p);
    p = static_cast<uint8_t*>(Kmalloc(size));
    p[size] = 0;
    const std::string name = size < 1024 ? std::to_string(size) : std::to_string(size / 1024) + "k";
    const std::string message = "cache kmalloc-" + name +
                                ": kfree of 0x[0-9a-f]+: tail canary smashed, written past the " +
                                std::to_string(size) + "-byte object";
    EXPECT_DEATH(Kfree(p), message) << size;
  }
}

TEST_F(SlabDeathTest, WriteAfterFreePanicsWhenHandedOutAgain) {
  auto* p = static_cast<uint8_t*>(Kmalloc(64));
  Kfree(p);
  p[10] = 1;
  EXPECT_DEATH(Kmalloc(64), "cache kmalloc-64: object 0x[0-9a-f]+ was written after free: byte at \\+10 is 0x01, expected 0x6b");
}

TEST_F(SlabDeathTest, WriteToTheFirstWordAfterFreePanicsWhenHandedOutAgain) {
  auto* p = static_cast<uint64_t*>(Kmalloc(128));
  Kfree(p);
  p[0] = 0x1234;  // a stale pointer's first field
  EXPECT_DEATH(Kmalloc(128), "cache kmalloc-128: object 0x[0-9a-f]+ was written after free: byte at \\+0 is 0x34");
}

TEST_F(SlabDeathTest, SmashedSlabLinkOfAFreeObjectPanicsWhenHandedOutAgain) {
  auto* p = static_cast<uint64_t*>(Kmalloc(128));
  Kfree(p);
  p[-1] = 0x1234;  // the header's link to its slab
  EXPECT_DEATH(Kmalloc(128), "cache kmalloc-128: free object 0x[0-9a-f]+ has a smashed header: its slab link "
                             "0x1234 is not 0x[0-9a-f]+4 \\(slab 0x[0-9a-f]+000\\)");  // class 3, tagged 4
}

TEST_F(SlabDeathTest, SmashedMagicOfAFreeObjectPanicsWhenHandedOutAgain) {
  auto* p = static_cast<uint64_t*>(Kmalloc(128));
  Kfree(p);
  p[-2] ^= 1;
  EXPECT_DEATH(Kmalloc(128), "cache kmalloc-128: free object 0x[0-9a-f]+ has a smashed header \\(magic");
}

TEST_F(SlabDeathTest, SmashedSlabPointerOfALiveObjectPanicsOnFree) {
  KmemCache* c = KmemCacheCreate("obj", 48, 8);
  auto* p = static_cast<uint64_t*>(KmemCacheAlloc(c));
  p[-1] += kPageSize;  // the header's slab pointer
  EXPECT_DEATH(KmemCacheFree(c, p), "cache obj: free of 0x[0-9a-f]+: foreign pointer or smashed header canary");
  auto* q = static_cast<uint64_t*>(Kmalloc(48));
  q[-1] += kPageSize;
  EXPECT_DEATH(Kfree(q), "cache kmalloc: kfree of 0x[0-9a-f]+: foreign pointer or smashed header canary");
}

// Allocates three half magazines of objects, empties the magazine (the refills' leftovers go back to their
// slabs) and frees the objects in order: the free that finds the magazine full moves its oldest half,
// objs[0, kMagazine / 2), into a bundle, in that order.
template <typename Alloc, typename Free>
std::vector<uint64_t*> BundleTheFirstFreed(Alloc alloc, Free free) {
  std::vector<uint64_t*> objs;
  for (uint32_t i = 0; i < 3 * (kMagazine / 2); ++i) objs.push_back(static_cast<uint64_t*>(alloc()));
  KmemReap();
  for (uint64_t* p : objs) free(p);
  return objs;
}

// An object in a bundle is free to every guard: freeing it again panics, and a smashed header or a write
// into it is found when it is handed out.
TEST_F(SlabDeathTest, ObjectsInBundlesAreGuarded) {
  std::vector<uint64_t*> objs = BundleTheFirstFreed([] { return Kmalloc(64); }, [](void* p) { Kfree(p); });
  const size_t enough = 2 * objs.size();  // allocations that reach every object
  EXPECT_DEATH(Kfree(objs[0]), "cache kmalloc: kfree of 0x[0-9a-f]+: double free, the object is free");
  objs[2][-1] ^= 8;  // the header's link
  EXPECT_DEATH(
      {
        for (size_t i = 0; i < enough; ++i) Kmalloc(64);
      },
      "cache kmalloc-64: free object 0x[0-9a-f]+ has a smashed header");
  objs[2][-1] ^= 8;
  objs[1][3] = 7;
  EXPECT_DEATH(
      {
        for (size_t i = 0; i < enough; ++i) Kmalloc(64);
      },
      "cache kmalloc-64: object 0x[0-9a-f]+ was written after free: byte at \\+24 is 0x07");
}

// A stray write into a bundle's array that turns an entry into a live object of the cache: only the check's
// walk of what the CPUs hold finds it, since the object passes the slab walk and the counts still add up.
TEST_F(SlabDeathTest, BrokenBundleIsFoundByTheCheck) {
  KmemCache* c = KmemCacheCreate("obj", 64, 8);
  std::vector<uint64_t*> objs =
      BundleTheFirstFreed([c] { return KmemCacheAlloc(c); }, [c](void* p) { KmemCacheFree(c, p); });
  KmemCacheCheck(c);
  // The bundle is an object of kmem's own cache of them, in a span of this source: found by its contents.
  uint64_t** entries = nullptr;
  heap_.ForEachSpan([&](void* span, size_t bytes) {
    auto* w = static_cast<uint64_t**>(span);
    for (size_t i = 0; i + 1 < bytes / sizeof(*w); ++i) {
      if (w[i] == objs[0] && w[i + 1] == objs[1]) entries = w + i;
    }
  });
  ASSERT_NE(entries, nullptr);
  entries[5] = static_cast<uint64_t*>(KmemCacheAlloc(c));  // from the magazine: live, and no longer held
  EXPECT_DEATH(KmemCacheCheck(c), "cache obj: cpu 0 holds 0x[0-9a-f]+ in its bundles, which is no free object");
}

TEST_F(SlabDeathTest, WriteAfterFreeIsFoundByTheCheck) {
  KmemCache* c = KmemCacheCreate("obj", 64, 8);
  auto* p = static_cast<uint8_t*>(KmemCacheAlloc(c));
  KmemCacheAlloc(c);
  KmemCacheFree(c, p);
  p[33] = 1;
  EXPECT_DEATH(KmemCacheCheck(c), "cache obj: free object 0x[0-9a-f]+ written after free at \\+33");
}

TEST_F(SlabDeathTest, CacheFreeOfNullPanics) {
  KmemCache* c = KmemCacheCreate("obj", 24, 8);
  EXPECT_DEATH(KmemCacheFree(c, nullptr), "cache obj: free of 0x0: null pointer");
}

TEST_F(SlabDeathTest, DestroyTwicePanics) {
  KmemCache* c = KmemCacheCreate("twice", 100, 8);
  ASSERT_TRUE(KmemCacheDestroy(c));
  EXPECT_DEATH(KmemCacheDestroy(c), "cache twice \\(0x[0-9a-f]+\\): destroy: the cache was destroyed");
}

TEST_F(SlabDeathTest, DestroyOfNoCachePanics) {
  alignas(64) static KmemCache never_created;
  EXPECT_DEATH(KmemCacheDestroy(&never_created), "cache 0x[0-9a-f]+: destroy: not a cache");
}

// Every window shape: the full one, Kmalloc's two small ones and a short one. The destroyed cache's own
// slabs went back to the source, so the free hands it a live object of another cache.
TEST_F(SlabDeathTest, UseOfADestroyedCachePanics) {
  void* other = Kmalloc(24);
  for (size_t size : {200, 16, 32, 24}) {
    KmemCache* c = KmemCacheCreate("gone", size, 8);
    KmemCacheFree(c, KmemCacheAlloc(c));
    ASSERT_TRUE(KmemCacheDestroy(c));
    EXPECT_DEATH(KmemCacheAlloc(c), "cache gone \\(0x[0-9a-f]+\\): alloc: the cache was destroyed") << size;
    EXPECT_DEATH(KmemCacheFree(c, other), "cache gone \\(0x[0-9a-f]+\\): free: the cache was destroyed") << size;
  }
  Kfree(other);
}

TEST_F(SlabDeathTest, SmashedSlabHeaderPanicsOnFree) {
  auto* p = static_cast<uint8_t*>(Kmalloc(64));
  // kmalloc-64 slabs are one page, aligned to it, with the slab header at the start.
  auto* slab = reinterpret_cast<uint64_t*>(AlignDown(reinterpret_cast<uintptr_t>(p), kPageSize));
  slab[0] ^= 1;
  EXPECT_DEATH(Kfree(p), "cache kmalloc-64: kfree of 0x[0-9a-f]+: slab header at 0x[0-9a-f]+ smashed");
}

}  // namespace
}  // namespace kmem::pool
