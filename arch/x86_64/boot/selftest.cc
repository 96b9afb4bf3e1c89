#include "arch/x86_64/boot/selftest.h"

#include <stdint.h>

#include "arch/x86_64/apic.h"
#include "arch/x86_64/boot/meminit.h"
#include "arch/x86_64/boot/mmu_setup.h"
#include "arch/x86_64/boot/smp.h"
#include "arch/x86_64/boot/tlbtest.h"
#include "arch/x86_64/kernel_cpu.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/user.h"
#include "boot/allocinit.h"
#include "boot/arch.h"
#include "mm/base/format.h"
#include "mm/base/panic.h"
#include "mm/base/percpu.h"
#include "mm/vm/palloc_pages.h"
#include "mm/vm/vmalloc.h"

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

// Every page of the block of `bytes` seen through the user mapping at `va` holds its own pattern: read with
// the checked copy, as SMAP wants every kernel access to user memory.
void ExpectUserPatterns(VirtAddr va, PhysAddr pa, uint64_t bytes, const char* through) {
  for (uint64_t off = 0; off < bytes; off += kPageSize) {
    uint64_t got = 0;
    const x86::CopyStatus s = x86::CopyFromUser(&got, (va + off).value(), sizeof got);
    Expect(s == x86::CopyStatus::kOk && got == PatternOf(pa + off), through, got, PatternOf(pa + off));
  }
}

// The first 2 MiB boundary above the installed RAM: device space with nothing behind it, for vmaps.
PhysAddr AboveRam() {
  const InstalledRam& installed = ArchInstalledRam();
  uint64_t top = 0;
  for (size_t i = 0; i < installed.n; ++i) top = Max(top, installed.range[i].end().value());
  uint64_t unbacked;
  AlignUp(top, x86::k2M, &unbacked);
  return PhysAddr(unbacked);
}

constexpr uint32_t kApicBaseMsr = 0x1b;
constexpr uint64_t kApicEnabled = uint64_t{1} << 11;
constexpr uint64_t kApicX2 = uint64_t{1} << 10;
constexpr uint64_t kApicVersion = 0x30;  // the version register: version in bits 0-7, last LVT entry in 16-23

