#include "mm/pool/poolinit.h"

#include "mm/base/format.h"
#include "mm/pool/slab.h"

namespace kmem::pool {
namespace {

void* TakeXalloc(void* ctx, size_t bytes, size_t align) {
  return static_cast<HoleAllocator*>(ctx)->Xspanalloc(bytes, align, 0);
}

}  // namespace

unsigned SpanOrder(size_t bytes, size_t align) {
  uint64_t need = bytes > align ? bytes : align;
  unsigned order = 0;
  while ((kPageSize << order) < need) ++order;
  return order;
}

void PoolsEarly(const Conf& conf, HoleAllocator& xalloc) {
  MemSource from_xalloc{&xalloc, TakeXalloc, nullptr};
  PoolInit(mainmem, {"mainmem", conf.mainmem_limit, kPoolQuantum, FreeFill::kPoison, from_xalloc, {}});
  PoolInit(imagmem, {"imagmem", conf.imagmem_limit, kPoolQuantum, FreeFill::kPoison, from_xalloc, {}});
  PoolInit(secrmem, {"secrmem", conf.secrmem_limit, kPoolQuantum, FreeFill::kZero, from_xalloc, {}});
  Print("pools: mainmem %lu KiB, imagmem %lu KiB, secrmem %lu KiB at most; from xalloc\n",
        conf.mainmem_limit >> 10, conf.imagmem_limit >> 10, conf.secrmem_limit >> 10);
}

void PoolsLate(const Conf& conf, const MemSource& pages, const PoolSync& sync) {
  PoolSetSource(mainmem, pages, conf.mainmem_limit);
  PoolSetSource(imagmem, pages, conf.imagmem_limit);
  PoolSetSource(secrmem, pages, conf.secrmem_limit);
  PoolSetSync(mainmem, sync);
  PoolSetSync(imagmem, sync);
  PoolSetSync(secrmem, sync);
  KmemInit(pages);
  Print("pools: growing from the page allocator from now on; slab caches and kmalloc ready\n");
}

}  // namespace kmem::pool
