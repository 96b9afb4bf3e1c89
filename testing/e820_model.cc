#include "testing/e820_model.h"

#include <cstdio>

namespace kmem::testing {
namespace {

std::string Hex(PhysEnd x) {
  char buf[40];
  auto hi = static_cast<unsigned long long>(x >> 64);
  auto lo = static_cast<unsigned long long>(x);
  if (hi != 0) {
    std::snprintf(buf, sizeof buf, "0x%llx%016llx", hi, lo);
  } else {
    std::snprintf(buf, sizeof buf, "0x%llx", lo);
  }
  return buf;
}

}  // namespace

uint32_t E820ColourAt(const E820Map& raw, PhysEnd x) {
  uint32_t colour = 0;
  for (size_t i = 0; i < raw.count; ++i) {
    const E820Entry& e = raw.entry[i];
    PhysEnd end = e.end > kPhysEndTop ? kPhysEndTop : e.end;
    if (e.base <= x && x < end) {
      uint32_t t = E820KnownType(e.type) ? e.type : kE820Reserved;
      if (t > colour) colour = t;
    }
  }
  return colour;
}

std::vector<PhysEnd> E820ChangePoints(const E820Map& raw) {
  std::vector<PhysEnd> points;
  for (size_t i = 0; i < raw.count; ++i) {
    const E820Entry& e = raw.entry[i];
    PhysEnd end = e.end > kPhysEndTop ? kPhysEndTop : e.end;
    for (PhysEnd p : {PhysEnd{e.base}, end}) {
      points.push_back(p);
      if (p != 0) points.push_back(p - 1);
    }
  }
  return points;
}

std::string E820Check(const E820Map& raw, const E820Map& out, const std::vector<PhysEnd>& probes) {
  for (size_t i = 0; i < out.count; ++i) {
    const E820Entry& e = out.entry[i];
    std::string at =
        "entry " + std::to_string(i) + " [" + Hex(e.base) + ", " + Hex(e.end) + ") type " + std::to_string(e.type);
    if (e.end <= e.base) return at + " is empty";
    if (e.end > kPhysEndTop) return at + " ends beyond 2^64";
    if (!E820KnownType(e.type)) return at + " has an unknown type";
    if (i > 0) {
      const E820Entry& prev = out.entry[i - 1];
      if (prev.end > e.base) return at + " overlaps or precedes the entry before it";
      if (prev.end == e.base && prev.type == e.type) return at + " should have merged with the entry before it";
    }
  }
  for (PhysEnd x : probes) {
    if (x >= kPhysEndTop) continue;
    uint32_t got = 0;
    for (size_t i = 0; i < out.count; ++i) {
      if (out.entry[i].base <= x && x < out.entry[i].end) got = out.entry[i].type;
    }
    uint32_t want = E820ColourAt(raw, x);
    if (got != want) {
      return "at " + Hex(x) + " the sanitised map says type " + std::to_string(got) + ", the model " +
             std::to_string(want);
    }
  }
  return "";
}

std::string MemmapCheckShape(const Memmap& map) {
  for (size_t i = 0; i < map.count(); ++i) {
    const MemRange& r = map.entry(i);
    std::string at = "entry " + std::to_string(i) + " [" + Hex(r.base.value()) + ", " + Hex(r.end().value()) + ")";
    if (r.size == 0) return at + " is empty";
    if (!r.base.IsAlignedTo(kPageSize) || r.size % kPageSize != 0) return at + " is not page-aligned";
    if (r.end() > map.limit()) return at + " reaches past the limit";
    if (i > 0) {
      const MemRange& prev = map.entry(i - 1);
      if (prev.end() > r.base) return at + " overlaps or precedes the entry before it";
      if (prev.end() == r.base && prev.type == r.type && prev.use == r.use) return at + " should have merged";
    }
  }
  return "";
}

}  // namespace kmem::testing
