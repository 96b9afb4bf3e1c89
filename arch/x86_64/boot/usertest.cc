// The ring-3 self-test (selftest.h's UserSelfTest): a user address space with a page of the program in
// usertest_program.S and a stack, entered with RunUser under the test's own hooks. The program writes
// (CopyFromUser), passes a bad pointer and a kernel pointer to write (kFault, so -EFAULT), touches a page
// the fault hook maps, has CopyToUser fault in another, is interrupted in ring 3, makes kNullCalls null
// system calls (the benchmark) and is killed reading kernel memory. Two more runs exit with status 7 and
// die of a general protection fault, and the first runs again on every other CPU. The copies' edges are tried from the kernel. Then SMAP: an unchecked kernel read of the user page faults exactly
// when SMAP is on. Every page and table page comes back. One "user:" line; a failure panics.
#include <stddef.h>
#include <stdint.h>

#include "arch/x86_64/apic.h"
#include "arch/x86_64/aspace.h"
#include "arch/x86_64/boot/mmu_setup.h"
#include "arch/x86_64/boot/selftest.h"
#include "arch/x86_64/delay.h"
#include "arch/x86_64/kernel_percpu.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/trap.h"
#include "arch/x86_64/user.h"
#include "boot/arch.h"
#include "kernel/abi/syscall.h"
#include "mm/base/format.h"
#include "mm/base/panic.h"
#include "mm/base/percpu.h"
#include "mm/vm/aspace.h"

extern "C" {
extern const char user_test_code[], user_test_code_end[], user_test_exit7[], user_test_hlt[], user_test_message[];
}

