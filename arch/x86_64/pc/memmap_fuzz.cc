// Fuzz target for the E820 readers, the sanitiser and the conversion into the typed map. The first byte
// picks the reader (plain text, 9front, Multiboot array, or compact binary entries in a small address
// space, placed at 0 or at the top of the 64-bit space); whatever parses is sanitised and must come out
// sorted, non-overlapping, merged and equal to the brute-force model at every change point (at every
// address for the compact form); the typed map built from it must keep its invariants.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "arch/x86_64/boot/multiboot.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/pc/legacy.h"
#include "mm/memmap/e820.h"
#include "mm/memmap/memmap.h"
#include "mm/memmap/parse.h"
#include "testing/e820_model.h"

namespace kmem {
namespace {

E820Map raw, sanitised;
Memmap typed(x86::kArchPhysLimit);

void Fail(const std::string& what) {
  std::fprintf(stderr, "memmap_fuzz: %s\n", what.c_str());
  std::abort();
}

}  // namespace
}  // namespace kmem

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kmem;
  if (size == 0) return 0;
  const uint8_t mode = data[0] % 4;
  const char* text = reinterpret_cast<const char*>(data + 1);
  raw.count = 0;
  std::vector<PhysEnd> probes;
  ParseResult r{ParseStatus::kOk, 0, nullptr};
  switch (mode) {
    case 0: r = ParseE820Text(text, size - 1, &raw); break;
    case 1: r = ParseE820Plan9(text, size - 1, &raw); break;
    case 2: r = boot::ParseMultibootMmap(data + 1, size - 1, &raw); break;
    case 3: {
      // Three bytes an entry: base, length, type, in a 256-byte space at 0 or ending at 2^64 + 255.
      const uint64_t offset = (data[0] & 4) != 0 ? ~uint64_t{0} - 255 : 0;
      for (size_t i = 1; i + 3 <= size && raw.count < E820Map::kCapacity; i += 3) {
        E820Append(&raw, offset + data[i], PhysEnd{offset} + data[i] + data[i + 1], data[i + 2] % 24);
      }
      for (PhysEnd x = 0; x < 512; ++x) probes.push_back(PhysEnd{offset} + x);
      break;
    }
  }
  if (r.status != ParseStatus::kOk) {
    if (r.reason == nullptr || r.line == 0) Fail("an error without a line or reason");
    return 0;
  }
  E820Report report;
  if (E820Sanitise(raw, &sanitised, &report) != E820Status::kOk) {
    if (raw.count < E820Map::kCapacity / 2) Fail("kFull from fewer than half capacity entries");
    return 0;
  }
  for (PhysEnd p : testing::E820ChangePoints(raw)) probes.push_back(p);
  std::string why = testing::E820Check(raw, sanitised, probes);
  if (!why.empty()) Fail(why);

  // A fresh map in place: a Memmap is not copyable (its lock).
  std::destroy_at(&typed);
  std::construct_at(&typed, x86::kArchPhysLimit);
  MemmapStatus s = x86::PcAddE820(sanitised, &typed);
  if (s != MemmapStatus::kOk && s != MemmapStatus::kFull) Fail(std::string("typed map: ") + MemmapStatusName(s));
  why = testing::MemmapCheckShape(typed);
  if (!why.empty()) Fail(why);
  return 0;
}
