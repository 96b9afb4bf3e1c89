#include "mm/memmap/e820.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "mm/memmap/parse.h"
#include "testing/console_capture.h"
#include "testing/e820_model.h"

namespace kmem {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot read " << path;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Printed(const E820Map& map) {
  testing::ConsoleCapture out;
  E820Print(map, "");
  return out.text();
}

// Known answers: each testing/e820/NAME.map sanitises to NAME.e820, whatever order the entries come in.
class KnownMap : public ::testing::TestWithParam<const char*> {};

TEST_P(KnownMap, SanitisesToTheKnownAnswerInAnyOrder) {
  std::string base = std::string("testing/e820/") + GetParam();
  std::string text = ReadFile(base + ".map");
  std::string want = ReadFile(base + ".e820");
  static E820Map raw, out;
  raw.count = 0;
  ParseResult r = ParseE820Text(text.data(), text.size(), &raw);
  ASSERT_EQ(r.status, ParseStatus::kOk) << r.line << ": " << r.reason;
  std::vector<E820Entry> order(raw.entry, raw.entry + raw.count);
  std::mt19937 rng(1234);
  for (int round = 0; round < 50; ++round) {
    std::copy(order.begin(), order.end(), raw.entry);
    E820Report report;
    ASSERT_EQ(E820Sanitise(raw, &out, &report), E820Status::kOk);
    EXPECT_EQ(Printed(out), want) << "round " << round;
    EXPECT_EQ(testing::E820Check(raw, out, testing::E820ChangePoints(raw)), "");
    std::shuffle(order.begin(), order.end(), rng);
  }
}

INSTANTIATE_TEST_SUITE_P(Maps, KnownMap,
                         ::testing::Values("linux_overlap", "precedence", "laptop", "amd_ht_hole", "top", "qemu_32M",
                                           "qemu_1G", "qemu_6G"));

TEST(E820Sanitise, ReportsWhatItRepaired) {
  static E820Map raw, out;
  E820Append(&raw, 0x1000, 0x1000, 1);                              // empty
  E820Append(&raw, 0x3000, 0x2000, 1);                              // inverted
  E820Append(&raw, ~uint64_t{0} - 0xfff, kPhysEndTop + 0x5000, 1);  // wraps
  E820Append(&raw, 0x0, 0x1000, 20);                                // unknown type
  E820Report report;
  ASSERT_EQ(E820Sanitise(raw, &out, &report), E820Status::kOk);
  EXPECT_EQ(report.dropped_empty, 2u);
  EXPECT_EQ(report.clipped, 1u);
  EXPECT_EQ(report.unknown_types, 1u);
  EXPECT_EQ(Printed(out),
            "0x0000000000000000 0x0000000000001000 2\n"
            "0xfffffffffffff000 0x10000000000000000 1\n");
}

// Linux's list of known types, 1-5, 7 and 12, pass through; every other number, 6 included, is reserved.
TEST(E820Sanitise, KeepsLinuxKnownTypesAndCountsTheRestReserved) {
  static E820Map raw, out;
  const uint32_t known[] = {1, 2, 3, 4, 5, 7, 12};
  const uint32_t unknown[] = {0, 6, 8, 11, 13, 20, 0xffffffff};
  for (uint32_t t : known) {
    raw.count = 0;
    E820Append(&raw, 0x1000, 0x2000, t);
    E820Report report;
    ASSERT_EQ(E820Sanitise(raw, &out, &report), E820Status::kOk);
    EXPECT_EQ(report.unknown_types, 0u) << "type " << t;
    EXPECT_EQ(out.entry[0].type, t);
  }
  for (uint32_t t : unknown) {
    raw.count = 0;
    E820Append(&raw, 0x1000, 0x2000, t);
    E820Report report;
    ASSERT_EQ(E820Sanitise(raw, &out, &report), E820Status::kOk);
    EXPECT_EQ(report.unknown_types, 1u) << "type " << t;
    EXPECT_EQ(out.entry[0].type, kE820Reserved) << "type " << t;
  }
}

//   RAM       |---------------------------------------------|
//   reserved     |-|   |-|   |-|   ...   |-|   |-|   |-|            k islands: 2k + 1 output ranges
TEST(E820Sanitise, OutputBeyondCapacityIsAnError) {
  static E820Map raw, out;
  const uint64_t k = E820Map::kCapacity / 2;
  E820Append(&raw, 0, (2 * k + 2) * 0x1000, kE820Ram);
  E820Report report;
  for (uint64_t i = 1; i < k; ++i) E820Append(&raw, 2 * i * 0x1000, (2 * i + 1) * 0x1000, kE820Reserved);
  ASSERT_EQ(E820Sanitise(raw, &out, &report), E820Status::kOk);
  EXPECT_EQ(out.count, 2 * k - 1);
  for (uint64_t i = k; i < k + 2; ++i) E820Append(&raw, 2 * i * 0x1000, (2 * i + 1) * 0x1000, kE820Reserved);
  EXPECT_EQ(E820Sanitise(raw, &out, &report), E820Status::kFull);
}

