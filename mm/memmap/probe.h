// Finding memory the firmware did not describe: when there is no memory map at all, a memory test. It reads
// and writes through what the caller hands it, so host tests run it over simulated memory. (The PC's
// option-ROM scan is arch/x86_64/pc/legacy.h.)
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/base/addr.h"
#include "mm/base/panic.h"
#include "mm/memmap/memmap.h"

namespace kmem {

inline constexpr uint64_t kMemTestChunk = uint64_t{4} << 20;
// Below this a chunk that does not read back is a hole (the ISA hole at 15 MiB, say) and the test goes
// on; from here up it is the end of RAM: past it, video memory or a device could pass for RAM.
inline constexpr uint64_t kMemTestHoleLimit = uint64_t{32} << 20;

struct MemTestResult {
  PhysAddr end;            // the end of the last good chunk; `from` when none is
  uint64_t ram = 0;        // bytes of good chunks, each added to the map as RAM
  uint64_t skipped = 0;    // bytes of chunks the memory types make other than write-back: never touched
  uint64_t holes = 0;      // bytes of chunks below kMemTestHoleLimit that did not read back
  MemmapStatus status = MemmapStatus::kOk;  // why adding a chunk to the map failed, which ends the test
};

// The memory test for machines that give no map (9front's ramscan): walks 4 MiB chunks from `from`
// towards `limit`. A chunk that is not write-back memory is skipped without a touch: RAM always is, and
// writing into device space that is uncached could do anything. Otherwise the test writes a pattern to the
// chunk's last word and reads it back. A chunk whose word does not hold is a hole below kMemTestHoleLimit
// and the end of RAM above; one whose write lands on the last word of the first 4 MiB, which holds a marker
// meanwhile, ends the test wherever it is: that is how addresses wrapping onto low memory (upper address
// lines not decoded) show. Each good chunk becomes RAM in `map`. `from` must be a chunk boundary above the first chunk; every word written is restored.
//
// Mem provides `bool WriteBack(PhysAddr chunk, uint64_t size)` (whether the range is write-back memory),
// `uint32_t Read(PhysAddr)` and `void Write(PhysAddr, uint32_t)`: volatile accesses through the kernel's
// windows, or a simulation with holes on the host. O((limit - from) / 4 MiB) accesses and map additions.
template <typename Mem>
MemTestResult MemTest(Mem& mem, PhysAddr from, PhysAddr limit, Memmap* map) {
  KASSERT(from.value() >= kMemTestChunk && from.IsAlignedTo(kMemTestChunk), "memory test from 0x%lx", from.value());
  constexpr uint32_t kMarker = 0x6b6d656d;  // "kmem"
  const PhysAddr marker_at(kMemTestChunk - sizeof(uint32_t));
  const uint32_t saved_marker = mem.Read(marker_at);
  mem.Write(marker_at, kMarker);
  MemTestResult r;
  r.end = from;
  for (PhysAddr chunk = from; chunk < limit && limit - chunk >= kMemTestChunk; chunk = chunk + kMemTestChunk) {
    if (!mem.WriteBack(chunk, kMemTestChunk)) {
      r.skipped += kMemTestChunk;
      continue;
    }
    const PhysAddr word = chunk + (kMemTestChunk - sizeof(uint32_t));
    const uint32_t pattern = 0x5aa5c33c ^ static_cast<uint32_t>(chunk.value() >> 22);
    const uint32_t saved = mem.Read(word);
    mem.Write(word, pattern);
    const bool reads_back = mem.Read(word) == pattern;
    const bool wraps = mem.Read(marker_at) != kMarker;
    mem.Write(word, saved);
    if (wraps) break;  // aliasing low memory: nothing from here up is RAM of its own
    if (!reads_back && chunk.value() < kMemTestHoleLimit) {
      r.holes += kMemTestChunk;
      continue;
    }
    if (!reads_back) break;
    r.status = map->Add(chunk, kMemTestChunk, MemType::kRam);
    if (r.status != MemmapStatus::kOk) break;
    r.ram += kMemTestChunk;
    r.end = chunk + kMemTestChunk;
  }
  mem.Write(marker_at, saved_marker);
  return r;
}

}  // namespace kmem
