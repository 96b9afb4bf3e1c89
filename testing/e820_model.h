// The brute-force reference the E820 sanitiser is held to by the property test and the fuzzer: the type of
// an address is the greatest (unknown counting as 2) of the entries covering it, found by scanning every
// entry, with nothing clever in between. Also the checks of the sanitiser's output shape.
#pragma once

#include <string>
#include <vector>

#include "mm/memmap/e820.h"
#include "mm/memmap/memmap.h"

namespace kmem::testing {

// The limit host tests build typed maps with: x86_64's 2^52, so that their addresses are those of the
// machines the data sets come from.
inline constexpr uint64_t kPhysLimit = uint64_t{1} << 52;

// An entry as plain values, for tests that compare what a reader appended with a list they spell out.
struct E820Row {
  uint64_t base;
  PhysEnd end;
  uint32_t type;
  bool operator==(const E820Row&) const = default;
};
inline std::vector<E820Row> E820Rows(const E820Map& m) {
  std::vector<E820Row> v;
  for (size_t i = 0; i < m.count; ++i) v.push_back(E820Row{m.entry[i].base, m.entry[i].end, m.entry[i].type});
  return v;
}

// The winning type at x by the E820 rules, 0 when no entry covers x. O(n).
uint32_t E820ColourAt(const E820Map& raw, PhysEnd x);

// Every point where the model's colour may change (each base and clipped end) and the point before it:
// comparing colours there compares two maps everywhere, since colours are constant in between.
std::vector<PhysEnd> E820ChangePoints(const E820Map& raw);

// Empty when `out` is sorted, non-overlapping, merged, ends at or below 2^64, holds only known types, and
// has the model's colour of `raw` at every probe; otherwise what is wrong first.
std::string E820Check(const E820Map& raw, const E820Map& out, const std::vector<PhysEnd>& probes);

// Empty when the typed map keeps its invariants: sorted, non-overlapping, page-aligned, merged, within its
// limit.
std::string MemmapCheckShape(const Memmap& map);

}  // namespace kmem::testing
