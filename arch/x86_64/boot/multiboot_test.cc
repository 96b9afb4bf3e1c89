#include "arch/x86_64/boot/multiboot.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "testing/e820_model.h"

namespace kmem::boot {
namespace {

using Raw = testing::E820Row;

std::vector<Raw> Entries(const E820Map& m) { return testing::E820Rows(m); }

E820Map map;

std::vector<uint8_t> MultibootBytes(const std::vector<MultibootMmapEntry>& entries, uint32_t extra = 0) {
  std::vector<uint8_t> bytes;
  for (MultibootMmapEntry e : entries) {
    e.size = 20 + extra;
    size_t at = bytes.size();
    bytes.resize(at + sizeof e + extra, 0xee);
    std::memcpy(bytes.data() + at, &e, sizeof e);
  }
  return bytes;
}

TEST(ParseMultibootMmap, WalksEntriesBySizeField) {
  for (uint32_t extra : {0u, 4u}) {  // a loader may append fields to each entry
    auto bytes = MultibootBytes({{0, 0x0, 0x9fc00, 1}, {0, 0xfffffffffffff000, 0x2000, 2}}, extra);
    map.count = 0;
    ParseResult r = ParseMultibootMmap(bytes.data(), bytes.size(), &map);
    ASSERT_EQ(r.status, ParseStatus::kOk) << r.reason;
    EXPECT_EQ(Entries(map), (std::vector<Raw>{{0x0, 0x9fc00, 1}, {0xfffffffffffff000, kPhysEndTop + 0x1000, 2}}));
  }
}

TEST(ParseMultibootMmap, TruncatedOrShortEntriesAreErrors) {
  auto bytes = MultibootBytes({{0, 0x0, 0x1000, 1}, {0, 0x1000, 0x1000, 1}});
  map.count = 0;
  ParseResult r = ParseMultibootMmap(bytes.data(), bytes.size() - 1, &map);
  EXPECT_EQ(r.status, ParseStatus::kMalformed);
  EXPECT_EQ(r.line, 2u);
  EXPECT_STREQ(r.reason, "entry runs past the end of the map");
  bytes[24] = 16;  // the second entry's size field
  r = ParseMultibootMmap(bytes.data(), bytes.size(), &map);
  EXPECT_EQ(r.line, 2u);
  EXPECT_STREQ(r.reason, "entry size below 20 bytes");
  bytes[24] = 200;
  r = ParseMultibootMmap(bytes.data(), bytes.size(), &map);
  EXPECT_STREQ(r.reason, "entry runs past the end of the map");
}

TEST(ParseMultibootMmap, AnEmptyMapIsAnError) {
  map.count = 0;
  ParseResult r = ParseMultibootMmap(nullptr, 0, &map);
  EXPECT_EQ(r.status, ParseStatus::kMalformed);
  EXPECT_EQ(r.line, 1u);
  EXPECT_STREQ(r.reason, "no entries");
}

}  // namespace
}  // namespace kmem::boot
