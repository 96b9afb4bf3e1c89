// Allocation-site tags (tags.h), in a build with --//mm/pool:tags (BUILD.bazel's tags_test). Each site is
// a function of its own, exported (-rdynamic), so that dladdr names the function a recorded pc lies in: the
// caller of Malloc or Kmalloc, never the allocator itself.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "mm/pool/pool.h"
#include "mm/pool/slab.h"
#include "testing/console_capture.h"
#include "testing/pool_host.h"

static_assert(kmem::pool::kPoolTags, "tags_test_bin is built with --//mm/pool:tags: run //mm/pool:tags_test");

// The call sites, outside any namespace so that their symbols are plain to compare.
extern "C" {
[[gnu::noinline]] void* TagsSiteMallocA(size_t n) { return kmem::pool::Malloc(n); }
[[gnu::noinline]] void* TagsSiteMallocB(size_t n) { return kmem::pool::Mallocz(n, kmem::Zero::kNo); }
[[gnu::noinline]] void* TagsSiteRealloc(void* p, size_t n) { return kmem::pool::Realloc(p, n); }
[[gnu::noinline]] void* TagsSiteKmallocA(size_t n) { return kmem::pool::Kmalloc(n); }
[[gnu::noinline]] void* TagsSiteCacheB(kmem::pool::KmemCache* c) { return kmem::pool::KmemCacheAlloc(c); }
[[gnu::noinline]] kmem::pool::KmemCache* TagsSiteCreate(const char* name, size_t size) {
  return kmem::pool::KmemCacheCreate(name, size, 0);
}
}

namespace kmem::pool {
namespace {

constexpr uint64_t kQuantum = 64 << 10;

// The function a pc lies in, by its exported name.
std::string FunctionOf(uintptr_t pc) {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(pc), &info) == 0 || info.dli_sname == nullptr) return "?";
  return info.dli_sname;
}

struct Row {
  std::string function;
  uint64_t blocks, bytes;
  bool operator==(const Row&) const = default;
};
std::ostream& operator<<(std::ostream& o, const Row& r) {
  return o << r.function << ": " << r.blocks << " blocks, " << r.bytes << " bytes";
}

// The table's rows by function name, after checking that Sort put the most bytes first.
std::vector<Row> Rows(SiteTable& t) {
  t.Sort();
  std::vector<Row> rows;
  for (size_t i = 0; i < t.used; ++i) {
    rows.push_back({FunctionOf(t.sites[i].pc), t.sites[i].blocks, t.sites[i].bytes});
    if (i > 0) EXPECT_GE(t.sites[i - 1].bytes, t.sites[i].bytes) << rows[i];
  }
  EXPECT_EQ(t.other_blocks, 0u);
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.function < b.function; });
  return rows;
}

class TagsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PoolInit(mainmem, {"mainmem", 1 << 20, kQuantum, FreeFill::kPoison, heap_.source(), {}});
    KmemInit(heap_.source());
  }
  std::vector<Row> PoolRows() {
    SiteTable t{sites_, kSites};
    Pool* pools[] = {&mainmem};
    PoolSites(pools, 1, t);
    return Rows(t);
  }
  std::vector<Row> KmemRows() {
    SiteTable t{sites_, kSites};
    KmemSites(t);
    return Rows(t);
  }
  static constexpr size_t kSites = 8;
  SiteCount sites_[kSites];
  testing::HeapSource heap_;
};

TEST_F(TagsTest, PoolBlocksCountUnderTheirCallSiteAndLeaveItWhenFreed) {
  std::vector<void*> a, b;
  for (int i = 0; i < 3; ++i) a.push_back(TagsSiteMallocA(100));
  for (int i = 0; i < 5; ++i) b.push_back(TagsSiteMallocB(40));
  EXPECT_EQ(PoolRows(), (std::vector<Row>{{"TagsSiteMallocA", 3, 300}, {"TagsSiteMallocB", 5, 200}}));
  Free(a[1]);
  Free(b[0]);
  Free(b[4]);
  EXPECT_EQ(PoolRows(), (std::vector<Row>{{"TagsSiteMallocA", 2, 200}, {"TagsSiteMallocB", 3, 120}}));
  for (void* p : {a[0], a[2], b[1], b[2], b[3]}) Free(p);
  EXPECT_EQ(PoolRows(), std::vector<Row>{});
  PoolCheck(mainmem);
}

