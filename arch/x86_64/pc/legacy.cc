#include "arch/x86_64/pc/legacy.h"

namespace kmem::x86 {
namespace {

// The legacy PC layout below 1 MiB.
constexpr uint64_t kVgaBase = 0xA0000;  // VGA frame buffer
constexpr uint64_t kIsaBase = kIsaWindowBase;
constexpr uint64_t kBiosBase = kIsaWindowBase + kIsaWindowSize;  // system BIOS

}  // namespace

MemmapStatus PcAddRam(Memmap* map, uint64_t base, uint64_t end) {
  const uint64_t pieces[2][2] = {{base, end < kVgaBase ? end : kVgaBase}, {base > kLegacyEnd ? base : kLegacyEnd, end}};
  for (const auto& piece : pieces) {
    if (piece[0] >= piece[1]) continue;
    MemmapStatus s = map->Add(PhysAddr(piece[0]), piece[1] - piece[0], MemType::kRam);
    if (s != MemmapStatus::kOk) return s;
  }
  return MemmapStatus::kOk;
}

MemmapStatus PcAddLegacy(Memmap* map) {
  const struct {
    uint64_t base, end;
    MemType type;
  } rules[] = {
      {kVgaBase, kIsaBase, MemType::kReserved},
      // The ISA window: UMB unless a ROM found by the option-ROM scan or the firmware reserves it.
      {kIsaBase, kBiosBase, MemType::kUmb},
      {kBiosBase, kLegacyEnd, MemType::kReserved},
      // Everything nobody claims is address space where devices may be mapped.
      {0, map->limit().value(), MemType::kUpa},
  };
  for (const auto& r : rules) {
    MemmapStatus s = map->Add(PhysAddr(r.base), r.end - r.base, r.type);
    if (s != MemmapStatus::kOk) return s;
  }
  return MemmapStatus::kOk;
}

MemmapStatus PcAddE820(const E820Map& sanitised, Memmap* map) {
  MemmapStatus s = MemmapAddE820(sanitised, map, PcAddRam);
  return s != MemmapStatus::kOk ? s : PcAddLegacy(map);
}

MemmapStatus ScanOptionRoms(const volatile uint8_t* isa, Memmap* map, size_t* found) {
  constexpr uint64_t kStep = 2048;  // ROMs start on 2 KiB boundaries
  *found = 0;
  for (uint64_t off = 0; off < kIsaWindowSize;) {
    if (isa[off] != 0x55 || isa[off + 1] != 0xAA) {
      off += kStep;
      continue;
    }
    // A ROM claiming zero blocks still occupies the 2 KiB its header sits in; one claiming to run past
    // the window ends there, since what follows is the BIOS, reserved anyway.
    uint64_t len = uint64_t{isa[off + 2]} * 512;
    if (len < kStep) len = kStep;
    len = AlignDown(len + kStep - 1, kStep);
    if (len > kIsaWindowSize - off) len = kIsaWindowSize - off;
    MemmapStatus s = map->Add(PhysAddr(kIsaWindowBase + off), len, MemType::kReserved);
    if (s != MemmapStatus::kOk) return s;
    ++*found;
    off += len;
  }
  return MemmapStatus::kOk;
}

}  // namespace kmem::x86
