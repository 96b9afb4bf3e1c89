#include "mm/vm/vmalloc.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "testing/fake_aspace.h"

namespace kmem {
namespace {

constexpr uint64_t kBase = 0xffffc90000000000;
constexpr uint64_t kPage = kPageSize;

// Pages 0x100000, 0x101000, ... with a budget; checks that nothing is freed twice or freed unallocated.
struct FakePages {
  static bool Alloc(void* ctx, PhysAddr* page) {
    auto* f = static_cast<FakePages*>(ctx);
    if (f->left == 0) return false;
    --f->left;
    *page = PhysAddr(0x100000 + f->next++ * kPage);
    f->out.insert(page->value());
    return true;
  }
  static void Free(void* ctx, PhysAddr page) {
    auto* f = static_cast<FakePages*>(ctx);
    EXPECT_EQ(f->out.erase(page.value()), 1u) << "page 0x" << std::hex << page.value() << " freed twice or never allocated";
    ++f->left;
  }
  PageSource source() { return PageSource{Alloc, Free, this}; }

  long left = 1000;
  uint64_t next = 0;
  std::set<uint64_t> out;
};

class VmallocTest : public ::testing::Test {
 protected:
  KvaRecord records_[16];
  KvaArena arena_{"vmalloc", VirtAddr(kBase), 32 * kPage, records_, 16};
  testing::FakeArchAspace arch_;
  AddressSpace kernel_{"kernel", AddressSpace::Kind::kKernel, arch_};
  FakePages pages_;
  Vmalloc vmalloc_{arena_, kernel_, pages_.source()};
};

//   [ page ][ page ][ page ][guard]
TEST_F(VmallocTest, MapsEveryPageWritableAndLeavesTheGuardUnmapped) {
  VirtAddr va;
  ASSERT_EQ(vmalloc_.Alloc(2 * kPage + 1, Guard::kAbove, &va), VmallocStatus::kOk);
  EXPECT_EQ(va, VirtAddr(kBase));
  VmMapping m;
  std::set<uint64_t> frames;
  for (uint64_t off = 0; off < 3 * kPage; off += kPage) {
    ASSERT_EQ(kernel_.Query(va + off, &m), VmStatus::kOk);
    EXPECT_EQ(m.prot, Prot::kWrite);
    EXPECT_EQ(m.cache, CacheMode::kCached);
    frames.insert(m.pa.value());
  }
  EXPECT_EQ(frames.size(), 3u);
  EXPECT_EQ(kernel_.Query(va + 3 * kPage, &m), VmStatus::kNotMapped);
  EXPECT_EQ(arena_.Find(va + 3 * kPage).place, KvaPlace::kGuard);
  // The next allocation starts after the guard page.
  VirtAddr next;
  ASSERT_EQ(vmalloc_.Alloc(kPage, Guard::kAbove, &next), VmallocStatus::kOk);
  EXPECT_EQ(next, va + 4 * kPage);
}

TEST_F(VmallocTest, AKernelStackHasItsGuardBelow) {
  VirtAddr stack;
  ASSERT_EQ(vmalloc_.Alloc(4 * kPage, Guard::kBelow, &stack), VmallocStatus::kOk);
  EXPECT_EQ(stack, VirtAddr(kBase + kPage));
  VmMapping m;
  EXPECT_EQ(kernel_.Query(stack - kPage, &m), VmStatus::kNotMapped);
  EXPECT_EQ(arena_.Find(stack - 8).place, KvaPlace::kGuard);
  EXPECT_EQ(kernel_.Query(stack + 4 * kPage - 8, &m), VmStatus::kOk);
}

TEST_F(VmallocTest, FreeUnmapsAndGivesEveryPageAndTheRangeBack) {
  VirtAddr va;
  ASSERT_EQ(vmalloc_.Alloc(5 * kPage, Guard::kAbove, &va), VmallocStatus::kOk);
  EXPECT_EQ(pages_.out.size(), 5u);
  ASSERT_EQ(vmalloc_.Free(va), VmallocStatus::kOk);
  EXPECT_TRUE(pages_.out.empty());
  EXPECT_TRUE(arch_.pages.empty());
  EXPECT_EQ(arena_.Stats().ranges, 0u);
  EXPECT_EQ(vmalloc_.Free(va), VmallocStatus::kNotAllocated);  // twice
}

// A vfree is one unmap and so one TLB shootdown for its pages, not one a page: each CPU flushes once.
TEST_F(VmallocTest, FreeUnmapsTheRangeInOneCallAndEveryCpuFlushesOnce) {
  VirtAddr va;
  ASSERT_EQ(vmalloc_.Alloc(5 * kPage, Guard::kAbove, &va), VmallocStatus::kOk);
  arch_.calls.clear();
  ASSERT_EQ(vmalloc_.Free(va), VmallocStatus::kOk);
  std::vector<std::string> want;
  for (uint64_t off = 0; off < 5 * kPage; off += kPage) want.push_back("query " + std::to_string(kBase + off) + " 0");
  want.push_back("unmap " + std::to_string(kBase) + " " + std::to_string(5 * kPage));
  EXPECT_EQ(arch_.calls, want);
  for (unsigned cpu = 0; cpu < kMaxCpus; ++cpu) EXPECT_EQ(arch_.flushes[cpu], 1u) << "cpu " << cpu;
  EXPECT_TRUE(pages_.out.empty());
}

TEST_F(VmallocTest, RunningOutOfPagesOrTablesUndoesEverything) {
  VirtAddr va;
  pages_.left = 3;
  EXPECT_EQ(vmalloc_.Alloc(5 * kPage, Guard::kAbove, &va), VmallocStatus::kNoMemory);
  EXPECT_TRUE(pages_.out.empty());
  EXPECT_TRUE(arch_.pages.empty());
  EXPECT_EQ(arena_.Stats().ranges, 0u);
  pages_.left = 1000;
  arch_.maps_left = 2;  // the third page finds no page-table page
  EXPECT_EQ(vmalloc_.Alloc(5 * kPage, Guard::kAbove, &va), VmallocStatus::kNoMemory);
  EXPECT_TRUE(pages_.out.empty());
  EXPECT_TRUE(arch_.pages.empty());
  EXPECT_EQ(arena_.Stats().ranges, 0u);
}

TEST_F(VmallocTest, BadSizesForeignAddressesAndExhaustionAreErrors) {
  VirtAddr va;
  EXPECT_EQ(vmalloc_.Alloc(0, Guard::kAbove, &va), VmallocStatus::kBadSize);
  EXPECT_EQ(vmalloc_.Alloc(~uint64_t{0}, Guard::kAbove, &va), VmallocStatus::kBadSize);
  EXPECT_EQ(vmalloc_.Alloc(32 * kPage, Guard::kAbove, &va), VmallocStatus::kNoSpace);  // the guard needs one more
  ASSERT_EQ(vmalloc_.Alloc(2 * kPage, Guard::kAbove, &va), VmallocStatus::kOk);
  EXPECT_EQ(vmalloc_.Free(va + kPage), VmallocStatus::kNotAllocated);
  EXPECT_EQ(vmalloc_.Free(va + 2 * kPage), VmallocStatus::kNotAllocated);  // the guard page
  EXPECT_EQ(vmalloc_.Free(VirtAddr(kBase + 20 * kPage)), VmallocStatus::kNotAllocated);
}

}  // namespace
}  // namespace kmem
