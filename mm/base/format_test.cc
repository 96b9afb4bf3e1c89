#include "mm/base/format.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <utility>

#include "testing/console_capture.h"

namespace kmem {
namespace {

std::string Fmt(const char* fmt, auto... args) {
  char buf[256];
  FormatTo(buf, sizeof buf, fmt, args...);
  return buf;
}

std::string Libc(const char* fmt, auto... args) {
  char buf[256];
  std::snprintf(buf, sizeof buf, fmt, args...);
  return buf;
}

TEST(Format, Conversions) {
  EXPECT_EQ(Fmt("%d %i %u", -42, 7, 3000000000u), "-42 7 3000000000");
  EXPECT_EQ(Fmt("%x %X", 0xbeefu, 0xbeefu), "beef BEEF");
  EXPECT_EQ(Fmt("%llx", 0xffffffff80000000ull), "ffffffff80000000");
  EXPECT_EQ(Fmt("%016llx", 0x9fc00ull), "000000000009fc00");
  EXPECT_EQ(Fmt("%p", reinterpret_cast<void*>(0x1000)), "0x1000");
  EXPECT_EQ(Fmt("[%5s|%-5s|%.2s]", "ab", "cd", "efgh"), "[   ab|cd   |ef]");
  EXPECT_EQ(Fmt("%c%%%s", 'k', "mem"), "k%mem");
  EXPECT_EQ(Fmt("%lld", static_cast<long long>(INT64_MIN)), "-9223372036854775808");
  EXPECT_EQ(Fmt("%zu", size_t{12}), "12");
  EXPECT_EQ(Fmt("%*d|%-*d", 4, 1, 3, 2), "   1|2  ");
  EXPECT_EQ(Fmt("%s", static_cast<const char*>(nullptr)), "<nil>");
}

TEST(Format, SizesInTheLargestUnitThatDividesThem) {
  char buf[24];
  const std::pair<uint64_t, const char*> cases[] = {
      {uint64_t{1} << 30, "1G"}, {uint64_t{3} << 30, "3G"}, {uint64_t{1536} << 20, "1536M"}, {2 << 20, "2M"},
      {48 << 10, "48K"},         {4096, "4K"},              {100, "100B"},                  {0, "0B"}};
  for (const auto& [bytes, want] : cases) {
    EXPECT_EQ(FormatSize(buf, sizeof buf, bytes), std::strlen(want)) << want;
    EXPECT_STREQ(buf, want);
  }
}

TEST(Format, TruncatesLikeSnprintf) {
  char buf[5];
  EXPECT_EQ(FormatTo(buf, sizeof buf, "%s", "abcdefgh"), 8u);
  EXPECT_STREQ(buf, "abcd");
  EXPECT_EQ(FormatTo(nullptr, 0, "%d", 12345), 5u);
}

// The integer conversions agree with the C library on random values, widths and flags.
TEST(Format, AgreesWithLibcOnRandomIntegers) {
  std::mt19937_64 rng(20261121);
  const char* flags[] = {"", "-", "0"};
  const char* convs[] = {"lld", "llu", "llx", "llX"};
  for (int i = 0; i < 20000; ++i) {
    std::string fmt = std::string("<%") + flags[rng() % 3] + std::to_string(rng() % 24) + convs[rng() % 4] + ">";
    unsigned long long v = rng() >> (rng() % 64);
    ASSERT_EQ(Fmt(fmt.c_str(), v), Libc(fmt.c_str(), v)) << fmt << " with " << v;
  }
}

TEST(Print, GoesToTheConsole) {
  testing::ConsoleCapture capture;
  Print("%s has %d pages\n", "bank0", 16);
  EXPECT_EQ(capture.text(), "bank0 has 16 pages\n");
}

}  // namespace
}  // namespace kmem
