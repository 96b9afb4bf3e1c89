#include "boot/poolinit.h"

#include "boot/arch.h"
#include "mm/base/format.h"
#include "mm/base/panic.h"
#include "mm/pool/pool.h"
#include "mm/pool/slab.h"

namespace kmem::boot {
namespace {

// The smallest arena a pool takes from its source at once.
constexpr uint64_t kPoolQuantum = 64 << 10;

void* TakeXalloc(void* ctx, size_t bytes, size_t align) {
  return static_cast<HoleAllocator*>(ctx)->Xspanalloc(bytes, align, 0);
}

// The buddy order whose naturally aligned block holds `bytes` at alignment `align`.
unsigned OrderFor(size_t bytes, size_t align) {
  uint64_t need = bytes > align ? bytes : align;
  unsigned order = 0;
  while ((kPageSize << order) < need) ++order;
  return order;
}

// Pools take arenas aligned to at most their size and slabs aligned to exactly theirs, so the order of a
// span follows from its size alone when it comes back (GivePages).
void* TakePages(void* ctx, size_t bytes, size_t align) {
  auto* palloc = static_cast<KernelPalloc*>(ctx);
  unsigned order = OrderFor(bytes, align);
  KASSERT(order == OrderFor(bytes, kPageSize), "a %zu-byte span aligned to %zu could not be given back", bytes,
          align);
  if (order > kMaxOrder) return nullptr;
  PageResult r = palloc->TryAllocContig(order);
  if (r.status != PallocStatus::kOk) return nullptr;
  return ArchDirectMap().Kaddr(palloc->Pa(r.page));
}

void GivePages(void* ctx, void* span, size_t bytes) {
  auto* palloc = static_cast<KernelPalloc*>(ctx);
  PhysAddr pa = ArchDirectMap().Paddr(span);
  palloc->FreeContig(pa, OrderFor(bytes, kPageSize));
}

}  // namespace

void PoolsEarly(const Conf& conf, HoleAllocator& xalloc) {
  pool::MemSource from_xalloc{&xalloc, TakeXalloc, nullptr};
  pool::PoolInit(pool::mainmem, {"mainmem", conf.mainmem_limit, kPoolQuantum, pool::FreeFill::kPoison,
                                 from_xalloc, {}});
  pool::PoolInit(pool::imagmem, {"imagmem", conf.imagmem_limit, kPoolQuantum, pool::FreeFill::kPoison,
                                 from_xalloc, {}});
  pool::PoolInit(pool::secrmem, {"secrmem", conf.secrmem_limit, kPoolQuantum, pool::FreeFill::kZero,
                                 from_xalloc, {}});
  Print("pools: mainmem %lu KiB, imagmem %lu KiB, secrmem %lu KiB at most; from xalloc\n",
        conf.mainmem_limit >> 10, conf.imagmem_limit >> 10, conf.secrmem_limit >> 10);
}

void PoolsLate(const Conf& conf, KernelPalloc& palloc) {
  pool::MemSource from_pages{&palloc, TakePages, GivePages};
  pool::PoolSetSource(pool::mainmem, from_pages, conf.mainmem_limit);
  pool::PoolSetSource(pool::imagmem, from_pages, conf.imagmem_limit);
  pool::PoolSetSource(pool::secrmem, from_pages, conf.secrmem_limit);
  pool::KmemInit(from_pages);
  Print("pools: growing from the page allocator from now on; slab caches and kmalloc ready\n");
}

}  // namespace kmem::boot
