#include "arch/x86_64/mmu.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "arch/x86_64/ptdump.h"
#include "testing/console_capture.h"
#include "testing/fake_cpu.h"
#include "testing/phys_arena.h"
#include "testing/pt_pages.h"
#include "testing/table_msrs.h"

namespace kmem::x86 {
namespace {

using testing::FakeCpu;

constexpr uint64_t kDm = kDirectMap;
constexpr Attr kRW = Attr::kWrite | Attr::kGlobal;
constexpr Attr kUserRW = Attr::kUser | Attr::kWrite;
constexpr uint64_t kUserVa = 0x0000001000000000;

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%lx", v);
  return buf;
}

struct Leaf {
  uint64_t va;
  unsigned level;
  uint64_t pa;
  friend bool operator==(const Leaf& a, const Leaf& b) { return a.va == b.va && a.level == b.level && a.pa == b.pa; }
};

// QEMU's pc machine at -m 1G as Vmap sees it: RAM below 640 KiB and in [1 MiB, 1 GiB); the MTRRs of
// SeaBIOS there (testing/mtrr/qemu_1G.txt) without the fixed ranges: WB by default, [2G, 4G) UC.
Mtrrs QemuMtrrs() {
  testing::TableMsrs msrs = testing::TableMsrs::Synthetic(1, 0x806);
  msrs.SetRange(0, 0x80000000, 0x80000000, 0);
  CpuInfo cpu;
  cpu.phys_bits = 40;
  cpu.features = static_cast<uint32_t>(CpuFeature::kMtrr);
  return Mtrrs::Read(msrs, cpu);
}
constexpr RamRange kQemuRam[] = {{PhysAddr(0x1000), 0x9e000}, {PhysAddr(0x100000), 0x3ff00000}};

class MmuTest : public ::testing::Test {
 protected:
  MmuTest() : arena_(PhysAddr(0x40000000), 64 << 20), pages_(arena_), mmu_(arena_.direct_map(), pages_, cpu_) {
    EXPECT_EQ(mmu_.Init(Mmu::GiantPages::kYes), MmuStatus::kOk);
    mmu_.SetPhysicalMemory(kQemuRam, 2, mtrrs_);
    kernel_ = mmu_.kernel_table();
    baseline_ = mmu_.table_pages();
  }

  std::vector<Leaf> Leaves(PhysAddr table) {
    std::vector<Leaf> out;
    mmu_.VisitLeaves(
        table,
        [](void* ctx, VirtAddr va, unsigned level, uint64_t e) {
          static_cast<std::vector<Leaf>*>(ctx)->push_back({va.value(), level, e & pte::kAddrMask});
        },
        &out);
    return out;
  }

  void ExpectMapped(PhysAddr table, uint64_t va, uint64_t pa, PageSize size, Attr attrs) {
    Translation t = mmu_.Translate(table, VirtAddr(va));
    ASSERT_EQ(t.status, MmuStatus::kOk) << std::hex << va;
    EXPECT_EQ(t.pa.value(), pa) << std::hex << va;
    EXPECT_EQ(t.size, size) << std::hex << va;
    EXPECT_EQ(t.attrs, attrs) << std::hex << va;
  }

  void ExpectUnmapped(PhysAddr table, uint64_t va) {
    EXPECT_EQ(mmu_.Translate(table, VirtAddr(va)).status, MmuStatus::kNotMapped) << std::hex << va;
  }

