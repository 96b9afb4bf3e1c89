// Readers of the text forms an E820 map reaches us in, each appending raw (unsanitised) entries to an
// E820Map (a loader's binary form is the architecture's: arch/x86_64/boot/multiboot.h reads Multiboot's):
//   - 9front's boot parameter `*e820=type start end type start end ...` (all fields hex, as 9front's
//     e820scan reads them, with or without 0x), found among plan9.ini-style lines;
//   - a plain text format for tools and tests: one entry a line, `0xBASE 0xEND TYPE`, END exclusive (it may
//     be 2^64, written 0x10000000000000000, or beyond, which is a wrap the sanitiser clips), TYPE decimal,
//     `#` starting a comment, blank lines ignored.
// Each takes bytes and a length (no NUL needed) and stops at the first malformed item, saying where and why.
// Input that holds no entry at all (empty, only comments, an empty `*e820=`) is malformed too: "no entries".
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/memmap/e820.h"

namespace kmem {

enum class ParseStatus : uint8_t { kOk, kMalformed, kFull };

struct ParseResult {
  ParseStatus status;
  size_t line;         // 1-based line of the text (entry number for a binary array); 0 when kOk
  const char* reason;  // static text; nullptr when kOk
};

ParseResult ParseE820Plan9(const char* text, size_t len, E820Map* out);
ParseResult ParseE820Text(const char* text, size_t len, E820Map* out);

// The results every reader gives, for readers of other forms: success; a malformed item at `line`;
// appending an entry (kFull when the map has no room); and "no entries" at `last_line` (the first line
// when 0) when `r` succeeded but added nothing to `out` beyond its first `before` entries.
inline constexpr ParseResult kParsed{ParseStatus::kOk, 0, nullptr};
ParseResult ParseMalformed(size_t line, const char* reason);
ParseResult ParseAppend(E820Map* out, size_t line, uint64_t base, PhysEnd end, uint32_t type);
ParseResult ParseRequireEntries(ParseResult r, const E820Map& out, size_t before, size_t last_line);

}  // namespace kmem