// vmap maps device space, never RAM: the local APIC uncached, read through the mapping (its version register
// answers 0x10-0x1f for an integrated APIC) unless the SMP start-up put it in x2APIC mode, where its page
// does not answer; unbacked space above RAM write-combining; a RAM block and the APIC write-back refused.
// Returns the APIC's version register, 0 when it was not read.
uint32_t VmapSelfTest(x86::Mmu& mmu, PhysAddr ram) {
  const PhysAddr kernel = mmu.kernel_table();
  x86::KernelMsrs msrs;
  const uint64_t apic_msr = msrs.Read(kApicBaseMsr);
  if ((apic_msr & kApicEnabled) == 0) Panic("mmu self-test: no local APIC to vmap (IA32_APIC_BASE 0x%lx)", apic_msr);
  const bool mmio = (apic_msr & kApicX2) == 0;
  const PhysAddr apic = PhysAddr(apic_msr & 0x000ffffffffff000);
  VirtAddr va;
  ExpectOk(mmu.Vmap(apic + kApicVersion, sizeof(uint32_t), &va), "vmap of the local APIC");
  x86::Translation t = mmu.Translate(kernel, va);
  Expect(t.status == MmuStatus::kOk && t.pa == apic + kApicVersion, "vmap translation", t.pa.value(),
         (apic + kApicVersion).value());
  Expect(x86::CacheFlag(t.attrs) == 'C' && !x86::Has(t.attrs, Attr::kExec), "vmap flags uncached, no-execute",
         static_cast<uint64_t>(t.attrs), static_cast<uint64_t>(Attr::kWrite | Attr::kGlobal | Attr::kUncached));
  const uint32_t version = mmio ? *reinterpret_cast<volatile uint32_t*>(va.value()) : 0;
  if (mmio) {
    Expect((version & 0xf0) == 0x10 && (version >> 16 & 0xff) >= 2, "local APIC version register read through vmap",
           version, 0x10);
  }
  ExpectOk(mmu.Vunmap(va, sizeof(uint32_t)), "vunmap");
  t = mmu.Translate(kernel, va);
  Expect(t.status == MmuStatus::kNotMapped, "vunmapped address still translates", t.pa.value(), 0);

  const PhysAddr unbacked = AboveRam();
  ExpectOk(mmu.Vmap(unbacked, x86::k2M, &va, x86::Cache::kWriteCombining), "vmap above RAM");
  t = mmu.Translate(kernel, va);
  Expect(t.size == PageSize::k2M && x86::CacheFlag(t.attrs) == 'c', "vmap write-combining 2M page",
         static_cast<uint64_t>(t.attrs), static_cast<uint64_t>(Attr::kWrite | Attr::kGlobal | Attr::kWriteCombining));
  ExpectOk(mmu.Vunmap(va, x86::k2M), "vunmap above RAM");

  MmuStatus s = mmu.Vmap(ram, kPageSize, &va);
  Expect(s == MmuStatus::kIsRam, "vmap of RAM refused", static_cast<uint64_t>(s),
         static_cast<uint64_t>(MmuStatus::kIsRam));
  s = mmu.Vmap(apic, kPageSize, &va, x86::Cache::kWriteBack);
  Expect(s == MmuStatus::kMemoryTypeConflict, "vmap of the APIC write-back refused", static_cast<uint64_t>(s),
         static_cast<uint64_t>(MmuStatus::kMemoryTypeConflict));
  return version;
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

  const uint32_t apic_version = VmapSelfTest(mmu, pa);

  // A user address space: the block as one 2 MiB page (or 4K pages), loaded, written through, changed by a
  // protection change (which splits the 2 MiB page), released.
  PhysAddr space;
  ExpectOk(mmu.NewAddressSpace(&space), "new address space");
  ExpectOk(mmu.Pmap(space, pa, kUserVa, bytes, Attr::kWrite | Attr::kUser), "user pmap");
  x86::Translation t = mmu.Translate(space, kUserVa);
  Expect(t.size == user_size, "user mapping page size", static_cast<uint64_t>(t.size),
         static_cast<uint64_t>(user_size));
  mmu.MmuSwitch(space);
  ExpectUserPatterns(kUserVa, pa, bytes, "read through the user mapping");
  const uint64_t word = ~kPattern;
  Expect(x86::CopyToUser(kUserVa.value(), &word, sizeof word) == x86::CopyStatus::kOk, "write through the user mapping",
         0, 0);
  Expect(*DirectWord(pa) == ~kPattern, "user write seen in the direct map", *DirectWord(pa), ~kPattern);
  *DirectWord(pa) = PatternOf(pa);
  ExpectOk(mmu.Protect(space, kUserVa + kPageSize, kPageSize, Attr::kUser), "protect one page read-only");
  t = mmu.Translate(space, kUserVa + kPageSize);
  Expect(t.size == PageSize::k4K && !x86::Has(t.attrs, Attr::kWrite), "protected page", t.pa.value(),
         (pa + kPageSize).value());
  t = mmu.Translate(space, kUserVa + 2 * kPageSize);
  Expect(x86::Has(t.attrs, Attr::kWrite), "neighbour of the protected page stays writable", 0, 1);
  ExpectUserPatterns(kUserVa, pa, bytes, "read after the protection change");
  mmu.MmuSwitch(kernel);
  mmu.MmuRelease(space);
  Expect(mmu.table_pages() == tables_before, "page-table pages after release", mmu.table_pages(), tables_before);

  // kmap: one page through the direct map (all RAM is in it) and back.
  VirtAddr k;
  ExpectOk(mmu.Kmap(pa + 3 * kPageSize, &k), "kmap");
  uint64_t got = *reinterpret_cast<volatile uint64_t*>(k.value());
  Expect(got == PatternOf(pa + 3 * kPageSize), "read through kmap", got, PatternOf(pa + 3 * kPageSize));
  mmu.Kunmap(k);

  palloc.FreeContig(pa, order);
  char apic[32];
  FormatTo(apic, sizeof apic, apic_version != 0 ? "version 0x%x" : "x2APIC, not read", apic_version);
  Print("mmu: self-test ok: vmap of the local APIC (%s) uncached and of space above RAM "
        "write-combining, RAM refused; a user space with %s, switch and release (%lu page-table pages before "
        "and after), kmap\n",
        apic, user_size == PageSize::k2M ? "a 2M page split by protect" : "4K pages, one protected",
        tables_before);
}

