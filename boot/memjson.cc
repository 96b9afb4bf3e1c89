#include "boot/memjson.h"

#include "boot/poolinit.h"
#include "mm/base/format.h"
#include "mm/pool/pool.h"
#include "mm/pool/slab.h"

namespace kmem::boot {
namespace {

constexpr uint64_t kRegionBytes = uint64_t{2} << 20;
constexpr uint64_t kMaxRegions = 8192;  // 16 GiB of address space in 2 MiB regions; coarser above

uint32_t region_free[kMaxRegions];  // static: 32 KiB is too much for the boot stack
PallocStats stats;                  // likewise (the per-colour counts)

void Memmap(const kmem::Memmap& map) {
  Print("{\"kmem\":\"memmap\",\"ranges\":[");
  const char* sep = "";
  for (int t = 0; t < kMemTypes; ++t) {
    for (const MemRange& r : map.Ranges(static_cast<MemType>(t))) {
      Print("%s{\"base\":%lu,\"end\":%lu,\"type\":\"%s\",\"use\":\"%s\"}", sep, r.base.value(), r.end().value(),
            MemTypeName(r.type), r.use == MemUse::kFree ? "free" : "allocated");
      sep = ",";
    }
  }
  Print("]}\n");
}

// The counts and free blocks of all the zones or of one, as members of the object being printed.
void PrintCounts(const PallocStats& s) {
  Print("\"total_pages\":%lu,\"free_pages\":%lu,\"user_pages\":%lu,\"free_blocks\":[", s.total_pages, s.free_pages,
        s.user_pages);
  for (unsigned k = 0; k < kOrders; ++k) Print("%s%lu", k == 0 ? "" : ",", s.free_blocks[k]);
  Print("]");
}

// In all, then per zone that has memory (as the buddyinfo table lists them).
void Buddyinfo(const KernelPalloc& palloc) {
  palloc.Stats(&stats);
  Print("{\"kmem\":\"buddyinfo\",\"backend\":\"%s\",", KernelPalloc::kBackendName);
  PrintCounts(stats);
  Print(",\"zones\":[");
  const char* sep = "";
  for (unsigned z = 0; z < kZones; ++z) {
    palloc.ZoneStats(static_cast<PallocZone>(z), &stats);
    if (stats.total_pages == 0) continue;
    Print("%s{\"name\":\"%s\",", sep, kZoneNames[z]);
    PrintCounts(stats);
    Print("}");
    sep = ",";
  }
  Print("]}\n");
}

// Free pages per region of RAM's span [0, end of the highest RAM range).
void Regions(const kmem::Memmap& map, const KernelPalloc& palloc) {
  uint64_t end = 0;
  for (const MemRange& r : map.Ranges(MemType::kRam)) end = Max(end, r.end().value());
  uint64_t region = kRegionBytes;
  while ((end + region - 1) / region > kMaxRegions) region *= 2;
  const uint64_t n = (end + region - 1) / region;
  for (uint64_t i = 0; i < n; ++i) region_free[i] = 0;
  palloc.ForEachFreeBlock([&](PhysAddr pa, unsigned order) {
    // A block larger than a region spreads over several.
    for (uint64_t a = pa.value(), left = kPageSize << order; left != 0;) {
      uint64_t take = Min(left, region - a % region);
      region_free[a / region] += static_cast<uint32_t>(take >> kPageShift);
      a += take;
      left -= take;
    }
  });
  Print("{\"kmem\":\"regions\",\"region_bytes\":%lu,\"end\":%lu,\"free_pages\":[", region, end);
  for (uint64_t i = 0; i < n; ++i) Print("%s%u", i == 0 ? "" : ",", region_free[i]);
  Print("]}\n");
}

void PrintStats(const char* name, const pool::AllocStats& s) {
  Print("\"%s\":{\"live_blocks\":%lu,\"live_bytes\":%lu,\"peak_bytes\":%lu,\"allocs\":%lu,\"frees\":%lu}", name,
        s.live_blocks, s.live_bytes, s.peak_bytes, s.allocs, s.frees);
}

void Pools() {
  Print("{\"kmem\":\"pools\",\"pools\":[");
  for (const pool::Pool* p : kKernelPools) {
    Print("%s{\"name\":\"%s\",\"grown\":%lu,\"limit\":%lu,", p == kKernelPools[0] ? "" : ",", p->config.name,
          pool::PoolGrown(*p), p->config.limit);
    PrintStats("stats", pool::PoolStatsOf(*p));
    Print("}");
  }
  Print("],");
  PrintStats("kmalloc", pool::KmallocStats());
  Print("}\n");
}

}  // namespace

void PrintMemJson(const kmem::Memmap& map, const KernelPalloc& palloc) {
  Memmap(map);
  Buddyinfo(palloc);
  Regions(map, palloc);
  Pools();
}

}  // namespace kmem::boot
