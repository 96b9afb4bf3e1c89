#include "boot/counts.h"

#include "boot/arch.h"
#include "boot/poolinit.h"
#include "mm/base/format.h"
#include "mm/base/panic.h"
#include "mm/pool/pool.h"
#include "mm/pool/slab.h"

namespace kmem::boot {
namespace {

void ExpectBack(const char* who, const char* what, uint64_t before, uint64_t after) {
  if (before != after) Panic("%s: %s: %lu before, %lu after", who, what, before, after);
}

}  // namespace

MemCounts CountMem(KernelPalloc& palloc) {
  const pool::AllocStats kmalloc = pool::KmallocStats();
  MemCounts c{0, palloc.UserCount(), {}, pool::PoolStatsOf(pool::mainmem).live_blocks, kmalloc.live_blocks,
              kmalloc.live_bytes, ArchTablePages()};
  uint64_t zones_free = 0;
  uint64_t pooled[kZones] = {};
  ArchPooledTablePages(palloc, pooled);
  for (unsigned z = 0; z < kZones; ++z) {
    const uint64_t free = palloc.ZoneFreeWalked(static_cast<PallocZone>(z));
    zones_free += free;
    c.zone_free[z] = free + PoolPages(static_cast<PallocZone>(z)) + pooled[z];
    c.free += c.zone_free[z];
  }
  KASSERT(zones_free == palloc.FreeCount(), "counts: the zones' free pages add up to %lu, palloc says %lu", zones_free,
          palloc.FreeCount());
  return c;
}

void ExpectCountsBack(const char* who, const MemCounts& before, const MemCounts& after) {
  ExpectBack(who, "free pages and the pools' pages", before.free, after.free);
  ExpectBack(who, "user pages", before.users, after.users);
  for (unsigned z = 0; z < kZones; ++z) {
    char what[64];
    FormatTo(what, sizeof what, "zone %s's free and pools' pages", kZoneNames[z]);
    ExpectBack(who, what, before.zone_free[z], after.zone_free[z]);
  }
  ExpectBack(who, "mainmem's live blocks", before.mainmem_live, after.mainmem_live);
  ExpectBack(who, "Kmalloc's live objects", before.kmalloc_live, after.kmalloc_live);
  ExpectBack(who, "Kmalloc's live bytes", before.kmalloc_bytes, after.kmalloc_bytes);
  ExpectBack(who, "page-table pages", before.tables, after.tables);
  pool::PoolCheck(pool::mainmem);
  pool::KmemCheckAll();
}

}  // namespace kmem::boot