namespace kmem::boot {
namespace {

using x86::CopyStatus;
using x86::UserAccess;
using x86::UserExit;
using x86::UserFaultAction;

// usertest_program.S's addresses and values.
constexpr uint64_t kCodeVa = 0x400000;
constexpr uint64_t kStackVa = 0x7ff000;  // one page, below kStackVa + kPageSize
constexpr uint64_t kDemandVa = 0x600000;
constexpr unsigned kDemandPages = 2;
constexpr uint64_t kKernelAddress = 0xffffffff80100000;
constexpr uint64_t kArg0 = 0x1234, kArg1 = 0x5678;
constexpr int64_t kPid = 42;
constexpr uint64_t kNullCalls = 1001;
// The null calls are timed in batches, the quickest reported: a virtual CPU the host preempts in one batch
// does not count.
constexpr uint64_t kBatch = 100, kBatches = (kNullCalls - 1) / kBatch;

struct Test {
  KernelPalloc* palloc = nullptr;
  AddressSpace* space = nullptr;
  Page* demand[kDemandPages] = {};
  char written[64] = {};
  unsigned writes = 0, bad_writes = 0;
  unsigned user_faults_mapped = 0, copy_faults_mapped = 0, kills_asked = 0;
  uint64_t null_calls = 0, batch_start = 0, best_batch = ~uint64_t{0};
  bool in_syscall_or_fault = false, ipi_wanted = false;
  unsigned interrupt_returns = 0, before_returns = 0, returns_with_interrupts_off = 0;
};
Test t;

void Expect(bool ok, const char* what) {
  if (!ok) Panic("user self-test: %s", what);
}

bool Contains(const char* s, const char* part) {
  for (; *s != '\0'; ++s) {
    size_t i = 0;
    while (part[i] != '\0' && s[i] == part[i]) ++i;
    if (part[i] == '\0') return true;
  }
  return false;
}

bool InterruptsOn() {
  uint64_t rflags;
  asm volatile("pushfq; popq %0" : "=r"(rflags));
  return (rflags & (uint64_t{1} << 9)) != 0;
}

int64_t Error(abi::Err e) { return static_cast<int64_t>(e); }

int64_t TestWrite(uint64_t buf, uint64_t len) {
  char copy[sizeof t.written];
  if (len >= sizeof copy) return Error(abi::Err::kInval);
  if (x86::CopyFromUser(copy, buf, len) != CopyStatus::kOk) {
    ++t.bad_writes;
    return Error(abi::Err::kFault);
  }
  copy[len] = '\0';
  FormatTo(t.written, sizeof t.written, "%s", copy);
  ++t.writes;
  return static_cast<int64_t>(len);
}

int64_t TestSyscall(x86::SyscallArgs& a) {
  t.in_syscall_or_fault = true;
  Expect(InterruptsOn(), "the syscall hook runs with interrupts off");
  switch (static_cast<abi::Sys>(a.number)) {
    case abi::Sys::kExit: {
      UserExit exit;
      exit.status = static_cast<int64_t>(a.arg[0]);
      x86::EndUser(exit);
    }
    case abi::Sys::kWrite: return TestWrite(a.arg[1], a.arg[2]);
    case abi::Sys::kGetpid: {
      const uint64_t now = x86::ReadTsc();
      if (t.null_calls % kBatch == 0) {
        if (t.null_calls != 0) t.best_batch = Min(t.best_batch, now - t.batch_start);
        t.batch_start = now;
      }
      ++t.null_calls;
      return kPid;
    }
    case abi::Sys::kMemstat: {
      const abi::MemStat m{static_cast<uint64_t>(kPid), 0, 0, 0, 0, 0, 0, 0, {}};
      return x86::CopyToUser(a.arg[0], &m, sizeof m) == CopyStatus::kOk ? 0 : Error(abi::Err::kFault);
    }
    case abi::Sys::kYield: t.ipi_wanted = true; return 0;
    default: return Error(abi::Err::kNoSys);
  }
}

// Maps the demand window's pages on first touch, from ring 3 or under a copy; kills for everything else.
UserFaultAction TestFault(uint64_t address, UserAccess access, uint64_t rip, char* why, size_t cap) {
  t.in_syscall_or_fault = true;
  const uint64_t page = address & ~(kPageSize - 1);
  if (page >= kDemandVa && page < kDemandVa + kDemandPages * kPageSize) {
    const unsigned i = static_cast<unsigned>((page - kDemandVa) / kPageSize);
    Expect(t.demand[i] == nullptr, "a demand page faulted twice");
    const PageResult r = t.palloc->TryNewPage(VirtAddr(page));
    Expect(r.status == PallocStatus::kOk, "no page for the demand window");
    const PhysAddr pa = t.palloc->Pa(r.page);
    uint8_t* bytes = reinterpret_cast<uint8_t*>(x86::DirectMapAddressOf(pa).value());
    for (uint64_t b = 0; b < kPageSize; ++b) bytes[b] = 0;
    Expect(t.space->Map(VirtAddr(page), pa, kPageSize, Prot::kWrite, CacheMode::kCached) == VmStatus::kOk,
           "mapping a demand page");
    t.demand[i] = r.page;
    ++(rip < x86::kUserLimit ? t.user_faults_mapped : t.copy_faults_mapped);
    return UserFaultAction::kRetry;
  }
  ++t.kills_asked;
  FormatTo(why, cap, "user %s of 0x%lx at rip 0x%lx: %s", x86::UserAccessName(access), address, rip,
           address >= x86::kUserLimit ? "a kernel address" : "nothing mapped there");
  return UserFaultAction::kKill;
}

// A return with no system call or fault since the last one comes from an interrupt in ring 3. After the
// yield, this one leaves interrupts off with a self-IPI pending, which arrives in ring 3.
void TestBeforeReturn() {
  ++t.before_returns;
  if (!InterruptsOn()) ++t.returns_with_interrupts_off;
  if (!t.in_syscall_or_fault) ++t.interrupt_returns;
  t.in_syscall_or_fault = false;
  if (t.ipi_wanted) {
    t.ipi_wanted = false;
    asm volatile("cli" : : : "memory");
    x86::LapicSendIpi(x86::LapicId(), x86::kCrossCallVector);  // no call pending: a wake-up, EOIed
  }
}

Page* MapNewPage(AddressSpace& space, KernelPalloc& palloc, uint64_t va, Prot prot, const char* from, size_t n) {
  const PageResult r = palloc.TryNewPage(VirtAddr(va));
  Expect(r.status == PallocStatus::kOk, "no page for the user space");
  const PhysAddr pa = palloc.Pa(r.page);
  char* bytes = reinterpret_cast<char*>(x86::DirectMapAddressOf(pa).value());
  for (uint64_t b = 0; b < kPageSize; ++b) bytes[b] = b < n ? from[b] : 0;
  Expect(space.Map(VirtAddr(va), pa, kPageSize, prot, CacheMode::kCached) == VmStatus::kOk, "mapping a user page");
  return r.page;
}

uint64_t CodeVa(const char* label) { return kCodeVa + static_cast<uint64_t>(label - user_test_code); }

void ExpectExit(const UserExit& e, UserExit::How how, int64_t status, const char* run) {
  if (e.how != how || e.status != status) {
    Panic("user self-test: %s: %s with status %ld (%s), want %s with %ld", run,
          e.how == UserExit::kExited ? "exited" : "killed", e.status, e.why,
          how == UserExit::kExited ? "exited" : "killed", status);
  }
}

void ExpectCopy(CopyStatus got, CopyStatus want, const char* what) {
  if (got != want) Panic("user self-test: %s: %s, want %s", what, x86::CopyStatusName(got), x86::CopyStatusName(want));
}

// The copies' edges, from the kernel, with the user space loaded and the test's fault hook: ranges that leave
// the user half or wrap around refused, strings cut short, whole, or in nothing mapped.
void CopyEdges() {
  char buf[32];
  const uint64_t message = CodeVa(user_test_message);
  ExpectCopy(x86::CopyFromUser(buf, x86::kUserLimit - 4, 8), CopyStatus::kFault, "a copy across the user half's end");
  ExpectCopy(x86::CopyFromUser(buf, ~uint64_t{0} - 2, 8), CopyStatus::kFault, "a copy that wraps around");
  ExpectCopy(x86::CopyToUser(x86::kUserLimit, buf, 1), CopyStatus::kFault, "a copy to the kernel half");
  ExpectCopy(x86::CopyFromUser(buf, x86::kUserLimit, 0), CopyStatus::kOk, "an empty copy at the user half's end");
  ExpectCopy(x86::CopyStringFromUser(buf, message, sizeof buf), CopyStatus::kOk, "a whole string");
  Expect(Contains(buf, "hello from ring 3"), "the string copied is not the program's");
  ExpectCopy(x86::CopyStringFromUser(buf, message, 6), CopyStatus::kTooLong, "a string longer than its buffer");
  Expect(buf[5] == '\0' && Contains(buf, "hello"), "a string cut short is not its first bytes and a NUL");
  ExpectCopy(x86::CopyStringFromUser(buf, message, 0), CopyStatus::kTooLong, "a string into no room");
  ExpectCopy(x86::CopyStringFromUser(buf, 0x10000, sizeof buf), CopyStatus::kFault, "a string where nothing is mapped");
  ExpectCopy(x86::CopyStringFromUser(buf, x86::kUserLimit, sizeof buf), CopyStatus::kFault, "a string in the kernel half");
}

// On one application processor (ArchRunOnCpus): the exit run in the test's space, through that CPU's
// SYSCALL MSRs, GDT and TSS.
void ExitRunHere(void* out) {
  t.space->Activate();
  *static_cast<UserExit*>(out) = x86::RunUser(CodeVa(user_test_exit7), kStackVa + kPageSize, 0, 0);
  KernelSpace().Activate();
}

// The exit run on every other online CPU in turn; returns how many CPUs ran it, this one included.
unsigned ExitRunEverywhere() {
  unsigned cpus = 1;
  for (unsigned cpu = 0; cpu < kMaxCpus; ++cpu) {
    if (cpu == CpuId() || !OnlineCpus().Has(cpu)) continue;
    UserExit exit;
    ArchRunOnCpus(CpuSet::Of(cpu), ExitRunHere, &exit);
    ExpectExit(exit, UserExit::kExited, 7, "the exit run on an application processor");
    ++cpus;
  }
  return cpus;
}

// With the user space loaded: whether a plain kernel read of the user code page gets through.
bool UnprotectedReadWorks() {
  uint64_t v;
  return x86::ProbeRead(reinterpret_cast<const volatile uint64_t*>(kCodeVa), &v);
}

}  // namespace

void UserSelfTest(KernelPalloc& palloc) {
  x86::Mmu& mmu = KernelMmu();
  const uint64_t free_before = FreeAndPooledPages(palloc), tables_before = mmu.table_pages();
  x86::X86Aspace arch = x86::X86Aspace::Kernel(mmu);
  Expect(x86::X86Aspace::User(mmu, &arch) == VmStatus::kOk, "no tables for a user space");
  AddressSpace space("usertest", AddressSpace::Kind::kUser, arch);
  t = Test{};
  t.palloc = &palloc;
  t.space = &space;
  Page* code = MapNewPage(space, palloc, kCodeVa, Prot::kExec, user_test_code,
                          static_cast<size_t>(user_test_code_end - user_test_code));
  Page* stack = MapNewPage(space, palloc, kStackVa, Prot::kWrite, nullptr, 0);
  space.Activate();
  const x86::UserHooks previous = x86::SetUserHooks({TestSyscall, TestFault, TestBeforeReturn});

  const UserExit killed = x86::RunUser(kCodeVa, kStackVa + kPageSize, kArg0, kArg1);
  ExpectExit(killed, UserExit::kKilled, 14, "the first run");
  char kernel_address[24];
  FormatTo(kernel_address, sizeof kernel_address, "0x%lx", kKernelAddress);
  Expect(Contains(killed.why, kernel_address) && Contains(killed.why, "read"), "the kill does not name the address");
  Expect(t.writes == 1 && Contains(t.written, "hello from ring 3"), "the write did not arrive");
  Expect(t.bad_writes == 2, "the bad pointers did not fail their copies");
  Expect(t.user_faults_mapped == 1 && t.copy_faults_mapped == 1, "the demand pages were not faulted in once each");
  Expect(t.null_calls == kNullCalls, "not every null system call arrived");
  Expect(t.interrupt_returns >= 1, "no interrupt from ring 3 went back through before_return");
  Expect(t.returns_with_interrupts_off == 0, "before_return ran with interrupts off");
  const UserExit exited = x86::RunUser(CodeVa(user_test_exit7), kStackVa + kPageSize, 0, 0);
  ExpectExit(exited, UserExit::kExited, 7, "the exit run");
  const unsigned exit_cpus = ExitRunEverywhere();
  const UserExit gp = x86::RunUser(CodeVa(user_test_hlt), kStackVa + kPageSize, 0, 0);
  char gp_why[64];
  FormatTo(gp_why, sizeof gp_why, "general protection fault at rip 0x%lx", CodeVa(user_test_hlt));
  ExpectExit(gp, UserExit::kKilled, 13, "the hlt run");
  Expect(Contains(gp.why, gp_why), "the hlt run's kill does not name the fault and rip");

  CopyEdges();
  const bool unprotected = UnprotectedReadWorks();
  const bool smap = x86::UserSmap() == x86::Smap::kOn;
  Expect(unprotected != smap, smap ? "SMAP is on but an unchecked read of user memory succeeded"
                                   : "SMAP is off but an unchecked read of user memory faulted");
  x86::SetUserHooks(previous);

  KernelSpace().Activate();
  const uint64_t pages[] = {kCodeVa, kStackVa, kDemandVa, kDemandVa + kPageSize};
  for (const uint64_t va : pages) Expect(space.Unmap(VirtAddr(va), kPageSize) == VmStatus::kOk, "unmap");
  palloc.PutPage(code);
  palloc.PutPage(stack);
  for (Page* p : t.demand) palloc.PutPage(p);
  space.Release(KernelSpace());
  Expect(FreeAndPooledPages(palloc) == free_before && mmu.table_pages() == tables_before,
         "pages or page-table pages not back after the user space");

  const uint64_t ns = x86::TscPerMs() == 0 ? 0 : t.best_batch * 1000000 / x86::TscPerMs() / kBatch;
  Print("user: self-test ok: ring 3 wrote \"%s\", a bad and a kernel pointer got -EFAULT, a page faulted in by "
        "a user write and one by CopyToUser, an interrupt in ring 3, killed by \"%s\", exit 7 on %u cpu%s, \"%s\"; "
        "%s; null "
        "system call %lu ns (the best of %lu batches of %lu)\n",
        t.written, killed.why, exit_cpus, exit_cpus == 1 ? "" : "s", gp.why,
        smap ? "smap on: an unchecked kernel read of user memory faults"
             : "smap off: an unchecked kernel read of user memory succeeded, the protection is off",
        ns, kBatches, kBatch);
}

}  // namespace kmem::boot
