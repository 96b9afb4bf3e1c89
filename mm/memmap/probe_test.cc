#include "mm/memmap/probe.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <utility>
#include <vector>

#include "mm/memmap/e820.h"
#include "testing/e820_model.h"

namespace kmem {
namespace {

// Simulated physical memory for the memory test: RAM in `ram` ([base, end) pairs); elsewhere writes vanish
// and reads float high, as on a bus with nothing behind it. With `wrap`, addresses alias modulo it, like a
// board that does not decode the upper address lines. [uc_base, uc_end) is not write-back (an MTRR UC
// range): the test must not touch it.
class FakeMemory {
 public:
  explicit FakeMemory(std::vector<std::pair<uint64_t, uint64_t>> ram, uint64_t wrap = 0)
      : ram_(std::move(ram)), wrap_(wrap) {}

  void SetUncached(uint64_t base, uint64_t end) {
    uc_base_ = base;
    uc_end_ = end;
  }
  bool WriteBack(PhysAddr chunk, uint64_t size) const {
    return chunk.value() + size <= uc_base_ || chunk.value() >= uc_end_;
  }
  uint32_t Read(PhysAddr pa) {
    Touch(pa);
    uint64_t a = Decode(pa);
    if (!Backed(a)) return 0xffffffff;
    auto it = words_.find(a);
    return it == words_.end() ? 0 : it->second;
  }
  void Write(PhysAddr pa, uint32_t v) {
    Touch(pa);
    uint64_t a = Decode(pa);
    if (Backed(a)) words_[a] = v;
  }
  const std::map<uint64_t, uint32_t>& words() const { return words_; }
  size_t uncached_touches() const { return uncached_touches_; }

 private:
  void Touch(PhysAddr pa) {
    if (pa.value() >= uc_base_ && pa.value() < uc_end_) ++uncached_touches_;
  }
  uint64_t Decode(PhysAddr pa) const { return wrap_ != 0 ? pa.value() % wrap_ : pa.value(); }
  bool Backed(uint64_t a) const {
    for (auto [base, end] : ram_) {
      if (a >= base && a < end) return true;
    }
    return false;
  }

