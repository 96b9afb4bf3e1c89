#include "mm/memmap/parse.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "testing/console_capture.h"
#include "testing/e820_model.h"

namespace kmem {
namespace {

using Raw = testing::E820Row;

std::vector<Raw> Entries(const E820Map& m) { return testing::E820Rows(m); }

template <typename Parse>
ParseResult ParseString(Parse parse, const std::string& text, E820Map* out) {
  out->count = 0;
  return parse(text.data(), text.size(), out);
}

E820Map map;

TEST(ParseE820Text, EntriesCommentsBlankLinesAndTop) {
  ParseResult r = ParseString(ParseE820Text,
                              "# a comment\n"
                              "0x0 0x9fc00 1   # trailing comment\r\n"
                              "\n"
                              "   \t\n"
                              "0xFFFFFFFFFFFFF000 0x10000000000000000 2\n"
                              "0xfffffffffffff000 0x10000000000000fff 20",
                              &map);
  ASSERT_EQ(r.status, ParseStatus::kOk) << r.reason;
  EXPECT_EQ(Entries(map), (std::vector<Raw>{{0x0, 0x9fc00, 1},
                                            {0xfffffffffffff000, kPhysEndTop, 2},
                                            {0xfffffffffffff000, kPhysEndTop + 0xfff, 20}}));
}

struct BadLine {
  const char* text;
  size_t line;
  const char* reason;
};

TEST(ParseE820Text, MalformedLinesSayWhereAndWhy) {
  const BadLine cases[] = {
      {"0x0 0x1000 1\n0x1000 0x2000\n", 2, "missing field"},
      {"0x0 0x1000 1 7\n", 1, "more than three fields"},
      {"# ok\n\n0 0x1000 1\n", 3, "number without 0x"},
      {"0x0 0x1000 0x1\n", 1, "type must be decimal"},
      {"0x0 0x10g0 1\n", 1, "bad digit"},
      {"0x10000000000000000 0x20000000000000000 1\n", 1, "number too large"},
      {"0x0 0x1000 4294967296\n", 1, "number too large"},
      {"0x2000 0x1000 1\n", 1, "end below base"},
      {"0x 0x1000 1\n", 1, "missing digits"},
      {"0x0 0x1000 -1\n", 1, "bad digit"},
      {"", 1, "no entries"},
      {"# only comments\n\n# and blanks\n", 3, "no entries"},
  };
  for (const BadLine& c : cases) {
    ParseResult r = ParseString(ParseE820Text, c.text, &map);
    EXPECT_EQ(r.status, ParseStatus::kMalformed) << c.text;
    EXPECT_EQ(r.line, c.line) << c.text;
    EXPECT_STREQ(r.reason, c.reason) << c.text;
  }
}

TEST(ParseE820Text, TooManyEntriesIsAnError) {
  std::string text;
  for (size_t i = 0; i <= E820Map::kCapacity; ++i) text += "0x0 0x1000 1\n";
  ParseResult r = ParseString(ParseE820Text, text, &map);
  EXPECT_EQ(r.status, ParseStatus::kFull);
  EXPECT_EQ(r.line, E820Map::kCapacity + 1);
}

TEST(ParseE820Plan9, ReadsTheE820LineAmongOtherSettings) {
  ParseResult r = ParseString(ParseE820Plan9,
                              "bootfile=9pc64\n"
                              "*e820=1 0x0 0x9fc00 2 0x9fc00 0xa0000  14 00000000000f0000 0000000000100000\n"
                              "console=0\n",
                              &map);
  ASSERT_EQ(r.status, ParseStatus::kOk) << r.reason;
  EXPECT_EQ(Entries(map), (std::vector<Raw>{{0x0, 0x9fc00, 1}, {0x9fc00, 0xa0000, 2}, {0xf0000, 0x100000, 20}}));
}

TEST(ParseE820Plan9, MalformedSaysWhereAndWhy) {
  const BadLine cases[] = {
      {"bootfile=9pc64\n", 1, "no *e820= line"},
      {"a=b\n*e820=1 0x0 0x1000 2 0x1000\n", 2, "missing field"},
      {"*e820=1 0x2000 0x1000\n", 1, "end below start"},
      {"*e820=1 0x0 0x1000\n*e820=1 0x0 0x1000\n", 2, "second *e820= line"},
      {"*e820=1 0x0 0xfoo\n", 1, "bad digit"},
      {"a=b\n*e820=\nc=d\n", 2, "no entries"},
  };
  for (const BadLine& c : cases) {
    ParseResult r = ParseString(ParseE820Plan9, c.text, &map);
    EXPECT_EQ(r.status, ParseStatus::kMalformed) << c.text;
    EXPECT_EQ(r.line, c.line) << c.text;
    EXPECT_STREQ(r.reason, c.reason) << c.text;
  }
}

}  // namespace
}  // namespace kmem
