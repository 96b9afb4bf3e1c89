#include "mm/memmap/e820.h"

#include "mm/base/format.h"

namespace kmem {
namespace {

uint32_t SanitisedType(uint32_t type) { return E820KnownType(type) ? type : kE820Reserved; }

// The part of entry e the sanitiser considers: its end clipped at 2^64; empty when it covers nothing.
PhysEnd ClippedEnd(const E820Entry& e) { return e.end > kPhysEndTop ? kPhysEndTop : e.end; }
bool Covers(const E820Entry& e) { return e.end > e.base; }

void PrintEnd(PhysEnd end) {
  auto hi = static_cast<uint64_t>(end >> 64);
  auto lo = static_cast<uint64_t>(end);
  if (hi == 0) {
    Print("0x%016lx", lo);
  } else {
    Print("0x%lx%016lx", hi, lo);
  }
}

}  // namespace

E820Status E820Append(E820Map* map, uint64_t base, PhysEnd end, uint32_t type) {
  if (map->count == E820Map::kCapacity) return E820Status::kFull;
  map->entry[map->count++] = E820Entry{base, end, type};
  return E820Status::kOk;
}

E820Status E820Sanitise(const E820Map& in, E820Map* out, E820Report* report) {
  *report = E820Report{};
  out->count = 0;
  bool any = false;
  PhysEnd p = kPhysEndTop;  // the current change point: the lowest base to start with
  for (size_t i = 0; i < in.count; ++i) {
    const E820Entry& e = in.entry[i];
    if (!Covers(e)) {
      ++report->dropped_empty;
      continue;
    }
    if (e.end > kPhysEndTop) ++report->clipped;
    if (SanitisedType(e.type) != e.type) ++report->unknown_types;
    if (e.base < p) p = e.base;
    any = true;
  }
  // Walk the change points (every base and clipped end) in order; between two of them the covering set is
  // fixed, and the greatest type in it owns the interval.
  while (any) {
    uint32_t winner = 0;
    PhysEnd next = kPhysEndTop + 1;
    for (size_t i = 0; i < in.count; ++i) {
      const E820Entry& e = in.entry[i];
      if (!Covers(e)) continue;
      PhysEnd end = ClippedEnd(e);
      if (e.base <= p && p < end) {
        uint32_t t = SanitisedType(e.type);
        if (t > winner) winner = t;
      }
      if (e.base > p && e.base < next) next = e.base;
      if (end > p && end < next) next = end;
    }
    if (next > kPhysEndTop) break;
    if (winner != 0) {
      E820Entry* last = out->count > 0 ? &out->entry[out->count - 1] : nullptr;
      if (last != nullptr && last->end == p && last->type == winner) {
        last->end = next;
      } else if (E820Append(out, static_cast<uint64_t>(p), next, winner) != E820Status::kOk) {
        return E820Status::kFull;
      }
    }
    p = next;
  }
  return E820Status::kOk;
}

void E820Print(const E820Map& map, const char* indent) {
  for (size_t i = 0; i < map.count; ++i) {
    const E820Entry& e = map.entry[i];
    Print("%s0x%016lx ", indent, e.base);
    PrintEnd(e.end);
    Print(" %u\n", e.type);
  }
}

MemType E820MemType(uint32_t type) {
  switch (type) {
    case kE820Ram: return MemType::kRam;
    case kE820Acpi:
    case kE820Nvs: return MemType::kAcpi;
    default: return MemType::kReserved;
  }
}

uint64_t E820RamAbove(const E820Map& sanitised, uint64_t limit) {
  uint64_t bytes = 0;
  for (size_t i = 0; i < sanitised.count; ++i) {
    const E820Entry& e = sanitised.entry[i];
    if (e.type != kE820Ram || e.end <= limit) continue;
    bytes += static_cast<uint64_t>(ClippedEnd(e) - (e.base > limit ? e.base : limit));
  }
  return bytes;
}

MemmapStatus MemmapAddE820(const E820Map& sanitised, Memmap* map, MemmapAddRamFn add_ram) {
  const uint64_t limit = map->limit().value();
  for (size_t i = 0; i < sanitised.count; ++i) {
    const E820Entry& e = sanitised.entry[i];
    if (e.base >= limit) continue;
    uint64_t end = e.end > limit ? limit : static_cast<uint64_t>(e.end);
    MemType type = E820MemType(e.type);
    MemmapStatus s = type == MemType::kRam ? add_ram(map, e.base, end) : map->Add(PhysAddr(e.base), end - e.base, type);
    if (s != MemmapStatus::kOk) return s;
  }
  return MemmapStatus::kOk;
}

}  // namespace kmem
