// Readers of the three ways an E820 map reaches us, each appending raw (unsanitised) entries to an E820Map:
//   - the Multiboot v1 memory-map array QEMU or GRUB hands the kernel;
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

// One Multiboot memory-map entry. `size` counts the bytes after itself, so entries are walked by size + 4.
struct [[gnu::packed]] MultibootMmapEntry {
  uint32_t size;
  uint64_t base;
  uint64_t length;
  uint32_t type;  // the E820 type
};
static_assert(sizeof(MultibootMmapEntry) == 24, "Multiboot v1 memory-map entry: size, base, length, type");

enum class ParseStatus : uint8_t { kOk, kMalformed, kFull };

struct ParseResult {
  ParseStatus status;
  size_t line;         // 1-based line of the text (entry number for the Multiboot array); 0 when kOk
  const char* reason;  // static text; nullptr when kOk
};

ParseResult ParseMultibootMmap(const uint8_t* bytes, size_t len, E820Map* out);
ParseResult ParseE820Plan9(const char* text, size_t len, E820Map* out);
ParseResult ParseE820Text(const char* text, size_t len, E820Map* out);

}  // namespace kmem
