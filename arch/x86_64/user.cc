// User mode (user.h) over user_entry.S: the hooks, the per-CPU entry state, the exceptions from ring 3 and
// the checked copies' range checks and fault handling.
#include "arch/x86_64/user.h"

#include <stddef.h>
#include <stdint.h>

#include "arch/x86_64/entry.h"
#include "arch/x86_64/fault.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/user_trap.h"
#include "mm/base/format.h"
#include "mm/base/panic.h"
#include "mm/base/percpu.h"

extern "C" {
constinit uint8_t user_smap_on = 0;  // entry.h's SMAP_STAC and SMAP_CLAC test it

void user_syscall_entry();
void UserEnter(uint64_t entry, uint64_t rsp, uint64_t rdi, uint64_t rsi, kmem::x86::UserExit* exit);
[[noreturn]] void UserUnwind(uint64_t frame);
void UserResume(const kmem::x86::TrapFrame* frame, kmem::x86::UserExit* exit);
bool UserCopy(void* dst, const void* src, size_t n);
int64_t UserCopyString(char* dst, const char* src, size_t max);
extern const char user_copy_movs[], user_copy_fault[], user_copy_string_load[], user_copy_string_fault[];

void UserEntering(uint64_t frame);
void SyscallDispatch(kmem::x86::TrapFrame* frame);
void UserReturn();
}

namespace kmem::x86 {
namespace {

static_assert(offsetof(TrapFrame, vector) == FRAME_VECTOR && offsetof(TrapFrame, rip) == FRAME_RIP &&
                  offsetof(TrapFrame, cs) == FRAME_CS && offsetof(TrapFrame, rflags) == FRAME_RFLAGS &&
                  offsetof(TrapFrame, rsp) == FRAME_RSP && sizeof(TrapFrame) == FRAME_SIZE,
              "entry.h's TrapFrame offsets");

constexpr uint32_t kEferMsr = 0xc0000080, kStarMsr = 0xc0000081, kLstarMsr = 0xc0000082, kFmaskMsr = 0xc0000084;
constexpr uint32_t kKernelGsBaseMsr = 0xc0000102;
constexpr uint64_t kEferSce = uint64_t{1} << 0;
constexpr uint64_t kRflagsTf = uint64_t{1} << 8, kRflagsIf = uint64_t{1} << 9, kRflagsDf = uint64_t{1} << 10;
constexpr uint64_t kRflagsNt = uint64_t{1} << 14, kRflagsAc = uint64_t{1} << 18;
constexpr uint64_t kCr4Smap = uint64_t{1} << 21;
// Page-fault error code bits.
constexpr uint64_t kPfWrite = uint64_t{1} << 1, kPfReserved = uint64_t{1} << 3, kPfFetch = uint64_t{1} << 4;

// Exceptions that are the machine's, whatever ring they interrupted.
constexpr unsigned kNmi = 2, kMachineCheck = 18;
constexpr unsigned kGeneralProtection = 13;

struct alignas(64) CpuUser {
  UserCpuState state;
};
CpuUser cpu_user[kMaxCpus];
constinit UserHooks hooks = {};

void WriteMsr(uint32_t msr, uint64_t v) {
  asm volatile("wrmsr" : : "c"(msr), "a"(static_cast<uint32_t>(v)), "d"(static_cast<uint32_t>(v >> 32)) : "memory");
}

uint64_t ReadMsr(uint32_t msr) {
  uint32_t lo, hi;
  asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
  return (uint64_t{hi} << 32) | lo;
}

bool InterruptsOn() {
  uint64_t rflags;
  asm volatile("pushfq; popq %0" : "=r"(rflags));
  return (rflags & kRflagsIf) != 0;
}

void Sti() { asm volatile("sti" : : : "memory"); }
void Cli() { asm volatile("cli" : : : "memory"); }

// This CPU's entry stack in both places the CPU takes it from, and the unwind point.
void LoadState(const UserCpuState& s) {
  cpu_user[CpuId()].state = s;
  SetTssRsp0(s.entry_stack);
  asm volatile("movq %0, %%gs:%c1" : : "r"(s.entry_stack), "i"(GS_SYSCALL_STACK) : "memory");
}

UserAccess AccessOf(uint64_t error) {
  if ((error & kPfFetch) != 0) return UserAccess::kExec;
  return (error & kPfWrite) != 0 ? UserAccess::kWrite : UserAccess::kRead;
}

// The fault hook's answer, with interrupts as `frame`'s code had them; kKill with `why` filled when there
// is no hook.
UserFaultAction AskFaultHook(const TrapFrame& frame, uint64_t address, char* why, size_t cap) {
  const UserAccess access = AccessOf(frame.error);
  if (hooks.fault == nullptr) {
    FormatTo(why, cap, "%s at 0x%lx with no fault hook", UserAccessName(access), address);
    return UserFaultAction::kKill;
  }
  if ((frame.rflags & kRflagsIf) != 0) Sti();
  const UserFaultAction action = hooks.fault(address, access, frame.rip, why, cap);
  Cli();
  why[cap - 1] = '\0';
  return action;
}

bool InUserHalf(uint64_t address, size_t n) { return address <= kUserLimit && n <= kUserLimit - address; }

}  // namespace

}  // namespace kmem::x86

