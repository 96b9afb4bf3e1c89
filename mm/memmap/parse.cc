#include "mm/memmap/parse.h"

namespace kmem {
namespace {


bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One line of input, read as whitespace-separated words.
class Line {
 public:
  Line(const char* p, const char* end) : p_(p), end_(end) {}

  bool AtEnd() {
    while (p_ != end_ && IsSpace(*p_)) ++p_;
    return p_ == end_;
  }
  bool Skip(const char* prefix) {
    AtEnd();
    const char* q = p_;
    for (; *prefix != '\0'; ++prefix, ++q) {
      if (q == end_ || *q != *prefix) return false;
    }
    p_ = q;
    return true;
  }

  // A number in `base` (16 or 10) that must fit `max`; hex may carry 0x, and must when `need_0x`.
  const char* Number(unsigned base, bool need_0x, PhysEnd max, PhysEnd* out) {
    if (AtEnd()) return "missing field";
    bool has_0x = Skip("0x") || Skip("0X");
    if (base == 16 && need_0x && !has_0x) return "number without 0x";
    if (base == 10 && has_0x) return "type must be decimal";
    PhysEnd v = 0;
    const char* start = p_;
    for (; p_ != end_ && !IsSpace(*p_); ++p_) {
      int d = HexDigit(*p_);
      if (d < 0 || static_cast<unsigned>(d) >= base) return "bad digit";
      if (v > (max - static_cast<unsigned>(d)) / base) return "number too large";
      v = v * base + static_cast<unsigned>(d);
    }
    if (p_ == start) return "missing digits";
    *out = v;
    return nullptr;
  }

 private:
  const char* p_;
  const char* end_;
};

// Calls fn(line_number, Line) for each line of text, with `#` comments cut off; stops at the first
// non-kOk result.
template <typename Fn>
ParseResult ForEachLine(const char* text, size_t len, Fn fn) {
  const char* end = text + len;
  size_t number = 0;
  for (const char* p = text; p < end;) {
    ++number;
    const char* eol = p;
    while (eol != end && *eol != '\n') ++eol;
    const char* cut = p;
    while (cut != eol && *cut != '#') ++cut;
    ParseResult r = fn(number, Line(p, cut));
    if (r.status != ParseStatus::kOk) return r;
    p = eol == end ? end : eol + 1;
  }
  return kParsed;
}

constexpr PhysEnd kU64Max = ~uint64_t{0};
constexpr PhysEnd kU32Max = ~uint32_t{0};
constexpr PhysEnd kEndMax = ~PhysEnd{0};

}  // namespace

ParseResult ParseMalformed(size_t line, const char* reason) {
  return ParseResult{ParseStatus::kMalformed, line, reason};
}

// Input that parses but holds no entry leaves the kernel and the tool nothing to stand on: an error at
// the input's last line (its first, when it is empty).
ParseResult ParseRequireEntries(ParseResult r, const E820Map& out, size_t before, size_t last_line) {
  if (r.status != ParseStatus::kOk || out.count != before) return r;
  return ParseMalformed(last_line == 0 ? 1 : last_line, "no entries");
}

ParseResult ParseAppend(E820Map* out, size_t line, uint64_t base, PhysEnd end, uint32_t type) {
  if (E820Append(out, base, end, type) == E820Status::kOk) return kParsed;
  return ParseResult{ParseStatus::kFull, line, "more entries than the map holds"};
}

ParseResult ParseE820Text(const char* text, size_t len, E820Map* out) {
  const size_t before = out->count;
  size_t last = 0;
  ParseResult r = ForEachLine(text, len, [out, &last](size_t number, Line line) {
    last = number;
    if (line.AtEnd()) return kParsed;
    PhysEnd base, end, type;
    const char* why = line.Number(16, true, kU64Max, &base);
    if (why == nullptr) why = line.Number(16, true, kEndMax, &end);
    if (why == nullptr) why = line.Number(10, false, kU32Max, &type);
    if (why == nullptr && !line.AtEnd()) why = "more than three fields";
    if (why == nullptr && end < base) why = "end below base";
    if (why != nullptr) return ParseMalformed(number, why);
    return ParseAppend(out, number, static_cast<uint64_t>(base), end, static_cast<uint32_t>(type));
  });
  return ParseRequireEntries(r, *out, before, last);
}

ParseResult ParseE820Plan9(const char* text, size_t len, E820Map* out) {
  const size_t before = out->count;
  size_t found = 0;
  size_t at = 0;
  ParseResult r = ForEachLine(text, len, [out, &found, &at](size_t number, Line line) {
    if (!line.Skip("*e820=")) return kParsed;  // other plan9.ini settings
    if (++found > 1) return ParseMalformed(number, "second *e820= line");
    at = number;
    while (!line.AtEnd()) {
      PhysEnd type, base, end;
      const char* why = line.Number(16, false, kU32Max, &type);
      if (why == nullptr) why = line.Number(16, false, kU64Max, &base);
      if (why == nullptr) why = line.Number(16, false, kU64Max, &end);
      if (why == nullptr && end < base) why = "end below start";
      if (why != nullptr) return ParseMalformed(number, why);
      ParseResult a = ParseAppend(out, number, static_cast<uint64_t>(base), end, static_cast<uint32_t>(type));
      if (a.status != ParseStatus::kOk) return a;
    }
    return kParsed;
  });
  if (r.status == ParseStatus::kOk && found == 0) return ParseMalformed(1, "no *e820= line");
  return ParseRequireEntries(r, *out, before, at);
}

}  // namespace kmem
