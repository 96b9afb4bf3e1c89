// The PC's rules for physical memory below 1 MiB, which no firmware map can be trusted on: [0xA0000,
// 0x100000) is never RAM whatever the firmware says (VGA buffer, option ROMs, BIOS), the ISA window
// [0xC0000, 0xF0000) between them is upper memory (UMB) except where an option ROM sits, and every address
// nothing else claims is unbacked address space (UPA) where devices may be mapped. The kernel's meminit
// and //tools:memmap build the typed map (mm/memmap) through these.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/memmap/e820.h"
#include "mm/memmap/memmap.h"

namespace kmem::x86 {

// The legacy first MiB: real-mode vectors, BIOS data, the hole above 640 KiB. The kernel is loaded above
// it and never runs on it (confinit's low memory).
inline constexpr uint64_t kLegacyEnd = 0x100000;
inline constexpr uint64_t kIsaWindowBase = 0xC0000;
inline constexpr uint64_t kIsaWindowSize = 0x30000;  // up to the system BIOS at 0xF0000
// The page application processors start in (arch/x86_64/boot/trampoline.S): a STARTUP IPI names a page
// below 1 MiB, run in real mode. Conventional memory every PC has, clear of the real-mode vectors and BIOS
// data (page 0) and of the EBDA below 640 KiB; meminit reserves it, and refuses to boot if it is not free
// RAM (a loader's structures there).
inline constexpr uint64_t kApTrampoline = 0x8000;

// Adds RAM [base, end) except the part in [0xA0000, 0x100000): every RAM range goes through here so that
// the rule holds for firmware maps and memory tests alike. An mm/memmap MemmapAddRamFn.
MemmapStatus PcAddRam(Memmap* map, uint64_t base, uint64_t end);

// The legacy rules alone, for a map built without firmware help (the memory test): VGA buffer and BIOS
// reserved, the ISA window UMB, the rest of [0, map's limit) UPA.
MemmapStatus PcAddLegacy(Memmap* map);

// A sanitised E820 map with the legacy rules: MemmapAddE820 with RAM through PcAddRam, then PcAddLegacy.
// Ranges past the map's limit are clipped. Fails only when the map is full.
MemmapStatus PcAddE820(const E820Map& sanitised, Memmap* map);

// Scans `isa`, a view of physical [0xC0000, 0xF0000), for option ROMs: a 0x55 0xAA signature on a 2 KiB
// boundary, byte 2 giving the length in 512-byte blocks. Each ROM becomes Reserved in `map` (the window
// stays UMB around them); *found counts them. O(window / 2 KiB) reads.
MemmapStatus ScanOptionRoms(const volatile uint8_t* isa, Memmap* map, size_t* found);

}  // namespace kmem::x86