// A block Realloc resized, in place or moved, belongs to the Realloc's caller from then on.
TEST_F(TagsTest, ReallocRetagsTheBlockWithItsCaller) {
  void* small = TagsSiteMallocA(100);
  void* moved = TagsSiteMallocA(32);
  void* keep = TagsSiteMallocB(16);  // sits after `moved`, so growing `moved` must move it
  small = TagsSiteRealloc(small, 50);
  moved = TagsSiteRealloc(moved, 4000);
  EXPECT_EQ(PoolRows(), (std::vector<Row>{{"TagsSiteMallocB", 1, 16}, {"TagsSiteRealloc", 2, 4050}}));
  for (void* p : {small, moved, keep}) Free(p);
  PoolCheck(mainmem);
}

TEST_F(TagsTest, SlabObjectsCountUnderTheCallerOfKmallocAndKmemCacheAlloc) {
  KmemCache* cache = TagsSiteCreate("tagged", 200);
  ASSERT_NE(cache, nullptr);
  std::vector<void*> k, c;
  for (int i = 0; i < 4; ++i) k.push_back(TagsSiteKmallocA(24));  // kmalloc-32
  for (int i = 0; i < 2; ++i) c.push_back(TagsSiteCacheB(cache));
  // The descriptor is an object of the cache of caches, tagged with KmemCacheCreate's caller.
  EXPECT_EQ(KmemRows(), (std::vector<Row>{{"TagsSiteCacheB", 2, 400},
                                          {"TagsSiteCreate", 1, sizeof(KmemCache)},
                                          {"TagsSiteKmallocA", 4, 128}}));
  Kfree(k[2]);
  KmemCacheFree(cache, c[0]);
  EXPECT_EQ(KmemRows(), (std::vector<Row>{{"TagsSiteCacheB", 1, 200},
                                          {"TagsSiteCreate", 1, sizeof(KmemCache)},
                                          {"TagsSiteKmallocA", 3, 96}}));
  for (void* p : {k[0], k[1], k[3]}) Kfree(p);
  KmemCacheFree(cache, c[1]);
  ASSERT_TRUE(KmemCacheDestroy(cache));
  EXPECT_EQ(KmemRows(), std::vector<Row>{});
  KmemCheckAll();
}

TEST_F(TagsTest, SitesPastTheTableAreSummedAsOthers) {
  void* a = TagsSiteMallocA(64);
  void* b = TagsSiteMallocB(16);
  void* b2 = TagsSiteMallocB(16);
  SiteCount one[1];
  SiteTable t{one, 1};
  Pool* pools[] = {&mainmem};
  PoolSites(pools, 1, t);
  ASSERT_EQ(t.used, 1u);
  const bool a_first = FunctionOf(one[0].pc) == "TagsSiteMallocA";
  EXPECT_EQ(t.other_blocks, a_first ? 2u : 1u);
  EXPECT_EQ(t.other_bytes, a_first ? 32u : 64u);
  testing::ConsoleCapture out;
  SitesDump(t);
  EXPECT_NE(out.text().find("site               live blocks   live bytes\n0x"), std::string::npos) << out.text();
  EXPECT_NE(out.text().find(a_first ? "\nother sites                  2           32\n"
                                    : "\nother sites                  1           64\n"),
            std::string::npos)
      << out.text();
  for (void* p : {a, b, b2}) Free(p);
}

TEST(SiteTableTest, SortsByBytesThenBlocksThenPc) {
  SiteCount rows[4];
  SiteTable t{rows, 4};
  t.Add(0x30, 10);
  t.Add(0x20, 5);
  t.Add(0x20, 5);
  t.Add(0x10, 10);
  t.Add(0x40, 20);
  t.Sort();
  ASSERT_EQ(t.used, 4u);
  EXPECT_EQ(rows[0].pc, 0x40u);
  EXPECT_EQ(rows[1].pc, 0x20u);  // 10 bytes in two blocks before 10 bytes in one
  EXPECT_EQ(rows[2].pc, 0x10u);
  EXPECT_EQ(rows[3].pc, 0x30u);
  EXPECT_EQ(t.other_blocks, 0u);
}

}  // namespace
}  // namespace kmem::pool
