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

MemmapStatus AddRam(Memmap* map, uint64_t base, uint64_t end) {
  return map->Add(PhysAddr(base), end - base, MemType::kRam);
}

TEST(MemmapAddE820, AboveThePhysicalLimitIsClipped) {
  static E820Map raw;
  E820Append(&raw, testing::kPhysLimit - 0x2000, kPhysEndTop, kE820Ram);
  E820Append(&raw, testing::kPhysLimit + 0x1000, testing::kPhysLimit + 0x9000, kE820Reserved);
  Memmap typed{PhysAddr(testing::kPhysLimit)};
  ASSERT_EQ(MemmapAddE820(raw, &typed, AddRam), MemmapStatus::kOk);
  MemRange last = typed.entry(typed.count() - 1);
  EXPECT_EQ(last.base, PhysAddr(testing::kPhysLimit - 0x2000));
  EXPECT_EQ(last.end(), PhysAddr(testing::kPhysLimit));
  EXPECT_EQ(last.type, MemType::kRam);
  EXPECT_EQ(E820RamAbove(raw, testing::kPhysLimit), uint64_t{0} - testing::kPhysLimit);
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
