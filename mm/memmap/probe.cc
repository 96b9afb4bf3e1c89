#include "mm/memmap/probe.h"

namespace kmem {

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

}  // namespace kmem
