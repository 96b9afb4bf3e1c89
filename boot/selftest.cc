#include "boot/selftest.h"

#include <stdint.h>

#include "arch/x86_64/layout.h"
#include "mm/base/format.h"
#include "mm/base/panic.h"
#include "mm/pool/selftest.h"

namespace kmem::boot {
namespace {

using x86::Attr;
using x86::MmuStatus;
using x86::PageSize;

// The block the test maps: 2 MiB when one is free, so the user mapping is one 2M page that protect must
// split; on a machine too small for that, the largest free block down to four pages (the checks touch
// pages 0 to 3), mapped with 4K pages.
constexpr unsigned kBlockOrder = 9;
constexpr unsigned kMinBlockOrder = 2;
constexpr uint64_t kPattern = 0x6b6d656d5f6d6d75;  // "kmem_mmu"
constexpr VirtAddr kUserVa(0x40000000);           // 1 GiB: 2 MiB-aligned, far from page 0

uint64_t PatternOf(PhysAddr page) { return page.value() ^ kPattern; }

uint64_t* DirectWord(PhysAddr pa) { return reinterpret_cast<uint64_t*>(x86::DirectMapAddressOf(pa).value()); }

void Expect(bool ok, const char* what, uint64_t got, uint64_t want) {
  if (!ok) Panic("mmu self-test: %s: got 0x%lx, want 0x%lx", what, got, want);
}

void ExpectOk(MmuStatus s, const char* what) {
  if (s != MmuStatus::kOk) Panic("mmu self-test: %s: %s", what, x86::MmuStatusName(s));
}

// Every page of the block of `bytes` seen through `va` holds its own pattern.
void ExpectPatterns(VirtAddr va, PhysAddr pa, uint64_t bytes, const char* through) {
  for (uint64_t off = 0; off < bytes; off += kPageSize) {
    uint64_t got = *reinterpret_cast<volatile uint64_t*>((va + off).value());
    Expect(got == PatternOf(pa + off), through, got, PatternOf(pa + off));
  }
}

// The largest free block from kBlockOrder down to kMinBlockOrder; returns its order, says so when it is not
// 2 MiB, panics when there is none.
unsigned TakeBlock(KernelPalloc& palloc, PhysAddr* pa) {
  for (unsigned order = kBlockOrder; order >= kMinBlockOrder; --order) {
    PageResult block = palloc.TryAllocContig(order);
    if (block.status != PallocStatus::kOk) continue;
    if (order != kBlockOrder) {
      Print("mmu self-test: no 2 MiB block free; testing with a %lu KiB block and 4K pages\n",
            (kPageSize << order) >> 10);
    }
    *pa = palloc.Pa(block.page);
    return order;
  }
  Panic("mmu self-test: not even a %lu KiB block free", (kPageSize << kMinBlockOrder) >> 10);
}

void MmuSelfTest(KernelPalloc& palloc, x86::Mmu& mmu) {
  const PhysAddr kernel = mmu.kernel_table();
  const uint64_t tables_before = mmu.table_pages();
  PhysAddr pa;
  const unsigned order = TakeBlock(palloc, &pa);
  const uint64_t bytes = kPageSize << order;
  const PageSize user_size = order == kBlockOrder ? PageSize::k2M : PageSize::k4K;
  for (uint64_t off = 0; off < bytes; off += kPageSize) *DirectWord(pa + off) = PatternOf(pa + off);

  // vmap: the block in the VMAP window, uncached, then gone again.
  VirtAddr va;
  ExpectOk(mmu.Vmap(pa, bytes, &va), "vmap");
  x86::Translation t = mmu.Translate(kernel, va + kPageSize);
  Expect(t.status == MmuStatus::kOk && t.pa == pa + kPageSize, "vmap translation", t.pa.value(),
         (pa + kPageSize).value());
  ExpectPatterns(va, pa, bytes, "read through vmap");
  ExpectOk(mmu.Vunmap(va, bytes), "vunmap");
  t = mmu.Translate(kernel, va);
  Expect(t.status == MmuStatus::kNotMapped, "vunmapped address still translates", t.pa.value(), 0);

  // A user address space: the block as one 2 MiB page (or 4K pages), loaded, written through, changed by a
  // protection change (which splits the 2 MiB page), released.
  PhysAddr space;
  ExpectOk(mmu.NewAddressSpace(&space), "new address space");
  ExpectOk(mmu.Pmap(space, pa, kUserVa, bytes, Attr::kWrite | Attr::kUser), "user pmap");
  t = mmu.Translate(space, kUserVa);
  Expect(t.size == user_size, "user mapping page size", static_cast<uint64_t>(t.size),
         static_cast<uint64_t>(user_size));
  mmu.MmuSwitch(space);
  ExpectPatterns(kUserVa, pa, bytes, "read through the user mapping");
  *reinterpret_cast<volatile uint64_t*>(kUserVa.value()) = ~kPattern;
  Expect(*DirectWord(pa) == ~kPattern, "user write seen in the direct map", *DirectWord(pa), ~kPattern);
  *DirectWord(pa) = PatternOf(pa);
  ExpectOk(mmu.Protect(space, kUserVa + kPageSize, kPageSize, Attr::kUser), "protect one page read-only");
  t = mmu.Translate(space, kUserVa + kPageSize);
  Expect(t.size == PageSize::k4K && !x86::Has(t.attrs, Attr::kWrite), "protected page", t.pa.value(),
         (pa + kPageSize).value());
  t = mmu.Translate(space, kUserVa + 2 * kPageSize);
  Expect(x86::Has(t.attrs, Attr::kWrite), "neighbour of the protected page stays writable", 0, 1);
  ExpectPatterns(kUserVa, pa, bytes, "read after the protection change");
  mmu.MmuSwitch(kernel);
  mmu.MmuRelease(space);
  Expect(mmu.table_pages() == tables_before, "page-table pages after release", mmu.table_pages(), tables_before);

  // kmap: one page through the direct map (all RAM is in it) and back.
  VirtAddr k = mmu.Kmap(pa + 3 * kPageSize);
  uint64_t got = *reinterpret_cast<volatile uint64_t*>(k.value());
  Expect(got == PatternOf(pa + 3 * kPageSize), "read through kmap", got, PatternOf(pa + 3 * kPageSize));
  mmu.Kunmap(k);

  palloc.FreeContig(pa, order);
  Print("mmu: self-test ok: vmap/vunmap of %lu KiB, a user space with %s, switch and release (%lu page-table "
        "pages before and after), kmap\n",
        bytes >> 10,
        user_size == PageSize::k2M ? "a 2M page split by protect" : "4K pages, one protected",
        tables_before);
}

}  // namespace

void SelfTests(KernelPalloc& palloc, x86::Mmu& mmu) {
  palloc.SelfTest();
  MmuSelfTest(palloc, mmu);
  if (pool::PoolSelfTest() != pool::SelfTestStatus::kPassed) Panic("pool self-test failed");
  palloc.Validate();
  Print("selftest: every layer passed\n");
}

}  // namespace kmem::boot
