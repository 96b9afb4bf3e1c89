#include "arch/x86_64/trap.h"

#include "arch/x86_64/entry.h"
#include "arch/x86_64/fault.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/user.h"
#include "arch/x86_64/user_trap.h"
#include "mm/base/format.h"
#include "mm/base/panic.h"
#include "mm/base/percpu.h"

extern "C" {
extern const uint64_t trap_entries[kmem::x86::kExceptionVectors];
extern const char probe_read_load[], probe_read_fault[];
extern const uint64_t interrupt_entries[kmem::x86::kVectors - kmem::x86::kFirstInterrupt];
void TrapDispatch(kmem::x86::TrapFrame* frame);
void InterruptDispatch(uint64_t vector);
}

namespace kmem::x86 {
namespace {

constexpr uint16_t kKernelCode = KERNEL_CODE_SELECTOR;  // the boot GDT's (arch/x86_64/boot/multiboot.S), kept
constexpr uint16_t kTssSelector = TSS_SELECTOR;

// The 64-bit TSS: rsp0, the stack an interrupt or exception from ring 3 switches to (user.h's entry stack),
// and the interrupt stack table.
struct [[gnu::packed]] Tss {
  uint32_t reserved0;
  uint64_t rsp[3];
  uint64_t reserved1;
  uint64_t ist[7];
  uint64_t reserved2;
  uint16_t reserved3;
  uint16_t iomap_base;
};
static_assert(sizeof(Tss) == 104, "the architecture's 64-bit TSS");

struct IdtGate {
  uint16_t offset_low;
  uint16_t selector;
  uint8_t ist;
  uint8_t type;  // present, DPL 0, 64-bit interrupt gate
  uint16_t offset_mid;
  uint32_t offset_high;
  uint32_t reserved;
};
static_assert(sizeof(IdtGate) == 16, "the architecture's 64-bit gate");

struct [[gnu::packed]] TablePointer {
  uint16_t limit;
  uint64_t base;
};

constexpr uint8_t kInterruptGate = 0x8e;
constexpr uint8_t kDoubleFaultIst = 1;
constexpr size_t kDoubleFaultStack = 16384;

// The boot CPU's; each application processor's comes from vmalloc with a guard page (TrapInitCpu).
alignas(16) uint8_t double_fault_stack[kDoubleFaultStack];
// Per CPU: a GDT of null, kernel code, kernel data (as the boot GDT), user data and 64-bit user code (in
// SYSRET's order, entry.h), then the TSS's 16-byte descriptor. A TSS descriptor is marked busy by ltr, so no
// two CPUs can share one.
struct alignas(64) CpuTables {
  uint64_t gdt[7] = {0, 0x00209a0000000000, 0x0000920000000000, 0x0000f20000000000, 0x0020fa0000000000, 0, 0};
  Tss tss;
};
static_assert(USER_DATA_SELECTOR == (3 << 3 | 3) && USER_CODE_SELECTOR == (4 << 3 | 3) && TSS_SELECTOR == 5 << 3,
              "entry.h's selectors index CpuTables::gdt");
static_assert(USER_DATA_SELECTOR == ((SYSRET_BASE_SELECTOR + 8) | 3) &&
                  USER_CODE_SELECTOR == ((SYSRET_BASE_SELECTOR + 16) | 3),
              "SYSRET's selectors");
CpuTables cpu_tables[kMaxCpus];
IdtGate idt[kVectors];
InterruptHandler handlers[kVectors];
constinit FaultExplainer explainer = nullptr;

IdtGate Gate(uint64_t entry, uint8_t ist) {
  return IdtGate{static_cast<uint16_t>(entry), kKernelCode, ist, kInterruptGate, static_cast<uint16_t>(entry >> 16),
                 static_cast<uint32_t>(entry >> 32), 0};
}

// Loads CPU `cpu`'s GDT and TSS, double faults on the stack ending at `df_top`, and the shared IDT.
void LoadTables(unsigned cpu, uint64_t df_top) {
  KASSERT(cpu < kMaxCpus, "trap tables for cpu %u of %u", cpu, kMaxCpus);
  CpuTables& t = cpu_tables[cpu];
  t.tss.iomap_base = sizeof(Tss);  // no I/O permission bitmap
  t.tss.ist[kDoubleFaultIst - 1] = df_top;
  const uint64_t base = reinterpret_cast<uint64_t>(&t.tss), limit = sizeof(Tss) - 1;
  t.gdt[kTssSelector / 8] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (uint64_t{0x89} << 40) |
                            (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
  t.gdt[kTssSelector / 8 + 1] = base >> 32;
  const TablePointer gdtr{sizeof(t.gdt) - 1, reinterpret_cast<uint64_t>(t.gdt)};
  const TablePointer idtr{sizeof(idt) - 1, reinterpret_cast<uint64_t>(idt)};
  asm volatile("lgdt %0" : : "m"(gdtr) : "memory");
  asm volatile("ltr %w0" : : "r"(kTssSelector) : "memory");
  asm volatile("lidt %0" : : "m"(idtr) : "memory");
}

uint64_t ReadCr2() {
  uint64_t v;
  asm volatile("mov %%cr2, %0" : "=r"(v));
  return v;
}

void Explain(uint64_t address, char* buf, size_t cap) {
  if (explainer == nullptr) {
    FormatTo(buf, cap, "before the kernel's own page tables");
    return;
  }
  explainer(address, buf, cap);
}

void PrintFrame(const TrapFrame& f, uint64_t cr2) {
  Print("trap: %s on cpu %u (vector %lu", ExceptionName(static_cast<unsigned>(f.vector)), CpuId(), f.vector);
  if (ExceptionHasErrorCode(static_cast<unsigned>(f.vector))) Print(", error 0x%lx", f.error);
  Print(") at rip 0x%lx, rsp 0x%lx, rflags 0x%lx\n", f.rip, f.rsp, f.rflags);
  Print("trap: rax %016lx rbx %016lx rcx %016lx rdx %016lx\n", f.rax, f.rbx, f.rcx, f.rdx);
  Print("trap: rsi %016lx rdi %016lx rbp %016lx r8  %016lx\n", f.rsi, f.rdi, f.rbp, f.r8);
  Print("trap: r9  %016lx r10 %016lx r11 %016lx r12 %016lx\n", f.r9, f.r10, f.r11, f.r12);
  Print("trap: r13 %016lx r14 %016lx r15 %016lx cr2 %016lx\n", f.r13, f.r14, f.r15, cr2);
}

// What a kernel read or write of a present user page means where SMAP is on.
const char* SmapHint(const TrapFrame& f, uint64_t address) {
  constexpr uint64_t kPresent = 1, kFetch = 1 << 4;
  const bool data = (f.error & (kPresent | kFetch)) == kPresent;
  if (!data || address >= kUserLimit || UserSmap() == Smap::kOff) return "";
  return "; SMAP: a kernel access to user memory outside the checked copies";
}

}  // namespace

void TrapInit() {
  for (unsigned v = 0; v < kExceptionVectors; ++v) {
    idt[v] = Gate(trap_entries[v], v == kDoubleFault ? kDoubleFaultIst : 0);
  }
  for (unsigned v = kFirstInterrupt; v < kVectors; ++v) idt[v] = Gate(interrupt_entries[v - kFirstInterrupt], 0);
  LoadTables(0, reinterpret_cast<uint64_t>(double_fault_stack + kDoubleFaultStack));
  UserInitCpu();
  Print("trapinit: %u exception vectors, double faults on their own %lu KiB stack; %u interrupt vectors\n",
        kExceptionVectors, kDoubleFaultStack >> 10, kVectors - kFirstInterrupt);
}

void TrapInitCpu(unsigned cpu, VirtAddr double_fault_stack_top) {
  KASSERT(cpu != 0, "TrapInitCpu is for application processors; cpu 0 has TrapInit");
  LoadTables(cpu, double_fault_stack_top.value());
  UserInitCpu();
}

void SetTssRsp0(uint64_t top) { cpu_tables[CpuId()].tss.rsp[0] = top; }

void SetFaultExplainer(FaultExplainer explain) { explainer = explain; }

void SetInterruptHandler(unsigned vector, InterruptHandler handler) {
  KASSERT(vector >= kFirstInterrupt && vector < kVectors, "interrupt handler for vector %u, not an interrupt", vector);
  __atomic_store_n(&handlers[vector], handler, __ATOMIC_RELEASE);
}

}  // namespace kmem::x86

// Returns only for a fault it fixed up and for what user.cc sends back to ring 3; everything else panics.
void TrapDispatch(kmem::x86::TrapFrame* frame) {
  using namespace kmem::x86;
  // A page fault's address; after a double fault, the address of the page fault that caused it, if one did.
  const uint64_t address = ReadCr2();
  if ((frame->cs & 3) == 3 && UserTrap(*frame, address)) return;
  if (frame->vector == kPageFault && (frame->cs & 3) == 0) {
    if (frame->rip == reinterpret_cast<uint64_t>(probe_read_load)) {
      frame->rip = reinterpret_cast<uint64_t>(probe_read_fault);
      return;
    }
    if (UserCopyFixup(*frame, address)) return;
  }
  const TrapFrame& f = *frame;
  PrintFrame(f, address);
  char why[160];
  if (f.vector == kPageFault) {
    char what[96];
    DescribePageFaultError(f.error, what, sizeof what);
    Explain(address, why, sizeof why);
    kmem::Panic("page fault at 0x%lx: %s; %s%s (rip 0x%lx)", address, what, why, SmapHint(f, address), f.rip);
  }
  if (f.vector == kDoubleFault) {
    Explain(address, why, sizeof why);
    kmem::Panic("double fault: an exception while delivering another, rsp 0x%lx, cr2 0x%lx: %s", f.rsp, address,
                why);
  }
  kmem::Panic("%s (vector %lu) at rip 0x%lx", ExceptionName(static_cast<unsigned>(f.vector)), f.vector, f.rip);
}

void InterruptDispatch(uint64_t vector) {
  using namespace kmem::x86;
  const InterruptHandler h = __atomic_load_n(&handlers[vector], __ATOMIC_ACQUIRE);
  if (h == nullptr) kmem::Panic("interrupt on vector %lu, which has no handler, on cpu %u", vector, kmem::CpuId());
  h();
}
