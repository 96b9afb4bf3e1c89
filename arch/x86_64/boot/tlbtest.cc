#include "arch/x86_64/boot/tlbtest.h"

#include <stdint.h>

#include "arch/x86_64/boot/mmu_setup.h"
#include "arch/x86_64/boot/smp.h"
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
// Reads before the readers say they are ready: the translation is in their TLBs after the first.
constexpr unsigned kReads = 8;

// The test's state, shared by every CPU: each reader sets its own bit and slot.
struct Probe {
  VirtAddr va;
  Vmalloc* vmalloc;
  unsigned unmapper;
  CpuSet readers;
  uint32_t primed;    // readers that have read the page through the mapping
  uint32_t misread;   // readers whose reads before the unmap did not give the pattern
  uint32_t faulted;   // readers whose read faulted and was caught
  uint32_t stale;     // readers whose read after the unmap returned still reached the page
  uint32_t unmapped;  // nonzero once the vfree has returned
  uint64_t got[kMaxCpus];
};

void SetBit(uint32_t* set) { __atomic_fetch_or(set, uint32_t{1} << CpuId(), __ATOMIC_ACQ_REL); }

const volatile uint64_t* Word(const Probe& p) { return reinterpret_cast<const volatile uint64_t*>(p.va.value()); }

void Prime(Probe& p) {
  uint64_t v = 0;
  bool ok = true;
  for (unsigned i = 0; i < kReads; ++i) ok = ok && x86::ProbeRead(Word(p), &v) && v == kPattern;
  if (!ok) SetBit(&p.misread);
  SetBit(&p.primed);
}

// One read, and whether the reader is done: it faulted, or it read after the unmap had returned.
bool ReadOnce(Probe& p) {
  const bool after = __atomic_load_n(&p.unmapped, __ATOMIC_ACQUIRE) != 0;
  uint64_t v;
  if (!x86::ProbeRead(Word(p), &v)) {
    SetBit(&p.faulted);
    return true;
  }
  if (!after) return false;
  p.got[CpuId()] = v;
  SetBit(&p.stale);
  return true;
}

void Unmap(Probe& p) {
  if (p.vmalloc->Free(p.va) != VmallocStatus::kOk) Panic("tlb self-test: vfree refused 0x%lx", p.va.value());
  __atomic_store_n(&p.unmapped, 1, __ATOMIC_RELEASE);
}

// Every CPU at once, interrupts on: the readers read until the page is gone, the unmapper frees it once
// every reader has it in its TLB.
void RunOne(void* arg) {
  Probe& p = *static_cast<Probe*>(arg);
  if (CpuId() == p.unmapper) {
    while (__atomic_load_n(&p.primed, __ATOMIC_ACQUIRE) != p.readers.bits()) CpuRelax();
    Unmap(p);
    return;
  }
  Prime(p);
  while (!ReadOnce(p)) CpuRelax();
}

void Report(const Probe& p) {
  const CpuSet stale(p.stale);
  for (unsigned cpu = 0; cpu < kMaxCpus; ++cpu) {
    if (!stale.Has(cpu)) continue;
    if (ShootdownMode() == Shootdown::kOn) {
      Panic("tlb self-test: cpu %u read 0x%lx at 0x%lx after the unmap returned: a stale translation", cpu,
            p.got[cpu], p.va.value());
    }
    Print("tlb: self-test with the shootdown off: cpu %u read 0x%lx at 0x%lx after the unmap returned: a stale "
          "translation\n",
          cpu, p.got[cpu], p.va.value());
  }
  if (ShootdownMode() == Shootdown::kOff) {
    Print("tlb: self-test with the shootdown off: %u of %u cpus read the unmapped page through a stale translation\n",
          stale.Count(), p.readers.Count());
  } else {
    Print("tlb: self-test ok: %u cpu%s read a vmalloc page, its vfree shot the translation down, every next read "
          "faulted and was caught\n",
          p.readers.Count(), p.readers.Count() == 1 ? "" : "s");
  }
}

}  // namespace

void TlbSelfTest(KernelPalloc& palloc) {
  Vmalloc vmalloc(KernelMmu().vmap_arena(), KernelSpace(), PallocPages(palloc));
  VirtAddr va;
  if (VmallocStatus s = vmalloc.Alloc(kPageSize, Guard::kAbove, &va); s != VmallocStatus::kOk) {
    Panic("tlb self-test: vmalloc: %s", VmallocStatusName(s));
  }
  *reinterpret_cast<volatile uint64_t*>(va.value()) = kPattern;
  const IrqState irq = IrqSave();
  const unsigned me = CpuId();
  IrqRestore(irq);
  const CpuSet others = OnlineCpus().Without(me);
  Probe p = {va, &vmalloc, me, others.Empty() ? CpuSet::Of(me) : others, 0, 0, 0, 0, 0, {}};
  if (others.Empty()) {  // alone: read, unmap, read again, in turn
    Prime(p);
    Unmap(p);
    ReadOnce(p);
  } else {
    RunOnCpus(OnlineCpus(), RunOne, &p);
  }
  if (p.misread != 0) {
    Panic("tlb self-test: cpus 0x%x could not read the vmalloc page at 0x%lx before the unmap", p.misread,
          va.value());
  }
  Report(p);
  TlbStatsPrint();
}

}  // namespace kmem::boot