bool Unmapped(x86::Mmu& mmu, VirtAddr va) {
  return mmu.Translate(mmu.kernel_table(), va).status == MmuStatus::kNotMapped;
}

void ExpectUnmapped(x86::Mmu& mmu, VirtAddr va, const char* what) {
  const x86::Translation t = mmu.Translate(mmu.kernel_table(), va);
  Expect(t.status == MmuStatus::kNotMapped, what, t.pa.value(), 0);
}

// The kernel-VA seam end to end: a buffer and a kernel stack from Vmalloc in the kernel's address space,
// every page written and read back through the new mapping, both guard pages unmapped, and every frame
// back in palloc afterwards.
void VmallocSelfTest(KernelPalloc& palloc, x86::Mmu& mmu) {
  constexpr uint64_t kBufferBytes = 3 * kPageSize + 100, kStackBytes = 4 * kPageSize;
  const uint64_t free_before = FreeAndPooledPages(palloc);
  Vmalloc vmalloc(mmu.vmap_arena(), KernelSpace(), PallocPages(palloc));
  VirtAddr buffer, stack;
  VmallocStatus s = vmalloc.Alloc(kBufferBytes, Guard::kAbove, &buffer);
  if (s == VmallocStatus::kOk) s = vmalloc.Alloc(kStackBytes, Guard::kBelow, &stack);
  if (s != VmallocStatus::kOk) Panic("vm self-test: vmalloc: %s", VmallocStatusName(s));
  for (VirtAddr at = buffer; at < buffer + kBufferBytes; at = at + 8) {
    *reinterpret_cast<volatile uint64_t*>(at.value()) = at.value();
  }
  for (VirtAddr at = buffer; at < buffer + kBufferBytes; at = at + 8) {
    const uint64_t got = *reinterpret_cast<volatile uint64_t*>(at.value());
    Expect(got == at.value(), "read back through vmalloc", got, at.value());
  }
  ExpectUnmapped(mmu, buffer + 4 * kPageSize, "the buffer's guard page is mapped");
  ExpectUnmapped(mmu, stack - kPageSize, "the stack's guard page is mapped");
  *reinterpret_cast<volatile uint64_t*>((stack + kStackBytes - 8).value()) = kPattern;  // the stack's top word
  if (vmalloc.Free(buffer) != VmallocStatus::kOk || vmalloc.Free(stack) != VmallocStatus::kOk) {
    Panic("vm self-test: vfree refused an address vmalloc returned");
  }
  ExpectUnmapped(mmu, buffer, "freed buffer still mapped");
  ExpectUnmapped(mmu, stack, "freed stack still mapped");
  Expect(FreeAndPooledPages(palloc) == free_before, "free pages after vfree", FreeAndPooledPages(palloc), free_before);
  Print("vm: self-test ok: vmalloc of %lu bytes with its guard page above and a %lu KiB stack with its guard "
        "below, written through, guards unmapped, every page back\n",
        kBufferBytes, kStackBytes >> 10);
}

void StressExpect(bool ok, uint64_t round, const char* what, uint64_t got, uint64_t want) {
  if (!ok) Panic("smp stress cpu%u: round %lu: %s: got 0x%lx, want 0x%lx", CpuId(), round, what, got, want);
}

// The word the stress writes at `at` on this CPU in `round`: another CPU's mapping of the same page or
// address, handed out twice, writes a word of its own there.
uint64_t StressWord(VirtAddr at, uint64_t round) { return at.value() ^ kPattern ^ (uint64_t{CpuId()} << 56) ^ round; }

