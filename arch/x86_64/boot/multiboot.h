// The Multiboot (v1) boot information a loader hands the kernel, as far as kmem reads it: the memory
// map, the command line and the legacy lower/upper memory sizes.
#pragma once

#include <stdint.h>

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

// The memory-map entries mmap_addr points at are read by mm/memmap (MultibootMmapEntry in parse.h).

}  // namespace kmem::boot
