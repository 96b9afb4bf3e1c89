// Finding memory the firmware did not describe: the option-ROM scan of the ISA window and, when there is
// no memory map at all, a memory test. Both read and write through what the caller hands them, so host
// tests run them over simulated memory.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/base/addr.h"
#include "mm/base/panic.h"
#include "mm/memmap/memmap.h"

namespace kmem {

inline constexpr uint64_t kIsaWindowBase = 0xC0000;
inline constexpr uint64_t kIsaWindowSize = 0x30000;  // up to the system BIOS at 0xF0000

// Scans `isa`, a view of physical [0xC0000, 0xF0000), for option ROMs: a 0x55 0xAA signature on a 2 KiB
// boundary, byte 2 giving the length in 512-byte blocks. Each ROM becomes Reserved in `map` (the window
// stays UMB around them); *found counts them. O(window / 2 KiB) reads.
MemmapStatus ScanOptionRoms(const volatile uint8_t* isa, Memmap* map, size_t* found);

inline constexpr uint64_t kMemTestChunk = uint64_t{4} << 20;

// The memory test for machines that give no map: probes the last word of each 4 MiB chunk from `from`
// towards `limit`, writing a pattern and reading it back, and stops at the first chunk whose word does not
// read back or whose write lands on the last word of the first 4 MiB, which holds a marker meanwhile: that
// is how addresses wrapping onto low memory (upper address lines not decoded) show. Returns the end of the
// last good chunk (`from` when none is). `from` must be a chunk boundary above the first chunk; every word
// written is restored.
//
// Mem provides `uint32_t Read(PhysAddr)` and `void Write(PhysAddr, uint32_t)`: volatile accesses through
// the kernel's window, or a simulation with holes on the host. O((limit - from) / 4 MiB) accesses.
template <typename Mem>
PhysAddr MemTest(Mem& mem, PhysAddr from, PhysAddr limit) {
  KASSERT(from.value() >= kMemTestChunk && from.IsAlignedTo(kMemTestChunk), "memory test from 0x%lx", from.value());
  constexpr uint32_t kMarker = 0x6b6d656d;  // "kmem"
  const PhysAddr marker_at(kMemTestChunk - sizeof(uint32_t));
  const uint32_t saved_marker = mem.Read(marker_at);
  mem.Write(marker_at, kMarker);
  PhysAddr good = from;
  for (PhysAddr chunk = from; chunk < limit && limit - chunk >= kMemTestChunk; chunk = chunk + kMemTestChunk) {
    const PhysAddr word = chunk + (kMemTestChunk - sizeof(uint32_t));
    const uint32_t pattern = 0x5aa5c33c ^ static_cast<uint32_t>(chunk.value() >> 22);
    const uint32_t saved = mem.Read(word);
    mem.Write(word, pattern);
    const bool holds = mem.Read(word) == pattern && mem.Read(marker_at) == kMarker;
    mem.Write(word, saved);
    if (!holds) break;
    good = chunk + kMemTestChunk;
  }
  mem.Write(marker_at, saved_marker);
  return good;
}

}  // namespace kmem