// [pa, pa + size) through a fresh Vmap: its first and last page translated to it, then unmapped. (Once a
// range is given back another CPU may map it at once, so nothing here checks an address after its release.)
void StressVmap(x86::Mmu& mmu, PhysAddr pa, uint64_t size, x86::Cache cache, uint64_t round) {
  VirtAddr va;
  const x86::MmuStatus s = mmu.Vmap(pa, size, &va, cache);
  StressExpect(s == MmuStatus::kOk, round, "vmap", static_cast<uint64_t>(s), pa.value());
  const uint64_t ends[] = {0, size - kPageSize};
  for (const uint64_t off : ends) {
    const x86::Translation t = mmu.Translate(mmu.kernel_table(), va + off);
    StressExpect(t.status == MmuStatus::kOk && t.pa == pa + off, round, "vmap translation", t.pa.value(),
                 (pa + off).value());
  }
  StressExpect(mmu.Vunmap(va, size) == MmuStatus::kOk, round, "vunmap", va.value(), 0);
}

// One to four pages of Vmalloc, every word written through the mapping and read back, the guard page above
// unmapped, then freed.
void StressVmalloc(x86::Mmu& mmu, Vmalloc& vmalloc, uint64_t round) {
  const uint64_t bytes = (1 + round % 4) * kPageSize;
  VirtAddr va;
  const VmallocStatus s = vmalloc.Alloc(bytes, Guard::kAbove, &va);
  StressExpect(s == VmallocStatus::kOk, round, "vmalloc", static_cast<uint64_t>(s), 0);
  for (VirtAddr at = va; at < va + bytes; at = at + 8) {
    *reinterpret_cast<volatile uint64_t*>(at.value()) = StressWord(at, round);
  }
  for (VirtAddr at = va; at < va + bytes; at = at + 8) {
    const uint64_t got = *reinterpret_cast<volatile uint64_t*>(at.value());
    StressExpect(got == StressWord(at, round), round, "read back through vmalloc", got, StressWord(at, round));
  }
  StressExpect(Unmapped(mmu, va + bytes), round, "the guard page is mapped", (va + bytes).value(), 0);
  StressExpect(vmalloc.Free(va) == VmallocStatus::kOk, round, "vfree", va.value(), 0);
}

}  // namespace

// Each round: the local APIC's page uncached; 2 MiB of the space above RAM write-combining, one page off
// its alignment, so 4K pages in page tables of their own that the Vunmap frees again (tables made and
// freed by every CPU at once); a Vmalloc. Holds one VMAP range at a time, so that kMaxCpus CPUs fit beside
// the APs' stacks in the VMAP records.
uint64_t ArchStressCpu(KernelPalloc& palloc, uint64_t rounds) {
  x86::Mmu& mmu = KernelMmu();
  Vmalloc vmalloc(mmu.vmap_arena(), KernelSpace(), PallocPages(palloc));
  const PhysAddr apic = x86::LapicBase(), unbacked = AboveRam() + kPageSize;
  for (uint64_t round = 0; round < rounds; ++round) {
    StressVmap(mmu, apic, kPageSize, x86::Cache::kUncached, round);
    StressVmap(mmu, unbacked, x86::k2M, x86::Cache::kWriteCombining, round);
    StressVmalloc(mmu, vmalloc, round);
  }
  return 3 * rounds;
}

uint64_t ArchTablePages() { return KernelMmu().table_pages(); }

void ArchPooledTablePages(const KernelPalloc& palloc, uint64_t per_zone[kZones]) {
  struct Count {
    const KernelPalloc& palloc;
    uint64_t* per_zone;
  } count{palloc, per_zone};
  KernelMmu().VisitPooled(
      [](void* ctx, PhysAddr page) {
        Count& c = *static_cast<Count*>(ctx);
        if (!c.palloc.Holds(page)) return;  // a table page from xalloc, never palloc's
        ++c.per_zone[static_cast<unsigned>(c.palloc.ZoneOf(c.palloc.PageOf(page)))];
      },
      &count);
}

uint64_t FreeAndPooledPages(const KernelPalloc& palloc) {
  uint64_t pooled[kZones] = {};
  ArchPooledTablePages(palloc, pooled);
  uint64_t n = palloc.FreeCount();
  for (const uint64_t p : pooled) n += p;
  return n;
}

void ArchSelfTests(KernelPalloc& palloc) {
  MmuSelfTest(palloc, KernelMmu());
  VmallocSelfTest(palloc, KernelMmu());
  SmpSelfTest();
  TlbSelfTest(palloc);
  UserSelfTest(palloc);
}

}  // namespace kmem::boot
