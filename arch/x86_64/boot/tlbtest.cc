#include "arch/x86_64/boot/tlbtest.h"

#include <stdint.h>

#include "arch/x86_64/boot/mmu_setup.h"
#include "arch/x86_64/trap.h"
#include "mm/base/format.h"
#include "mm/base/panic.h"
#include "mm/base/percpu.h"
#include "mm/vm/palloc_pages.h"
#include "mm/vm/tlb.h"
#include "mm/vm/vmalloc.h"

namespace kmem::boot {
namespace {

constexpr uint64_t kPattern = 0x6b6d656d5f746c62;  // "kmem_tlb"
// Reads before the unmap: the translation is in the reader's TLB after the first; the rest keep it hot.
constexpr unsigned kReads = 8;

// What the readers saw, each CPU its own bit and slot.
struct Probe {
  const volatile uint64_t* word;
  uint32_t read_ok;   // CPUs whose reads before the unmap all gave the pattern
  uint32_t faulted;   // CPUs whose read after the unmap faulted
  uint64_t got[kMaxCpus];
};

void SetBit(uint32_t* set) { __atomic_fetch_or(set, uint32_t{1} << CpuId(), __ATOMIC_RELAXED); }

void ReadBefore(void* arg) {
  Probe& p = *static_cast<Probe*>(arg);
  uint64_t v = 0;
  bool ok = true;
  for (unsigned i = 0; i < kReads; ++i) ok = ok && x86::ProbeRead(p.word, &v) && v == kPattern;
  if (ok) SetBit(&p.read_ok);
}

void ReadAfter(void* arg) {
  Probe& p = *static_cast<Probe*>(arg);
  if (!x86::ProbeRead(p.word, &p.got[CpuId()])) SetBit(&p.faulted);
}

}  // namespace

void TlbSelfTest(KernelPalloc& palloc) {
  Vmalloc vmalloc(KernelMmu().vmap_arena(), KernelSpace(), PallocPages(palloc));
  VirtAddr va;
  if (VmallocStatus s = vmalloc.Alloc(kPageSize, Guard::kAbove, &va); s != VmallocStatus::kOk) {
    Panic("tlb self-test: vmalloc: %s", VmallocStatusName(s));
  }
  Probe p = {reinterpret_cast<const volatile uint64_t*>(va.value()), 0, 0, {}};
  *reinterpret_cast<volatile uint64_t*>(va.value()) = kPattern;
  const IrqState irq = IrqSave();
  const unsigned me = CpuId();
  IrqRestore(irq);
  const CpuSet others = OnlineCpus().Without(me);
  const CpuSet readers = others.Empty() ? CpuSet::Of(me) : others;
  CrossCall(readers, ReadBefore, &p);
  if (CpuSet(p.read_ok) != readers) {
    Panic("tlb self-test: cpus 0x%x of 0x%x could not read the vmalloc page at 0x%lx", p.read_ok, readers.bits(),
          va.value());
  }
  if (vmalloc.Free(va) != VmallocStatus::kOk) Panic("tlb self-test: vfree refused 0x%lx", va.value());
  CrossCall(readers, ReadAfter, &p);
  const CpuSet stale(readers.bits() & ~p.faulted);
  for (unsigned cpu = 0; cpu < kMaxCpus; ++cpu) {
    if (!stale.Has(cpu)) continue;
    if (ShootdownMode() == Shootdown::kOn) {
      Panic("tlb self-test: cpu %u read 0x%lx at 0x%lx after the unmap returned: a stale translation", cpu,
            p.got[cpu], va.value());
    }
    Print("tlb: self-test with the shootdown off: cpu %u read 0x%lx at 0x%lx after the unmap returned: a stale "
          "translation\n",
          cpu, p.got[cpu], va.value());
  }
  if (ShootdownMode() == Shootdown::kOff) {
    Print("tlb: self-test with the shootdown off: %u of %u cpus read the unmapped page through a stale translation\n",
          stale.Count(), readers.Count());
  } else {
    Print("tlb: self-test ok: %u cpu%s read a vmalloc page, its vfree shot the translation down, every next read "
          "faulted and was caught\n",
          readers.Count(), readers.Count() == 1 ? "" : "s");
  }
  TlbStatsPrint();
}

}  // namespace kmem::boot
