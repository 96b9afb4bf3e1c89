#include "mm/pool/selftest.h"

#include <gtest/gtest.h>

#include "mm/pool/pool.h"
#include "mm/pool/slab.h"
#include "testing/console_capture.h"
#include "testing/pool_host.h"

namespace kmem::pool {
namespace {

// The needs the kernel's minimum memory is computed from are enough: the source gives no more and the pools
// may grow no further, with the kernel's 64 KiB arenas. First in the file, so that it runs on fresh pools
// and caches as the kernel's boot does.
TEST(SelfTestNeeds, PassesWithinThem) {
  testing::HeapSource heap(kSelfTestSourceBytes);
  PoolInit(mainmem, {"mainmem", kSelfTestMainmemBytes, 64 << 10, FreeFill::kPoison, heap.source(), {}});
  PoolInit(imagmem, {"imagmem", kSelfTestMainmemBytes, 64 << 10, FreeFill::kPoison, heap.source(), {}});
  PoolInit(secrmem, {"secrmem", kSelfTestSecrmemBytes, 64 << 10, FreeFill::kZero, heap.source(), {}});
  KmemInit(heap.source());
  testing::ConsoleCapture out;
  EXPECT_EQ(PoolSelfTest(), SelfTestStatus::kPassed) << out.text();
}

class SelfTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PoolInit(mainmem, {"mainmem", 16 << 20, 64 << 10, FreeFill::kPoison, heap_.source(), {}});
    PoolInit(imagmem, {"imagmem", 4 << 20, 64 << 10, FreeFill::kPoison, heap_.source(), {}});
    PoolInit(secrmem, {"secrmem", 1 << 20, 64 << 10, FreeFill::kZero, heap_.source(), {}});
    KmemInit(heap_.source());
  }
  testing::HeapSource heap_;
};

TEST_F(SelfTest, PassesAndLeavesThePoolsAsFound) {
  void* kept = Malloc(1234);  // something the kernel already holds survives the self-test untouched
  void* kobj = Kmalloc(100);
  testing::ConsoleCapture out;
  EXPECT_EQ(PoolSelfTest(), SelfTestStatus::kPassed) << out.text();
  const std::string& t = out.text();
  for (const char* line :
       {"pool selftest: stress: 8192 operations, at most ", "pool selftest: stress: ok\n",
        "pool selftest: stress leaves mainmem and kmalloc as found: ok\n", "pool selftest: secrmem wipe: ok\n",
        "pool selftest: statistics agree with full walks: ok\n", "pool selftest: passed\n",
        "mainmem              1         1234", "kmalloc-128         128             1          128"}) {
    EXPECT_NE(t.find(line), std::string::npos) << line << "\n" << t;
  }
  EXPECT_EQ(t.find("selftest-200 "), std::string::npos);  // its cache was destroyed
  EXPECT_EQ(PoolStatsOf(mainmem).live_blocks, 1u);
  EXPECT_EQ(Msize(kept), 1234u);
  EXPECT_EQ(KmallocStats().live_blocks, 1u);
  EXPECT_GT(PoolStatsOf(mainmem).peak_bytes, 100000u);  // the stress really went through mainmem
  Kfree(kobj);
  Free(kept);
}

TEST_F(SelfTest, FailsWhenSecrmemIsBusy) {
  PoolAlloc(secrmem, 10, Zero::kNo);
  testing::ConsoleCapture out;
  EXPECT_EQ(PoolSelfTest(), SelfTestStatus::kFailed);
  EXPECT_NE(out.text().find("pool selftest: secrmem wipe: FAILED, secrmem has live blocks"), std::string::npos)
      << out.text();
  EXPECT_NE(out.text().find("pool selftest: FAILED"), std::string::npos);
}

TEST_F(SelfTest, FailsWhenMainmemCannotServeTheStress) {
  PoolInit(mainmem, {"mainmem", 64 << 10, 64 << 10, FreeFill::kPoison, heap_.source(), {}});
  testing::ConsoleCapture out;
  EXPECT_EQ(PoolSelfTest(), SelfTestStatus::kFailed);
  EXPECT_NE(out.text().find("pool selftest: stress: FAILED, "), std::string::npos) << out.text();
}

}  // namespace
}  // namespace kmem::pool
