#include "mm/memmap/probe.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <vector>

#include "mm/memmap/e820.h"

namespace kmem {
namespace {

// Simulated physical memory for the memory test: RAM below `ram_end` except a hole; in the hole and above
// RAM writes vanish and reads float high, as on a bus with nothing behind it. With `wrap`, addresses alias
// modulo `ram_end`, like a board that does not decode the upper address lines.
class FakeMemory {
 public:
  FakeMemory(uint64_t ram_end, uint64_t hole_base, uint64_t hole_end, bool wrap)
      : ram_end_(ram_end), hole_base_(hole_base), hole_end_(hole_end), wrap_(wrap) {}

  uint32_t Read(PhysAddr pa) {
    uint64_t a = Decode(pa);
    if (!Backed(a)) return 0xffffffff;
    auto it = words_.find(a);
    return it == words_.end() ? 0 : it->second;
  }
  void Write(PhysAddr pa, uint32_t v) {
    uint64_t a = Decode(pa);
    ++writes_;
    if (Backed(a)) words_[a] = v;
  }
  const std::map<uint64_t, uint32_t>& words() const { return words_; }

 private:
  uint64_t Decode(PhysAddr pa) const { return wrap_ ? pa.value() % ram_end_ : pa.value(); }
  bool Backed(uint64_t a) const { return a < ram_end_ && !(a >= hole_base_ && a < hole_end_); }

  uint64_t ram_end_, hole_base_, hole_end_;
  bool wrap_;
  size_t writes_ = 0;
  std::map<uint64_t, uint32_t> words_;
};

constexpr uint64_t kMiB = 1 << 20;

TEST(MemTest, StopsAtTheEndOfRam) {
  FakeMemory mem(64 * kMiB, 0, 0, false);
  EXPECT_EQ(MemTest(mem, PhysAddr(4 * kMiB), PhysAddr(1024 * kMiB)), PhysAddr(64 * kMiB));
}

//   4M        20M   24M                 64M
//   |RAM-------|hole|RAM-----------------|       stops at the hole: RAM beyond it is not trusted
TEST(MemTest, StopsAtTheFirstChunkThatDoesNotReadBack) {
  FakeMemory mem(64 * kMiB, 20 * kMiB + 4096, 20 * kMiB + 8192, false);
  FakeMemory top_word_hole(64 * kMiB, 24 * kMiB - 4, 24 * kMiB, false);
  EXPECT_EQ(MemTest(mem, PhysAddr(4 * kMiB), PhysAddr(1024 * kMiB)), PhysAddr(64 * kMiB))
      << "the probe reads the top word of each chunk only";
  EXPECT_EQ(MemTest(top_word_hole, PhysAddr(4 * kMiB), PhysAddr(1024 * kMiB)), PhysAddr(20 * kMiB));
}

TEST(MemTest, AddressesWrappingOntoLowMemoryEndTheTest) {
  FakeMemory mem(32 * kMiB, 0, 0, true);
  EXPECT_EQ(MemTest(mem, PhysAddr(4 * kMiB), PhysAddr(1024 * kMiB)), PhysAddr(32 * kMiB));
}

TEST(MemTest, RestoresWhatItWroteAndHonoursTheLimit) {
  FakeMemory mem(64 * kMiB, 0, 0, false);
  EXPECT_EQ(MemTest(mem, PhysAddr(4 * kMiB), PhysAddr(30 * kMiB)), PhysAddr(28 * kMiB));
  for (const auto& [addr, word] : mem.words()) EXPECT_EQ(word, 0u) << "left a pattern at " << addr;
  EXPECT_EQ(MemTest(mem, PhysAddr(4 * kMiB), PhysAddr(6 * kMiB)), PhysAddr(4 * kMiB)) << "no whole chunk";
}

std::vector<uint8_t> IsaWindow() { return std::vector<uint8_t>(kIsaWindowSize, 0xff); }

void PlaceRom(std::vector<uint8_t>* isa, uint64_t pa, uint8_t blocks) {
  uint64_t off = pa - kIsaWindowBase;
  (*isa)[off] = 0x55;
  (*isa)[off + 1] = 0xAA;
  (*isa)[off + 2] = blocks;
}

MemType TypeAt(const Memmap& m, uint64_t addr) {
  for (size_t i = 0; i < m.count(); ++i) {
    if (m.entry(i).base.value() <= addr && addr < m.entry(i).end().value()) return m.entry(i).type;
  }
  return MemType::kUpa;
}

//   0xC0000    0xC9000 (36 KiB VGA BIOS)   0xE0000 (2 KiB, zero blocks)   0xEF800 (runs past the window)
TEST(ScanOptionRoms, ReservesEachRomAndLeavesTheRestUmb) {
  auto isa = IsaWindow();
  PlaceRom(&isa, 0xC0000, 72);
  PlaceRom(&isa, 0xC4000, 0);  // inside the first ROM: part of it, not a second ROM
  PlaceRom(&isa, 0xE0000, 0);
  PlaceRom(&isa, 0xEF800, 255);
  Memmap m;
  ASSERT_EQ(MemmapAddLegacyPc(&m), MemmapStatus::kOk);
  size_t found = 0;
  ASSERT_EQ(ScanOptionRoms(isa.data(), &m, &found), MemmapStatus::kOk);
  EXPECT_EQ(found, 3u);
  EXPECT_EQ(TypeAt(m, 0xC0000), MemType::kReserved);
  EXPECT_EQ(TypeAt(m, 0xC8fff), MemType::kReserved);
  EXPECT_EQ(TypeAt(m, 0xC9000), MemType::kUmb);
  EXPECT_EQ(TypeAt(m, 0xDffff), MemType::kUmb);
  EXPECT_EQ(TypeAt(m, 0xE0000), MemType::kReserved);
  EXPECT_EQ(TypeAt(m, 0xE1000), MemType::kUmb) << "a 2 KiB ROM widens to its page, no further";
  EXPECT_EQ(TypeAt(m, 0xEF000), MemType::kReserved);
  EXPECT_EQ(TypeAt(m, 0xEEfff), MemType::kUmb);
}

TEST(ScanOptionRoms, EmptyWindowFindsNothing) {
  auto isa = IsaWindow();
  Memmap m;
  size_t found = 7;
  ASSERT_EQ(ScanOptionRoms(isa.data(), &m, &found), MemmapStatus::kOk);
  EXPECT_EQ(found, 0u);
  EXPECT_EQ(m.count(), 0u);
}

}  // namespace
}  // namespace kmem
