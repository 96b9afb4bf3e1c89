#include "arch/x86_64/boot/smp.h"

#include <stddef.h>
#include <stdint.h>

#include "arch/x86_64/apic.h"
#include "arch/x86_64/boot/acpi_memory.h"
#include "arch/x86_64/boot/mach.h"
#include "arch/x86_64/boot/mmu_setup.h"
#include "arch/x86_64/delay.h"
#include "arch/x86_64/io.h"
#include "arch/x86_64/kernel_cpu.h"
#include "arch/x86_64/kernel_percpu.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/pc/acpi.h"
#include "arch/x86_64/pc/legacy.h"
#include "arch/x86_64/trap.h"
#include "mm/base/format.h"
#include "mm/base/panic.h"
#include "mm/vm/palloc_pages.h"
#include "mm/vm/vmalloc.h"

extern "C" {
extern const char trampoline_start[], trampoline_end[], trampoline_params[];
[[noreturn]] void ApMain(kmem::boot::Mach* mach);
}

namespace kmem::boot {
namespace {

// trampoline.S's parameter block (its P_ offsets), at trampoline_params in the copied page.
struct TrampolineParams {
  uint32_t cr3;  // the trampoline space's top-level table
  uint32_t cr4;  // without kCr4LongModeOnly's bits until the AP is in the kernel half
  uint32_t cr0;
  uint32_t reserved;
  uint64_t entry;  // ap_entry64, from the image
  uint64_t kernel_cr3;
  uint64_t cr4_full;
  uint64_t stack_top;
  uint64_t mach;
};
static_assert(sizeof(TrampolineParams) == 56, "trampoline.S's P_ offsets");

// CR4 bits the AP takes only in the kernel half: SMEP and SMAP would fault on the identity page (a user page)
// that it runs from and reads its parameters through, and PCIDE may not be set outside long mode.
constexpr uint64_t kCr4LongModeOnly = (uint64_t{1} << 21) | (uint64_t{1} << 20) | (uint64_t{1} << 17);
constexpr uint64_t kStackBytes = 16384;            // each AP's boot stack, as the boot CPU's
constexpr uint64_t kDoubleFaultStackBytes = 16384;  // as the boot CPU's (trap.cc)
// The SDM's and the MP specification's waits (SDM vol. 3 8.4.4.1, MP spec B.4).
constexpr uint64_t kInitDelayUs = 10000;
constexpr uint64_t kStartupDelayUs = 200;
// How long an AP has to reach C++ after its STARTUPs. Neither document gives a bound; Linux waits 10 s. An
// AP that answers takes microseconds (under TCG, milliseconds); this leaves room for a loaded host.
constexpr uint64_t kAnswerTimeoutUs = 5'000'000;

// An AP's start-up, as the boot CPU and the AP see it: kStarting until one of them moves it on. The AP
// claims kAlive, or the boot CPU, its patience gone, kAbandoned; whoever loses the race knows.
enum class ApState : uint32_t { kIdle, kStarting, kAlive, kOnline, kAbandoned };
constinit ApState ap_state[kMaxCpus] = {};

uint64_t ReadCr0() {
  uint64_t v;
  asm volatile("mov %%cr0, %0" : "=r"(v));
  return v;
}

uint64_t ReadCr4() {
  uint64_t v;
  asm volatile("mov %%cr4, %0" : "=r"(v));
  return v;
}

bool Claim(unsigned cpu, ApState to) {
  ApState expected = ApState::kStarting;
  return __atomic_compare_exchange(&ap_state[cpu], &expected, &to, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

ApState StateOf(unsigned cpu) {
  ApState s;
  __atomic_load(&ap_state[cpu], &s, __ATOMIC_ACQUIRE);
  return s;
}

void SetState(unsigned cpu, ApState s) { __atomic_store(&ap_state[cpu], &s, __ATOMIC_RELEASE); }

void Spurious() {}

// The trampoline's address space: the kernel half and the trampoline page at its own address, a user page
// (the only kind the user half holds) that the AP runs with SMEP off. Released once every AP is in.
class TrampolineSpace {
 public:
  TrampolineSpace() {
    x86::Mmu& mmu = KernelMmu();
    const PhysAddr page(x86::kApTrampoline);
    x86::MmuStatus s = mmu.NewAddressSpace(&table_);
    if (s == x86::MmuStatus::kOk) s = mmu.Pmap(table_, page, VirtAddr(page.value()), kPageSize, x86::Attr::kExec | x86::Attr::kUser);
    if (s != x86::MmuStatus::kOk) Panic("smp: the trampoline's identity mapping: %s", x86::MmuStatusName(s));
    KASSERT(table_.value() < (uint64_t{1} << 32), "the trampoline's top table 0x%lx is above 4 GiB", table_.value());
    const size_t bytes = static_cast<size_t>(trampoline_end - trampoline_start);
    KASSERT(bytes <= kPageSize, "the trampoline is %zu bytes", bytes);
    char* to = reinterpret_cast<char*>(x86::DirectMapAddressOf(page).value());
    for (size_t i = 0; i < bytes; ++i) to[i] = trampoline_start[i];
    params_ = reinterpret_cast<TrampolineParams*>(to + (trampoline_params - trampoline_start));
  }
  ~TrampolineSpace() { KernelMmu().MmuRelease(table_); }

  // Fills the parameters for the AP about to start on `mach`.
  void Aim(const Mach& mach) {
    const uint64_t cr4 = ReadCr4();
    params_->cr3 = static_cast<uint32_t>(table_.value());
    params_->cr4 = static_cast<uint32_t>(cr4 & ~kCr4LongModeOnly);
    params_->cr0 = static_cast<uint32_t>(ReadCr0());
    params_->kernel_cr3 = KernelMmu().kernel_table().value();
    params_->cr4_full = cr4;
    params_->stack_top = mach.stack_top.value();
    params_->mach = reinterpret_cast<uint64_t>(&mach);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
  }

 private:
  PhysAddr table_;
  TrampolineParams* params_ = nullptr;
};

// The stacks an AP needs, from vmalloc with a guard page below each.
class ApStacks {
 public:
  explicit ApStacks(KernelPalloc& palloc) : vmalloc_(KernelMmu().vmap_arena(), KernelSpace(), PallocPages(palloc)) {}

  void Give(Mach& m) {
    VirtAddr stack, df;
    VmallocStatus s = vmalloc_.Alloc(kStackBytes, Guard::kBelow, &stack);
    if (s == VmallocStatus::kOk) s = vmalloc_.Alloc(kDoubleFaultStackBytes, Guard::kBelow, &df);
    if (s != VmallocStatus::kOk) Panic("smp: cpu%u's stacks: vmalloc: %s", m.machno, VmallocStatusName(s));
    m.stack_base = stack;
    m.stack_top = stack + kStackBytes;
    m.double_fault_stack_top = df + kDoubleFaultStackBytes;
  }

  void TakeBack(Mach& m) {
    if (vmalloc_.Free(m.stack_base) != VmallocStatus::kOk ||
        vmalloc_.Free(m.double_fault_stack_top - kDoubleFaultStackBytes) != VmallocStatus::kOk) {
      Panic("smp: cpu%u's stacks were not vmalloc's", m.machno);
    }
    m.stack_base = m.stack_top = m.double_fault_stack_top = VirtAddr();
  }

 private:
  Vmalloc vmalloc_;
};

// Waits until cpu's state leaves `from` or the deadline passes; returns the state.
ApState WaitWhile(unsigned cpu, ApState from, uint64_t timeout_us) {
  const uint64_t deadline = x86::DeadlineUs(timeout_us);
  ApState s;
  while ((s = StateOf(cpu)) == from && !x86::Passed(deadline)) CpuRelax();
  return s;
}

// INIT-SIPI-SIPI for Mach `cpu` at APIC `apic_id`; true once it is online. One that does not answer is
// reset with INIT again (in case it is on its way in) and its stacks are taken back.
bool StartAp(unsigned cpu, uint32_t apic_id, TrampolineSpace& trampoline, ApStacks& stacks, SmpFault fault) {
  Mach& m = MachOf(cpu);
  m.machno = cpu;
  m.apic_id = apic_id;
  stacks.Give(m);
  trampoline.Aim(m);
  SetState(cpu, ApState::kStarting);
  x86::LapicSendInit(apic_id);
  x86::DelayUs(kInitDelayUs);
  if (fault != SmpFault::kLastGetsNoStartup) {
    for (int i = 0; i < 2; ++i) {
      x86::LapicSendStartup(apic_id, PhysAddr(x86::kApTrampoline));
      x86::DelayUs(kStartupDelayUs);
    }
  }
  if (WaitWhile(cpu, ApState::kStarting, kAnswerTimeoutUs) == ApState::kStarting && Claim(cpu, ApState::kAbandoned)) {
    Print("smp: cpu%u (apic id %u) did not start\n", cpu, apic_id);
    x86::LapicSendInit(apic_id);
    x86::DelayUs(kInitDelayUs);
    stacks.TakeBack(m);
    return false;
  }
  if (WaitWhile(cpu, ApState::kAlive, kAnswerTimeoutUs) != ApState::kOnline) {
    Panic("smp: cpu%u (apic id %u) reached the kernel but did not come online", cpu, apic_id);
  }
  return true;
}

// When ACPI cannot say: a PC with the legacy PICs, whose boot CPU (listed once its APIC is up) runs alone.
x86::AcpiCpus NoCpuList() {
  x86::AcpiCpus cpus;
  cpus.lapic_base = x86::LapicBase();
  cpus.has_8259 = true;
  return cpus;
}

// The boot CPU's local APIC, in the mode every CPU will use; the PICs masked; interrupts on.
void BootCpuApic(const x86::AcpiCpus& cpus) {
  const x86::ApicMode mode = x86::LapicModeOffered();
  const PhysAddr base = x86::LapicBase();
  VirtAddr regs;
  if (mode == x86::ApicMode::kXApic) {
    if (base != cpus.lapic_base) {
      Print("smp: the MADT puts the local APIC at 0x%lx, IA32_APIC_BASE at 0x%lx; using the latter\n",
            cpus.lapic_base.value(), base.value());
    }
    if (x86::MmuStatus s = KernelMmu().Vmap(base, kPageSize, &regs); s != x86::MmuStatus::kOk) {
      Panic("smp: vmap of the local APIC at 0x%lx: %s", base.value(), x86::MmuStatusName(s));
    }
  }
  x86::LapicUse(mode, regs);
  if (cpus.has_8259) x86::PicMask();
  x86::SetInterruptHandler(x86::kCrossCallVector, x86::CrossCallInterrupt);
  x86::SetInterruptHandler(x86::kSpuriousVector, Spurious);
  x86::LapicInitCpu();
  Mach& m0 = MachOf(0);
  m0.apic_id = x86::LapicId();
  x86::CpuOnline(0, m0.apic_id);
  asm volatile("sti" : : : "memory");
  Print("smp: local APIC in %s mode at 0x%lx, boot cpu apic id %u; %s; interrupts on (IPIs only)\n",
        x86::ApicModeName(mode), base.value(), m0.apic_id,
        cpus.has_8259 ? "8259 PICs masked" : "no 8259 PICs");
}

}  // namespace

unsigned SmpInit(KernelPalloc& palloc, SmpFault fault) {
  KernelAcpiMemory firmware(KernelMmu());
  x86::AcpiCpus cpus;
  if (x86::AcpiStatus s = x86::AcpiFindCpus(firmware, &cpus); s != x86::AcpiStatus::kOk || cpus.n == 0) {
    Print("smp: no CPU list from ACPI (%s): the boot CPU alone\n", x86::AcpiStatusName(s));
    cpus = NoCpuList();
  }
  BootCpuApic(cpus);
  if (cpus.n == 0) cpus.cpu[cpus.n++] = x86::AcpiCpu{MachOf(0).apic_id, 0};
  Print("smp: TSC at %lu kHz, measured against the PIT\n", x86::DelayCalibrate());
  const uint32_t boot_id = MachOf(0).apic_id;
  unsigned listed_last = cpus.n;  // the index of the last AP in the list
  for (unsigned i = 0; i < cpus.n; ++i) {
    if (cpus.cpu[i].apic_id != boot_id) listed_last = i;
  }
  unsigned online = 1;
  if (cpus.n > 1) {
    TrampolineSpace trampoline;
    ApStacks stacks(palloc);
    for (unsigned i = 0; i < cpus.n; ++i) {
      const uint32_t id = cpus.cpu[i].apic_id;
      if (id == boot_id) continue;
      if (id > 0xff && x86::LapicMode() == x86::ApicMode::kXApic) {
        Print("smp: cpu%u (apic id %u) needs an x2APIC to be reached; left out\n", online, id);
        continue;
      }
      const SmpFault f = i == listed_last ? fault : SmpFault::kNone;
      if (StartAp(online, id, trampoline, stacks, f)) ++online;
    }
  }
  Print("smp: %u of %u CPUs online\n", online, cpus.n);
  return online;
}

void SmpDumpCpus() {
  for (unsigned cpu = 0; cpu < kMaxCpus; ++cpu) {
    if (OnlineCpus().Has(cpu)) x86::CpuPrint(MachOf(cpu).cpu, cpu);
  }
}

}  // namespace kmem::boot

// An AP's first C++, on its boot stack and the kernel's tables (trampoline.S).
void ApMain(kmem::boot::Mach* m) {
  using namespace kmem;
  x86::SetGsBase(m);
  x86::TrapInitCpu(m->machno, m->double_fault_stack_top);
  if (!boot::Claim(m->machno, boot::ApState::kAlive)) x86::HaltForever();  // given up on: stay out
  x86::LoadPat();
  boot::KernelSpace().Activate();
  x86::LapicInitCpu();
  if (x86::LapicId() != m->apic_id) {
    Panic("smp: cpu%u was started as apic id %u but its APIC says %u", m->machno, m->apic_id, x86::LapicId());
  }
  x86::KernelCpuid cpuid;
  m->cpu = x86::CpuIdentify(cpuid);
  Print("smp: cpu%u (apic id %u) started: boot stack [0x%lx, 0x%lx), double-fault stack below 0x%lx, above guard "
        "pages\n",
        m->machno, m->apic_id, m->stack_base.value(), m->stack_top.value(), m->double_fault_stack_top.value());
  x86::CpuPrint(m->cpu, m->machno);
  x86::CpuOnline(m->machno, m->apic_id);
  boot::SetState(m->machno, boot::ApState::kOnline);
  boot::IdleLoop();
}
