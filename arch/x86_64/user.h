// User mode on x86_64: ring 3 entered with iretq and left through SYSCALL, an interrupt or an exception, each
// of which swapgs'es into the kernel's GS (the Mach, kernel_percpu.h) and back out; the kernel's answers go
// to hooks kernel/proc installs (UserHooks). Every kernel access to user memory goes through the checked
// copies below, the only code that opens SMAP's window (stac/clac) where the CPU has SMAP.
//
// Segments (trap.cc's per-CPU GDT): 0x08 kernel code, 0x10 kernel data, 0x1b user data, 0x23 user code,
// 0x28 the TSS. SYSCALL enters at 0x08 with RFLAGS' IF, DF, TF, AC and NT cleared; SYSRET leaves to 0x23.
// The x87/SSE state is not switched or enabled (CR4.OSFXSR is clear, as the kernel is built without SSE):
// user programs are built without SSE, and an SSE instruction in ring 3 kills with "invalid opcode".
// Non-maskable interrupts and machine checks, which the kernel never expects, panic as before.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace kmem::x86 {

// A system call as the registers bring it (kernel/abi/syscall.h's convention): rax, then rdi, rsi, rdx,
// r10, r8, r9.
struct SyscallArgs {
  uint64_t number;
  uint64_t arg[6];
};

enum class UserAccess : uint8_t { kRead, kWrite, kExec };
const char* UserAccessName(UserAccess access);  // "read", "write", "instruction fetch"

enum class UserFaultAction : uint8_t { kRetry, kKill };

struct UserExit {
  enum How : uint8_t { kExited, kKilled } how = kExited;
  // kExited: the status the process gave exit(). kKilled by an exception: its vector (14 page fault, 13
  // general protection, ...); by the kernel's own EndUser: what it passes.
  int64_t status = 0;
  char why[160] = {};  // kKilled: the sentence that says why; "" for kExited
};

// What kernel/proc answers for user mode. All three run on the thread's kernel stack, below RunUser's
// frame, and may sleep or be preempted (the scheduler saves the per-CPU user state: SaveUserState).
struct UserHooks {
  // A SYSCALL: returns what user mode gets in rax (a negated abi::Err for an error). Interrupts on. Ends
  // the process with EndUser (exit, or a kill it decides on); rcx and r11 come back clobbered, every other
  // register as it was.
  int64_t (*syscall)(SyscallArgs& a);
  // A page fault on `address` by `access` at `rip`: from ring 3, or from a checked copy on a user address
  // (then rip is the copy's). kRetry once the page is mapped (demand paging: the access runs again; a
  // kRetry that maps nothing faults again), or kKill with a sentence in `why` (at most `cap` bytes, NUL
  // included) naming the address and the reason: from ring 3 the process is killed with it (UserExit
  // kKilled, status 14), from a copy the copy returns CopyStatus::kFault instead. So the hook returns kKill
  // rather than call EndUser itself. Interrupts as the faulting code had them (on, from ring 3).
  UserFaultAction (*fault)(uint64_t address, UserAccess access, uint64_t rip, char* why, size_t cap);
  // Before every return to ring 3 (after a system call, and after an interrupt or exception from ring 3
  // that did not kill): the scheduler's preemption point. Interrupts on; may leave them off.
  void (*before_return)();
};

// Installs the hooks (all three non-null) for every CPU and returns the ones they replace (all null at
// first): the boot's self-test installs its own and puts the previous back.
UserHooks SetUserHooks(const UserHooks& hooks);

// Enters ring 3 at `entry` with `rsp`, rdi = `rdi`, rsi = `rsi`, every other general register zero, RFLAGS
// = IF, in the address space the calling CPU has loaded (the caller activates it), and returns only when
// the process ends: when a hook calls EndUser or an exception from ring 3 other than a resolved page fault
// kills it ("general protection fault at rip 0x401234"). Runs on the calling thread's kernel stack: every
// entry from ring 3 lands just below RunUser's frame. Returns with interrupts as they were at the call,
// possibly on another CPU if the scheduler migrated the thread. Not re-entrant: one RunUser per thread.
UserExit RunUser(uint64_t entry, uint64_t rsp, uint64_t rdi, uint64_t rsi);

// Ends the process of the thread's RunUser, which returns `exit`: from a hook or what it calls, on that
// thread's kernel stack, holding no lock (everything below RunUser's frame is dropped).
[[noreturn]] void EndUser(const UserExit& exit);

// The per-CPU state of the thread in user mode here: where entries from ring 3 land (TSS.rsp0 and the
// SYSCALL entry's stack) and where EndUser unwinds to. The scheduler's switch hook, with interrupts off,
// keeps the outgoing thread's (SaveUserState) and loads the incoming one's (LoadUserState, on the CPU it
// will run on); a thread that never ran RunUser has the zero state. The user's GS base is always 0 (the
// GDT's user segments have base 0 and CR4.FSGSBASE is off), so nothing of it is per thread.
struct UserCpuState {
  uint64_t entry_stack = 0;  // 16-byte aligned; entries from ring 3 push below it
  uint64_t unwind = 0;       // RunUser's saved frame
};
UserCpuState SaveUserState();
void LoadUserState(const UserCpuState& state);

// The checked copies, the kernel's only way to user memory. A range not wholly in the user half [0, 2^47)
// (overflow-safe) is refused with kFault and nothing touched. A page fault on a user address asks the
// fault hook: kRetry resumes the copy, kKill makes the copy return kFault (part of the bytes may have been
// copied); a fault on a kernel address (a bad kernel pointer) panics like any kernel fault. Cost: one
// stac/clac pair and a rep movsb (CopyStringFromUser: a byte loop).
enum class CopyStatus : uint8_t { kOk, kFault, kTooLong };
const char* CopyStatusName(CopyStatus status);
CopyStatus CopyFromUser(void* dst, uint64_t user_src, size_t n);
CopyStatus CopyToUser(uint64_t user_dst, const void* src, size_t n);
// The NUL-terminated string at `user_src` into dst[0, cap), NUL included: kOk; kTooLong when no NUL
// comes within cap bytes (dst then holds the first cap - 1 and a NUL; nothing with cap 0); kFault as
// above, also for a string running off the user half.
CopyStatus CopyStringFromUser(char* dst, uint64_t user_src, size_t cap);

// SMAP, decided once on the boot CPU (archinit: kOff for a CPU without it, or with kmem.nosmap): kOn sets
// CR4.SMAP here, which the application processors copy (arch/x86_64/boot/smp.cc), and makes the copies and
// every kernel entry use stac/clac, which fault on a CPU without SMAP.
enum class Smap : uint8_t { kOff, kOn };
void SetUserSmap(Smap smap);
Smap UserSmap();

}  // namespace kmem::x86