// kernel/proc/arch.h's user mode, over the entry code and per-CPU state above.
namespace kmem::kernel {

using namespace x86;  // NOLINT: the helpers above are this file's own

const char* UserAccessName(UserAccess access) {
  switch (access) {
    case UserAccess::kRead: return "read";
    case UserAccess::kWrite: return "write";
    case UserAccess::kExec: return "instruction fetch";
  }
  return "access";
}

const char* CopyStatusName(CopyStatus status) {
  switch (status) {
    case CopyStatus::kOk: return "ok";
    case CopyStatus::kFault: return "fault";
    case CopyStatus::kTooLong: return "too long";
  }
  return "unknown copy status";
}

UserHooks SetUserHooks(const UserHooks& h) {
  const bool all = h.syscall != nullptr && h.fault != nullptr && h.before_return != nullptr;
  const bool none = h.syscall == nullptr && h.fault == nullptr && h.before_return == nullptr;
  KASSERT(all || none, "user hooks must be all set or all null");
  const UserHooks old = hooks;
  hooks = h;
  return old;
}

UserExit RunUser(uint64_t entry, uint64_t rsp, uint64_t rdi, uint64_t rsi) {
  if (hooks.syscall == nullptr) Panic("RunUser before SetUserHooks");
  // iretq to a non-canonical rip faults in ring 0 with the user's GS already loaded.
  KASSERT(entry < kUserLimit && rsp <= kUserLimit, "RunUser at rip 0x%lx, rsp 0x%lx: not user addresses", entry, rsp);
  UserExit exit;
  UserEnter(entry, rsp, rdi, rsi, &exit);
  return exit;
}

// The SYSCALL entry built the frame at the top of the entry stack.
void SaveSyscallContext(UserContext* out) {
  static_assert(sizeof(TrapFrame) <= sizeof(UserContext), "UserContext holds a TrapFrame");
  const auto* frame = reinterpret_cast<const TrapFrame*>(cpu_user[CpuId()].state.entry_stack - sizeof(TrapFrame));
  KASSERT(frame->vector == SYSCALL_VECTOR, "SaveSyscallContext on cpu %u outside a system call (vector %lu)", CpuId(),
          frame->vector);
  __builtin_memcpy(out, frame, sizeof(TrapFrame));
}

UserExit ResumeUser(const UserContext& context) {
  if (hooks.syscall == nullptr) Panic("ResumeUser before SetUserHooks");
  TrapFrame frame;
  __builtin_memcpy(&frame, &context, sizeof frame);
  KASSERT(frame.rip < kUserLimit && frame.rsp <= kUserLimit && frame.cs == USER_CODE_SELECTOR,
          "ResumeUser at rip 0x%lx, rsp 0x%lx, cs 0x%lx: not a user context", frame.rip, frame.rsp, frame.cs);
  frame.rax = 0;
  UserExit exit;
  UserResume(&frame, &exit);
  return exit;
}

void EndUser(const UserExit& exit) {
  Cli();
  const uint64_t frame = cpu_user[CpuId()].state.unwind;
  if (frame == 0) Panic("EndUser on cpu %u, which runs no thread's RunUser", CpuId());
  **reinterpret_cast<UserExit**>(frame + 8) = exit;  // UserEnter's frame: the padding, then the pointer
  LoadState(UserCpuState{});
  UserUnwind(frame);
}

UserCpuState SaveUserState() { return cpu_user[CpuId()].state; }

void LoadUserState(const UserCpuState& state) {
  KASSERT(!InterruptsOn(), "LoadUserState with interrupts on");
  LoadState(state);
}

CopyStatus CopyFromUser(void* dst, uint64_t user_src, size_t n) {
  if (!InUserHalf(user_src, n)) return CopyStatus::kFault;
  return UserCopy(dst, reinterpret_cast<const void*>(user_src), n) ? CopyStatus::kOk : CopyStatus::kFault;
}

CopyStatus CopyToUser(uint64_t user_dst, const void* src, size_t n) {
  if (!InUserHalf(user_dst, n)) return CopyStatus::kFault;
  return UserCopy(reinterpret_cast<void*>(user_dst), src, n) ? CopyStatus::kOk : CopyStatus::kFault;
}

CopyStatus CopyStringFromUser(char* dst, uint64_t user_src, size_t cap) {
  if (user_src >= kUserLimit) return CopyStatus::kFault;
  if (cap == 0) return CopyStatus::kTooLong;
  const size_t max = Min<uint64_t>(cap, kUserLimit - user_src);
  const int64_t got = UserCopyString(dst, reinterpret_cast<const char*>(user_src), max);
  if (got < 0) return CopyStatus::kFault;
  if (dst[got - 1] == '\0') return CopyStatus::kOk;
  if (max < cap) return CopyStatus::kFault;  // the string runs off the user half
  dst[cap - 1] = '\0';
  return CopyStatus::kTooLong;
}

}  // namespace kmem::kernel

