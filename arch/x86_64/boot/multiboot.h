// The Multiboot (v1) boot information a loader hands the kernel, as far as kmem reads it: the memory
// map, the command line and the legacy lower/upper memory sizes.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/memmap/parse.h"

namespace kmem::boot {

inline constexpr uint32_t kMultibootLoaderMagic = 0x2BADB002;

struct MultibootInfo {
  enum Flag : uint32_t { kMemSizes = 1u << 0, kCmdline = 1u << 2, kMemMap = 1u << 6 };
  uint32_t flags;
  uint32_t mem_lower_kib;
  uint32_t mem_upper_kib;
  uint32_t boot_device;
  uint32_t cmdline;  // physical address of a NUL-terminated string
  uint32_t mods_count;
  uint32_t mods_addr;
  uint32_t syms[4];
  uint32_t mmap_length;  // bytes
  uint32_t mmap_addr;    // physical address of the first entry
};
static_assert(sizeof(MultibootInfo) == 52, "Multiboot v1 layout up to the memory map fields");

// One memory-map entry of the array at mmap_addr. `size` counts the bytes after itself, so entries are
// walked by size + 4.
struct [[gnu::packed]] MultibootMmapEntry {
  uint32_t size;
  uint64_t base;
  uint64_t length;
  uint32_t type;  // the E820 type
};
static_assert(sizeof(MultibootMmapEntry) == 24, "Multiboot v1 memory-map entry: size, base, length, type");

// Appends the array's entries (raw, unsanitised) to `out`, as mm/memmap/parse.h's readers do; a ParseResult
// line is an entry number. An empty array is malformed ("no entries").
ParseResult ParseMultibootMmap(const uint8_t* bytes, size_t len, E820Map* out);

}  // namespace kmem::boot