  const Mtrrs mtrrs_ = QemuMtrrs();
  testing::PhysArena arena_;
  testing::ArenaPtPages pages_;
  FakeCpu cpu_;
  Mmu mmu_;
  PhysAddr kernel_;
  uint64_t baseline_;
};

TEST_F(MmuTest, InitSharesSevenKernelSlots) { EXPECT_EQ(baseline_, 8u); }

TEST_F(MmuTest, MapsEachPageSizeWithoutFlush) {
  ASSERT_EQ(mmu_.Pmap(kernel_, PhysAddr(0x1000), VirtAddr(kDm + 0x1000), kPageSize, kRW), MmuStatus::kOk);
  ASSERT_EQ(mmu_.Pmap(kernel_, PhysAddr(0x200000), VirtAddr(kDm + 0x200000), k2M, kRW), MmuStatus::kOk);
  ASSERT_EQ(mmu_.Pmap(kernel_, PhysAddr(k1G), VirtAddr(kDm + k1G), k1G, kRW | Attr::kExec), MmuStatus::kOk);
  ExpectMapped(kernel_, kDm + 0x1234, 0x1234, PageSize::k4K, kRW);
  ExpectMapped(kernel_, kDm + 0x3fffff, 0x3fffff, PageSize::k2M, kRW);
  ExpectMapped(kernel_, kDm + k1G + 0x12345678, k1G + 0x12345678, PageSize::k1G, kRW | Attr::kExec);
  ExpectUnmapped(kernel_, kDm);
  ExpectUnmapped(kernel_, kDm + 0x2000);
  EXPECT_TRUE(cpu_.Events().empty());
}

// Mapping [1G - 2M - 4K, 2G + 2M + 4K) picks 4K, 2M, 1G, 2M, 4K pages from the alignment:
//   |4K|  2M  |        1G        |  2M  |4K|
TEST_F(MmuTest, MapUsesLargestPagesAlignmentAllows) {
  const uint64_t start = k1G - k2M - kPageSize;
  const uint64_t size = kPageSize + k2M + k1G + k2M + kPageSize;
  ASSERT_EQ(mmu_.Pmap(kernel_, PhysAddr(start), VirtAddr(kDm + start), size, kRW), MmuStatus::kOk);
  std::vector<Leaf> want = {{kDm + start, 0, start},
                            {kDm + k1G - k2M, 1, k1G - k2M},
                            {kDm + k1G, 2, k1G},
                            {kDm + 2 * k1G, 1, 2 * k1G},
                            {kDm + 2 * k1G + k2M, 0, 2 * k1G + k2M}};
  EXPECT_EQ(Leaves(kernel_), want);
}

TEST_F(MmuTest, WithoutGiantPagesMapsTwoMegabytePages) {
  Mmu mmu(arena_.direct_map(), pages_, cpu_);
  ASSERT_EQ(mmu.Init(Mmu::GiantPages::kNo), MmuStatus::kOk);
  ASSERT_EQ(mmu.Pmap(mmu.kernel_table(), PhysAddr(0), VirtAddr(kDm), k1G, kRW), MmuStatus::kOk);
  EXPECT_EQ(mmu.Translate(mmu.kernel_table(), VirtAddr(kDm + 0x12345)).size, PageSize::k2M);
}

TEST_F(MmuTest, MisalignedRequestsAreRejected) {
  EXPECT_EQ(mmu_.Pmap(kernel_, PhysAddr(0), VirtAddr(kDm + 0x800), kPageSize, kRW), MmuStatus::kMisaligned);
  EXPECT_EQ(mmu_.Pmap(kernel_, PhysAddr(0x800), VirtAddr(kDm), kPageSize, kRW), MmuStatus::kMisaligned);
  EXPECT_EQ(mmu_.Pmap(kernel_, PhysAddr(0), VirtAddr(kDm), 0x1800, kRW), MmuStatus::kMisaligned);
  EXPECT_EQ(mmu_.Pmap(kernel_, PhysAddr(0), VirtAddr(kDm), 0, kRW), MmuStatus::kMisaligned);
  EXPECT_EQ(mmu_.Punmap(kernel_, VirtAddr(kDm + 1), kPageSize), MmuStatus::kMisaligned);
  EXPECT_EQ(mmu_.Protect(kernel_, VirtAddr(kDm), 0x10, kRW), MmuStatus::kMisaligned);
  EXPECT_EQ(mmu_.table_pages(), baseline_);
}

TEST_F(MmuTest, NonCanonicalAddressesAreRejected) {
  EXPECT_EQ(mmu_.Pmap(kernel_, PhysAddr(0), VirtAddr(kUserLimit), kPageSize, kRW), MmuStatus::kNonCanonical);
  EXPECT_EQ(mmu_.Pmap(kernel_, PhysAddr(0), VirtAddr(kKernelBase - kPageSize), kPageSize, kRW),
            MmuStatus::kNonCanonical);
  // Running off the user half into the hole.
  EXPECT_EQ(mmu_.Pmap(kernel_, PhysAddr(0), VirtAddr(kUserLimit - kPageSize), 2 * kPageSize, kUserRW),
            MmuStatus::kNonCanonical);
  // Wrapping past 2^64.
  EXPECT_EQ(mmu_.Punmap(kernel_, VirtAddr(0xfffffffffffff000), 2 * kPageSize), MmuStatus::kNonCanonical);
  EXPECT_EQ(mmu_.Translate(kernel_, VirtAddr(kUserLimit)).status, MmuStatus::kNotMapped);
  EXPECT_EQ(mmu_.table_pages(), baseline_);
}

TEST_F(MmuTest, WrongHalfIsRejected) {
  // User pages in the kernel half, kernel pages in the user half, global user pages.
  EXPECT_EQ(mmu_.Pmap(kernel_, PhysAddr(0), VirtAddr(kDm), kPageSize, kUserRW), MmuStatus::kWrongHalf);
  EXPECT_EQ(mmu_.Pmap(kernel_, PhysAddr(0), VirtAddr(kUserVa), kPageSize, Attr::kWrite), MmuStatus::kWrongHalf);
  EXPECT_EQ(mmu_.Pmap(kernel_, PhysAddr(0), VirtAddr(kUserVa), kPageSize, kUserRW | Attr::kGlobal),
            MmuStatus::kWrongHalf);
  // A kernel slot the layout does not share would not reach the other address spaces.
  EXPECT_EQ(mmu_.Pmap(kernel_, PhysAddr(0), VirtAddr(0xffff900000000000), kPageSize, kRW), MmuStatus::kWrongHalf);
  EXPECT_EQ(mmu_.Protect(kernel_, VirtAddr(kDm), kPageSize, kUserRW), MmuStatus::kWrongHalf);
  EXPECT_EQ(mmu_.table_pages(), baseline_);
}

// Past the CPU's physical width (52 bits by default) a frame address would lose bits or set attribute
// bits: bit 63 is the no-execute bit, 2^52 would map page 0, a range at the top of 2^64 wraps to 0.
TEST_F(MmuTest, PhysicalRangeBeyondTheLimitIsRejected) {
  const uint64_t limit = uint64_t{1} << 52;
  for (uint64_t pa : {uint64_t{0x8000000000001000}, limit, uint64_t{0xfffffffffffff000}}) {
    EXPECT_EQ(mmu_.Pmap(kernel_, PhysAddr(pa), VirtAddr(kDm), kPageSize, kRW), MmuStatus::kBadPhysAddr) << std::hex << pa;
  }
  EXPECT_EQ(mmu_.Pmap(kernel_, PhysAddr(0xfffffffffffff000), VirtAddr(kDm), 2 * kPageSize, kRW), MmuStatus::kBadPhysAddr);
  EXPECT_EQ(mmu_.Pmap(kernel_, PhysAddr(limit - kPageSize), VirtAddr(kDm), 2 * kPageSize, kRW), MmuStatus::kBadPhysAddr);
  EXPECT_EQ(mmu_.table_pages(), baseline_);
  ASSERT_EQ(mmu_.Pmap(kernel_, PhysAddr(limit - kPageSize), VirtAddr(kDm), kPageSize, kRW), MmuStatus::kOk);
  ExpectMapped(kernel_, kDm, limit - kPageSize, PageSize::k4K, kRW);
  EXPECT_EQ(mmu_.Translate(kernel_, VirtAddr(kDm)).pa.value(), limit - kPageSize);
}

TEST_F(MmuTest, PhysicalLimitComesFromInit) {
  const uint64_t limit = uint64_t{1} << 36;
  Mmu mmu(arena_.direct_map(), pages_, cpu_);
  ASSERT_EQ(mmu.Init(Mmu::GiantPages::kYes, PhysAddr(limit)), MmuStatus::kOk);
  const PhysAddr k = mmu.kernel_table();
  EXPECT_EQ(mmu.Pmap(k, PhysAddr(limit), VirtAddr(kDm), kPageSize, kRW), MmuStatus::kBadPhysAddr);
  EXPECT_EQ(mmu.Pmap(k, PhysAddr(limit - k2M), VirtAddr(kDm), 2 * k2M, kRW), MmuStatus::kBadPhysAddr);
  EXPECT_EQ(mmu.Pmap(k, PhysAddr(limit - k1G), VirtAddr(kDm), k1G, kRW), MmuStatus::kOk);
  EXPECT_EQ(mmu.Translate(k, VirtAddr(kDm + k1G - 1)).pa.value(), limit - 1);
}

// The kernel half's top-level entries in a user space are copies whose counts nobody keeps: a kernel
// mapping made or removed through one would corrupt the shared tables' counts (the issue's
// "table count underflow at level 2"). Kernel addresses change only through the kernel's table.
TEST_F(MmuTest, KernelHalfThroughUserSpaceIsWrongHalf) {
  PhysAddr as;
  ASSERT_EQ(mmu_.NewAddressSpace(&as), MmuStatus::kOk);
  const uint64_t pages = mmu_.table_pages();
  EXPECT_EQ(mmu_.Pmap(as, PhysAddr(0x1000), VirtAddr(kDm + k1G), kPageSize, kRW), MmuStatus::kWrongHalf);
  ExpectUnmapped(kernel_, kDm + k1G);
  EXPECT_EQ(mmu_.table_pages(), pages);
  ASSERT_EQ(mmu_.Pmap(kernel_, PhysAddr(0x1000), VirtAddr(kDm + k1G), kPageSize, kRW), MmuStatus::kOk);
  EXPECT_EQ(mmu_.Punmap(as, VirtAddr(kDm + k1G), kPageSize), MmuStatus::kWrongHalf);
  EXPECT_EQ(mmu_.Protect(as, VirtAddr(kDm + k1G), kPageSize, Attr::kGlobal), MmuStatus::kWrongHalf);
  ExpectMapped(as, kDm + k1G, 0x1000, PageSize::k4K, kRW);
  EXPECT_TRUE(cpu_.Events().empty());
  ASSERT_EQ(mmu_.Punmap(kernel_, VirtAddr(kDm + k1G), kPageSize), MmuStatus::kOk);
  ExpectUnmapped(as, kDm + k1G);
  EXPECT_EQ(mmu_.table_pages(), pages);
  EXPECT_DEATH(mmu_.MmuWalk(as, VirtAddr(kDm), 0, Create::kYes),
               "walk creating tables for 0xffff800000000000 in table " + Hex(as.value()) +
                   ": kernel tables only in the kernel's shared slots");
}

// A released space is dead: using it again would write into a page in the pool (or handed out since), and
// releasing it again would put its table into the pool twice, to be handed out twice.
TEST_F(MmuTest, ReleasedSpaceIsDead) {
  PhysAddr as;
  ASSERT_EQ(mmu_.NewAddressSpace(&as), MmuStatus::kOk);
  ASSERT_EQ(mmu_.Pmap(as, PhysAddr(0x1000), VirtAddr(kUserVa), kPageSize, kUserRW), MmuStatus::kOk);
  mmu_.MmuRelease(as);
  auto msg = [&](const char* op) {
    return std::string("mmu: ") + op + " on address space " + Hex(as.value()) + ": the space was released";
  };
  EXPECT_DEATH(mmu_.MmuRelease(as), msg("release"));
  EXPECT_DEATH(mmu_.Pmap(as, PhysAddr(0x1000), VirtAddr(kUserVa), kPageSize, kUserRW), msg("pmap"));
  EXPECT_DEATH(mmu_.Punmap(as, VirtAddr(kUserVa), kPageSize), msg("punmap"));
  EXPECT_DEATH(mmu_.Protect(as, VirtAddr(kUserVa), kPageSize, kUserRW), msg("protect"));
  EXPECT_DEATH(mmu_.MmuSwitch(as), msg("switch"));
  EXPECT_DEATH(mmu_.Translate(as, VirtAddr(kUserVa)), msg("translate"));
}

// The pool hands a released top-level table out again: as a new space it is live; as a lower-level table
// its old address is no address space at all.
TEST_F(MmuTest, ReusedTopLevelTableIsLiveOnlyAsASpace) {
  PhysAddr a, b, other;
  ASSERT_EQ(mmu_.NewAddressSpace(&a), MmuStatus::kOk);
  ASSERT_EQ(mmu_.NewAddressSpace(&other), MmuStatus::kOk);
  mmu_.MmuRelease(a);
  ASSERT_EQ(mmu_.NewAddressSpace(&b), MmuStatus::kOk);
  ASSERT_EQ(b, a);
  ASSERT_EQ(mmu_.Pmap(b, PhysAddr(0x1000), VirtAddr(kUserVa), kPageSize, kUserRW), MmuStatus::kOk);
  mmu_.MmuSwitch(b);
  ExpectMapped(b, kUserVa, 0x1000, PageSize::k4K, kUserRW);
  mmu_.MmuRelease(b);
  // b went into the pool last, so the next table made, other's PDPT, is b's page.
  ASSERT_EQ(mmu_.Pmap(other, PhysAddr(0x1000), VirtAddr(kUserVa), kPageSize, kUserRW), MmuStatus::kOk);
  const PhysAddr pdpt(*mmu_.MmuWalk(other, VirtAddr(kUserVa), kTopLevel, Create::kNo) & pte::kAddrMask);
  ASSERT_EQ(pdpt, b);
  EXPECT_DEATH(mmu_.Pmap(b, PhysAddr(0x1000), VirtAddr(kUserVa), kPageSize, kUserRW),
               "mmu: pmap on " + Hex(b.value()) + ": not an address space \\(its marker entry is 0x0\\)");
}

//   before: [ a ][ b ]        mapped 4K pages at X-8K .. X (a) and nothing else
//   Pmap [X-16K, X+8K) collides with a: nothing changes, nothing leaks.
TEST_F(MmuTest, MapOverMappedPageChangesNothing) {
  const uint64_t x = kUserVa + 0x10000;
  ASSERT_EQ(mmu_.Pmap(kernel_, PhysAddr(0x5000), VirtAddr(x - 0x2000), kPageSize, kUserRW), MmuStatus::kOk);
  const uint64_t pages = mmu_.table_pages();
  EXPECT_EQ(mmu_.Pmap(kernel_, PhysAddr(0x10000), VirtAddr(x - 0x4000), 0x6000, kUserRW), MmuStatus::kAlreadyMapped);
  ExpectUnmapped(kernel_, x - 0x4000);
  ExpectUnmapped(kernel_, x - 0x3000);
  ExpectMapped(kernel_, x - 0x2000, 0x5000, PageSize::k4K, kUserRW);
  EXPECT_EQ(mmu_.table_pages(), pages);
  // A large page over a table that holds a mapping collides too.
  EXPECT_EQ(mmu_.Pmap(kernel_, PhysAddr(0), VirtAddr(AlignDown(x, k2M)), k2M, kUserRW), MmuStatus::kAlreadyMapped);
}

//   before: [            2M page            ]
//   unmap:                [4K]
//   after:  [ 255 x 4K   ]    [ 256 x 4K    ]   same pa, same attributes; one invlpg
TEST_F(MmuTest, PartialUnmapSplits2MPage) {
  ASSERT_EQ(mmu_.Pmap(kernel_, PhysAddr(0x400000), VirtAddr(kDm + 0x400000), k2M, kRW), MmuStatus::kOk);
  ASSERT_EQ(mmu_.Punmap(kernel_, VirtAddr(kDm + 0x4ff000), kPageSize), MmuStatus::kOk);
  ExpectUnmapped(kernel_, kDm + 0x4ff000);
  ExpectMapped(kernel_, kDm + 0x4fe000, 0x4fe000, PageSize::k4K, kRW);
  ExpectMapped(kernel_, kDm + 0x500000, 0x500000, PageSize::k4K, kRW);
  ExpectMapped(kernel_, kDm + 0x400000, 0x400000, PageSize::k4K, kRW);
  EXPECT_EQ(Leaves(kernel_).size(), 511u);
  EXPECT_EQ(cpu_.Take(), std::vector<FakeCpu::Event>{testing::Invlpg(kDm + 0x4ff000)});
}

// A 4K hole in a 1G page splits twice: 1G -> 512 x 2M -> one 2M -> 512 x 4K.
TEST_F(MmuTest, PartialUnmapSplits1GPage) {
  ASSERT_EQ(mmu_.Pmap(kernel_, PhysAddr(k1G), VirtAddr(kDm + k1G), k1G, kRW), MmuStatus::kOk);
  const uint64_t hole = kDm + k1G + 5 * k2M + 3 * kPageSize;
  ASSERT_EQ(mmu_.Punmap(kernel_, VirtAddr(hole), kPageSize), MmuStatus::kOk);
  ExpectUnmapped(kernel_, hole);
  ExpectMapped(kernel_, hole + kPageSize, hole + kPageSize - kDm, PageSize::k4K, kRW);
  ExpectMapped(kernel_, kDm + k1G, k1G, PageSize::k2M, kRW);
  ExpectMapped(kernel_, kDm + 2 * k1G - 1, 2 * k1G - 1, PageSize::k2M, kRW);
  EXPECT_EQ(mmu_.table_pages(), baseline_ + 2);
  EXPECT_EQ(cpu_.Take(), std::vector<FakeCpu::Event>{testing::Invlpg(hole)});
}

// Mapping one user page makes a PDPT, a PD and a PT; unmapping it frees all three. Pages are counted
// in and out of the allocator and the pool.
TEST_F(MmuTest, UnmapReclaimsEmptyTables) {
  PhysAddr as;
  ASSERT_EQ(mmu_.NewAddressSpace(&as), MmuStatus::kOk);
  const size_t out = pages_.outstanding();
  ASSERT_EQ(mmu_.Pmap(as, PhysAddr(0x7000), VirtAddr(kUserVa), kPageSize, kUserRW), MmuStatus::kOk);
  EXPECT_EQ(pages_.outstanding(), out + 3);
  ASSERT_EQ(mmu_.Punmap(as, VirtAddr(kUserVa), kPageSize), MmuStatus::kOk);
  EXPECT_EQ(mmu_.table_pages(), baseline_ + 1);
  EXPECT_EQ(mmu_.pool_pages(), 3u);
  EXPECT_EQ(pages_.outstanding(), out + 3);  // in the pool, not lost
  // The pool feeds the next tables before the allocator does.
  ASSERT_EQ(mmu_.Pmap(as, PhysAddr(0x7000), VirtAddr(kUserVa), kPageSize, kUserRW), MmuStatus::kOk);
  EXPECT_EQ(pages_.outstanding(), out + 3);
  EXPECT_EQ(mmu_.pool_pages(), 0u);
  // The space is not loaded: no flush at all.
  EXPECT_TRUE(cpu_.Events().empty());
}

// One unmap frees many tables: the batch chains them all, one flush covers every page, then every table
// comes back.
TEST_F(MmuTest, UnmapFreeingManyTablesLeaksNothing) {
  PhysAddr as;
  ASSERT_EQ(mmu_.NewAddressSpace(&as), MmuStatus::kOk);
  mmu_.MmuSwitch(as);
  const size_t out = pages_.outstanding();
  const uint64_t n = 2 * TlbBatch::kMaxPages + 3;
  for (uint64_t i = 0; i < n; ++i) {
    ASSERT_EQ(mmu_.Pmap(as, PhysAddr(0x1000), VirtAddr(kUserVa + i * k2M), kPageSize, kUserRW), MmuStatus::kOk);
  }
  cpu_.Take();
  ASSERT_EQ(mmu_.Punmap(as, VirtAddr(kUserVa), n * k2M), MmuStatus::kOk);
  for (uint64_t i = 0; i < n; ++i) ExpectUnmapped(as, kUserVa + i * k2M);
  EXPECT_EQ(mmu_.table_pages(), baseline_ + 1);
  EXPECT_EQ(pages_.outstanding(), out + mmu_.pool_pages());
  // Page 16 overflows the page list: one CR3 reload covers all 35 before their tables are reused.
  EXPECT_EQ(cpu_.Take(), std::vector<FakeCpu::Event>{testing::LoadCr3(as.value())});
}

// A table with two pages keeps living after one goes.
TEST_F(MmuTest, UnmapKeepsTableWithOtherEntries) {
  ASSERT_EQ(mmu_.Pmap(kernel_, PhysAddr(0), VirtAddr(kDm), 2 * kPageSize, kRW), MmuStatus::kOk);
  const uint64_t pages = mmu_.table_pages();
  ASSERT_EQ(mmu_.Punmap(kernel_, VirtAddr(kDm), kPageSize), MmuStatus::kOk);
  EXPECT_EQ(mmu_.table_pages(), pages);
  ASSERT_EQ(mmu_.Punmap(kernel_, VirtAddr(kDm + kPageSize), kPageSize), MmuStatus::kOk);
  EXPECT_EQ(mmu_.table_pages(), baseline_);
}

TEST_F(MmuTest, RemapWithOtherAttributes) {
  ASSERT_EQ(mmu_.Pmap(kernel_, PhysAddr(0x9000), VirtAddr(kDm + 0x9000), 2 * kPageSize, kRW), MmuStatus::kOk);
  ASSERT_EQ(mmu_.Protect(kernel_, VirtAddr(kDm + 0x9000), 2 * kPageSize, Attr::kExec | Attr::kGlobal), MmuStatus::kOk);
  ExpectMapped(kernel_, kDm + 0x9000, 0x9000, PageSize::k4K, Attr::kExec | Attr::kGlobal);
  ExpectMapped(kernel_, kDm + 0xa000, 0xa000, PageSize::k4K, Attr::kExec | Attr::kGlobal);
  EXPECT_EQ(cpu_.Take(), (std::vector<FakeCpu::Event>{testing::Invlpg(kDm + 0x9000), testing::Invlpg(kDm + 0xa000)}));
  // The same attributes again change nothing and flush nothing.
  ASSERT_EQ(mmu_.Protect(kernel_, VirtAddr(kDm + 0x9000), 2 * kPageSize, Attr::kExec | Attr::kGlobal), MmuStatus::kOk);
  EXPECT_TRUE(cpu_.Events().empty());
  // Unmap and map again elsewhere with other attributes.
  ASSERT_EQ(mmu_.Punmap(kernel_, VirtAddr(kDm + 0x9000), 2 * kPageSize), MmuStatus::kOk);
  ASSERT_EQ(mmu_.Pmap(kernel_, PhysAddr(0x20000), VirtAddr(kDm + 0x9000), kPageSize, Attr::kUncached), MmuStatus::kOk);
  ExpectMapped(kernel_, kDm + 0x9000, 0x20000, PageSize::k4K, Attr::kUncached);
}

//   before: [          2M, RW          ]
//   protect:        [ 8K RO ]
//   after:  [ RW   ][ RO    ][  RW     ]   4K pages
TEST_F(MmuTest, ProtectPartOf2MPageSplitsIt) {
  ASSERT_EQ(mmu_.Pmap(kernel_, PhysAddr(0), VirtAddr(kDm), k2M, kRW), MmuStatus::kOk);
  ASSERT_EQ(mmu_.Protect(kernel_, VirtAddr(kDm + 0x10000), 0x2000, Attr::kGlobal), MmuStatus::kOk);
  ExpectMapped(kernel_, kDm + 0xf000, 0xf000, PageSize::k4K, kRW);
  ExpectMapped(kernel_, kDm + 0x10000, 0x10000, PageSize::k4K, Attr::kGlobal);
  ExpectMapped(kernel_, kDm + 0x11000, 0x11000, PageSize::k4K, Attr::kGlobal);
  ExpectMapped(kernel_, kDm + 0x12000, 0x12000, PageSize::k4K, kRW);
  EXPECT_EQ(cpu_.Take(), (std::vector<FakeCpu::Event>{testing::Invlpg(kDm + 0x10000), testing::Invlpg(kDm + 0x11000)}));
}

TEST_F(MmuTest, ProtectSkipsHoles) {
  ASSERT_EQ(mmu_.Pmap(kernel_, PhysAddr(0), VirtAddr(kDm + 0x3000), kPageSize, kRW), MmuStatus::kOk);
  ASSERT_EQ(mmu_.Protect(kernel_, VirtAddr(kDm), k1G, Attr::kGlobal), MmuStatus::kOk);
  ExpectMapped(kernel_, kDm + 0x3000, 0, PageSize::k4K, Attr::kGlobal);
  ExpectUnmapped(kernel_, kDm);
  EXPECT_EQ(cpu_.Take(), std::vector<FakeCpu::Event>{testing::Invlpg(kDm + 0x3000)});
}

// A copy-on-write copy takes a shared page's place: the one entry changes frame and attributes, the tables
// stay (no page taken or given back, the table's count unchanged, so a later unmap still frees them).
TEST_F(MmuTest, RepointChangesOneLeafsFrameAndKeepsItsTables) {
  PhysAddr as;
  ASSERT_EQ(mmu_.NewAddressSpace(&as), MmuStatus::kOk);
  ASSERT_EQ(mmu_.Pmap(as, PhysAddr(0x5000), VirtAddr(kUserVa), kPageSize, Attr::kUser), MmuStatus::kOk);
  const size_t tables = mmu_.table_pages();
  TlbBatch b(TlbScope::kSpace);
  ASSERT_EQ(mmu_.Repoint(as, VirtAddr(kUserVa), PhysAddr(0x9000), kUserRW, b), MmuStatus::kOk);
  ASSERT_EQ(b.count(), 1u);
  EXPECT_EQ(b.page(0).value(), kUserVa);
  ExpectMapped(as, kUserVa, 0x9000, PageSize::k4K, kUserRW);
  EXPECT_EQ(mmu_.table_pages(), tables);
  TlbBatch none(TlbScope::kSpace);
  EXPECT_EQ(mmu_.Repoint(as, VirtAddr(kUserVa + kPageSize), PhysAddr(0x9000), kUserRW, none), MmuStatus::kNotMapped);
  EXPECT_EQ(mmu_.Repoint(as, VirtAddr(kUserVa + 0x800), PhysAddr(0x9000), kUserRW, none), MmuStatus::kMisaligned);
  EXPECT_TRUE(none.empty());
  // The PT still counts its one entry: unmapping it frees the PT, the PD and the PDPT.
  ASSERT_EQ(mmu_.Punmap(as, VirtAddr(kUserVa), kPageSize), MmuStatus::kOk);
  EXPECT_EQ(mmu_.table_pages(), baseline_ + 1);
}

// A large page is not a 4 KiB leaf: Repoint refuses it rather than repoint 2 MiB.
TEST_F(MmuTest, RepointRefusesALargePage) {
  ASSERT_EQ(mmu_.Pmap(kernel_, PhysAddr(0), VirtAddr(kDm), k2M, kRW), MmuStatus::kOk);
  TlbBatch b(TlbScope::kGlobal);
  EXPECT_EQ(mmu_.Repoint(kernel_, VirtAddr(kDm), PhysAddr(0x9000), kRW, b), MmuStatus::kNotMapped);
  ExpectMapped(kernel_, kDm + 0x1000, 0x1000, PageSize::k2M, kRW);
}

// Three user pages across a 2 MiB boundary with a hole between, and a 2 MiB page after them:
//   kUserVa  +1000 (hole)  +1ff000 | +200000        +400000 .. +600000 (one 2 MiB leaf)
//   A         -            A D     | -
// Harvest reports the three 4 KiB leaves with their bits, clears them, batches the two that had any, and
// skips the large leaf; a second harvest finds nothing set and batches nothing.
TEST_F(MmuTest, HarvestReadsAndClearsAccessedAndDirtyOf4KLeaves) {
  PhysAddr as;
  ASSERT_EQ(mmu_.NewAddressSpace(&as), MmuStatus::kOk);
  const uint64_t pages[] = {kUserVa, kUserVa + 0x1ff000, kUserVa + 0x200000};
  for (uint64_t va : pages) {
    ASSERT_EQ(mmu_.Pmap(as, PhysAddr(va - kUserVa + 0x5000), VirtAddr(va), kPageSize, kUserRW), MmuStatus::kOk);
  }
  ASSERT_EQ(mmu_.Pmap(as, PhysAddr(0x400000), VirtAddr(kUserVa + 0x400000), k2M, kUserRW), MmuStatus::kOk);
  *mmu_.MmuWalk(as, VirtAddr(pages[0]), 0, Create::kNo) |= pte::kAccessed;
  *mmu_.MmuWalk(as, VirtAddr(pages[1]), 0, Create::kNo) |= pte::kAccessed | pte::kDirty;
  *mmu_.MmuWalk(as, VirtAddr(kUserVa + 0x400000), 1, Create::kNo) |= pte::kAccessed;
  struct Seen {
    uint64_t va, pa, bits;
  };
  const auto harvest = [&](TlbBatch& b) {
    std::vector<Seen> seen;
    EXPECT_EQ(mmu_.Harvest(
                  as, VirtAddr(kUserVa), 0x600000,
                  [](void* ctx, VirtAddr va, uint64_t e) {
                    static_cast<std::vector<Seen>*>(ctx)->push_back(
                        {va.value(), e & pte::kAddrMask, e & (pte::kAccessed | pte::kDirty)});
                  },
                  &seen, b),
              MmuStatus::kOk);
    return seen;
  };
  TlbBatch b(TlbScope::kSpace);
  std::vector<Seen> seen = harvest(b);
  ASSERT_EQ(seen.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(seen[i].va, pages[i]);
    EXPECT_EQ(seen[i].pa, pages[i] - kUserVa + 0x5000);
  }
  EXPECT_EQ(seen[0].bits, pte::kAccessed);
  EXPECT_EQ(seen[1].bits, pte::kAccessed | pte::kDirty);
  EXPECT_EQ(seen[2].bits, 0u);
  ASSERT_EQ(b.count(), 2u);
  EXPECT_EQ(b.page(0).value(), pages[0]);
  EXPECT_EQ(b.page(1).value(), pages[1]);
  for (uint64_t va : pages) {
    EXPECT_EQ(*mmu_.MmuWalk(as, VirtAddr(va), 0, Create::kNo) & (pte::kAccessed | pte::kDirty), 0u);
  }
  ExpectMapped(as, pages[1], 0x5000 + 0x1ff000, PageSize::k4K, kUserRW);
  EXPECT_NE(*mmu_.MmuWalk(as, VirtAddr(kUserVa + 0x400000), 1, Create::kNo) & pte::kAccessed, 0u);
  TlbBatch again(TlbScope::kSpace);
  seen = harvest(again);
  EXPECT_EQ(seen.size(), 3u);
  for (const Seen& s : seen) EXPECT_EQ(s.bits, 0u);
  EXPECT_TRUE(again.empty());
  mmu_.MmuRelease(as);
}

TEST_F(MmuTest, UnmapFlushesEachPageUpToTheBatchLimit) {
  const uint64_t n = TlbBatch::kMaxPages;
  ASSERT_EQ(mmu_.Pmap(kernel_, PhysAddr(0), VirtAddr(kDm), n * kPageSize, kRW), MmuStatus::kOk);
  ASSERT_EQ(mmu_.Punmap(kernel_, VirtAddr(kDm), n * kPageSize), MmuStatus::kOk);
  std::vector<FakeCpu::Event> want;
  for (uint64_t i = 0; i < n; ++i) want.push_back(testing::Invlpg(kDm + i * kPageSize));
  EXPECT_EQ(cpu_.Take(), want);
}

TEST_F(MmuTest, UnmapOfManyKernelPagesFlushesGlobalOnce) {
  const uint64_t n = TlbBatch::kMaxPages + 1;
  ASSERT_EQ(mmu_.Pmap(kernel_, PhysAddr(0), VirtAddr(kDm), n * kPageSize, kRW), MmuStatus::kOk);
  ASSERT_EQ(mmu_.Punmap(kernel_, VirtAddr(kDm), n * kPageSize), MmuStatus::kOk);
  EXPECT_EQ(cpu_.Take(), std::vector<FakeCpu::Event>{testing::FlushGlobal()});
}

TEST_F(MmuTest, UnmapOfManyUserPagesReloadsCr3Once) {
  PhysAddr as;
  ASSERT_EQ(mmu_.NewAddressSpace(&as), MmuStatus::kOk);
  mmu_.MmuSwitch(as);
  EXPECT_EQ(cpu_.Take(), std::vector<FakeCpu::Event>{testing::LoadCr3(as.value())});
  const uint64_t n = TlbBatch::kMaxPages + 1;
  ASSERT_EQ(mmu_.Pmap(as, PhysAddr(0), VirtAddr(kUserVa), n * kPageSize, kUserRW), MmuStatus::kOk);
  ASSERT_EQ(mmu_.Punmap(as, VirtAddr(kUserVa), n * kPageSize), MmuStatus::kOk);
  EXPECT_EQ(cpu_.Take(), std::vector<FakeCpu::Event>{testing::LoadCr3(as.value())});
  // Switching to the loaded space does nothing.
  mmu_.MmuSwitch(as);
  EXPECT_TRUE(cpu_.Events().empty());
}

// Create two spaces, map user pages in each, switch between them, release both: every page-table page
// comes back, the kernel half is shared, and releasing the loaded space switches to the kernel first.
TEST_F(MmuTest, AddressSpaceLifecycleLeaksNothing) {
  const size_t out = pages_.outstanding();
  PhysAddr a, b;
  ASSERT_EQ(mmu_.NewAddressSpace(&a), MmuStatus::kOk);
  ASSERT_EQ(mmu_.NewAddressSpace(&b), MmuStatus::kOk);
  ASSERT_EQ(mmu_.Pmap(a, PhysAddr(0x1000), VirtAddr(kUserVa), 3 * k2M, kUserRW), MmuStatus::kOk);
  ASSERT_EQ(mmu_.Pmap(a, PhysAddr(0x1000), VirtAddr(0x7ffffffff000), kPageSize, kUserRW), MmuStatus::kOk);
  ASSERT_EQ(mmu_.Pmap(b, PhysAddr(0x2000), VirtAddr(kUserVa), kPageSize, kUserRW | Attr::kExec), MmuStatus::kOk);
  ASSERT_EQ(mmu_.Pmap(kernel_, PhysAddr(0x3000), VirtAddr(kDm), kPageSize, kRW), MmuStatus::kOk);
  ExpectMapped(a, kDm, 0x3000, PageSize::k4K, kRW);
  ExpectMapped(b, kDm, 0x3000, PageSize::k4K, kRW);
  ExpectMapped(a, kUserVa, 0x1000, PageSize::k4K, kUserRW);
  ExpectMapped(b, kUserVa, 0x2000, PageSize::k4K, kUserRW | Attr::kExec);
  ExpectUnmapped(kernel_, kUserVa);

  mmu_.MmuSwitch(a);
  mmu_.MmuSwitch(b);
  EXPECT_EQ(cpu_.Take(), (std::vector<FakeCpu::Event>{testing::LoadCr3(a.value()), testing::LoadCr3(b.value())}));
  mmu_.MmuRelease(a);
  EXPECT_TRUE(cpu_.Events().empty());
  mmu_.MmuRelease(b);
  EXPECT_EQ(cpu_.Take(), std::vector<FakeCpu::Event>{testing::LoadCr3(kernel_.value())});
  EXPECT_EQ(mmu_.current(), kernel_);
  ExpectMapped(kernel_, kDm, 0x3000, PageSize::k4K, kRW);

  ASSERT_EQ(mmu_.Punmap(kernel_, VirtAddr(kDm), kPageSize), MmuStatus::kOk);
  EXPECT_EQ(mmu_.table_pages(), baseline_);
  EXPECT_EQ(pages_.outstanding(), out + mmu_.pool_pages());
}

// A space with more page-table pages than the pool holds gives the surplus back to the allocator.
TEST_F(MmuTest, ReleaseReturnsPoolSurplusToAllocator) {
  PhysAddr as;
  ASSERT_EQ(mmu_.NewAddressSpace(&as), MmuStatus::kOk);
  const size_t out = pages_.outstanding() - 1;
  for (uint64_t i = 0; i < 100; ++i) {
    ASSERT_EQ(mmu_.Pmap(as, PhysAddr(0), VirtAddr(i * k1G), kPageSize, kUserRW), MmuStatus::kOk);
  }
  mmu_.MmuRelease(as);
  EXPECT_EQ(mmu_.pool_pages(), Mmu::kPoolLimit);
  EXPECT_EQ(pages_.outstanding(), out + Mmu::kPoolLimit);
}

// The pool is per CPU: pages freed on CPU 1 do not feed CPU 0.
TEST_F(MmuTest, PoolIsPerCpu) {
  PhysAddr as;
  ASSERT_EQ(mmu_.NewAddressSpace(&as), MmuStatus::kOk);
  std::thread([&] {
    mmu_.MmuRelease(as);
    EXPECT_EQ(mmu_.pool_pages(), 1u);
  }).join();
  EXPECT_EQ(mmu_.pool_pages(), 0u);
}

// The allocator runs dry in the middle of a map, at each point in turn: the call fails and leaves no trace.
TEST_F(MmuTest, MapOutOfMemoryChangesNothing) {
  PhysAddr as;
  ASSERT_EQ(mmu_.NewAddressSpace(&as), MmuStatus::kOk);
  const size_t out = pages_.outstanding();
  // `budget` pages are available in all, the pool's included (failed attempts fill the pool).
  for (long budget = 0; budget < 5; ++budget) {
    if (mmu_.pool_pages() > budget) continue;
    pages_.set_budget(budget - mmu_.pool_pages());
    // Two PDs and PTs are needed: [1G - 8K, 1G + 8K) crosses a PDPT entry.
    EXPECT_EQ(mmu_.Pmap(as, PhysAddr(0), VirtAddr(k1G - 0x2000), 0x4000, kUserRW), MmuStatus::kNoMemory) << budget;
    ExpectUnmapped(as, k1G - 0x2000);
    ExpectUnmapped(as, k1G);
    EXPECT_EQ(mmu_.table_pages(), baseline_ + 1) << budget;
    EXPECT_EQ(pages_.outstanding(), out + mmu_.pool_pages()) << budget;
  }
  pages_.set_budget(-1);
  EXPECT_EQ(mmu_.Pmap(as, PhysAddr(0), VirtAddr(k1G - 0x2000), 0x4000, kUserRW), MmuStatus::kOk);
}

// Kernel mappings are every CPU's: Vunmap and Kunmap flush each online CPU (the host's other CPU ids,
// idle, answer the cross-call) before the address can be handed out again.
TEST_F(MmuTest, VunmapAndKunmapFlushEveryOnlineCpu) {
  struct Seen {
    FakeCpu* cpu;
    std::vector<FakeCpu::Event> want;
    std::atomic<uint32_t> same{0};
  };
  auto on_others = [](Seen& seen) {
    CrossCall(
        OnlineCpus().Without(CpuId()),
        [](void* p) {
          Seen& s = *static_cast<Seen*>(p);
          if (s.cpu->Take() == s.want) s.same |= CpuSet::Of(CpuId()).bits();
        },
        &seen);
    return CpuSet(seen.same.load());
  };
  CrossCall(OnlineCpus(), [](void* c) { static_cast<FakeCpu*>(c)->Take(); }, &cpu_);
  VirtAddr va, k;
  ASSERT_EQ(mmu_.Vmap(PhysAddr(0xfebc1000), kPageSize, &va), MmuStatus::kOk);
  ASSERT_EQ(mmu_.Kmap(PhysAddr(5 * k1G), &k), MmuStatus::kOk);
  ASSERT_EQ(mmu_.Vunmap(va, kPageSize), MmuStatus::kOk);
  Seen vunmap{&cpu_, {testing::Invlpg(va.value())}};
  EXPECT_EQ(on_others(vunmap), OnlineCpus().Without(CpuId()));
  mmu_.Kunmap(k);
  Seen kunmap{&cpu_, {testing::Invlpg(k.value())}};
  EXPECT_EQ(on_others(kunmap), OnlineCpus().Without(CpuId()));
  EXPECT_EQ(cpu_.Take(), (std::vector<FakeCpu::Event>{testing::Invlpg(va.value()), testing::Invlpg(k.value())}));
}

TEST_F(MmuTest, VmapMapsDeviceMemoryUncached) {
  VirtAddr va;
  ASSERT_EQ(mmu_.Vmap(PhysAddr(0xfebc1010), 0x20, &va), MmuStatus::kOk);
  EXPECT_EQ(va.value(), kVmap + 0x10);
  ExpectMapped(kernel_, va.value(), 0xfebc1010, PageSize::k4K, Attr::kWrite | Attr::kGlobal | Attr::kUncached);
  VirtAddr big;
  ASSERT_EQ(mmu_.Vmap(PhysAddr(0xc0000000), 4 * k2M, &big), MmuStatus::kOk);
  EXPECT_EQ(big.value(), kVmap + k2M);
  EXPECT_EQ(mmu_.Translate(kernel_, big).size, PageSize::k2M);
  EXPECT_EQ(mmu_.Vunmap(va, 0x2000), MmuStatus::kNotMapped);  // not the size it was given
  ASSERT_EQ(mmu_.Vunmap(va, 0x20), MmuStatus::kOk);
  ExpectUnmapped(kernel_, va.value());
  EXPECT_EQ(cpu_.Take(), std::vector<FakeCpu::Event>{testing::Invlpg(kVmap)});
  // The first gap is free again.
  VirtAddr again;
  ASSERT_EQ(mmu_.Vmap(PhysAddr(0xfee00000), kPageSize, &again), MmuStatus::kOk);
  EXPECT_EQ(again.value(), kVmap);
  EXPECT_EQ(mmu_.Vunmap(VirtAddr(kVmap + 0x5000), kPageSize), MmuStatus::kNotMapped);
}

TEST_F(MmuTest, VmapRejectsEmptyAndWrappingRangesAndRunsOutOfSlots) {
  VirtAddr va;
  EXPECT_EQ(mmu_.Vmap(PhysAddr(0xfee00000), 0, &va), MmuStatus::kMisaligned);
  EXPECT_EQ(mmu_.Vmap(PhysAddr(0xfffffffffffff000), 0x2000, &va), MmuStatus::kMisaligned);
  std::vector<VirtAddr> got;
  for (uint64_t i = 0;; ++i) {
    MmuStatus s = mmu_.Vmap(PhysAddr(0xfe000000 + i * kPageSize), kPageSize, &va);
    if (s != MmuStatus::kOk) {
      EXPECT_EQ(s, MmuStatus::kNoSpace);
      break;
    }
    got.push_back(va);
  }
  EXPECT_EQ(got.size(), 512u);  // Mmu::kMaxVmaps
  for (VirtAddr v : got) EXPECT_EQ(mmu_.Vunmap(v, kPageSize), MmuStatus::kOk);
  EXPECT_EQ(mmu_.table_pages(), baseline_);
}

// The direct map has RAM write-back; an uncached alias of it is what the CPU manuals forbid.
TEST_F(MmuTest, VmapRefusesRam) {
  VirtAddr va;
  EXPECT_EQ(mmu_.Vmap(PhysAddr(0x200000), k2M, &va), MmuStatus::kIsRam);
  EXPECT_EQ(mmu_.Vmap(PhysAddr(0x9f000 - 8), 16, &va), MmuStatus::kIsRam) << "the last bytes of low RAM";
  EXPECT_EQ(mmu_.Vmap(PhysAddr(0x3ffff000), 0x2000, &va), MmuStatus::kIsRam) << "straddling the end of RAM";
  EXPECT_EQ(mmu_.Vmap(PhysAddr(0x200000), k2M, &va, Cache::kWriteBack), MmuStatus::kIsRam);
  EXPECT_EQ(mmu_.table_pages(), baseline_);
  ASSERT_EQ(mmu_.Vmap(PhysAddr(0x9f000), 0x1000, &va), MmuStatus::kOk) << "the EBDA page above low RAM";
  EXPECT_EQ(mmu_.Vunmap(va, 0x1000), MmuStatus::kOk);
}

//   1G        2G                    4G
//   |--WB-----|--UC (variable 0)----|--WB--
TEST_F(MmuTest, VmapCacheTypesAgreeWithTheMtrrs) {
  VirtAddr wc, wb, uc;
  ASSERT_EQ(mmu_.Vmap(PhysAddr(0xfd000000), 4 * k2M, &wc, Cache::kWriteCombining), MmuStatus::kOk);
  ExpectMapped(kernel_, wc.value(), 0xfd000000, PageSize::k2M, Attr::kWrite | Attr::kGlobal | Attr::kWriteCombining);
  EXPECT_EQ(mmu_.Translate(kernel_, wc).size, PageSize::k2M);
  EXPECT_EQ(*mmu_.MmuWalk(kernel_, wc, 1, Create::kNo) & (pte::kWriteThrough | pte::kCacheDisable), pte::kWriteThrough)
      << "PWT alone: PAT entry 1, WC";
  EXPECT_EQ(mmu_.Vmap(PhysAddr(0xfee00000), kPageSize, &wb, Cache::kWriteBack), MmuStatus::kMemoryTypeConflict)
      << "WB where the MTRRs say UC would be UC";
  ASSERT_EQ(mmu_.Vmap(PhysAddr(0x40000000), kPageSize, &wb, Cache::kWriteBack), MmuStatus::kOk);
  ExpectMapped(kernel_, wb.value(), 0x40000000, PageSize::k4K, Attr::kWrite | Attr::kGlobal);
  EXPECT_EQ(mmu_.Vmap(PhysAddr(0x80000000 - kPageSize), 2 * kPageSize, &uc), MmuStatus::kMixedMemoryType);
  ASSERT_EQ(mmu_.Vmap(PhysAddr(0x40001000), kPageSize, &uc), MmuStatus::kOk) << "UC is always what it says";
  testing::ConsoleCapture out;
  MmuDump(mmu_, kernel_);
  EXPECT_NE(out.text().find(" x 2M -W-Gc -> 00000000fd000000\n"), std::string::npos) << out.text();
  EXPECT_NE(out.text().find(" x 4K -W-G- -> 0000000040000000\n"), std::string::npos) << out.text();
  EXPECT_NE(out.text().find(" x 4K -W-GC -> 0000000040001000\n"), std::string::npos) << out.text();
  for (auto [v, size] : {std::pair{wc, 4 * k2M}, {wb, kPageSize}, {uc, kPageSize}}) {
    EXPECT_EQ(mmu_.Vunmap(v, size), MmuStatus::kOk);
  }
  EXPECT_EQ(mmu_.table_pages(), baseline_);
}

TEST(MmuDeathTest, VmapNeedsToKnowPhysicalMemory) {
  testing::PhysArena arena(PhysAddr(0x40000000), 1 << 20);
  testing::ArenaPtPages pages(arena);
  FakeCpu cpu;
  Mmu mmu(arena.direct_map(), pages, cpu);
  ASSERT_EQ(mmu.Init(Mmu::GiantPages::kNo), MmuStatus::kOk);
  VirtAddr va;
  EXPECT_DEATH(mmu.Vmap(PhysAddr(0xfee00000), kPageSize, &va), "vmap of 0xfee00000 before SetPhysicalMemory");
}

TEST_F(MmuTest, KmapUsesDirectMapThenFreeSlots) {
  mmu_.SetDirectMapEnd(PhysAddr(k1G));
  VirtAddr direct;
  ASSERT_EQ(mmu_.Kmap(PhysAddr(0x5000), &direct), MmuStatus::kOk);
  EXPECT_EQ(direct, DirectMapAddressOf(PhysAddr(0x5000)));
  mmu_.Kunmap(direct);
  EXPECT_TRUE(cpu_.Events().empty());
  VirtAddr a, b;
  ASSERT_EQ(mmu_.Kmap(PhysAddr(5 * k1G), &a), MmuStatus::kOk);
  ASSERT_EQ(mmu_.Kmap(PhysAddr(6 * k1G), &b), MmuStatus::kOk);
  EXPECT_EQ(a.value(), kKmap);
  EXPECT_EQ(b.value(), kKmap + kPageSize);
  ExpectMapped(kernel_, a.value(), 5 * k1G, PageSize::k4K, kRW);
  mmu_.Kunmap(a);
  ExpectUnmapped(kernel_, a.value());
  EXPECT_EQ(cpu_.Take(), std::vector<FakeCpu::Event>{testing::Invlpg(kKmap)});
  // The freed slot is the lowest free one again; b keeps its page.
  VirtAddr c;
  ASSERT_EQ(mmu_.Kmap(PhysAddr(8 * k1G), &c), MmuStatus::kOk);
  EXPECT_EQ(c, a);
  EXPECT_TRUE(cpu_.Events().empty());
  ExpectMapped(kernel_, c.value(), 8 * k1G, PageSize::k4K, kRW);
  ExpectMapped(kernel_, b.value(), 6 * k1G, PageSize::k4K, kRW);
}

// With every slot held, Kmap says so and takes no slot from its holder; a Kunmap frees one for the next.
TEST_F(MmuTest, KmapExhaustionIsNoSpaceUntilKunmap) {
  std::vector<VirtAddr> held(kKmapSlots);
  for (unsigned i = 0; i < kKmapSlots; ++i) {
    ASSERT_EQ(mmu_.Kmap(PhysAddr(4 * k1G + i * kPageSize), &held[i]), MmuStatus::kOk) << i;
  }
  VirtAddr va(0x1234);
  EXPECT_EQ(mmu_.Kmap(PhysAddr(9 * k1G), &va), MmuStatus::kNoSpace);
  EXPECT_EQ(va.value(), 0x1234u);
  EXPECT_TRUE(cpu_.Events().empty());
  for (unsigned i = 0; i < kKmapSlots; ++i) {
    ExpectMapped(kernel_, held[i].value(), 4 * k1G + i * kPageSize, PageSize::k4K, kRW);
  }
  mmu_.Kunmap(held[100]);
  ASSERT_EQ(mmu_.Kmap(PhysAddr(9 * k1G), &va), MmuStatus::kOk);
  EXPECT_EQ(va, held[100]);
  ExpectMapped(kernel_, va.value(), 9 * k1G, PageSize::k4K, kRW);
  EXPECT_EQ(mmu_.Kmap(PhysAddr(10 * k1G), &va), MmuStatus::kNoSpace);
}

// PCIDs: none without CR4.PCIDE (every load flushes PCID 0); with it, 1 to 4095 once each, 0 when they run
// out, and a load may keep the space's entries.
TEST_F(MmuTest, PcidsAreHandedOutOnceAndLoadedWithTheNoFlushBit) {
  PhysAddr as;
  ASSERT_EQ(mmu_.NewAddressSpace(&as), MmuStatus::kOk);
  EXPECT_EQ(mmu_.NewPcid(), 0u);
  mmu_.MmuSwitch(as, 5, TlbReuse::kKeep);
  EXPECT_EQ(cpu_.Take(), std::vector<FakeCpu::Event>{testing::LoadCr3(as.value())});
  mmu_.SetPcids(Mmu::Pcids::kYes);
  std::vector<uint16_t> got;
  for (unsigned i = 1; i < Mmu::kPcids; ++i) got.push_back(mmu_.NewPcid());
  EXPECT_EQ(got.front(), 1u);
  EXPECT_EQ(got.back(), Mmu::kPcids - 1);
  EXPECT_EQ(mmu_.NewPcid(), 0u);  // all taken
  mmu_.FreePcid(7);
  EXPECT_EQ(mmu_.NewPcid(), 7u);
  mmu_.MmuSwitch(kernel_);
  mmu_.MmuSwitch(as, 7, TlbReuse::kKeep);
  mmu_.MmuSwitch(kernel_);
  mmu_.MmuSwitch(as, 7, TlbReuse::kFlush);
  EXPECT_EQ(cpu_.Take(), (std::vector<FakeCpu::Event>{testing::LoadCr3(kernel_.value()),
                                                      testing::LoadCr3(as.value() | 7 | FakeCpu::kNoFlush),
                                                      testing::LoadCr3(kernel_.value()), testing::LoadCr3(as.value() | 7)}));
}

// With PCIDs, kernel tables may sit in the paging-structure caches of every PCID, and invlpg drops only the
// current one's: a kernel unmap that frees a table flushes globally (CR4.PGE, every PCID); one that frees
// none still takes its pages one by one. Without PCIDs the invlpg is enough.
TEST_F(MmuTest, WithPcidsAKernelUnmapThatFreesTablesFlushesEveryPcid) {
  const VirtAddr a(kVmap + k1G), b(kVmap + k1G + kPageSize);
  for (Mmu::Pcids pcids : {Mmu::Pcids::kNo, Mmu::Pcids::kYes}) {
    mmu_.SetPcids(pcids);
    ASSERT_EQ(mmu_.Pmap(kernel_, PhysAddr(0xfebc0000), a, 2 * kPageSize, kRW), MmuStatus::kOk);
    cpu_.Take();
    ASSERT_EQ(mmu_.Punmap(kernel_, a, kPageSize), MmuStatus::kOk);  // the table keeps b
    EXPECT_EQ(cpu_.Take(), std::vector<FakeCpu::Event>{testing::Invlpg(a.value())});
    ASSERT_EQ(mmu_.Punmap(kernel_, b, kPageSize), MmuStatus::kOk);  // its page table and directory go
    EXPECT_EQ(cpu_.Take(), std::vector<FakeCpu::Event>{pcids == Mmu::Pcids::kYes ? testing::FlushGlobal()
                                                                                  : testing::Invlpg(b.value())});
  }
}

using PcidDeathTest = MmuTest;
TEST_F(PcidDeathTest, FreeingAPcidNotInUsePanics) {
  mmu_.SetPcids(Mmu::Pcids::kYes);
  const uint16_t pcid = mmu_.NewPcid();
  mmu_.FreePcid(pcid);
  EXPECT_DEATH(mmu_.FreePcid(pcid), "mmu: free of pcid 1, which is not in use");
}

// Kunmap of a slot no one holds (twice, or never Kmap'ed), of an address inside a slot, or of one outside
// KMAP and the direct map, is a caller's bug: it panics with the address instead of doing nothing.
using KmapDeathTest = MmuTest;
TEST_F(KmapDeathTest, KunmapOfASlotNotHeldPanicsWithTheAddress) {
  mmu_.SetDirectMapEnd(PhysAddr(k1G));
  VirtAddr a;
  ASSERT_EQ(mmu_.Kmap(PhysAddr(5 * k1G), &a), MmuStatus::kOk);
  mmu_.Kunmap(a);
  EXPECT_DEATH(mmu_.Kunmap(a), "mmu: kunmap of 0xffff828000000000, which is no held KMAP slot and not in the direct map");
  EXPECT_DEATH(mmu_.Kunmap(VirtAddr(kKmap + 7 * kPageSize)), "kunmap of 0xffff828000007000, which is no held KMAP slot");
  ASSERT_EQ(mmu_.Kmap(PhysAddr(5 * k1G), &a), MmuStatus::kOk);
  EXPECT_DEATH(mmu_.Kunmap(a + 8), "kunmap of 0xffff828000000008, which is no held KMAP slot");
  EXPECT_DEATH(mmu_.Kunmap(VirtAddr(kVmap)), "kunmap of 0xffff820000000000, which is no held KMAP slot");
  EXPECT_DEATH(mmu_.Kunmap(DirectMapAddressOf(PhysAddr(k1G))), "kunmap of 0xffff800040000000, which is no held");
  mmu_.Kunmap(DirectMapAddressOf(PhysAddr(k1G - kPageSize)));  // in the direct map: nothing to do
  mmu_.Kunmap(a);
}

// A Kmap that cannot map its slot (no page-table page, a frame past the physical limit) leaves it free.
TEST_F(MmuTest, KmapFailureKeepsTheSlotFree) {
  VirtAddr va;
  pages_.set_budget(0);
  EXPECT_EQ(mmu_.Kmap(PhysAddr(5 * k1G), &va), MmuStatus::kNoMemory);
  pages_.set_budget(-1);
  EXPECT_EQ(mmu_.Kmap(PhysAddr(uint64_t{1} << 52), &va), MmuStatus::kBadPhysAddr);
  ASSERT_EQ(mmu_.Kmap(PhysAddr(5 * k1G), &va), MmuStatus::kOk);
  EXPECT_EQ(va.value(), kKmap);
}

TEST_F(MmuTest, DumpCoalescesRuns) {
  ASSERT_EQ(mmu_.Pmap(kernel_, PhysAddr(0), VirtAddr(kDm), 2 * k1G, kRW), MmuStatus::kOk);
  ASSERT_EQ(mmu_.Pmap(kernel_, PhysAddr(0x100000), VirtAddr(kKtzero), 0x5000, Attr::kExec | Attr::kGlobal), MmuStatus::kOk);
  ASSERT_EQ(mmu_.Pmap(kernel_, PhysAddr(0x105000), VirtAddr(kKtzero + 0x5000), 0x3000, kRW), MmuStatus::kOk);
  PhysAddr as;
  ASSERT_EQ(mmu_.NewAddressSpace(&as), MmuStatus::kOk);
  ASSERT_EQ(mmu_.Pmap(as, PhysAddr(0x200000), VirtAddr(0x400000), k2M, kUserRW), MmuStatus::kOk);
  testing::ConsoleCapture capture;
  EXPECT_EQ(MmuDump(mmu_, as), 4u);
  EXPECT_EQ(capture.text(),
            "0000000000400000-0000000000600000     2M     1 x 2M UW--- -> 0000000000200000\n"
            "ffff800000000000-ffff800080000000     2G     2 x 1G -W-G- -> 0000000000000000\n"
            "ffffffff80100000-ffffffff80105000    20K     5 x 4K --XG- -> 0000000000100000\n"
            "ffffffff80105000-ffffffff80108000    12K     3 x 4K -W-G- -> 0000000000105000\n");
}

TEST_F(MmuTest, WxCheckFindsWritableExecutablePages) {
  ASSERT_EQ(mmu_.Pmap(kernel_, PhysAddr(0), VirtAddr(kDm), k2M, kRW), MmuStatus::kOk);
  ASSERT_EQ(mmu_.Pmap(kernel_, PhysAddr(0), VirtAddr(kKtzero), kPageSize, Attr::kExec), MmuStatus::kOk);
  EXPECT_EQ(WritableExecutableBytes(mmu_, kernel_), 0u);
  ASSERT_EQ(mmu_.Pmap(kernel_, PhysAddr(0), VirtAddr(kKtzero + 0x3000), 2 * kPageSize, Attr::kExec | Attr::kWrite),
            MmuStatus::kOk);
  EXPECT_EQ(WritableExecutableBytes(mmu_, kernel_), 2 * kPageSize);
}

TEST_F(MmuTest, WalkCreatesOnlyWhenAsked) {
  const VirtAddr va(kDm + 0x7000);
  EXPECT_EQ(mmu_.MmuWalk(kernel_, va, 0, Create::kNo), nullptr);
  EXPECT_EQ(mmu_.table_pages(), baseline_);
  uint64_t* e = mmu_.MmuWalk(kernel_, va, 0, Create::kYes);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(*e, 0u);
  EXPECT_EQ(mmu_.table_pages(), baseline_ + 2);
  EXPECT_EQ(mmu_.MmuWalk(kernel_, va, 0, Create::kNo), e);
  EXPECT_NE(mmu_.MmuWalk(kernel_, va, 2, Create::kNo), nullptr);
}

}  // namespace
}  // namespace kmem::x86
