#include "arch/x86_64/pc/legacy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "arch/x86_64/layout.h"
#include "testing/e820_model.h"

namespace kmem::x86 {
namespace {

// The typed map's page colour by the rules, from the sanitised E820 map, one page at a time: a page is
// the most restrictive of: any non-RAM type touching it, RAM when RAM covers all of it outside
// [0xA0000, 0x100000), and the legacy types of that hole (VGA and BIOS reserved, the ISA window UMB); UPA
// when none applies.
MemType ModelPage(const E820Map& sanitised, uint64_t page) {
  const uint64_t lo = page * kPageSize, hi = lo + kPageSize;
  uint64_t ram = 0;
  int best = -1;
  for (size_t i = 0; i < sanitised.count; ++i) {
    const E820Entry& e = sanitised.entry[i];
    uint64_t b = std::max<uint64_t>(e.base, lo);
    uint64_t x = static_cast<uint64_t>(std::min<PhysEnd>(e.end, hi));
    if (b >= x) continue;
    MemType t = E820MemType(e.type);
    if (t == MemType::kRam) {
      ram += x - b;
    } else {
      best = std::max(best, static_cast<int>(t));
    }
  }
  const bool in_hole = lo >= 0xA0000 && lo < 0x100000;
  if (ram == kPageSize && !in_hole) best = std::max(best, static_cast<int>(MemType::kRam));
  if (in_hole)
    best = std::max(best, static_cast<int>(lo >= 0xC0000 && lo < 0xF0000 ? MemType::kUmb : MemType::kReserved));
  return best < 0 ? MemType::kUpa : static_cast<MemType>(best);
}

MemType TypeAt(const Memmap& m, uint64_t addr) {
  for (size_t i = 0; i < m.count(); ++i) {
    if (m.entry(i).base.value() <= addr && addr < m.entry(i).end().value()) return m.entry(i).type;
  }
  ADD_FAILURE() << "address " << addr << " not in the typed map";
  return MemType::kUpa;
}

// Property: random unaligned maps of the first 2 MiB (so the legacy hole is always in play) convert into
// a typed map that colours every page as the model does.
TEST(PcAddE820, AgreesWithPageColouringOnRandomMaps) {
  constexpr uint64_t kSpace = 2 << 20;
  std::mt19937_64 rng(9);
  static E820Map raw, out;
  for (int map = 0; map < 400; ++map) {
    raw.count = 0;
    const int n = 1 + static_cast<int>(rng() % 16);
    for (int i = 0; i < n; ++i) {
      uint64_t a = (rng() % (kSpace / 256)) * 256, len = (rng() % (kSpace / 2 / 256)) * 256 + rng() % 2;
      const uint32_t types[] = {1, 1, 1, 1, 2, 3, 4, 5, 20};
      E820Append(&raw, a, PhysEnd{a} + len, types[rng() % 9]);
    }
    E820Report report;
    ASSERT_EQ(E820Sanitise(raw, &out, &report), E820Status::kOk);
    Memmap typed(kArchPhysLimit);
    ASSERT_EQ(PcAddE820(out, &typed), MemmapStatus::kOk);
    ASSERT_EQ(testing::MemmapCheckShape(typed), "");
    for (uint64_t page = 0; page < kSpace / kPageSize + 4; ++page) {
      ASSERT_EQ(TypeAt(typed, page * kPageSize), ModelPage(out, page)) << "map " << map << " page " << page;
    }
    EXPECT_EQ(TypeAt(typed, kArchPhysLimit.value() - 1), MemType::kUpa);
  }
}

TEST(PcAddE820, LegacyHoleIsNeverRam) {
  static E820Map raw;
  E820Append(&raw, 0, 0x200000, kE820Ram);  // firmware claiming all of the first 2 MiB is RAM
  Memmap typed(kArchPhysLimit);
  ASSERT_EQ(PcAddE820(raw, &typed), MemmapStatus::kOk);
  EXPECT_EQ(TypeAt(typed, 0x9f000), MemType::kRam);
  EXPECT_EQ(TypeAt(typed, 0xa0000), MemType::kReserved);
  EXPECT_EQ(TypeAt(typed, 0xc8000), MemType::kUmb);
  EXPECT_EQ(TypeAt(typed, 0xff000), MemType::kReserved);
  EXPECT_EQ(TypeAt(typed, 0x100000), MemType::kRam);
  EXPECT_EQ(typed.Size(MemType::kRam, MemUse::kFree), 0x200000u - 0x60000u);
}

std::vector<uint8_t> IsaWindow() { return std::vector<uint8_t>(kIsaWindowSize, 0xff); }

void PlaceRom(std::vector<uint8_t>* isa, uint64_t pa, uint8_t blocks) {
  uint64_t off = pa - kIsaWindowBase;
  (*isa)[off] = 0x55;
  (*isa)[off + 1] = 0xAA;
  (*isa)[off + 2] = blocks;
}

//   0xC0000    0xC9000 (36 KiB VGA BIOS)   0xE0000 (2 KiB, zero blocks)   0xEF800 (runs past the window)
TEST(ScanOptionRoms, ReservesEachRomAndLeavesTheRestUmb) {
  auto isa = IsaWindow();
  PlaceRom(&isa, 0xC0000, 72);
  PlaceRom(&isa, 0xC4000, 0);  // inside the first ROM: part of it, not a second ROM
  PlaceRom(&isa, 0xE0000, 0);
  PlaceRom(&isa, 0xEF800, 255);
  Memmap m(kArchPhysLimit);
  ASSERT_EQ(PcAddLegacy(&m), MemmapStatus::kOk);
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
  Memmap m(kArchPhysLimit);
  size_t found = 7;
  ASSERT_EQ(ScanOptionRoms(isa.data(), &m, &found), MemmapStatus::kOk);
  EXPECT_EQ(found, 0u);
  EXPECT_EQ(m.count(), 0u);
}

}  // namespace
}  // namespace kmem::x86