  std::vector<std::pair<uint64_t, uint64_t>> ram_;
  uint64_t wrap_;
  uint64_t uc_base_ = 0, uc_end_ = 0;
  size_t uncached_touches_ = 0;
  std::map<uint64_t, uint32_t> words_;
};

constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;

std::vector<std::pair<uint64_t, uint64_t>> RamIn(const Memmap& m) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (const MemRange& r : m.Ranges(MemType::kRam)) out.push_back({r.base.value(), r.end().value()});
  return out;
}

MemTestResult Probe(FakeMemory& mem, uint64_t from, uint64_t limit, Memmap* map) {
  return MemTest(mem, PhysAddr(from), PhysAddr(limit), map);
}

TEST(MemTest, StopsAtTheEndOfRam) {
  FakeMemory mem({{0, 64 * kMiB}});
  Memmap map{PhysAddr(testing::kPhysLimit)};
  MemTestResult r = Probe(mem, 4 * kMiB, 1024 * kMiB, &map);
  EXPECT_EQ(r.end, PhysAddr(64 * kMiB));
  EXPECT_EQ(r.ram, 60 * kMiB);
  EXPECT_EQ(r.status, MemmapStatus::kOk);
  EXPECT_EQ(RamIn(map), (std::vector<std::pair<uint64_t, uint64_t>>{{4 * kMiB, 64 * kMiB}}));
}

//   4M                  40M   44M          128M
//   |RAM-----------------|hole|RAM-----------|       stops at the hole: RAM beyond it is not trusted
TEST(MemTest, StopsAtTheFirstChunkAbove32MiBThatDoesNotReadBack) {
  FakeMemory mem({{0, 40 * kMiB + 4096}, {40 * kMiB + 8192, 128 * kMiB}});
  FakeMemory top_word_hole({{0, 44 * kMiB - 4}, {44 * kMiB, 128 * kMiB}});
  Memmap map{PhysAddr(testing::kPhysLimit)}, map2{PhysAddr(testing::kPhysLimit)};
  EXPECT_EQ(Probe(mem, 4 * kMiB, 1024 * kMiB, &map).end, PhysAddr(128 * kMiB))
      << "the probe reads the top word of each chunk only";
  EXPECT_EQ(Probe(top_word_hole, 4 * kMiB, 1024 * kMiB, &map2).end, PhysAddr(40 * kMiB));
  EXPECT_EQ(RamIn(map2), (std::vector<std::pair<uint64_t, uint64_t>>{{4 * kMiB, 40 * kMiB}}));
}

//   4M          16M  20M                64M
//   |RAM---------|hole|RAM---------------|       below 32 MiB a hole is skipped (the ISA hole at 15 MiB)
TEST(MemTest, ChunksBelow32MiBThatDoNotReadBackAreHoles) {
  FakeMemory mem({{0, 20 * kMiB - 4}, {20 * kMiB, 64 * kMiB}});
  Memmap map{PhysAddr(testing::kPhysLimit)};
  MemTestResult r = Probe(mem, 4 * kMiB, 1024 * kMiB, &map);
  EXPECT_EQ(r.end, PhysAddr(64 * kMiB));
  EXPECT_EQ(r.holes, 4 * kMiB);
  EXPECT_EQ(r.ram, 56 * kMiB);
  EXPECT_EQ(RamIn(map), (std::vector<std::pair<uint64_t, uint64_t>>{{4 * kMiB, 16 * kMiB}, {20 * kMiB, 64 * kMiB}}));
}

// Wrapping ends the test below 32 MiB too: the chunks past the wrap would read back (they are low RAM).
TEST(MemTest, AddressesWrappingOntoLowMemoryEndTheTest) {
  for (uint64_t size : {32 * kMiB, 16 * kMiB}) {
    FakeMemory mem({{0, size}}, size);
    Memmap map{PhysAddr(testing::kPhysLimit)};
    EXPECT_EQ(Probe(mem, 4 * kMiB, 1024 * kMiB, &map).end, PhysAddr(size)) << size;
    EXPECT_EQ(RamIn(map), (std::vector<std::pair<uint64_t, uint64_t>>{{4 * kMiB, size}})) << size;
  }
}

//   4M            3G           4G            7G
//   |RAM-----------|UC: PCI hole|RAM-----------|      QEMU's pc machine at -m 6G without a map
TEST(MemTest, SkipsWhatIsNotWriteBackWithoutTouchingIt) {
  FakeMemory mem({{0, 3 * kGiB}, {4 * kGiB, 7 * kGiB}});
  mem.SetUncached(3 * kGiB, 4 * kGiB);
  Memmap map{PhysAddr(testing::kPhysLimit)};
  MemTestResult r = Probe(mem, 4 * kMiB, uint64_t{1} << 40, &map);
  EXPECT_EQ(r.end, PhysAddr(7 * kGiB));
  EXPECT_EQ(r.skipped, kGiB);
  EXPECT_EQ(r.ram, 6 * kGiB - 4 * kMiB);
  EXPECT_EQ(mem.uncached_touches(), 0u);
  EXPECT_EQ(RamIn(map), (std::vector<std::pair<uint64_t, uint64_t>>{{4 * kMiB, 3 * kGiB}, {4 * kGiB, 7 * kGiB}}));
}

TEST(MemTest, RestoresWhatItWroteAndHonoursTheLimit) {
  FakeMemory mem({{0, 64 * kMiB}});
  Memmap map{PhysAddr(testing::kPhysLimit)};
  EXPECT_EQ(Probe(mem, 4 * kMiB, 30 * kMiB, &map).end, PhysAddr(28 * kMiB));
  for (const auto& [addr, word] : mem.words()) EXPECT_EQ(word, 0u) << "left a pattern at " << addr;
  Memmap empty{PhysAddr(testing::kPhysLimit)};
  EXPECT_EQ(Probe(mem, 4 * kMiB, 6 * kMiB, &empty).end, PhysAddr(4 * kMiB)) << "no whole chunk";
  EXPECT_EQ(empty.count(), 0u);
}

}  // namespace
}  // namespace kmem
