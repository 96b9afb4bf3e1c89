#include "mm/vm/tlb.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace kmem {
namespace {

struct Seen {
  std::atomic<uint32_t> cpus{0};
  std::atomic<unsigned> pages{0};
  TlbDone answer = TlbDone::kPages;
};

TlbDone Record(void* ctx, const TlbBatch& batch) {
  Seen& seen = *static_cast<Seen*>(ctx);
  seen.cpus |= uint32_t{1} << CpuId();
  seen.pages += batch.count();
  return seen.answer;
}

TEST(TlbBatch, PastTheThresholdAFullFlushReplacesThePages) {
  TlbBatch b(TlbScope::kSpace);
  EXPECT_TRUE(b.empty());
  for (unsigned i = 0; i < TlbBatch::kMaxPages; ++i) b.AddPage(VirtAddr(uint64_t{i} << 12));
  EXPECT_FALSE(b.full());
  EXPECT_EQ(b.count(), TlbBatch::kMaxPages);
  EXPECT_EQ(b.page(3), VirtAddr(0x3000));
  b.AddPage(VirtAddr(0x100000));
  EXPECT_TRUE(b.full());
  EXPECT_FALSE(b.empty());
}

TEST(TlbBatch, TablesAreChainedThroughTheirFirstWord) {
  uint64_t first_of_a = 0x5a5a, first_of_b = 0x5a5a;
  TlbBatch b(TlbScope::kGlobal);
  b.AddTable(PhysAddr(0xa000), &first_of_a);
  b.AddTable(PhysAddr(0xb000), &first_of_b);
  EXPECT_EQ(b.table_count(), 2u);
  EXPECT_EQ(b.tables(), PhysAddr(0xb000));
  EXPECT_EQ(first_of_b, 0xa000u);  // not present: bit 0 clear
  EXPECT_EQ(first_of_a, 0u);
  EXPECT_TRUE(b.empty());  // tables alone: the pages that freed them are what gets flushed
}

// Every CPU of the set runs the flush once, the caller's here; the counts say what each did.
TEST(TlbShootdown, RunsOnEveryCpuAskedAndCountsWhatTheyDid) {
  TlbStatsReset();
  Seen seen;
  TlbBatch b(TlbScope::kGlobal);
  b.AddPage(VirtAddr(0x1000));
  b.AddPage(VirtAddr(0x2000));
  const unsigned me = CpuId();
  const CpuSet three = CpuSet::Of(me) | CpuSet::Of((me + 1) % kMaxCpus) | CpuSet::Of((me + 2) % kMaxCpus);
  TlbShootdown(three, b, Record, &seen);
  EXPECT_EQ(seen.cpus.load(), three.bits());
  EXPECT_EQ(seen.pages.load(), 6u);
  TlbStats t = TlbStatsTotal();
  EXPECT_EQ(t.shootdowns, 1u);
  EXPECT_EQ(t.remote_cpus, 2u);
  EXPECT_EQ(t.pages, 6u);
  EXPECT_EQ(t.full_flushes, 0u);

  TlbBatch full(TlbScope::kSpace);
  for (unsigned i = 0; i <= TlbBatch::kMaxPages; ++i) full.AddPage(VirtAddr(uint64_t{i} << 12));
  seen.answer = TlbDone::kDeferred;
  TlbShootdown(CpuSet::Of(me) | CpuSet::Of((me + 1) % kMaxCpus), full, Record, &seen);
  t = TlbStatsTotal();
  EXPECT_EQ(t.shootdowns, 2u);
  EXPECT_EQ(t.remote_cpus, 3u);
  EXPECT_EQ(t.full_flushes, 0u);
  EXPECT_EQ(t.deferred, 2u);
  seen.answer = TlbDone::kFull;
  TlbShootdown(CpuSet::Of(me), full, Record, &seen);  // the caller alone: no shootdown
  t = TlbStatsTotal();
  EXPECT_EQ(t.shootdowns, 2u);
  EXPECT_EQ(t.full_flushes, 1u);
}

TEST(TlbShootdown, AnEmptyBatchAsksNoOne) {
  TlbStatsReset();
  Seen seen;
  TlbBatch b(TlbScope::kGlobal);
  TlbShootdown(CpuSet::All(), b, Record, &seen);
  EXPECT_EQ(seen.cpus.load(), 0u);
  EXPECT_EQ(TlbStatsTotal().shootdowns, 0u);
}

TEST(TlbShootdown, SwitchedOffOnlyTheCallerFlushes) {
  Seen seen;
  TlbBatch b(TlbScope::kGlobal);
  b.AddPage(VirtAddr(0x1000));
  SetShootdown(Shootdown::kOff);
  TlbShootdown(CpuSet::All(), b, Record, &seen);
  SetShootdown(Shootdown::kOn);
  EXPECT_EQ(seen.cpus.load(), CpuSet::Of(CpuId()).bits());
}

}  // namespace
}  // namespace kmem
