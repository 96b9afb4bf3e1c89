// E820 firmware memory maps: the table as firmware hands it over, the sanitiser that makes it sorted,
// non-overlapping and merged with Linux's change-point semantics, and the conversion into the typed map
// (mm/memmap/memmap.h). What a platform adds around it (the PC's rules below 1 MiB) is the platform's:
// arch/x86_64/pc/legacy.h.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/memmap/memmap.h"

namespace kmem {

inline constexpr uint32_t kE820Ram = 1;
inline constexpr uint32_t kE820Reserved = 2;
inline constexpr uint32_t kE820Acpi = 3;  // ACPI tables, reclaimable once parsed
inline constexpr uint32_t kE820Nvs = 4;   // ACPI non-volatile storage
inline constexpr uint32_t kE820Unusable = 5;
inline constexpr uint32_t kE820Pmem = 7;   // persistent memory (ACPI 6)
inline constexpr uint32_t kE820Pram = 12;  // persistent memory as older firmware reported it
// Linux's list of the types it knows (the five above, 7 and 12); the sanitiser counts any other number as
// reserved, 6 ("disabled" in ACPI 3, never used by Linux) and 20 of some firmware among them.
constexpr bool E820KnownType(uint32_t type) {
  return (type >= kE820Ram && type <= kE820Unusable) || type == kE820Pmem || type == kE820Pram;
}

// An end address needs 65 bits: a range may end exactly at 2^64, and firmware input may claim to end beyond
// it (base + length wrapped), which the sanitiser clips.
using PhysEnd = unsigned __int128;
inline constexpr PhysEnd kPhysEndTop = PhysEnd{1} << 64;

struct E820Entry {
  uint64_t base;
  PhysEnd end;  // exclusive
  uint32_t type;
};

// A fixed-capacity table. 256 is twice the 128 entries Linux allows a boot-time map; the sanitised output
// of n input entries has at most 2n - 1 entries, so that bound is only reached by maps no firmware writes,
// and then E820Append/E820Sanitise return kFull rather than drop entries.
struct E820Map {
  static constexpr size_t kCapacity = 256;
  E820Entry entry[kCapacity];
  size_t count = 0;
};

enum class E820Status : uint8_t { kOk, kFull };

E820Status E820Append(E820Map* map, uint64_t base, PhysEnd end, uint32_t type);

// What sanitising had to repair, for the caller to print.
struct E820Report {
  size_t dropped_empty;  // zero-length (or inverted) entries
  size_t clipped;        // entries reaching past 2^64, clipped there
  size_t unknown_types;  // entries whose type was counted as reserved
};

// Sanitises `in` into `out`: sorted by address; where entries overlap the greater type number wins
// (unknown types counting as 2); zero-length entries dropped; ends clipped at 2^64; touching entries of
// one type merged. Every address covered by some input entry is covered by exactly one output entry.
// O(n^2) in the number of entries with no extra memory (n <= 256: well under a millisecond).
E820Status E820Sanitise(const E820Map& in, E820Map* out, E820Report* report);

// Prints one entry a line, `0x%016lx 0x%016lx %u` (base, exclusive end, type) after `indent`; an end of
// 2^64 or beyond prints with its 65th bit, e.g. 0x10000000000000000. The tool's and the kernel's format.
void E820Print(const E820Map& map, const char* indent);

// The typed type of an E820 type: 1 is RAM, 3 and 4 are ACPI, anything else is reserved.
MemType E820MemType(uint32_t type);

// How a platform adds firmware RAM [base, end) to a map: Memmap::Add, or less where the platform knows the
// firmware wrong (the PC's legacy hole, arch/x86_64/pc/legacy.h).
using MemmapAddRamFn = MemmapStatus (*)(Memmap* map, uint64_t base, uint64_t end);

// Adds a sanitised E820 map to `map`: RAM through `add_ram`, every other entry as its typed type, all of it
// clipped at the map's limit (nothing there can be addressed). Fails only when the map is full.
MemmapStatus MemmapAddE820(const E820Map& sanitised, Memmap* map, MemmapAddRamFn add_ram);

// The bytes of RAM in a sanitised map at or above `limit`, which MemmapAddE820 leaves out of the typed map
// when `limit` is the map's: callers say so rather than lose RAM without a word.
uint64_t E820RamAbove(const E820Map& sanitised, uint64_t limit);

}  // namespace kmem
