// The kernel's virtual layout on x86_64 (9front pc64's mem.h in spirit): page sizes, the windows of the
// kernel half, the user limit, the page-table entry bits and index helpers, and the named conversions
// between physical and kernel-virtual addresses.
//
//   0x0000000000000000 - 0x00007fffffffffff  user (PML4 slots 0-255, per address space)
//   0xffff800000000000 - 0xffff81ffffffffff  direct map of all RAM, pa at kDirectMap + pa (slots 256-259)
//   0xffff820000000000 - 0xffff827fffffffff  VMAP: device memory, uncached or write-combining (slot 260)
//   0xffff828000000000 - 0xffff8280001fffff  KMAP: one-page slots for pages outside the direct map (261)
//   0xffffffff80000000 - 0xffffffffffffffff  KZERO: the kernel image at KTZERO, low RAM around it (511)
//
// The kernel half uses only the PML4 slots above; their third-level tables are made once at start-up and
// shared by every address space, so a kernel mapping never has to be copied into each top-level table.
#pragma once

#include <stdint.h>

#include "mm/base/addr.h"

namespace kmem::x86 {

// Page sizes, by the page-table level whose entry maps them: level 0 entries map 4 KiB, level 1 2 MiB,
// level 2 1 GiB; level 3 (the PML4) only points at tables.
enum class PageSize : unsigned { k4K = 0, k2M = 1, k1G = 2 };
inline constexpr unsigned kLevels = 4;
inline constexpr unsigned kTopLevel = 3;
inline constexpr unsigned kEntriesPerTable = 512;

constexpr unsigned LevelShift(unsigned level) { return kPageShift + 9 * level; }
constexpr uint64_t LevelSize(unsigned level) { return uint64_t{1} << LevelShift(level); }
constexpr uint64_t Bytes(PageSize s) { return LevelSize(static_cast<unsigned>(s)); }
inline constexpr uint64_t k2M = LevelSize(1);
inline constexpr uint64_t k1G = LevelSize(2);

// The index of va's entry in its level-`level` table.
constexpr unsigned PteIndex(VirtAddr va, unsigned level) {
  return static_cast<unsigned>((va.value() >> LevelShift(level)) & (kEntriesPerTable - 1));
}

// The kernel is linked at KTZERO = KZERO + 1 MiB; the boot tables map physical [0, 2 GiB) at KZERO, and
// the kernel's own tables keep the RAM of that window there (mmu_init.h).
inline constexpr uint64_t kKzero = 0xffffffff80000000;
inline constexpr uint64_t kKtzero = kKzero + 0x100000;
inline constexpr uint64_t kKzeroWindow = uint64_t{2} << 30;

inline constexpr uint64_t kDirectMap = 0xffff800000000000;
inline constexpr uint64_t kDirectMapMax = uint64_t{2} << 40;  // 2 TiB of RAM at most
inline constexpr uint64_t kVmap = kDirectMap + kDirectMapMax;
inline constexpr uint64_t kVmapSize = uint64_t{512} << 30;
inline constexpr uint64_t kKmap = kVmap + kVmapSize;
inline constexpr unsigned kKmapSlots = 512;
inline constexpr uint64_t kKmapSize = kKmapSlots * kPageSize;

// User addresses are [0, kUserLimit); the kernel half starts at kKernelBase. Between them lies the
// non-canonical hole of 48-bit paging.
inline constexpr uint64_t kUserLimit = uint64_t{1} << 47;
inline constexpr uint64_t kKernelBase = ~(kUserLimit - 1);

constexpr bool IsCanonical(VirtAddr va) { return va.value() < kUserLimit || va.value() >= kKernelBase; }
constexpr bool IsUserAddress(VirtAddr va) { return va.value() < kUserLimit; }

// Page-table entry bits.
namespace pte {
inline constexpr uint64_t kPresent = uint64_t{1} << 0;
inline constexpr uint64_t kWrite = uint64_t{1} << 1;
inline constexpr uint64_t kUser = uint64_t{1} << 2;
inline constexpr uint64_t kWriteThrough = uint64_t{1} << 3;  // PWT
inline constexpr uint64_t kCacheDisable = uint64_t{1} << 4;  // PCD
inline constexpr uint64_t kAccessed = uint64_t{1} << 5;
inline constexpr uint64_t kDirty = uint64_t{1} << 6;
inline constexpr uint64_t kLarge = uint64_t{1} << 7;  // PS: a leaf at level 1 or 2
inline constexpr uint64_t kGlobal = uint64_t{1} << 8;
inline constexpr uint64_t kNoExecute = uint64_t{1} << 63;
inline constexpr uint64_t kAddrMask = 0x000ffffffffff000;
// In an entry that points at a table, bits 52-61 are ignored by the CPU; we keep there the number of
// present entries in that table, so an unmap knows in O(1) when the table has become empty.
inline constexpr unsigned kCountShift = 52;
inline constexpr uint64_t kCountMask = uint64_t{0x3ff} << kCountShift;
static_assert(kEntriesPerTable <= (kCountMask >> kCountShift), "the count field must hold a full table");
}  // namespace pte

// MAXPHYADDR is at most 52 bits, the width of an entry's address field: no x86_64 CPU has a physical
// address from here up. The memory map's limit (mm/memmap) and the MMU's before CPUID narrows it.
inline constexpr PhysAddr kArchPhysLimit = PhysAddr(pte::kAddrMask + kPageSize);

// The direct map: every byte of RAM below kDirectMapMax at kDirectMap + pa.
constexpr VirtAddr DirectMapAddressOf(PhysAddr pa) { return VirtAddr(kDirectMap + pa.value()); }
constexpr PhysAddr PhysAddrOfDirectMap(VirtAddr va) { return PhysAddr(va.value() - kDirectMap); }
constexpr bool InDirectMap(VirtAddr va) { return va.value() >= kDirectMap && va.value() - kDirectMap < kDirectMapMax; }

// The kernel-virtual address of `pa` in the KZERO window. Only valid for pa < kKzeroWindow.
constexpr VirtAddr KzeroAddressOf(PhysAddr pa) { return VirtAddr(pa.value() + kKzero); }
// PADDR of a kernel-image (KZERO window) address.
constexpr PhysAddr PhysAddrOfKzero(VirtAddr va) { return PhysAddr(va.value() - kKzero); }

template <typename T>
T* KzeroPointer(PhysAddr pa) {
  return reinterpret_cast<T*>(KzeroAddressOf(pa).value());
}

}  // namespace kmem::x86