namespace kmem::x86 {

void SetUserSmap(Smap smap) {
  if (smap == Smap::kOn) {
    uint64_t cr4;
    asm volatile("mov %%cr4, %0" : "=r"(cr4));
    asm volatile("mov %0, %%cr4" : : "r"(cr4 | kCr4Smap) : "memory");
  }
  user_smap_on = smap == Smap::kOn ? 1 : 0;
}

Smap UserSmap() { return user_smap_on != 0 ? Smap::kOn : Smap::kOff; }

// STAR: SYSCALL loads CS from bits 32-47 (SS is that + 8), SYSRET from bits 48-63 (entry.h). FMASK clears
// IF (the entry has no stack yet), DF (the ABI's), TF (no single step into the kernel), AC (no SMAP window
// into the kernel) and NT (an iretq with NT set faults).
void UserInitCpu() {
  WriteMsr(kEferMsr, ReadMsr(kEferMsr) | kEferSce);
  WriteMsr(kStarMsr, (uint64_t{SYSRET_BASE_SELECTOR} << 48) | (uint64_t{KERNEL_CODE_SELECTOR} << 32));
  WriteMsr(kLstarMsr, reinterpret_cast<uint64_t>(user_syscall_entry));
  WriteMsr(kFmaskMsr, kRflagsIf | kRflagsDf | kRflagsTf | kRflagsAc | kRflagsNt);
  WriteMsr(kKernelGsBaseMsr, 0);
}

bool UserTrap(TrapFrame& frame, uint64_t cr2) {
  const unsigned vector = static_cast<unsigned>(frame.vector);
  if (vector == kNmi || vector == kMachineCheck || vector == kDoubleFault) return false;
  if (vector == kPageFault && (frame.error & kPfReserved) != 0) return false;
  UserExit exit;
  exit.how = UserExit::kKilled;
  exit.status = vector;
  if (vector == kPageFault) {
    if (AskFaultHook(frame, cr2, exit.why, sizeof exit.why) == UserFaultAction::kRetry) {
      UserReturn();
      return true;
    }
  } else {
    FormatTo(exit.why, sizeof exit.why, "%s at rip 0x%lx", ExceptionName(vector), frame.rip);
  }
  EndUser(exit);
}

bool UserCopyFixup(TrapFrame& frame, uint64_t cr2) {
  const char* resume = nullptr;
  if (frame.rip == reinterpret_cast<uint64_t>(user_copy_movs)) resume = user_copy_fault;
  if (frame.rip == reinterpret_cast<uint64_t>(user_copy_string_load)) resume = user_copy_string_fault;
  if (resume == nullptr || cr2 >= kUserLimit || (frame.error & kPfReserved) != 0) return false;
  char why[sizeof(UserExit::why)];
  if (AskFaultHook(frame, cr2, why, sizeof why) == UserFaultAction::kKill) {
    frame.rip = reinterpret_cast<uint64_t>(resume);
  }
  return true;
}

}  // namespace kmem::x86

void UserEntering(uint64_t frame) {
  using namespace kmem;
  KASSERT(x86::cpu_user[CpuId()].state.unwind == 0, "RunUser on cpu %u, where another thread's is loaded", CpuId());
  x86::LoadState(x86::UserCpuState{frame & ~uint64_t{15}, frame});
}

// Interrupts on from the entry. A return address outside the user half (a syscall instruction in the
// half's last bytes) cannot be left to SYSRET, which would fault in ring 0 on the user's stack.
void SyscallDispatch(kmem::x86::TrapFrame* frame) {
  using namespace kmem;
  using namespace kmem::x86;
  SyscallArgs a{frame->rax, {frame->rdi, frame->rsi, frame->rdx, frame->r10, frame->r8, frame->r9}};
  frame->rax = static_cast<uint64_t>(hooks.syscall(a));
  if (frame->rip >= kUserLimit) {
    UserExit exit{UserExit::kKilled, kGeneralProtection, {}};
    FormatTo(exit.why, sizeof exit.why, "system call returning to rip 0x%lx, past the user half", frame->rip);
    EndUser(exit);
  }
  UserReturn();
}

void UserReturn() {
  kmem::x86::Sti();
  kmem::x86::hooks.before_return();
  kmem::x86::Cli();
}
