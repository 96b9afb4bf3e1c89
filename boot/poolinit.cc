#include "boot/poolinit.h"

#include "boot/arch.h"
#include "mm/pool/poolinit.h"

namespace kmem::boot {
namespace {

constinit pool::PageSpans<KernelPalloc> spans;  // the pools' and slab caches' source from pageinit on

}  // namespace

void PoolsEarly(const Conf& conf, HoleAllocator& xalloc) { pool::PoolsEarly(conf, xalloc); }

void PoolsLate(const Conf& conf, KernelPalloc& palloc, const pool::PoolSync& sync) {
  spans = pool::PageSpans<KernelPalloc>(palloc, ArchDirectMap());
  pool::PoolsLate(conf, spans.source(), sync);
}

uint64_t PoolPages(PallocZone zone) { return spans.Held(zone); }

}  // namespace kmem::boot