// Property: on many random maps of a small address space (byte-granular, so unaligned edges are the
// rule), and the same maps moved to the top of the 64-bit space, the sanitiser agrees with colouring
// every address by the brute-force model.
TEST(E820Sanitise, AgreesWithBruteForceColouringOnRandomMaps) {
  constexpr uint64_t kSpace = 512;
  std::mt19937_64 rng(42);
  static E820Map raw, out;
  for (int map = 0; map < 3000; ++map) {
    const uint64_t offset = map % 3 == 0 ? ~uint64_t{0} - kSpace + 2 : 0;  // near 2^64: clipping, top
    raw.count = 0;
    const int n = 1 + static_cast<int>(rng() % 24);
    for (int i = 0; i < n; ++i) {
      uint64_t a = rng() % kSpace, len = rng() % 5 == 0 ? 0 : rng() % (kSpace / 2);
      const uint32_t types[] = {1, 1, 1, 2, 3, 4, 5, 7, 12, 20, 0};
      E820Append(&raw, offset + a, PhysEnd{offset} + a + len, types[rng() % 11]);
    }
    E820Report report;
    ASSERT_EQ(E820Sanitise(raw, &out, &report), E820Status::kOk);
    std::vector<PhysEnd> every;
    for (uint64_t x = 0; x < 2 * kSpace; ++x) every.push_back(PhysEnd{offset} + x);
    ASSERT_EQ(testing::E820Check(raw, out, every), "") << "map " << map;
  }
}

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
TEST(MemmapAddE820, AgreesWithPageColouringOnRandomMaps) {
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
    Memmap typed;
    ASSERT_EQ(MemmapAddE820(out, &typed), MemmapStatus::kOk);
    ASSERT_EQ(testing::MemmapCheckShape(typed), "");
    for (uint64_t page = 0; page < kSpace / kPageSize + 4; ++page) {
      ASSERT_EQ(TypeAt(typed, page * kPageSize), ModelPage(out, page)) << "map " << map << " page " << page;
    }
    EXPECT_EQ(TypeAt(typed, kPhysLimit - 1), MemType::kUpa);
  }
}

TEST(MemmapAddE820, LegacyHoleIsNeverRam) {
  static E820Map raw;
  E820Append(&raw, 0, 0x200000, kE820Ram);  // firmware claiming all of the first 2 MiB is RAM
  Memmap typed;
  ASSERT_EQ(MemmapAddE820(raw, &typed), MemmapStatus::kOk);
  EXPECT_EQ(TypeAt(typed, 0x9f000), MemType::kRam);
  EXPECT_EQ(TypeAt(typed, 0xa0000), MemType::kReserved);
  EXPECT_EQ(TypeAt(typed, 0xc8000), MemType::kUmb);
  EXPECT_EQ(TypeAt(typed, 0xff000), MemType::kReserved);
  EXPECT_EQ(TypeAt(typed, 0x100000), MemType::kRam);
  EXPECT_EQ(typed.Size(MemType::kRam, MemUse::kFree), 0x200000u - 0x60000u);
}

TEST(MemmapAddE820, AboveThePhysicalLimitIsClipped) {
  static E820Map raw;
  E820Append(&raw, kPhysLimit - 0x2000, kPhysEndTop, kE820Ram);
  E820Append(&raw, kPhysLimit + 0x1000, kPhysLimit + 0x9000, kE820Reserved);
  Memmap typed;
  ASSERT_EQ(MemmapAddE820(raw, &typed), MemmapStatus::kOk);
  MemRange last = typed.entry(typed.count() - 1);
  EXPECT_EQ(last.base, PhysAddr(kPhysLimit - 0x2000));
  EXPECT_EQ(last.end(), PhysAddr(kPhysLimit));
  EXPECT_EQ(last.type, MemType::kRam);
  EXPECT_EQ(E820RamAbove(raw, kPhysLimit), uint64_t{0} - kPhysLimit);
}

TEST(E820RamAbove, CountsOnlyRamAtOrAboveTheLimit) {
  static E820Map raw;
  raw.count = 0;
  E820Append(&raw, 0, 0x9f000, kE820Ram);
  E820Append(&raw, 0x100000, 0x300000, kE820Ram);       // straddles a limit of 2 MiB
  E820Append(&raw, 0x300000, 0x400000, kE820Reserved);  // not RAM
  E820Append(&raw, 0x400000, 0x500000, kE820Ram);       // wholly above
  EXPECT_EQ(E820RamAbove(raw, 0x200000), 0x100000u + 0x100000u);
  EXPECT_EQ(E820RamAbove(raw, 0x500000), 0u);
  EXPECT_EQ(E820RamAbove(raw, 0), 0x9f000u + 0x200000u + 0x100000u);
}

}  // namespace
}  // namespace kmem
